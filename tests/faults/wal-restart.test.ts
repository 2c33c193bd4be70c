// Start-up after kill -9 with the write-ahead log at its bound. The real daemon decides card reads at
// four doors while a reader of the test's own holds one snapshot open (as a long backup or export
// would): no checkpoint can move the WAL past it, so the WAL grows towards the 64 MB bound. Then the
// daemon is killed with SIGKILL, the reader let go, and the daemon started again on the same data
// directory: SQLite rebuilds its WAL index by reading the whole file. After the restart the daemon is
// ready, every record committed before the kill is there with its hash, the next read is granted,
// `tobira log verify` passes, and the checkpointer empties the WAL. The time from spawn to ready is
// printed (speed goals live in the benchmark, not in tests).
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { FaultTally, cardDoorsSite, enrolMany, launchDaemon, prepareSite, readEntries, verifyLog, type DaemonProcess, type Holder } from '../helpers/faults.js';
import { freePort, waitFor } from '../helpers/ports.js';

const DOORS = 4;
const MB = 2 ** 20;
/** Towards the 64 MB bound the checkpointer keeps the WAL under (it empties it past 16 MB). */
const FILL_TO = 56 * MB;

const tally = new FaultTally('wal-restart');

describe('kill -9 with the WAL at its bound', () => {
  let prepared: ReturnType<typeof prepareSite>;
  let holders: Holder[];
  let daemon: DaemonProcess | undefined;
  let sim: Simulator | undefined;
  let mqttPort: number;
  let apiPort: number;
  const walFile = () => join(prepared.dataDir, 'tobira.db-wal');
  const walSize = () => {
    try {
      return statSync(walFile()).size;
    } catch {
      return 0;
    }
  };
  const launch = () =>
    launchDaemon({
      dataDir: prepared.dataDir,
      siteFile: prepared.siteFile,
      broker: { kind: 'embedded', port: mqttPort },
      apiPort,
      onCrash: (what) => tally.crash(what),
    });

  beforeAll(async () => {
    prepared = prepareSite(cardDoorsSite({ doors: DOORS, unlockMs: 500 }));
    holders = enrolMany(prepared.dataDir, 2000, { areas: ['store'] });
    mqttPort = await freePort();
    apiPort = await freePort();
  });

  afterAll(async () => {
    await sim?.stop();
    if (daemon && !daemon.exited) await daemon.stop();
    tally.write();
  });

  it('comes up ready with every committed record, verifies, and empties the WAL', { timeout: 180_000 }, async () => {
    const s0 = Date.now();
    daemon = await launch();
    const firstReadyMs = Date.now() - s0;
    sim = await Simulator.start({ site: prepared.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: prepared.secrets, heartbeatMs: 60_000 });
    await waitFor(() => [...Array(DOORS).keys()].every((i) => sim!.observed(`l${i + 1}`).length > 0), 5000, 'locks driven to rest');

    // The snapshot no checkpoint may pass.
    const pin = new Database(join(prepared.dataDir, 'tobira.db'), { readonly: true });
    pin.exec('BEGIN');
    pin.prepare('SELECT count(*) FROM entry_log').get();

    let next = 0;
    let granted = 0;
    const door = async (d: number) => {
      while (walSize() < FILL_TO) {
        const card = holders[next++ % holders.length]!.card;
        const outcome = sim!.expectCommand(`r${d}`, (c) => c.command === 'indicate', 5000, 'outcome');
        void sim!.swipe(`r${d}`, card);
        if (((await outcome) as { pattern?: string }).pattern === 'granted') granted++;
      }
    };
    await Promise.all([...Array(DOORS).keys()].map((i) => door(i + 1)));
    expect(granted).toBe(next);

    await tally.mustSurvive('kill -9 with the WAL at its bound', async () => {
      await daemon!.kill9();
      await sim!.stop();
      sim = undefined;
      // A read-only connection never checkpoints on close: the WAL stays as the daemon left it.
      pin.exec('ROLLBACK');
      pin.close();
      const walAtKill = walSize();
      expect(walAtKill).toBeGreaterThanOrEqual(FILL_TO);
      expect(walAtKill).toBeLessThan(64 * MB + MB);
      const before = readEntries(prepared.dataDir);
      expect(before.length).toBeGreaterThanOrEqual(next);

      const t0 = Date.now();
      daemon = await launch();
      const readyMs = Date.now() - t0;
      const line = `kill -9 with a ${(walAtKill / MB).toFixed(1)} MB WAL (${next} decisions): spawned to ready in ${readyMs} ms (the first start, empty WAL: ${firstReadyMs} ms)`;
      console.log(line);
      tally.note(line);

      // Nothing committed before the kill is gone or changed.
      const after = new Map(readEntries(prepared.dataDir).map((r) => [r.seq as number, r.hash as string]));
      const lost = before.filter((r) => after.get(r.seq as number) !== r.hash);
      tally.lost(lost.length, 'after a kill -9 with the WAL at its bound');
      expect(lost).toEqual([]);

      // Still deciding.
      sim = await Simulator.start({ site: prepared.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: prepared.secrets, heartbeatMs: 60_000 });
      const outcome = sim.expectCommand('r1', (c) => c.command === 'indicate', 10_000, 'outcome after the restart');
      void sim.swipe('r1', holders[0]!.card);
      expect(((await outcome) as { pattern?: string }).pattern).toBe('granted');

      // The checkpointer copies the WAL into the database and empties it.
      await waitFor(() => walSize() < 16 * MB, 30_000, 'the WAL emptied after the restart');

      await sim.stop();
      sim = undefined;
      await daemon.stop();
      const v = verifyLog(prepared.dataDir);
      expect(v.stderr).toBe('');
      expect(v.code).toBe(0);
    });
  });
});
