// The WAL checkpointer: a worker thread with its own connection moves the WAL into the database,
// so the controller's commits never stop to do it.
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { EntryLog, verifyEntryLog } from '../../src/store/entry-log.js';
import { WalCheckpointer } from '../../src/store/wal-checkpointer.js';
import { waitFor } from '../helpers/ports.js';

describe('WAL checkpointer', () => {
  it('checkpoints from its own thread while the writer never does, and hands checkpointing back when stopped', async () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-walcp-')));
    const log = new EntryLog(db);
    const cp = new WalCheckpointer(db, 100);
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
});
