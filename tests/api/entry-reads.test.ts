// The API's log pages read on the query pool's worker threads (src/store/query-pool.ts), through the
// real controller and app: a record committed just before is in the page, a worker that died is
// replaced, and a read the pool cannot answer is a 503 problem, never a crash.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { QueryPool } from '../../src/store/query-pool.js';
import { writeExport } from '../../src/services/entry-export.js';
import { EntryService, exportWorkerScript } from '../../src/services/entries.js';
import { loadLogKey, publicKeyPem } from '../../src/store/log-key.js';
import { startApi, type TestApi } from '../helpers/api.js';

const V1 = '/api/v1';

describe('log pages on query workers', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => api?.close());

  const append = (personId: string) => {
    const { store } = api.controller.ctx;
    return store.transaction(() =>
      store.entryLog.append({
        at: new Date().toISOString(),
        kind: 'decision',
        doorId: 'lab-main',
        areaId: 'lab',
        personId,
        decision: 'granted',
        reason: 'granted',
      }),
    );
  };

  it('pages the entry log and the audit log from a worker, with what was committed just before', async () => {
    const { reads } = api.controller.ctx.store;
    expect(reads.threaded).toBe(true);
    const before = reads.stats.reads;
    const record = append('reads-p1');
    const page = await api.call('auditor', 'GET', `${V1}/entries?personId=reads-p1`);
    expect(page.statusCode, page.body).toBe(200);
    const { chainVersion: _, ...shown } = record;
    expect(page.json()).toEqual({ items: [shown], nextBefore: null });
    const audit = await api.call('auditor', 'GET', `${V1}/audit?limit=1`);
    expect(audit.statusCode, audit.body).toBe(200);
    expect(audit.json().items).toHaveLength(1);
    expect(reads.stats.reads - before).toBe(2);
    expect(reads.stats.local).toBe(0);
    expect(reads.workers).toHaveLength(1);
  });

  it('replaces a worker that died', async () => {
    const { reads } = api.controller.ctx.store;
    const url = `${V1}/entries?personId=reads-p1`;
    const first = await api.call('manager', 'GET', url);
    const exits = reads.stats.workerExits;
    await reads.workers[0]!.terminate();
    const again = await api.call('manager', 'GET', url);
    expect(again.statusCode, again.body).toBe(200);
    expect(again.body).toBe(first.body);
    expect(reads.stats.workerExits).toBe(exits + 1);
    expect(reads.workers).toHaveLength(1);
  });

  it('exports from a worker thread built from these sources (npm run build): the same bytes, and a client may go away', async () => {
    expect(exportWorkerScript(), 'no compiled export worker, or one older than the sources: run `npm run build`').toBeDefined();
    const { store } = api.controller.ctx;
    // Enough records for many chunks of 64 KiB.
    store.transaction(() => {
      for (let i = 0; i < 3000; i++) {
        store.entryLog.append({
          at: new Date().toISOString(),
          kind: 'decision',
          doorId: 'lab-main',
          areaId: 'lab',
          personId: `bulk-${i % 50}`,
          personName: '大量 太郎',
          decision: 'granted',
          reason: 'granted',
          detail: { i },
        });
      }
    });
    const res = await api.call('auditor', 'GET', `${V1}/entries/export?format=jsonl&areaId=lab`);
    expect(res.statusCode).toBe(200);
    const db = openDatabase(api.dataDir, { readonly: true });
    let direct = '';
    try {
      const key = loadLogKey(api.dataDir);
      await writeExport(db, { format: 'jsonl', lang: 'en', filter: { areaId: 'lab' }, publicKey: key ? publicKeyPem(key) : null }, (c) => {
        direct += c;
      });
    } finally {
      db.close();
    }
    expect(res.body.length).toBeGreaterThan(3 * 64 * 1024);
    expect(res.body).toBe(direct);

    // A client that goes away after the first chunk: the export ends with that error, the daemon goes on.
    const service = new EntryService({ store, now: () => new Date(), controller: api.controller });
    const { out, ended } = service.export({ username: 'test-auditor', role: 'auditor', address: '127.0.0.1' }, { format: 'csv', lang: 'en', filter: {} });
    await new Promise<void>((resolve) => out.once('data', () => resolve()));
    out.destroy();
    expect(await ended).toBeInstanceOf(Error);
    expect((await api.call('auditor', 'GET', `${V1}/entries?limit=1`)).statusCode).toBe(200);
  });

  it('answers 503 problem details when its read cannot be answered in time, and goes on', async () => {
    const { store } = api.controller.ctx;
    const own = new Database(join(api.dataDir, 'tobira.db'), { readonly: true });
    const usual = store.reads;
    // A pool of its own with a short deadline, its one worker kept busy by a long read (given longer).
    const pool = new QueryPool(own, { timeoutMs: 200 });
    store.reads = pool;
    try {
      const busy = pool.read(
        { rows: { sql: 'WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5000000) SELECT count(*) AS n FROM c', params: {} } },
        { timeoutMs: 20_000 },
      );
      const res = await api.call('auditor', 'GET', `${V1}/entries?limit=1`);
      expect(res.statusCode, res.body).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 503, title: 'Service Unavailable', detail: expect.stringMatching(/^the entry log cannot be read now/) });
      expect((await busy).rows).toEqual([{ n: 5_000_000 }]);
      // The daemon goes on: the next page is answered.
      expect((await api.call('auditor', 'GET', `${V1}/entries?limit=1`)).statusCode).toBe(200);
      await pool.close();
      const closed = await api.call('auditor', 'GET', `${V1}/audit?limit=1`);
      expect(closed.statusCode).toBe(503);
      expect(closed.json().detail).toMatch(/^the audit log cannot be read now \(the store is closing\)/);
    } finally {
      store.reads = usual;
      await pool.close();
      own.close();
    }
    expect((await api.call('auditor', 'GET', `${V1}/entries?limit=1`)).statusCode).toBe(200);
  });
});
