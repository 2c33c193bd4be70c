// Faults inside the controller that must not skip safety or go unseen. A listener that throws on the
// grant path (a broken publisher, a live stream gone wrong) cannot skip what comes after the door was
// released: the reader's indication and the duress alarm. A storage fault shows in /healthz. The
// real controller in-process, with the firmware simulator on its embedded broker.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { Controller } from '../../src/controller/controller.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import { enrol, prepareData } from '../helpers/daemon.js';
import { cardAndPin } from '../helpers/flows.js';
import { freePort, waitFor } from '../helpers/ports.js';

describe('faults in the controller', () => {
  let controller: Controller;
  let sim: Simulator;
  let dataDir: string;
  beforeAll(async () => {
    const prepared = prepareData({
      edit: (raw) => {
        raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }] }];
      },
    });
    dataDir = prepared.dataDir;
    await enrol({ dataDir }, { name: '佐藤 花子', card: 'A0000001', pin: '2580', duressPin: '2581', areas: ['lab'] });
    controller = await Controller.start({
      site: prepared.site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    sim = await Simulator.start({ site: prepared.site, url: controller.brokerUrl, secrets: loadSecrets(dataDir), ca: readCa(dataDir) });
    await waitFor(() => controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab locked');
  });
  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
  });

  it('a throwing bus listener on the grant path cannot stop the indication or the duress alarm; it is reported with its owner', async () => {
    const { bus, store, counters } = controller.ctx;
    // Added first of the test's listeners, after the controller's own: each throws on every call.
    const offs = [
      bus.on(
        'entry',
        () => {
          throw new Error('entry listener broke');
        },
        'test-entry-listener',
      ),
      bus.on(
        'raised',
        (e) => {
          if (e.type !== 'listener-fault') throw new Error('raised listener broke');
        },
        'test-raised-listener',
      ),
    ];
    try {
      const shown = sim.expectCommand('lab-reader', (c) => c.command === 'indicate' && c.pattern !== 'pin-required', 4000, 'outcome');
      await cardAndPin(sim, 'lab', 'A0000001', '2581');
      expect(await shown).toMatchObject({ command: 'indicate', pattern: 'granted' });
      const record = store.entryLog.recent(1)[0]!;
      expect(record).toMatchObject({ decision: 'granted', detail: { duress: true } });
      const duress = await waitFor(() => store.events.recent(20, 'duress')[0], 2000, 'duress alarm');
      expect(duress.detail).toMatchObject({ seq: record.seq });
      const faults = store.events.recent(20, 'listener-fault');
      expect(faults.map((f) => [f.source, f.detail?.event])).toEqual(
        expect.arrayContaining([
          ['test-entry-listener', 'entry'],
          ['test-raised-listener', 'raised'],
        ]),
      );
      expect(counters.listenerFaults).toBeGreaterThanOrEqual(2);
    } finally {
      for (const off of offs) off();
    }
  });

  it('a storage fault fails the database health, dated by its report', () => {
    expect(controller.health().database).toMatchObject({ ok: true });
    controller.ctx.storageFaults.report(new Error('SQLITE_FULL'), { source: 'lab-main', during: 'access decision' });
    const reported = controller.health().database;
    expect(reported).toMatchObject({ ok: false, error: expect.stringMatching(/storage-fault/) });
    expect(Date.parse(reported.lastStorageFaultAt!)).toBe(controller.ctx.storageFaults.lastAt);
    expect(controller.ctx.store.events.recent(5, 'storage-fault')[0]).toMatchObject({ source: 'lab-main', detail: { during: 'access decision' } });
  });

  it('a reload reaches every extension: one whose hook throws is named, and the reload still completes', () => {
    const { areas } = controller;
    const before = controller.ctx.store.checkpoints.count();
    // The area modes' hook fails; the log keeper must still take its new schedule, and the reload its end.
    const reload = areas.reload;
    areas.reload = () => {
      throw new Error('area reload broke');
    };
    try {
      const site = structuredClone(controller.ctx.site);
      site.log = { ...site.log, checkpointIntervalSeconds: site.log.checkpointIntervalSeconds + 60 };
      expect(controller.reload(site)).toEqual({ applied: true });
    } finally {
      areas.reload = reload;
    }
    expect(controller.ctx.store.events.recent(1, 'configuration-left')[0]?.detail).toMatchObject({ applied: true, changed: ['log'], failed: ['areas'] });
    // The log keeper signed at once under the new schedule's promise.
    expect(controller.ctx.store.checkpoints.count()).toBe(before + 1);
    expect(controller.ctx.store.checkpoints.latest()?.nextWithinSeconds).toBe(2 * controller.ctx.site.log.checkpointIntervalSeconds + 60);
  });
});
