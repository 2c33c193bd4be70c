// Pulled plug: kill -9 the real daemon at random moments during a burst of card reads at four
// card-only doors, twenty times, restarting it each time on the same data directory, base topic and
// ports (the simulated devices reconnect by themselves, keeping their boot and seq, and resend what
// the dead broker never acknowledged). After each restart:
//   - every unlock command that reached a lock is tied to the read that caused it, and that read has
//     its committed, granted entry for the right person (every indication likewise);
//   - every record seen committed before the kill (read from the database while the burst ran, and
//     right after the kill) is still there with the same hash;
//   - no (device, boot, seq) is decided twice;
//   - `tobira log verify` exits 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import type { Command } from '../../src/devices/protocol.js';
import {
  FaultTally,
  cardDoorsSite,
  enrolMany,
  launchDaemon,
  prepareSite,
  prng,
  readEntries,
  runSeed,
  sleep,
  verifyLog,
  type DaemonProcess,
  type Holder,
} from '../helpers/faults.js';
import { freePort, waitFor } from '../helpers/ports.js';

const DOORS = 4;
const CYCLES = 20;
const HOLDERS = 5000;

interface Read {
  door: number;
  reader: string;
  seq: number;
  card: string;
  holder: Holder | undefined;
  /** Unlocks the door's lock had seen, and indications its reader had seen, when the read was sent. */
  unlocksBefore: number;
  indicationsBefore: number;
  cycle: number;
}

const tally = new FaultTally('pulled-plug');

describe('pulled plug: kill -9 during a burst of reads', () => {
  const seed = runSeed();
  const random = prng(seed);
  let prepared: ReturnType<typeof prepareSite>;
  let holders: Holder[];
  let daemon: DaemonProcess;
  let sim: Simulator;
  let mqttPort: number;
  let apiPort: number;
  const reads: Read[] = [];
  const byCard = new Map<string, Holder>();
  /** Every record seen committed at some point: seq → hash. */
  const committed = new Map<number, string>();
  let nextHolder = 0;
  let unknownCards = 0;

  const launch = () =>
    launchDaemon({
      dataDir: prepared.dataDir,
      siteFile: prepared.siteFile,
      broker: { kind: 'embedded', port: mqttPort },
      apiPort,
      onCrash: (what) => tally.crash(what),
    });

  const unlocksAt = (door: number) => sim.observed(`l${door}`).filter((o) => o.command.command === 'unlock');
  const indicationsAt = (door: number) => sim.observed(`r${door}`).filter((o) => o.command.command === 'indicate');

  beforeAll(async () => {
    prepared = prepareSite(cardDoorsSite({ doors: DOORS, unlockMs: 500, log: { checkpointEveryRecords: 25, checkpointIntervalSeconds: 5 } }));
    holders = enrolMany(prepared.dataDir, HOLDERS, { areas: ['store'] });
    for (const h of holders) byCard.set(h.card, h);
    mqttPort = await freePort();
    apiPort = await freePort();
    daemon = await launch();
    sim = await Simulator.start({ site: prepared.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: prepared.secrets, heartbeatMs: 5000 });
    await waitFor(() => [...Array(DOORS).keys()].every((i) => sim.observed(`l${i + 1}`).length > 0), 5000, 'locks driven to rest');
    console.log(`pulled plug: seed ${seed} (FAULT_SEED=${seed} repeats this run's timings)`);
  });

  afterAll(async () => {
    await sim?.stop();
    if (daemon && !daemon.exited) await daemon.stop();
    tally.write();
  });

  /** One door's reads, one at a time: the next only after the outcome (and the unlock, if granted). */
  async function doorLoop(door: number, cycle: number, stopped: Promise<void>, isStopped: () => boolean): Promise<void> {
    const reader = `r${door}`;
    while (!isStopped()) {
      const unknown = random() < 0.1;
      const card = unknown ? `DEAD${(++unknownCards).toString(16).toUpperCase().padStart(4, '0')}` : holders[nextHolder++ % holders.length]!.card;
      const read: Read = {
        door,
        reader,
        seq: 0,
        card,
        holder: byCard.get(card),
        cycle,
        unlocksBefore: unlocksAt(door).length,
        indicationsBefore: indicationsAt(door).length,
      };
      const indicated = sim.expectCommand(reader, (c) => c.command === 'indicate', 3000, 'outcome').catch(() => undefined);
      const unlocked = read.holder
        ? sim.expectCommand(`l${door}`, (c) => c.command === 'unlock', 3000, 'unlock').catch(() => undefined)
        : Promise.resolve(undefined);
      void sim.swipe(reader, card);
      // Stamped synchronously by swipe(): the read's own seq.
      read.seq = sim.info(reader).seq;
      reads.push(read);
      const outcome = await Promise.race([indicated, stopped.then(() => undefined)]);
      if (!outcome || isStopped()) return;
      if ((outcome as Command & { pattern?: string }).pattern === 'granted') {
        if (!(await Promise.race([unlocked, stopped.then(() => undefined)]))) return;
      }
    }
  }

  function recordCommitted(rows: Record<string, unknown>[]): void {
    for (const r of rows) if (!committed.has(r.seq as number)) committed.set(r.seq as number, r.hash as string);
  }

  /** Everything checked after a restart, over the whole run so far. Throws on the first violation. */
  function checkAll(rows: Record<string, unknown>[]): void {
    const bySeqHash = new Map(rows.map((r) => [r.seq as number, r.hash as string]));
    const rowsBySeq = new Map(rows.map((r) => [r.seq as number, r]));
    // Nothing seen committed may be gone or changed.
    const missing = [...committed].filter(([seq, hash]) => bySeqHash.get(seq) !== hash);
    if (missing.length) {
      tally.lost(
        missing.length,
        `records ${missing
          .slice(0, 10)
          .map(([s]) => s)
          .join(', ')} committed before a kill, missing or changed after the restart`,
      );
      throw new Error(
        `${missing.length} committed records missing or changed after the restart: ${missing
          .slice(0, 10)
          .map(([s]) => s)
          .join(', ')}`,
      );
    }
    // No read decided twice.
    const decisions = rows.filter((r) => r.kind === 'decision' && r.device_seq !== null);
    const seen = new Map<string, number>();
    for (const r of decisions) {
      const key = `${r.device_id}/${r.device_boot}/${r.device_seq}`;
      if (seen.has(key)) throw new Error(`read ${key} decided twice: records ${seen.get(key)} and ${r.seq}`);
      seen.set(key, r.seq as number);
    }
    const decisionOf = (read: Read) => rowsBySeq.get(seen.get(`${read.reader}/${sim.boot}/${read.seq}`) ?? -1);
    for (let door = 1; door <= DOORS; door++) {
      // A door's reads are sent one after the other, so both counters only grow along them.
      const doorReads = reads.filter((r) => r.door === door);
      const attribute = (index: number, key: 'unlocksBefore' | 'indicationsBefore') => {
        let lo = 0;
        let hi = doorReads.length - 1;
        let found: Read | undefined;
        while (lo <= hi) {
          const mid = (lo + hi) >> 1;
          if (doorReads[mid]![key] <= index) {
            found = doorReads[mid];
            lo = mid + 1;
          } else hi = mid - 1;
        }
        return found;
      };
      // Every unlock that reached the lock: its read has a committed grant, for that read's card holder.
      unlocksAt(door).forEach((u, j) => {
        const read = attribute(j, 'unlocksBefore');
        if (!read) throw new Error(`l${door}: unlock #${j} at ${new Date(u.at).toISOString()} with no read before it`);
        const entry = decisionOf(read);
        if (!entry)
          throw new Error(
            `l${door}: unlock #${j} reached the lock, but read ${read.reader}/${read.seq} (card ${read.card}, cycle ${read.cycle}) has no committed entry`,
          );
        if (entry.decision !== 'granted' || entry.door_id !== `d${door}`)
          throw new Error(`l${door}: unlock #${j} for read ${read.reader}/${read.seq}, whose entry ${entry.seq} is ${entry.decision} at ${entry.door_id}`);
        if (!read.holder || entry.person_id !== read.holder.personId)
          throw new Error(
            `l${door}: unlock #${j}: entry ${entry.seq} names ${entry.person_id}, the card ${read.card} belongs to ${read.holder?.personId ?? 'nobody'}`,
          );
      });
      // Every outcome shown at the reader: its read has the committed decision it showed.
      indicationsAt(door).forEach((ind, j) => {
        const pattern = (ind.command as Command & { pattern: string }).pattern;
        const read = attribute(j, 'indicationsBefore');
        if (!read) throw new Error(`r${door}: indication #${j} (${pattern}) with no read before it`);
        const entry = decisionOf(read);
        if (!entry || entry.decision !== pattern)
          throw new Error(
            `r${door}: showed ${pattern} for read ${read.reader}/${read.seq} (card ${read.card}), whose entry is ${entry ? `${entry.seq}: ${entry.decision}` : 'missing'}`,
          );
      });
    }
  }

  it(`survives ${CYCLES} kills at random moments: no committed record lost, none duplicated, the log verifies`, async () => {
    const started = Date.now();
    const stats: string[] = [];
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const killAfter = 60 + Math.floor(random() * 1200);
      const readsBefore = reads.length;
      let lastSeq = committed.size ? Math.max(...committed.keys()) : 0;
      let stop = false;
      let signalStop!: () => void;
      const stopped = new Promise<void>((r) => (signalStop = r));
      // Watch the database while the burst runs: whatever is seen committed must survive the kill.
      const poller = (async () => {
        while (!stop) {
          const rows = readEntries(prepared.dataDir, lastSeq);
          recordCommitted(rows);
          if (rows.length) lastSeq = rows.at(-1)!.seq as number;
          await sleep(15);
        }
      })();
      const loops = [...Array(DOORS).keys()].map((i) => doorLoop(i + 1, cycle, stopped, () => stop));
      await sleep(killAfter);
      const killed = daemon.kill9();
      stop = true;
      signalStop();
      await killed;
      await Promise.all([...loops, poller]);
      const ok = await tally.fault(`kill #${cycle} after ${killAfter} ms`, async () => {
        // Exactly what the dead process left committed (SQLite recovers its WAL on open).
        const atKill = readEntries(prepared.dataDir);
        const atKillHash = new Map(atKill.map((r) => [r.seq as number, r.hash as string]));
        const missingAtKill = [...committed].filter(([seq, hash]) => atKillHash.get(seq) !== hash);
        if (missingAtKill.length) {
          tally.lost(missingAtKill.length, `seen committed during burst ${cycle}, gone right after the kill`);
          throw new Error(`${missingAtKill.length} records seen committed are gone after the kill`);
        }
        recordCommitted(atKill);
        daemon = await launch();
        await sim.waitFor(() => sim.deviceIds.every((id) => sim.isOnline(id)), 10_000, 'every device back online');
        // Reads the dead broker never acknowledged are resent by the devices: let them be decided.
        let count = -1;
        await waitFor(
          async () => {
            const now = readEntries(prepared.dataDir).length;
            const stable = now === count;
            count = now;
            return stable;
          },
          10_000,
          'the log to settle',
        );
        await sleep(300);
        let rows = readEntries(prepared.dataDir);
        checkAll(rows);
        recordCommitted(rows);
        // The devices' (boot, seq) marks were committed with the entries: each door's last decided read,
        // sent again byte for byte, is dropped as a duplicate by the restarted daemon.
        const decided = new Set(rows.filter((r) => r.kind === 'decision').map((r) => `${r.device_id}/${r.device_boot}/${r.device_seq}`));
        const replays = [...Array(DOORS).keys()].flatMap((i) => {
          const last = reads.filter((r) => r.door === i + 1 && decided.has(`${r.reader}/${sim.boot}/${r.seq}`)).at(-1);
          return last ? [last] : [];
        });
        const before = (await daemon.health()).counters.duplicates;
        for (const r of replays) {
          const payload = JSON.stringify({ boot: sim.boot, seq: r.seq, type: 'credential', credential: { kind: 'card', value: r.card } });
          await sim.sendRaw(r.reader, sim.topics.device(r.reader, 'events'), payload);
        }
        await waitFor(
          async () => (await daemon.health()).counters.duplicates >= before + replays.length,
          3000,
          `${replays.length} replayed reads dropped as duplicates`,
        );
        rows = readEntries(prepared.dataDir);
        checkAll(rows);
        const health = await daemon.health();
        expect(health.database).toMatchObject({ ok: true, entries: rows.length });
        const verified = verifyLog(prepared.dataDir);
        if (verified.code !== 0) throw new Error(`log verify exited ${verified.code}: ${verified.stderr}${verified.stdout}`);
        stats.push(
          `#${cycle}: killed after ${killAfter} ms, ${reads.length - readsBefore} reads sent, ${atKill.length} records at the kill, ${rows.length} after the restart (${health.counters.duplicates} dropped as duplicates: ${replays.length} replayed, ${health.counters.duplicates - replays.length} resent)`,
        );
      });
      // A daemon that cannot come back ends the run: nothing after it would mean anything.
      if (!ok && (!daemon || daemon.exited)) break;
    }
    console.log(`pulled plug (seed ${seed}), ${Math.round((Date.now() - started) / 1000)} s:\n  ${stats.join('\n  ')}`);
    // Finally a clean stop: the shutdown checkpoint covers everything, and the log verifies.
    await sim.stop();
    expect(await daemon.stop()).toBe(0);
    const finalRows = readEntries(prepared.dataDir);
    checkAll(finalRows);
    const verified = verifyLog(prepared.dataDir);
    expect(verified.code, verified.stderr).toBe(0);
    const grants = finalRows.filter((r) => r.decision === 'granted').length;
    // Reads the broker had acknowledged but the dead daemon never decided: no record, no answer, no unlock.
    const decided = new Set(finalRows.filter((r) => r.kind === 'decision').map((r) => `${r.device_id}/${r.device_seq}`));
    const undecided = reads.filter((r) => !decided.has(`${r.reader}/${r.seq}`)).length;
    const unlocksSeen = [...Array(DOORS).keys()].reduce((n, i) => n + unlocksAt(i + 1).length, 0);
    const summary = `${reads.length} reads over ${CYCLES} kills; ${finalRows.length} records (${grants} grants, ${unlocksSeen} unlocks seen by the locks, each tied to its record); ${undecided} reads in flight at a kill never decided (no record, no unlock); seed ${seed}`;
    tally.note(summary);
    console.log(`pulled plug: ${summary}`);
    tally.assertAllSurvived();
    expect(tally.counts).toMatchObject({ injected: CYCLES, survived: CYCLES, lost: 0, crashes: 0 });
  }, 300_000);
});
