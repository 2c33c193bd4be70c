// The API's reads of the logs (entry-log pages, audit-log pages), off the controller's thread: a
// small pool of worker threads, each with its own read-only connection to the same WAL database.
// A page over millions of rows can take tens to hundreds of milliseconds; on the controller's one
// connection every door would wait behind it. WAL readers see every committed transaction (a
// decision is visible once committed, before its WAL flush makes it durable: fine for a query).
//
// The SQL stays where it was written (entry-log.ts, audit-log.ts): they build a `ReadPlan`, plain
// data, and `runReadPlan` runs it on whichever connection: a worker's, or the controller's when there
// are no workers (a database in memory, `workers: 0`). The worker is evaluated CommonJS (as in
// wal-checkpointer.ts) carrying `runReadPlan`'s own source, so it runs the same from the TypeScript
// sources (vitest) and from dist.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

/** One SQL statement and its named parameters. */
export interface ReadStep {
  sql: string;
  params: Record<string, unknown>;
}

/**
 * A read: `bounds` (optional) reads one row whose columns join the parameters of `rows`; a null
 * column there means nothing can match (no rows, `rows` not run). Both in one read transaction.
 */
export interface ReadPlan {
  bounds?: ReadStep;
  rows: ReadStep;
}

/** What a plan read: its rows, and the bounds row (null: none, or nothing could match). */
export interface ReadResult {
  rows: unknown[];
  bounds: Record<string, unknown> | null;
}

/**
 * Runs a plan on a connection. Self-contained (no imports, no closures, plain JavaScript once
 * compiled): its source is what the worker runs too. `cache` keeps prepared statements by SQL.
 */
export function runReadPlan(db: Db, plan: ReadPlan, cache?: Map<string, Statement>): ReadResult {
  const prepare = (sql: string): Statement => {
    let stmt = cache?.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      if (cache) {
        // Filters combine into a few dozen shapes at most; bounded all the same.
        if (cache.size >= 128) cache.delete(cache.keys().next().value as string);
        cache.set(sql, stmt);
      }
    }
    return stmt;
  };
  const own = !db.inTransaction;
  if (own) db.exec('BEGIN');
  try {
    let params = plan.rows.params;
    let bounds: Record<string, unknown> | null = null;
    if (plan.bounds) {
      const row = prepare(plan.bounds.sql).get(plan.bounds.params) as Record<string, unknown> | undefined;
      if (!row || Object.values(row).some((v) => v === null)) return { rows: [], bounds: null };
      bounds = row;
      params = { ...params, ...row };
    }
    return { rows: prepare(plan.rows.sql).all(params), bounds };
  } finally {
    if (own && db.inTransaction) db.exec('COMMIT');
  }
}

// The worker: opens its connection at start (read-only, and query_only so that not even a bug could
// write), then answers { id, plan } with { id, ok, rows } or { id, ok: false, error }.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const runReadPlan = ${runReadPlan.toString()};
let db;
const cache = new Map();
parentPort.on('message', (m) => {
  if (m === 'close') {
    if (db) db.close();
    parentPort.close();
    return;
  }
  try {
    if (!db) {
      db = new Database(workerData.file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = ' + workerData.busyTimeoutMs);
      db.pragma('query_only = 1');
      db.pragma('cache_size = ' + -workerData.cacheKiB);
    }
    parentPort.postMessage({ id: m.id, ok: true, result: runReadPlan(db, m.plan, cache) });
  } catch (e) {
    const err = e || {};
    parentPort.postMessage({ id: m.id, ok: false, error: { message: String(err.message || err), name: err.name, code: typeof err.code === 'string' ? err.code : undefined } });
  }
});
`;

/**
 * A read the pool could not answer: its worker died or was stopped (the read took too long), or
 * the pool is closing. The API answers 503: the client may try again.
 */
export class ReadUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReadUnavailableError';
  }
}

export interface QueryPoolOptions {
  /** Worker threads (default 1: on two cores, one for the controller, one for reads); 0 reads on the controller's connection. */
  workers?: number;
  /** A read not answered within this (queue included) fails with ReadUnavailableError, and its worker is replaced (default 5,000 ms). */
  timeoutMs?: number;
  /** Each worker's SQLite busy_timeout (default 5,000 ms, as the controller's). */
  busyTimeoutMs?: number;
  /** Each worker's page cache, KiB (default 8,192). */
  cacheKiB?: number;
}

export interface QueryPoolStats {
  /** Reads answered by a worker, and on the controller's connection (no workers). */
  reads: number;
  local: number;
  /** Reads that timed out, and workers that died or were stopped (each replaced at the next read). */
  timeouts: number;
  workerExits: number;
}

interface Job {
  id: number;
  plan: ReadPlan;
  resolve: (result: ReadResult) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  slot?: Slot;
}

interface Slot {
  worker: Worker;
  job?: Job;
}

/** Waits for `p`, or `ms` at most. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Revives a worker's error in this thread (SQLite's code kept: the API maps SQLITE_BUSY etc. to 503). */
function revive(e: { message: string; name?: string; code?: string }): Error {
  const err = new Error(e.message) as Error & { code?: string };
  if (e.name) err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  return err;
}

/**
 * Reads for the API, each on a worker's read-only connection (started at the first read, replaced
 * when one dies). Without workers, the same plans run on the controller's connection.
 */
export class QueryPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private readonly size: number;
  private readonly timeoutMs: number;
  private readonly workerData: { file: string; sqlite: string; busyTimeoutMs: number; cacheKiB: number };
  readonly stats: QueryPoolStats = { reads: 0, local: 0, timeouts: 0, workerExits: 0 };

  constructor(
    private readonly db: Db,
    opts: QueryPoolOptions = {},
  ) {
    // A database in memory has no file for another connection to open.
    this.size = db.memory ? 0 : Math.max(0, opts.workers ?? 1);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.workerData = {
      file: db.name,
      sqlite: createRequire(import.meta.url).resolve('better-sqlite3'),
      busyTimeoutMs: opts.busyTimeoutMs ?? 5000,
      cacheKiB: opts.cacheKiB ?? 8192,
    };
  }

  /** Whether reads go to worker threads (false: the controller's connection). */
  get threaded(): boolean {
    return this.size > 0;
  }

  /** The workers running now (for tests and diagnostics). */
  get workers(): readonly Worker[] {
    return this.slots.map((s) => s.worker);
  }

  /**
   * What a plan reads, read off the controller's thread. Rejects with ReadUnavailableError when no
   * worker could answer within `timeoutMs` (default the pool's).
   */
  read(plan: ReadPlan, opts: { timeoutMs?: number } = {}): Promise<ReadResult> {
    if (this.closed) return Promise.reject(new ReadUnavailableError('the store is closing'));
    if (this.size === 0) {
      this.stats.local++;
      try {
        return Promise.resolve(runReadPlan(this.db, plan));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, plan, resolve, reject, timer: setTimeout(() => this.timedOut(job, timeoutMs), timeoutMs) };
      job.timer.unref();
      this.queue.push(job);
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length && !this.closed) {
      let slot = this.slots.find((s) => !s.job);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.job = job;
      job.slot = slot;
      // Held while it reads (an awaited read keeps the process alive), let go when idle.
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, plan: job.plan });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER, { eval: true, workerData: this.workerData });
    const slot: Slot = { worker };
    worker.on(
      'message',
      (m: { id: number; ok: true; result: ReadResult } | { id: number; ok: false; error: { message: string; name?: string; code?: string } }) => {
        const job = slot.job;
        if (!job || job.id !== m.id) return;
        slot.job = undefined;
        slot.worker.unref();
        clearTimeout(job.timer);
        this.stats.reads++;
        if (m.ok) job.resolve(m.result);
        else job.reject(revive(m.error));
        this.dispatch();
      },
    );
    // An uncaught error is followed by 'exit': handled there.
    worker.on('error', () => undefined);
    worker.on('exit', (code) => this.lost(slot, `the query worker stopped (exit code ${code})`));
    // An idle pool never keeps the process alive.
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  /** A worker gone (died, or stopped by a timeout): its read fails, the next read starts another. */
  private lost(slot: Slot, why: string): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.slots.splice(i, 1);
    if (!this.closed) this.stats.workerExits++;
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      clearTimeout(job.timer);
      job.reject(new ReadUnavailableError(why));
    }
    this.dispatch();
  }

  private timedOut(job: Job, timeoutMs: number): void {
    this.stats.timeouts++;
    const why = `the read took longer than ${timeoutMs} ms`;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(new ReadUnavailableError(why));
      return;
    }
    const slot = job.slot;
    if (!slot || slot.job !== job) return;
    // SQLite cannot be interrupted from here: the worker is stopped (once its statement returns)
    // and the next read starts a fresh one.
    slot.job = undefined;
    job.reject(new ReadUnavailableError(why));
    this.slots.splice(this.slots.indexOf(slot), 1);
    this.stats.workerExits++;
    slot.worker.unref();
    void slot.worker.terminate();
    this.dispatch();
  }

  /** Fails what waits, closes each worker's connection and stops the workers. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      clearTimeout(job.timer);
      job.reject(new ReadUnavailableError('the store is closing'));
    }
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      const job = slot.job;
      slot.job = undefined;
      if (job) {
        clearTimeout(job.timer);
        job.reject(new ReadUnavailableError('the store is closing'));
      }
    }
    await Promise.all(
      slots.map(async (slot) => {
        const exited = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
        slot.worker.postMessage('close');
        await within(exited, 1000);
        // A worker in a long statement stops when the statement returns (SQLite cannot be interrupted
        // from here): let go of it, so the process need not wait for it.
        slot.worker.unref();
        await within(slot.worker.terminate(), 1000);
      }),
    );
  }
}
