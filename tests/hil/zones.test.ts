// Alarm zones through the controller itself (in-process, real broker and simulator), with the lab
// out of hours all the time: the example's lab zone over the beam (arms by schedule, sounds the
// siren) and a second zone over a motion sensor that arms when the lab falls empty.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { Controller } from '../../src/controller/controller.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import type { StoredEvent } from '../../src/store/events.js';
import { enrol, prepareData } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('alarm zones', () => {
  let controller: Controller;
  let sim: Simulator;
  let holder: string;

  beforeAll(async () => {
    const { dataDir, site } = prepareData({
      edit: (raw) => {
        // from == to is an empty window: never business hours.
        raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '00:00' }] }];
        raw.doors.find((d: { id: string }) => d.id === 'lab-main').unlockMs = 1000;
        raw.devices.push({ id: 'lab-pir', kind: 'ir-sensor', transport: 'mqtt' });
        raw.zones.push({ id: 'lab-presence', name: 'Lab presence', area: 'lab', sensors: ['lab-pir'], arm: 'empty' });
      },
    });
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    holder = (await enrol({ dataDir }, { name: 'Researcher Mori', card: 'C0000002', pin: '6666', areas: ['lab'], outOfHours: true })).personId;
    await enrol({ dataDir }, { name: 'Visitor Ueda', card: 'C0000009', pin: '9999', areas: [] });
    sim = await Simulator.start({ site, url: controller.brokerUrl, ca: readCa(dataDir), secrets: loadSecrets(dataDir) });
    await waitFor(() => controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab locked');
  });

  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
  });

  const mode = (id: string) => controller.zones.get(id)?.mode;
  const events = (type: string): StoredEvent[] => controller.ctx.store.events.recent(100, type);

  async function attempt(card: string, pin: string): Promise<string> {
    await waitFor(() => controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab locked before the attempt');
    const shown = sim.expectCommand('lab-reader', (c) => c.command === 'indicate' && c.pattern !== 'pin-required', 3000, 'outcome');
    const asked = sim.expectCommand('lab-keypad', (c) => c.command === 'indicate', 3000, 'keypad');
    await sim.swipe('lab-reader', card);
    const first = await asked.catch(() => undefined);
    if (first?.command === 'indicate' && first.pattern === 'pin-required') await sim.pin('lab-keypad', pin);
    const c = await shown;
    return c.command === 'indicate' ? c.pattern : '';
  }

  /** The beam held broken for `ms`. */
  async function hold(sensor: string, ms: number): Promise<void> {
    await sim.input(sensor, true);
    await sleep(ms);
    await sim.input(sensor, false);
  }

  it('both zones start armed: out of hours, and nobody inside', () => {
    expect(mode('lab-night')).toBe('armed');
    expect(mode('lab-presence')).toBe('armed');
  });

  it('a beam broken for less than minActiveMs is ignored', async () => {
    await sim.trip('lab-beam', 0);
    await hold('lab-beam', 100);
    await sleep(800);
    expect(events('intrusion')).toEqual([]);
    expect(mode('lab-night')).toBe('armed');
  });

  it('tripped while armed: intrusion with the zone, the area and the sensor; the siren sounds; a disarm silences it', async () => {
    const siren = sim.expectCommand('lab-siren', (c) => c.command === 'output' && c.on, 3000, 'siren on');
    await hold('lab-beam', 600);
    await waitFor(() => events('intrusion').length === 1, 3000, 'intrusion');
    expect(events('intrusion')[0]).toMatchObject({
      source: 'lab-night',
      severity: 'alarm',
      detail: { zoneId: 'lab-night', areaId: 'lab', sensor: 'lab-beam' },
    });
    await siren;
    expect(mode('lab-night')).toBe('tripped');
    const off = sim.expectCommand('lab-siren', (c) => c.command === 'output' && !c.on, 3000, 'siren off');
    expect(controller.zones.disarm('lab-night', { by: 'api:guard-kato' })).toBe(true);
    await off;
    expect(events('zone-disarmed')[0]).toMatchObject({ detail: { zoneId: 'lab-night', by: 'api:guard-kato', previous: 'tripped' } });
    expect(controller.zones.arm('lab-night', { by: 'api:guard-kato' })).toBe(true);
  });

  it('a denied entry does not disarm; a granted one does, naming the person and the entry', async () => {
    const disarmsBefore = events('zone-disarmed').length;
    expect(await attempt('C0000009', '9999')).toBe('denied');
    await sleep(300);
    expect(mode('lab-night')).toBe('armed');
    expect(mode('lab-presence')).toBe('armed');
    expect(events('zone-disarmed')).toHaveLength(disarmsBefore);

    expect(await attempt('C0000002', '6666')).toBe('granted');
    await waitFor(() => mode('lab-night') === 'disarmed' && mode('lab-presence') === 'disarmed', 2000, 'disarmed by the entry');
    const entry = controller.ctx.store.entryLog.recent(5).find((r) => r.kind === 'decision' && r.decision === 'granted');
    const disarm = events('zone-disarmed').find((e) => e.detail?.zoneId === 'lab-night');
    expect(disarm?.detail).toMatchObject({ by: 'entry:lab-main', personId: holder, entrySeq: entry?.seq, previous: 'armed' });
  });

  it('no intrusion while the granted holder is inside out of hours', async () => {
    const before = events('intrusion').length;
    await hold('lab-beam', 600);
    await hold('lab-pir', 600);
    await sleep(500);
    expect(events('intrusion')).toHaveLength(before);
  });

  it('the last exit re-arms the empty zone (and the schedule zone, out of hours)', async () => {
    await waitFor(() => controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab locked');
    const shown = sim.expectCommand('lab-exit-reader', (c) => c.command === 'indicate', 3000, 'exit outcome');
    await sim.swipe('lab-exit-reader', 'C0000002');
    expect(await shown).toMatchObject({ pattern: 'granted' });
    await waitFor(() => mode('lab-presence') === 'armed' && mode('lab-night') === 'armed', 2000, 'armed again');
    expect(events('zone-armed').find((e) => e.detail?.zoneId === 'lab-presence')?.detail).toMatchObject({ by: 'empty', personId: holder });
    const before = events('intrusion').length;
    await hold('lab-pir', 600);
    await waitFor(() => events('intrusion').length === before + 1, 3000, 'intrusion in the empty zone');
    expect(events('intrusion')[0]?.detail).toMatchObject({ zoneId: 'lab-presence', sensor: 'lab-pir' });
  });
});
