// Patrol rounds through the controller itself (in-process, real broker and simulator), with rounds of
// seconds: a completed round (a badge at a checkpoint reader, a badge at a door's reader that is an
// entry too, a checkpoint input) is logged; a round nobody walks raises patrol-missed per checkpoint
// and ends incomplete; a badge by someone who is no guard is no check and no access attempt.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { Controller } from '../../src/controller/controller.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import { cardAndPin } from '../helpers/flows.js';
import { enrol, prepareData } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';

// Rounds every 9 s; each checkpoint late 3 s after it is expected (the lab 1.5 s later, the storeroom 3 s).
const INTERVAL_MIN = 0.15;
const TOLERANCE_MIN = 0.05;

describe('patrols', () => {
  let controller: Controller;
  let sim: Simulator;
  let guardId: string;

  beforeAll(async () => {
    const { dataDir, site } = prepareData({
      edit: (raw) => {
        raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }] }];
        raw.patrols = [
          {
            id: 'night-round',
            intervalMinutes: INTERVAL_MIN,
            toleranceMinutes: TOLERANCE_MIN,
            guardRoles: ['security'],
            checkpoints: ['corridor-checkpoint', { device: 'lab-reader', afterMinutes: 0.025 }, { device: 'store-checkpoint', afterMinutes: 0.05 }],
          },
        ];
      },
    });
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    guardId = (await enrol({ dataDir }, { name: 'Guard Kato', card: 'C0000001', pin: '5555', roles: ['security'], areas: ['lab'] })).personId;
    await enrol({ dataDir }, { name: 'Researcher Mori', card: 'C0000002', pin: '6666', areas: ['lab'] });
    sim = await Simulator.start({ site, url: controller.brokerUrl, ca: readCa(dataDir), secrets: loadSecrets(dataDir) });
    await waitFor(() => controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab locked');
  }, 30_000);

  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
  });

  const run = () => controller.patrols.routes()[0]!;
  const events = (type: string) => controller.ctx.store.events.recent(200, type);
  /** Waits for a round that just fell due, nothing checked yet. */
  const freshRound = () =>
    waitFor(
      () => {
        const { state } = run();
        return state.phase === 'open' && state.startedAt === null && Date.now() - state.dueAt < 500 ? state.dueAt : undefined;
      },
      INTERVAL_MIN * 60_000 * 2 + 2000,
      'a round falls due',
    );

  it('a badge by someone who is no guard at a checkpoint reader is no check and no access attempt', async () => {
    const entries = controller.ctx.store.entryLog.count;
    const shown = sim.expectCommand('corridor-checkpoint', (c) => c.command === 'indicate', 3000, 'the checkpoint answers');
    await sim.swipe('corridor-checkpoint', 'C0000002');
    expect(await shown).toMatchObject({ pattern: 'denied' });
    expect(run().state.checkpoints[0]).toEqual({ is: 'pending' });
    expect(controller.ctx.store.entryLog.count).toBe(entries);
  });

  it('a round walked in time is logged as completed, with each checkpoint, its time and the guard', async () => {
    const dueAt = await freshRound();
    const entries = controller.ctx.store.entryLog.count;
    const shown = sim.expectCommand('corridor-checkpoint', (c) => c.command === 'indicate', 3000, 'the checkpoint answers');
    await sim.swipe('corridor-checkpoint', 'C0000001');
    expect(await shown).toMatchObject({ pattern: 'granted' });
    // The lab's reader is a door's reader: the guard's badge there is a check and an entry.
    await cardAndPin(sim, 'lab', 'C0000001', '5555');
    await waitFor(() => controller.ctx.store.entryLog.count > entries, 3000, 'the entry at the lab');
    expect(controller.ctx.store.entryLog.recent(1)[0]).toMatchObject({ decision: 'granted', personName: 'Guard Kato' });
    await sim.input('store-checkpoint', true);
    await sim.input('store-checkpoint', false);
    const done = await waitFor(() => events('patrol-completed').find((e) => e.detail?.dueAt === new Date(dueAt).toISOString()), 3000, 'patrol-completed');
    expect(done).toMatchObject({ source: 'night-round', severity: 'info', category: 'alarm' });
    expect(done.detail).toMatchObject({
      route: 'night-round',
      outcome: 'completed',
      checkpoints: [
        { device: 'corridor-checkpoint', by: guardId, late: false, missed: null },
        { device: 'lab-reader', by: guardId, late: false, missed: null },
        { device: 'store-checkpoint', by: null, late: false, missed: null },
      ],
    });
    expect(events('patrol-missed').filter((e) => e.detail?.roundDueAt === new Date(dueAt).toISOString())).toEqual([]);
  }, 40_000);

  it('a round nobody walks raises patrol-missed for each checkpoint as it passes and ends incomplete', async () => {
    const dueAt = await freshRound();
    const due = new Date(dueAt).toISOString();
    const missed = () => events('patrol-missed').filter((e) => e.detail?.roundDueAt === due);
    await waitFor(() => missed().length >= 1, 5000, 'the first checkpoint missed');
    expect(missed().map((e) => e.source)).toEqual(['corridor-checkpoint']);
    expect(missed()[0]).toMatchObject({ severity: 'alarm', detail: { route: 'night-round', reason: 'late', index: 0 } });
    const ended = await waitFor(() => events('patrol-incomplete').find((e) => e.detail?.dueAt === due), INTERVAL_MIN * 60_000 + 3000, 'the round ends');
    expect(
      missed()
        .map((e) => e.source)
        .sort(),
    ).toEqual(['corridor-checkpoint', 'lab-reader', 'store-checkpoint']);
    expect(ended.detail).toMatchObject({ outcome: 'incomplete', startedAt: null });
  }, 40_000);
});
