// Group commit on a real SQLite file: what shares a commit, what a failing write takes back.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GroupCommit, type GroupCommitOptions } from '../../src/store/group-commit.js';
import { fdatasync } from 'node:fs';
import { openDatabase } from '../../src/store/db.js';
import { EntryLog, verifyEntryLog } from '../../src/store/entry-log.js';

function setup(opts: GroupCommitOptions = {}) {
  const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-gc-')));
  const log = new EntryLog(db);
  const commits = new GroupCommit(db, () => log.resync(), opts);
  const append = (n: number) => () => log.append({ at: new Date(0).toISOString(), kind: 'decision', reason: `r${n}`, decision: 'granted' });
  return { db, log, commits, append };
}

describe('group commit', () => {
  it('commits the writes of one turn together, in order, and each caller gets its own record', async () => {
    const { db, commits, append } = setup();
    const records = await Promise.all([1, 2, 3, 4, 5].map((n) => commits.submit(append(n))));
    expect(records.map((r) => [r.seq, r.reason])).toEqual([
      [1, 'r1'],
      [2, 'r2'],
      [3, 'r3'],
      [4, 'r4'],
      [5, 'r5'],
    ]);
    expect(commits.stats).toEqual({ commits: 1, writes: 5, largest: 5, walSyncs: 1 });
    // Later turns get commits of their own.
    await commits.submit(append(6));
    await commits.submit(append(7));
    expect(commits.stats.commits).toBe(3);
    expect(verifyEntryLog(db)).toMatchObject({ ok: true, records: 7 });
  });

  it('nothing is visible to another connection before the promise resolves', async () => {
    const { db, commits, append } = setup();
    const reader = openDatabase(join(db.name, '..'), { readonly: true });
    const count = () => reader.prepare('SELECT count(*) FROM entry_log').pluck().get();
    const pending = commits.submit(append(1));
    expect(count()).toBe(0);
    await pending;
    expect(count()).toBe(1);
    reader.close();
  });

  it('a write that throws is rolled back alone; the chain continues from what committed', async () => {
    const { db, commits, append, log } = setup();
    const results = await Promise.allSettled([
      commits.submit(append(1)),
      commits.submit(() => {
        append(2)();
        throw new Error('the policy broke halfway');
      }),
      commits.submit(append(3)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseFulfilledResult<{ seq: number }>).value.seq).toBe(2);
    expect(db.prepare('SELECT reason FROM entry_log ORDER BY seq').pluck().all()).toEqual(['r1', 'r3']);
    expect(log.nextSeq).toBe(3);
    expect(verifyEntryLog(db)).toMatchObject({ ok: true, records: 2 });
  });

  it('a commit that fails rejects every write in it, and the next turn starts clean', async () => {
    const { db, commits, append, log } = setup();
    // A deferred foreign key is checked at COMMIT: one orphan row makes the whole commit fail.
    db.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)');
    const results = await Promise.allSettled([
      commits.submit(append(1)),
      commits.submit(() => db.prepare('INSERT INTO child (p) VALUES (42)').run()),
      commits.submit(append(2)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT count(*) FROM entry_log').pluck().get()).toBe(0);
    expect(log.nextSeq).toBe(1);
    const after = await commits.submit(append(3));
    expect(after.seq).toBe(1);
    expect(verifyEntryLog(db)).toMatchObject({ ok: true, records: 1 });
  });

  it('tells each write whether anything else was written since it was submitted (decide again), and not for its own batch', async () => {
    const { db, commits, append } = setup();
    db.exec('CREATE TABLE other (x INTEGER)');
    const flags: boolean[] = [];
    const first = commits.submit((changed) => {
      flags.push(changed);
      return append(1)();
    });
    const second = commits.submit((changed) => {
      flags.push(changed);
      return append(2)();
    });
    await Promise.all([first, second]);
    // The second ran after the first wrote, in the same transaction: that is not a change to it.
    expect(flags).toEqual([false, false]);
    const third = commits.submit((changed) => {
      flags.push(changed);
      return append(3)();
    });
    db.prepare('INSERT INTO other VALUES (1)').run(); // e.g. a revocation through the API, before the flush
    const fourth = commits.submit((changed) => {
      flags.push(changed);
      return append(4)();
    });
    await Promise.all([third, fourth]);
    expect(flags).toEqual([false, false, true, false]);
  });

  it('close commits what is pending and flushes the WAL at once (on stop)', async () => {
    const { db, commits, append } = setup({ syncWal: () => undefined /* never completes on its own */ });
    const pending = commits.submit(append(1));
    commits.close();
    expect(db.prepare('SELECT count(*) FROM entry_log').pluck().get()).toBe(1);
    expect((await pending).seq).toBe(1);
  });

  it('a decision resolves only once the WAL flush completes; what commits meanwhile waits for the next flush', async () => {
    const held: { fd: number; done: (err: Error | null) => void }[] = [];
    const { db, commits, append } = setup({ syncWal: (fd, done) => held.push({ fd, done }) });
    const reader = openDatabase(join(db.name, '..'), { readonly: true });
    const count = () => reader.prepare('SELECT count(*) FROM entry_log').pluck().get();
    const settled: number[] = [];
    const first = commits.submit(append(1)).then((r) => settled.push(r.seq));
    await new Promise((r) => setImmediate(r));
    // Committed (another connection sees it) but not yet known durable: not resolved.
    expect(count()).toBe(1);
    expect(held).toHaveLength(1);
    const second = commits.submit(append(2)).then((r) => settled.push(r.seq));
    const third = commits.submit(append(3)).then((r) => settled.push(r.seq));
    await new Promise((r) => setImmediate(r));
    expect(count()).toBe(3);
    // One flush at a time: the second batch waits for the first to finish.
    expect(held).toHaveLength(1);
    expect(settled).toEqual([]);
    // The flush really is of the WAL file SQLite writes.
    await new Promise<void>((resolve, reject) => fdatasync(held[0]!.fd, (err) => (err ? reject(err) : resolve())));
    held[0]!.done(null);
    await first;
    expect(settled).toEqual([1]);
    expect(held).toHaveLength(2);
    held[1]!.done(null);
    await Promise.all([second, third]);
    expect(settled).toEqual([1, 2, 3]);
    expect(commits.stats).toMatchObject({ commits: 2, writes: 3, walSyncs: 2 });
    reader.close();
  });

  it('a WAL flush that fails rejects its decisions (they must not open anything); the next flush starts clean', async () => {
    let fail = true;
    const { commits, append } = setup({ syncWal: (_fd, done) => setImmediate(() => done(fail ? new Error('EIO: i/o error') : null)) });
    await expect(commits.submit(append(1))).rejects.toThrow(/write-ahead log could not be flushed to disk: EIO/);
    fail = false;
    expect((await commits.submit(append(2))).seq).toBe(2);
  });

  it("the real WAL flush: fdatasync of the database's -wal file", async () => {
    const { db, commits, append } = setup();
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const records = await Promise.all([1, 2, 3].map((n) => commits.submit(append(n))));
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(commits.stats.walSyncs).toBe(1);
    // Every other writer keeps FULL.
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
  });
});
