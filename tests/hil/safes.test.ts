// The example's document safe through the controller itself (in-process, real broker and simulator):
// two holders come into the vault (card + PIN, two persons), then the dial switch, the key switch and
// the door contact report as the simulated safe's devices. Only both locks after a holder's entry is an
// authorised opening; one lock only, or nobody authenticated, is an alarm; so is movement at the approach out of hours.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { Controller } from '../../src/controller/controller.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import type { EntryRecord } from '../../src/store/entry-log.js';
import type { StoredEvent } from '../../src/store/events.js';
import { enrol, prepareData } from '../helpers/daemon.js';
import { cardAndPin } from '../helpers/flows.js';
import { freePort, waitFor } from '../helpers/ports.js';

describe('the document safe', () => {
  let controller: Controller;
  let sim: Simulator;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    const { dataDir, site } = prepareData({
      edit: (raw) => {
        // The vault never in business hours (grants here are out-of-hours ones), and a motion sensor at the safe's approach.
        raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '00:00' }] }];
        raw.devices.push({ id: 'doc-safe-pir', kind: 'input', input: 'motion', transport: 'mqtt' });
        raw.safes[0].approach = 'doc-safe-pir';
      },
    });
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    // Holders of the safe: a grant for doc-safe besides the vault's.
    ids.sato = (await enrol({ dataDir }, { name: '佐藤 花子', card: 'A0000001', pin: '2580', areas: ['vault', 'doc-safe'], purpose: '契約書保管' })).personId;
    ids.tanaka = (await enrol({ dataDir }, { name: '田中 健', card: 'A0000002', pin: '1397', areas: ['vault', 'doc-safe'] })).personId;
    sim = await Simulator.start({ site, url: controller.brokerUrl, ca: readCa(dataDir), secrets: loadSecrets(dataDir) });
    await waitFor(() => controller.doors.state('vault-door')?.lock === 'locked', 5000, 'vault locked');
  });

  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
  });

  const events = (type: string): StoredEvent[] => controller.ctx.store.events.recent(100, type);
  const safeRecords = (): EntryRecord[] => controller.ctx.store.entryLog.recent(50, { doorId: 'doc-safe' });

  /** Both holders come into the vault: each granted entry counts as an authentication for the safe. */
  async function enterVault(): Promise<void> {
    await waitFor(() => controller.doors.state('vault-door')?.lock === 'locked', 8000, 'vault locked before the entry');
    const unlocked = sim.expectCommand('vault-lock', (c) => c.command === 'unlock', 5000, 'vault unlock');
    await cardAndPin(sim, 'vault', 'A0000001', '2580');
    await cardAndPin(sim, 'vault', 'A0000002', '1397');
    await unlocked;
    await waitFor(() => controller.safes.get('doc-safe')?.state === 'authenticated', 3000, 'safe authenticated');
  }

  async function openAndClose(locks: ('doc-safe-dial' | 'doc-safe-key')[]): Promise<void> {
    for (const lock of locks) await sim.input(lock, true);
    await waitFor(() => (controller.safes.get('doc-safe')?.locksOpen.length ?? 0) === locks.length, 3000, 'locks reported');
    await sim.input('doc-safe-contact', true);
    await waitFor(() => controller.safes.get('doc-safe')?.contactOpen === true, 3000, 'safe open');
    await sim.input('doc-safe-contact', false);
    for (const lock of locks) await sim.input(lock, false);
    await waitFor(() => controller.safes.get('doc-safe')?.state === 'closed' && controller.safes.get('doc-safe')?.locksOpen.length === 0, 3000, 'closed');
  }

  it('movement at the approach out of hours: safe-approach-out-of-hours', async () => {
    await sim.input('doc-safe-pir', true);
    await waitFor(() => events('safe-approach-out-of-hours').length === 1, 3000, 'approach alarm');
    expect(events('safe-approach-out-of-hours')[0]).toMatchObject({ source: 'doc-safe', severity: 'alarm', detail: { safeId: 'doc-safe', areaId: 'vault' } });
    await sim.input('doc-safe-pir', false);
  });

  it('starts closed', () => {
    expect(controller.safes.get('doc-safe')).toMatchObject({ state: 'closed', locks: ['dial', 'key'], contactOpen: false });
  });

  it('holders in the vault, dial and key open: an authorised opening in the entry log, then its closing', async () => {
    await enterVault();
    await openAndClose(['doc-safe-dial', 'doc-safe-key']);
    await waitFor(() => safeRecords().some((r) => r.reason === 'safe-closed'), 3000, 'closing logged');
    const [closed, opened] = safeRecords();
    expect(opened).toMatchObject({
      kind: 'door',
      reason: 'safe-opened',
      areaId: 'vault',
      deviceId: 'doc-safe-contact',
      detail: { safe: 'doc-safe', locks: ['dial', 'key'], source: 'door' },
    });
    // The last holder to authenticate opened it, with their affiliation and grant's purpose.
    expect(opened?.personId).toBe(ids.tanaka);
    expect(opened).toMatchObject({ personName: '田中 健', affiliation: 'R&D', purpose: 'project work' });
    expect(closed).toMatchObject({ reason: 'safe-closed', detail: { safe: 'doc-safe', authorised: true } });
    expect(events('safe-opened-unauthorised')).toEqual([]);
  });

  it('one lock only, even after the holders came in: safe-opened-unauthorised', async () => {
    await enterVault();
    await openAndClose(['doc-safe-dial']);
    await waitFor(() => events('safe-opened-unauthorised').length === 1, 3000, 'alarm');
    expect(events('safe-opened-unauthorised')[0]).toMatchObject({
      source: 'doc-safe',
      severity: 'alarm',
      detail: { safeId: 'doc-safe', areaId: 'vault', reason: 'locks-not-open', locksOpen: ['dial'], holder: ids.tanaka },
    });
    expect(safeRecords()[1]).toMatchObject({ reason: 'safe-opened-unauthorised', detail: { reason: 'locks-not-open' } });
  });

  it('both locks with no holder authenticated (the last entry was spent on an opening): safe-opened-unauthorised', async () => {
    expect(controller.safes.get('doc-safe')?.state).toBe('closed');
    await openAndClose(['doc-safe-dial', 'doc-safe-key']);
    await waitFor(() => events('safe-opened-unauthorised').length === 2, 3000, 'alarm');
    expect(events('safe-opened-unauthorised')[0]).toMatchObject({ detail: { reason: 'no-holder', locksOpen: ['dial', 'key'], holder: null } });
  });
});
