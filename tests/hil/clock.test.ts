// Trusting the clock, through the controller itself (in-process, real broker, the firmware simulator,
// the real API): a device stamping a skewed `at` raises clock-drift (once per window); the gateway's
// wall clock, moved back and forward under the controller, raises clock-jump, and no record is ever
// logged at a time before the last one; /healthz and /metrics say whether the clock is synchronised.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { buildServer } from '../../src/api/server.js';
import type { CommandRunner } from '../../src/controller/clock-sync.js';
import { Controller } from '../../src/controller/controller.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import { openDatabase } from '../../src/store/db.js';
import { verifyEntryLog } from '../../src/store/entry-log.js';
import { prepareData } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';

// What chronyc -c tracking says with no source, and following one (captured from chrony 4.3).
const fixture = (name: string) => readFileSync(resolve(import.meta.dirname, '../fixtures/clock', name), 'utf8');
const UNSYNCHRONISED = fixture('chronyc-tracking-unsynchronised.csv');
const SYNCHRONISED = fixture('chronyc-tracking-synchronised.csv');
let chronySays = UNSYNCHRONISED;
const chrony: CommandRunner = async (file) => (file === 'chronyc' ? { code: 0, stdout: chronySays } : null);

describe('the clock: drifting devices, a jumping gateway clock, synchronisation', () => {
  let controller: Controller;
  let sim: Simulator;
  let app: FastifyInstance;
  let dataDir: string;
  /** How far the controller's wall clock is moved from the real one. */
  let shiftMs = 0;

  beforeAll(async () => {
    const prepared = prepareData({
      edit: (raw) => {
        raw.policy = { ...(raw.policy ?? {}), clockDriftSeconds: 10 };
      },
    });
    dataDir = prepared.dataDir;
    const { site } = prepared;
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
      clock: { wall: () => Date.now() + shiftMs, checkEveryMs: 100, syncCommands: chrony, syncFlagExists: () => false },
    });
    sim = await Simulator.start({ site, url: controller.brokerUrl, ca: readCa(dataDir), secrets: loadSecrets(dataDir) });
    await waitFor(() => controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab locked');
    app = await buildServer({ controller, log: pino({ level: 'silent' }) });
    await app.ready();
  }, 30_000);

  afterAll(async () => {
    await app?.close();
    await sim?.stop();
    await controller?.stop();
  });

  const events = (type: string) => controller.ctx.store.events.recent(200, type);
  /** An unknown card at a reader: a denial, logged. Resolves with its record. */
  async function unknownCard(reader: string) {
    const { entryLog } = controller.ctx.store;
    const before = entryLog.count;
    await sim.swipe(reader, 'C0FFEE99');
    await waitFor(() => entryLog.count > before, 5000, `the read at ${reader} is logged`);
    return entryLog.get(entryLog.count)!;
  }

  it('/healthz and /metrics say the clock is not synchronised, and clock-unsynchronised is raised once', async () => {
    await waitFor(() => events('clock-unsynchronised').length === 1, 5000, 'clock-unsynchronised');
    const health = await app.inject({ url: '/healthz' });
    expect(health.json().clock).toMatchObject({ sync: { state: 'unsynchronised', source: 'chrony', offsetSeconds: null } });
    await controller.clockSync.poll();
    expect(events('clock-unsynchronised')).toHaveLength(1);
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/^tobira_clock_synchronised 0$/m);
    // The source gives no offset when it is not synchronised: no sample, rather than a made-up 0.
    expect(metrics).not.toMatch(/^tobira_clock_offset_seconds\{/m);
    expect(metrics).toMatch(/^tobira_clock_jumps_total 0$/m);

    chronySays = SYNCHRONISED;
    await controller.clockSync.poll();
    expect(events('clock-synchronised')).toHaveLength(1);
    expect((await app.inject({ url: '/healthz' })).json().clock.sync).toMatchObject({ state: 'synchronised', source: 'chrony', offsetSeconds: 0.000001424 });
    const synced = (await app.inject({ url: '/metrics' })).body;
    expect(synced).toMatch(/^tobira_clock_synchronised 1$/m);
    expect(synced).toMatch(/^tobira_clock_offset_seconds\{source="chrony"\} 0\.000001424$/m);
  });

  it('a device stamping its events 30 s behind raises clock-drift with both times; once per window', async () => {
    sim.skewClock('lab-reader', -30_000);
    // 5 s off is inside the site's bound of 10 s.
    sim.skewClock('vault-reader', 5_000);
    try {
      await unknownCard('vault-reader');
      await unknownCard('lab-reader');
      await waitFor(() => events('clock-drift').length > 0, 5000, 'clock-drift');
      const [drift] = events('clock-drift');
      expect(drift).toMatchObject({
        category: 'device',
        severity: 'warning',
        source: 'lab-reader',
        detail: { device: 'lab-reader', direction: 'behind', boundSeconds: 10 },
      });
      const { deviceAt, gatewayAt, differenceMs } = drift!.detail as { deviceAt: string; gatewayAt: string; differenceMs: number };
      expect(Date.parse(deviceAt) - Date.parse(gatewayAt)).toBe(differenceMs);
      expect(differenceMs).toBeLessThan(-29_000);
      expect(differenceMs).toBeGreaterThan(-31_000);
      // Again: counted, not raised again inside the window.
      await unknownCard('lab-reader');
      expect(controller.deviceClocks.drifted.get('lab-reader')).toBe(2);
      expect(events('clock-drift')).toHaveLength(1);
      expect(controller.health().clock.driftingDevices).toEqual(['lab-reader']);
    } finally {
      sim.skewClock('lab-reader', 0);
      sim.skewClock('vault-reader', 0);
    }
  });

  it('a wall clock set back two minutes raises clock-jump, and the next record is not logged before the last one', async () => {
    const last = await unknownCard('lab-reader');
    shiftMs -= 120_000;
    await waitFor(() => events('clock-jump').length === 1, 5000, 'clock-jump backwards');
    expect(events('clock-jump')[0]).toMatchObject({ category: 'system', severity: 'alarm', detail: { direction: 'backwards' } });
    const byMs = (events('clock-jump')[0]!.detail as { byMs: number }).byMs;
    expect(byMs).toBeLessThanOrEqual(-119_000);
    // The controller's clock holds at the last record: decisions use no earlier time.
    expect(controller.ctx.now().getTime()).toBeGreaterThanOrEqual(Date.parse(last.at));
    const next = await unknownCard('lab-reader');
    expect(Date.parse(next.at)).toBeGreaterThanOrEqual(Date.parse(last.at));
    const clock = controller.health().clock;
    expect(clock.jumps).toBe(1);
    expect(clock.lastJump).toMatchObject({ direction: 'backwards' });
    expect(clock.heldAtLastRecord).toBeGreaterThan(0);
    const db = openDatabase(dataDir);
    try {
      expect(verifyEntryLog(db)).toMatchObject({ ok: true });
    } finally {
      db.close();
    }
    expect((await app.inject({ url: '/metrics' })).body).toMatch(/^tobira_clock_jumps_total 1$/m);
  });

  it('a wall clock set forward beyond a minute raises clock-jump forwards; a shift inside a minute does not', async () => {
    // Back to the real time and 30 s beyond, in steps under a minute, each seen by a check of its own.
    for (let i = 0; i < 3; i++) {
      shiftMs += 50_000;
      expect(controller.clock.check()).toBeUndefined();
    }
    await unknownCard('lab-reader');
    expect(events('clock-jump')).toHaveLength(1);
    shiftMs += 90_000;
    await waitFor(() => events('clock-jump').length === 2, 5000, 'clock-jump forwards');
    expect(events('clock-jump')[0]).toMatchObject({ severity: 'alarm', detail: { direction: 'forwards' } });
    expect((events('clock-jump')[0]!.detail as { byMs: number }).byMs).toBeGreaterThanOrEqual(89_000);
    const record = await unknownCard('lab-reader');
    expect(Date.parse(record.at) - Date.now()).toBeGreaterThan(100_000);
  });
});
