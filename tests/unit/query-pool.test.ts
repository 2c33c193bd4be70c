// The query pool: the API's log reads on worker threads, each with its own read-only connection to
// the database file. Real workers, a real WAL database: the same pages as the controller's
// connection, committed records seen at once, a dead or stuck worker replaced and its read failed
// with ReadUnavailableError (the API's 503), never a crash.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, type AuditQuery } from '../../src/store/audit-log.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { EntryLog, type EntryQuery } from '../../src/store/entry-log.js';
import { QueryPool, ReadUnavailableError, type ReadPlan } from '../../src/store/query-pool.js';

const pools: QueryPool[] = [];
const dbs: Db[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  for (const db of dbs.splice(0)) if (db.open) db.close();
});

function poolOn(db: Db, opts: ConstructorParameters<typeof QueryPool>[1] = {}): QueryPool {
  const pool = new QueryPool(db, opts);
  pools.push(pool);
  return pool;
}

/** A log of 600 records over 3 days, 5 people, 4 doors in 2 areas, some denied; and an audit log. */
function fixture() {
  const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-qpool-')));
  dbs.push(db);
  const log = new EntryLog(db);
  const audit = new AuditLog(db);
  db.transaction(() => {
    for (let i = 0; i < 600; i++) {
      const denied = i % 7 === 3;
      log.append({
        at: new Date(Date.UTC(2026, 10, 20) + i * 7 * 60_000).toISOString(),
        kind: i % 50 === 0 ? 'door' : 'decision',
        doorId: `door-${i % 4}`,
        areaId: i % 4 < 2 ? 'office' : 'lab',
        direction: 'in',
        personId: `p${i % 5}`,
        personName: `人 ${i % 5}`,
        factors: ['card'],
        decision: denied ? 'denied' : 'granted',
        reason: denied ? (i % 3 ? 'no-grant' : 'outside-schedule') : 'granted',
        detail: { i, z: 'ü' },
      });
      if (i % 10 === 0) {
        audit.append({
          at: new Date(Date.UTC(2026, 10, 20) + i * 60_000).toISOString(),
          actor: i % 20 ? 'alice' : 'bob',
          role: 'manager',
          action: i % 30 ? 'grant.create' : 'grant.revoke',
          target: `grant:${i}`,
          outcome: 'ok',
          address: '127.0.0.1',
          detail: { n: i },
        });
      }
    }
  })();
  return { db, log, audit };
}

/** A read that keeps SQLite busy for a while (a recursive count), for the timeout. */
const slowPlan: ReadPlan = {
  rows: { sql: 'WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < @n) SELECT count(*) AS n FROM c', params: { n: 10_000_000 } },
};

describe('query pool', () => {
  it("answers every page as the controller's connection does, from a worker thread", async () => {
    const { db, log, audit } = fixture();
    const pool = poolOn(db);
    expect(pool.threaded).toBe(true);
    const queries: EntryQuery[] = [
      {},
      { limit: 7 },
      { personId: 'p2', limit: 10 },
      { personId: 'p2', before: 300, limit: 10 },
      { doorId: 'door-1', decision: 'denied' },
      { areaId: 'lab', limit: 1000 },
      { areaId: 'office', from: '2026-11-21', to: '2026-11-22T00:00:00+09:00', limit: 25 },
      { from: '2026-11-22T10:00:00Z', reason: 'no-grant' },
      { reason: 'outside-schedule', before: 200 },
      { areaId: 'lab', from: '2030-01-01' },
      { personId: 'nobody' },
    ];
    for (const q of queries) {
      const local = log.query(q);
      const read = await log.queryOn(pool, q);
      expect(read, JSON.stringify(q)).toEqual(local);
    }
    // A page is not trivially empty: the comparisons above compare records.
    expect((await log.queryOn(pool, { personId: 'p2', limit: 10 })).records).toHaveLength(10);
    // Paging through by the cursor gives every record of the filter once.
    let before: number | undefined;
    const seen: number[] = [];
    do {
      const page = await log.queryOn(pool, { areaId: 'office', limit: 64, before });
      seen.push(...page.records.map((r) => r.seq));
      before = page.nextBefore ?? undefined;
    } while (before !== undefined);
    expect(seen).toEqual([...log.iterate({ areaId: 'office' }, 'desc')].map((r) => r.seq));

    const auditQueries: AuditQuery[] = [{}, { actor: 'bob' }, { action: 'grant.revoke', limit: 3 }, { from: '2026-11-20T05:00:00.000Z', before: 40 }];
    for (const q of auditQueries) expect(await audit.queryOn(pool, q), JSON.stringify(q)).toEqual(audit.query(q));
    expect(pool.stats).toMatchObject({ local: 0, timeouts: 0, workerExits: 0 });
    expect(pool.stats.reads).toBeGreaterThan(queries.length);
  });

  it('walks at most the scan window per page without an index, and pages on to every record', async () => {
    const { db, log } = fixture();
    const pool = poolOn(db);
    const filters: EntryQuery[] = [
      { reason: 'outside-schedule' },
      { decision: 'denied', areaId: 'lab' },
      { areaId: 'office' },
      { reason: 'no-grant', from: '2026-11-20T10:00:00Z', to: '2026-11-22T10:00:00Z' },
      { reason: 'no-such-reason' },
    ];
    let short = 0;
    for (const f of filters) {
      const all = [...log.iterate(f, 'desc')].map((r) => r.seq);
      // The walk starts at the cursor, or above the newest record (of the time range, if one is given).
      const newest = [...log.iterate({ from: f.from, to: f.to }, 'desc')][0]?.seq ?? 600;
      let before: number | undefined;
      const seen: number[] = [];
      let pages = 0;
      do {
        const q = { ...f, limit: 10, scanWindow: 40, before };
        const page = await log.queryOn(pool, q);
        expect(page, JSON.stringify(q)).toEqual(log.query(q));
        expect(page.records.length).toBeLessThanOrEqual(10);
        // Never below the window: at most 40 records under the cursor (or the newest).
        const top = Math.min(before ?? Infinity, newest + 1);
        expect(page.records.every((r) => r.seq >= top - 40)).toBe(true);
        if (page.nextBefore !== null && page.records.length < 10) short++;
        seen.push(...page.records.map((r) => r.seq));
        before = page.nextBefore ?? undefined;
        pages++;
      } while (before !== undefined && pages < 100);
      expect(seen, JSON.stringify(f)).toEqual(all);
    }
    expect(short).toBeGreaterThan(0);
    // A filter an index serves (a person, a door) is not windowed: full pages.
    expect((await log.queryOn(pool, { personId: 'p3', reason: 'no-grant', limit: 5, scanWindow: 1 })).records).toHaveLength(5);
  });

  it('sees a record as soon as its transaction commits', async () => {
    const { db, log } = fixture();
    const pool = poolOn(db);
    await log.queryOn(pool, { limit: 1 }); // the worker and its connection are up
    // As the doors' decisions commit: synchronous=NORMAL, the WAL flushed later.
    db.pragma('synchronous = NORMAL');
    const record = db.transaction(() =>
      log.append({ at: new Date().toISOString(), kind: 'decision', personId: 'p-new', decision: 'granted', reason: 'granted' }),
    )();
    expect((await log.queryOn(pool, { limit: 1 })).records[0]).toEqual(record);
    expect((await log.queryOn(pool, { personId: 'p-new' })).records).toEqual([record]);
  });

  it('cannot write through a worker connection', async () => {
    const { db } = fixture();
    const pool = poolOn(db);
    await expect(pool.read({ rows: { sql: 'INSERT INTO log_prune (token) VALUES (1) RETURNING token', params: {} } })).rejects.toThrow(
      /readonly|read-only|query_only|attempt to write/i,
    );
  });

  it('fails the read of a worker that dies, and replaces the worker', async () => {
    const { db, log } = fixture();
    const pool = poolOn(db);
    const first = await log.queryOn(pool, { personId: 'p1' });
    const [worker] = pool.workers;
    const threadId = worker!.threadId;
    // A long read is handed to the worker at once; the worker dies before answering.
    const inFlight = pool.read(slowPlan).then(
      () => 'answered',
      (err: Error) => err,
    );
    await worker!.terminate();
    expect(await inFlight).toBeInstanceOf(ReadUnavailableError);
    expect(pool.stats.workerExits).toBe(1);
    // The next read starts another worker and is answered.
    expect(await log.queryOn(pool, { personId: 'p1' })).toEqual(first);
    expect(pool.workers).toHaveLength(1);
    expect(pool.workers[0]!.threadId).not.toBe(threadId);
  });

  it('fails a read that takes too long, stops its worker, and keeps answering', async () => {
    const { db, log } = fixture();
    const pool = poolOn(db, { timeoutMs: 150 });
    // The worker up first (its start is not what is timed here: the machine may be busy).
    const plain = { rows: { sql: 'SELECT count(*) AS n FROM entry_log', params: {} } };
    expect(await pool.read(plain, { timeoutMs: 20_000 })).toEqual({ rows: [{ n: 600 }], bounds: null });
    const first = pool.workers[0]!.threadId;
    const slow = pool.read(slowPlan).then(
      () => 'answered',
      (err: Error) => err,
    );
    // The slow read fails at its deadline, its worker stopped.
    const failed = await slow;
    expect(failed).toBeInstanceOf(ReadUnavailableError);
    expect((failed as Error).message).toMatch(/longer than 150 ms/);
    expect(pool.stats).toMatchObject({ timeouts: 1, workerExits: 1 });
    expect(pool.workers).toHaveLength(0);
    // The next read starts a fresh worker.
    expect(await pool.read(plain, { timeoutMs: 20_000 })).toEqual({ rows: [{ n: 600 }], bounds: null });
    expect(pool.workers[0]!.threadId).not.toBe(first);
    expect((await log.queryOn(pool, { limit: 2 })).records).toHaveLength(2);
  });

  it('runs on the controller connection for a database in memory', async () => {
    const db = new Database(':memory:');
    dbs.push(db);
    db.exec('CREATE TABLE t (x INTEGER)');
    db.exec('INSERT INTO t VALUES (1), (2)');
    const pool = poolOn(db);
    expect(pool.threaded).toBe(false);
    expect(await pool.read({ rows: { sql: 'SELECT x FROM t ORDER BY x DESC', params: {} } })).toEqual({ rows: [{ x: 2 }, { x: 1 }], bounds: null });
    expect(pool.workers).toHaveLength(0);
    expect(pool.stats.local).toBe(1);
  });

  it('fails reads waiting and made after it closes', async () => {
    const { db, log } = fixture();
    const pool = poolOn(db);
    const waiting = pool.read(slowPlan).then(
      () => 'answered',
      (err: Error) => err,
    );
    await pool.close();
    expect(await waiting).toBeInstanceOf(ReadUnavailableError);
    await expect(log.queryOn(pool, {})).rejects.toThrow(/closing/);
    expect(pool.workers).toHaveLength(0);
  });
});
