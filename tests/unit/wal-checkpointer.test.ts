// The WAL checkpointer: a worker thread with its own connection moves the WAL into the database,
// so the controller's commits never stop to do it.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { EntryLog, verifyEntryLog } from '../../src/store/entry-log.js';
import { GroupCommit } from '../../src/store/group-commit.js';
import { SequenceStore } from '../../src/store/sequence.js';
import { WalCheckpointer } from '../../src/store/wal-checkpointer.js';
import { waitFor } from '../helpers/ports.js';

describe('WAL checkpointer', () => {
  it('checkpoints from its own thread while the writer never does, and hands checkpointing back when stopped', async () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-walcp-')));
    const log = new EntryLog(db);
    const cp = new WalCheckpointer(db, { intervalMs: 100, truncateAtBytes: Number.POSITIVE_INFINITY });
    cp.start();
    try {
      expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      // Far past the 1,000 pages at which the writer would have checkpointed inside a commit.
      const append = db.transaction((i: number) =>
        log.append({ at: new Date(i).toISOString(), kind: 'decision', reason: 'granted', detail: { pad: 'x'.repeat(2000) } }),
      );
      for (let i = 0; i < 3000; i++) append(i);
      const done = await waitFor(
        () => (cp.stats.last && cp.stats.last.log > 1000 && cp.stats.last.checkpointed === cp.stats.last.log ? cp.stats.last : undefined),
        10_000,
        'a full checkpoint of the grown WAL',
      );
      expect(done.busy).toBe(0);
      expect(cp.stats.error).toBeNull();
      // Checkpointed: later writes start the WAL over (the file keeps its size) instead of growing it.
      const size = statSync(`${db.name}-wal`).size;
      let n = 3000;
      const small = await waitFor(
        async () => {
          append(n++);
          await new Promise((r) => setTimeout(r, 20));
          return cp.stats.last && cp.stats.last.log < 200 ? cp.stats.last : undefined;
        },
        10_000,
        'the WAL started over',
      );
      expect(small.checkpointed).toBeLessThanOrEqual(small.log);
      // A few writes may land before the restart; then the file stops growing.
      expect(statSync(`${db.name}-wal`).size).toBeLessThan(size + 1024 * 1024);
      expect(verifyEntryLog(db)).toMatchObject({ ok: true, records: n });
    } finally {
      await cp.stop();
    }
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.close();
  });

  it('keeps the WAL under its bound while decisions commit without a pause, and empties it each time it passes the threshold', async () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-walcp-')));
    const log = new EntryLog(db);
    const sequences = new SequenceStore(db);
    // Scaled down from the daemon's 16 MB threshold and 64 MB bound, the same ratio.
    const threshold = 4 * 2 ** 20;
    const bound = 4 * threshold;
    const cp = new WalCheckpointer(db, { intervalMs: 50, truncateAtBytes: threshold });
    cp.start();
    // The decisions' commits as the daemon makes them: group commit, NORMAL, the WAL flushed after.
    const commits = new GroupCommit(db, () => log.resync());
    // A decision reads before it writes (decided again on fresh data): its transaction holds a read
    // snapshot when it asks for the write lock, which SQLite then refuses at once, without waiting,
    // if the checkpointer holds it. The commit must still never fail.
    const latest = db.prepare('SELECT max(seq) FROM entry_log').pluck();
    const decide = (i: number) => {
      latest.get();
      const device = `reader-${i % 8}`;
      sequences.accept(device, 1, i);
      log.append({
        at: new Date(1_700_000_000_000 + i).toISOString(),
        kind: 'decision',
        doorId: `door-${i % 8}`,
        areaId: 'office',
        personId: `person-${(i * 7919) % 5000}`,
        decision: 'granted',
        reason: 'granted',
        deviceId: device,
      });
      sequences.persist(device);
    };
    const sizes: number[] = [];
    let n = 0;
    let slowest = 0;
    try {
      const until = Date.now() + 30_000;
      // Four doors, each committing its next decision as soon as the last is on disk, until the
      // WAL has passed the threshold and been emptied several times.
      const door = async () => {
        while (cp.stats.truncations < 4 && Date.now() < until) {
          const t0 = performance.now();
          await commits.submit(() => decide(n++));
          slowest = Math.max(slowest, performance.now() - t0);
          sizes.push(statSync(`${db.name}-wal`).size);
        }
      };
      await Promise.all([door(), door(), door(), door()]);
      expect(cp.stats.error).toBeNull();
      expect(cp.stats.truncations).toBeGreaterThanOrEqual(4);
      const peak = Math.max(...sizes);
      expect(peak).toBeGreaterThan(threshold);
      expect(peak).toBeLessThan(bound);
      // Emptied, not only checkpointed (a PASSIVE checkpoint never shrinks the file): from past the
      // threshold back to a small fraction of it. Not "a few frames": on a loaded machine a group
      // commit of several decisions may land between the truncation and the next sample.
      const emptied = sizes.filter((s, i) => i > 0 && sizes[i - 1]! > threshold && s < threshold / 8).length;
      expect(emptied).toBeGreaterThanOrEqual(3);
      expect(verifyEntryLog(db)).toMatchObject({ ok: true, records: n });
    } finally {
      commits.close();
      await cp.stop();
      console.log(
        `${n} commits, WAL peak ${(Math.max(...sizes) / 2 ** 20).toFixed(2)} MB, slowest decision ${slowest.toFixed(1)} ms, ${JSON.stringify(cp.stats)}`,
      );
    }
    db.close();
  });
});
