// Area modes through the controller itself (in-process, real broker and simulator): lockdown lets
// only the listed roles pass and is logged; a release is undone cleanly.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { Controller } from '../../src/controller/controller.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { enrol, prepareData } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { readCa } from '../../src/devices/tls.js';

describe('area modes', () => {
  let controller: Controller;
  let sim: Simulator;

  beforeAll(async () => {
    const { dataDir, site } = prepareData({
      edit: (raw) => {
        raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }] }];
        // A second emergency input for the lab (a gas alarm's relay), for the reload below.
        raw.devices.push({ id: 'gas-panel', kind: 'input', input: 'emergency', transport: 'mqtt' });
        raw.areas.find((a: { id: string }) => a.id === 'lab').emergencyInputs = ['fire-panel', 'gas-panel'];
      },
    });
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    await enrol({ dataDir }, { name: 'Guard Kato', card: 'C0000001', pin: '5555', roles: ['security'], areas: ['lab'] });
    await enrol({ dataDir }, { name: 'Researcher Mori', card: 'C0000002', pin: '6666', areas: ['lab'] });
    sim = await Simulator.start({ site, url: controller.brokerUrl, ca: readCa(dataDir), secrets: loadSecrets(dataDir) });
    await waitFor(() => controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab locked');
  });

  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
  });

  async function attempt(card: string, pin: string): Promise<string> {
    const shown = sim.expectCommand('lab-reader', (c) => c.command === 'indicate' && c.pattern !== 'pin-required', 3000, 'outcome');
    const asked = sim.expectCommand('lab-keypad', (c) => c.command === 'indicate', 3000, 'keypad');
    await sim.swipe('lab-reader', card);
    const first = await asked;
    if (first.command === 'indicate' && first.pattern === 'pin-required') await sim.pin('lab-keypad', pin);
    const c = await shown;
    return c.command === 'indicate' ? c.pattern : '';
  }

  it('lockdown: only the listed roles pass; the change is in the entry log; normal restores', async () => {
    expect(controller.areas.setMode('lab', 'lockdown', { by: 'guard-console', roles: ['security'] })).toBe(true);
    const log = controller.ctx.store.entryLog;
    expect(log.recent(1)[0]).toMatchObject({
      kind: 'mode',
      areaId: 'lab',
      reason: 'mode-lockdown',
      detail: { previous: 'normal', by: 'guard-console', allowedRoles: ['security'] },
    });
    expect(await attempt('C0000002', '6666')).toBe('denied');
    expect(log.recent(1)[0]).toMatchObject({ decision: 'denied', reason: 'area-locked-down', personName: 'Researcher Mori' });
    await waitFor(() => controller.doors.state('lab-main')?.lock === 'locked', 6000, 'locked again');
    expect(await attempt('C0000001', '5555')).toBe('granted');

    controller.areas.setMode('lab', 'normal', { by: 'guard-console' });
    await waitFor(() => controller.doors.state('lab-main')?.lock === 'locked', 7000, 'relocked');
    expect(await attempt('C0000002', '6666')).toBe('granted');
    expect(controller.ctx.store.events.recent(20).map((e) => e.type)).toEqual(expect.arrayContaining(['area-locked-down', 'area-normal']));
  });

  it('an emergency release by command releases only the fail-safe lab door, is kept in the store, and normal relocks it', async () => {
    controller.areas.setMode('lab', 'emergency', { by: 'guard-console' });
    await waitFor(() => controller.doors.state('lab-main')?.emergency === true, 2000, 'released');
    // The controller's state changes at once; the command reaches the lock a moment later.
    await sim.waitFor(() => sim.lockState('lab-lock') === 'unlocked', 2000, 'the lab lock released');
    expect(controller.doors.state('vault-door')?.emergency).toBe(false);
    expect(controller.ctx.store.areas.mode('lab').mode).toBe('emergency');
    controller.areas.setMode('lab', 'normal', { by: 'guard-console' });
    await sim.waitFor(() => sim.lockState('lab-lock') === 'locked', 3000, 'relocked after the release');
  });

  it('a reload that no longer lists an active emergency input forgets it: the release ends with the last listed one', async () => {
    const mode = () => controller.ctx.store.areas.mode('lab').mode;
    await sim.input('fire-panel', true);
    await sim.input('gas-panel', true);
    await waitFor(() => mode() === 'emergency', 2000, 'released by the inputs');
    const site = structuredClone(controller.ctx.site);
    site.areas.find((a) => a.id === 'lab')!.emergencyInputs = ['gas-panel'];
    expect(controller.reload(site)).toEqual({ applied: true });
    // The reload itself ends no release: the gas panel still holds it.
    expect(mode()).toBe('emergency');
    await sim.input('gas-panel', false);
    // The fire panel, still active but no longer listed, does not hold the release any more.
    await waitFor(() => mode() === 'normal', 2000, 'back to normal when the last listed input cleared');
    expect(controller.ctx.store.entryLog.recent(5).find((r) => r.kind === 'mode')).toMatchObject({
      areaId: 'lab',
      reason: 'mode-normal',
      detail: { by: 'input:gas-panel' },
    });
    await sim.input('fire-panel', false);
    await sim.waitFor(() => sim.lockState('lab-lock') === 'locked', 3000, 'relocked');
  });
});
