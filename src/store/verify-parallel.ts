// Verifying a log (the entry log or the audit log: `ChainLog`, hash-chain.ts) off the event loop, in
// parallel: worker threads (verify-worker.ts), each with its own read-only connection to the
// database file, run the steps of hash-chain-verify.ts's verification — the plan, the checkpoint signatures in batches, the walk in chunks of the seq
// range — and this thread only hands out the tasks and settles the verdict: the first break in seq
// order, exactly as `verifyLog` reports it, whichever chunk finishes first.
//
// Each chunk can be checked on its own because every record stores prev_hash: a chunk's first
// record links to the hash of the record just before the chunk, read directly. Once a chunk breaks,
// the chunks after it are not started; the verdict waits only for the chunks before it.
//
// The worker is the compiled verify-worker.js next to this file. Run from the TypeScript sources
// (vitest), it is the one in dist/ when that is built and newer than the sources (`npm test`
// builds first); otherwise, and with `workers: 0`, the same steps run in this thread.
import { availableParallelism } from 'node:os';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createPublicKey, type KeyObject } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Db } from './db.js';
import { CheckpointStore, type StoredCheckpoint } from './checkpoints.js';
import { AUDIT_CHAIN, CHAIN_LOGS, ENTRY_CHAIN, type ChainLog } from './hash-chain.js';
import {
  checkSignatures,
  planVerify,
  settleVerify,
  verifyChunk,
  type ChunkTask,
  type VerifyBreak,
  type VerifyPlan,
  type VerifyResult,
} from './hash-chain-verify.js';

export interface VerifyFileOptions {
  /** Worker threads: default one per core (`os.availableParallelism()`); 0 runs every step in this thread, blocking it. */
  workers?: number;
  /** Records per chunk of the walk: default the log split evenly over the workers, 10,000 to 250,000 a chunk. */
  chunkRows?: number;
  /** Checkpoint signatures per task (default 1,000). */
  signatureBatch?: number;
  /** Stops the verification (the promise rejects with the signal's reason) and its workers. */
  signal?: AbortSignal;
  /** Told the records walked so far, of how many, as each chunk of the walk finishes (a progress line). */
  onProgress?: (done: number, total: number) => void;
}

// ---------------------------------------------------------------------------------------------
// Tasks: what a worker (or this thread) runs on its connection. Plain data both ways.

/** Every task names its log (absent: the entry log). */
export type VerifyTask = { log?: ChainLog['name'] } & (
  | { kind: 'plan'; schedule?: boolean }
  | { kind: 'signatures'; fromId: number; toId: number; publicKey: string }
  | ({ kind: 'chunk' } & ChunkTask)
  | { kind: 'first' }
);

export interface PlanOutcome {
  /** Checkpoint ids in order, for the signature batches. */
  ids: number[];
  planned: { plan: VerifyPlan } | { fail: VerifyBreak };
}

/**
 * Opens the database file for verification: read-only, with its own page cache. (Memory-mapped
 * reads saved nothing measurable: reading pages is under a tenth of the walk's time.)
 */
export function openForVerify(file: string): Db {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return db;
}

const checkpointsBetween = (db: Db, log: ChainLog, fromId: number, toId: number): StoredCheckpoint[] =>
  new CheckpointStore(db, log.checkpointTable).all().filter((cp) => cp.id >= fromId && cp.id <= toId);

/** Runs one task on a connection (the worker's, or this thread's with `workers: 0`). */
export function runVerifyTask(db: Db, task: VerifyTask): unknown {
  const log = CHAIN_LOGS[task.log ?? 'entry'];
  switch (task.kind) {
    case 'plan': {
      const own = !db.inTransaction;
      if (own) db.exec('BEGIN');
      try {
        const cps = new CheckpointStore(db, log.checkpointTable).all();
        return { ids: cps.map((cp) => cp.id), planned: planVerify(db, log, cps, { schedule: task.schedule === true }) } satisfies PlanOutcome;
      } finally {
        if (own && db.inTransaction) db.exec('COMMIT');
      }
    }
    case 'signatures':
      return checkSignatures(log, checkpointsBetween(db, log, task.fromId, task.toId), createPublicKey(task.publicKey)) ?? null;
    case 'chunk':
      return verifyChunk(db, log, { from: task.from, to: task.to, prevHash: task.prevHash }) ?? null;
    case 'first':
      return (db.prepare(`SELECT min(seq) FROM ${log.table}`).pluck(true).get() as number | null) ?? null;
  }
}

// ---------------------------------------------------------------------------------------------
// Runners: a pool of worker threads, or this thread.

/** Runs verification tasks: worker threads, or this thread. (Exported for tests: a runner that answers out of order.) */
export interface Runner {
  readonly size: number;
  run(task: VerifyTask): Promise<unknown>;
  close(): Promise<void>;
}

/** A worker's failure, as thrown in this thread (SQLite's code kept: the API maps SQLITE_BUSY etc. to 503). */
function revive(e: { message: string; name?: string; code?: unknown }): Error {
  const err = new Error(e.message) as Error & { code?: unknown };
  if (e.name) err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  return err;
}

type Pending = { task: VerifyTask; resolve: (v: unknown) => void; reject: (e: Error) => void };

/** Up to `size` workers, started as tasks need them; a task waits for the next idle one. */
class WorkerRunner implements Runner {
  private readonly slots: { worker: Worker; busy?: Pending }[] = [];
  private readonly queue: Pending[] = [];
  private closing = false;
  private failure?: Error;

  constructor(
    private readonly script: URL,
    private readonly file: string,
    readonly size: number,
  ) {}

  run(task: VerifyTask): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length) {
      let slot = this.slots.find((s) => !s.busy);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.busy = job;
      slot.worker.postMessage(job.task);
    }
  }

  private spawn() {
    const worker = new Worker(this.script, { workerData: { file: this.file } });
    const slot: (typeof this.slots)[number] = { worker };
    worker.on('message', (msg: { ok: true; value: unknown } | { ok: false; error: { message: string; name?: string; code?: unknown } }) => {
      const job = slot.busy;
      slot.busy = undefined;
      if (msg.ok) job?.resolve(msg.value);
      else job?.reject(revive(msg.error));
      this.dispatch();
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`verify worker stopped (exit code ${code})`));
    });
    this.slots.push(slot);
    return slot;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const jobs = [...this.queue.splice(0), ...this.slots.map((s) => s.busy)];
    for (const s of this.slots) s.busy = undefined;
    for (const job of jobs) job?.reject(err);
  }

  async close(): Promise<void> {
    this.closing = true;
    // A worker still busy with a chunk nobody needs is stopped where it is (its connection closes with it).
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** The same tasks in this thread, one at a time, yielding to the event loop between them. */
export class LocalRunner implements Runner {
  readonly size = 1;
  private readonly db: Db;

  constructor(file: string) {
    this.db = openForVerify(file);
  }

  run(task: VerifyTask): Promise<unknown> {
    return new Promise((resolve, reject) => {
      setImmediate(() => {
        try {
          resolve(runVerifyTask(this.db, task));
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/**
 * The compiled worker script, or undefined when there is none to run (from the TypeScript sources
 * without a build, or a build older than them): then the steps run in this thread.
 */
export function verifyWorkerScript(): URL | undefined {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.js')) return new URL('./verify-worker.js', here);
  const root = new URL('../../', here);
  const compiled = new URL('dist/src/store/verify-worker.js', root);
  const fresh = ['verify-worker', 'verify-parallel', 'hash-chain', 'hash-chain-verify', 'checkpoints'].every((name) => {
    const js = fileURLToPath(new URL(`dist/src/store/${name}.js`, root));
    const ts = fileURLToPath(new URL(`src/store/${name}.ts`, root));
    return existsSync(js) && (!existsSync(ts) || statSync(js).mtimeMs >= statSync(ts).mtimeMs);
  });
  return fresh ? compiled : undefined;
}

// ---------------------------------------------------------------------------------------------
// The orchestration.

const MAX_CHUNK = 250_000;
const MIN_CHUNK = 10_000;

/** [from, to] ranges covering from..to in order. */
function split(from: number, to: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = from; a <= to; a += size) out.push([a, Math.min(to, a + size - 1)]);
  return out;
}

/** `verifyLogFile` of the entry log. */
export function verifyEntryLogFile(file: string, publicKey?: KeyObject, opts: VerifyFileOptions = {}): Promise<VerifyResult> {
  return verifyLogFile(file, ENTRY_CHAIN, publicKey, opts);
}

/** `verifyLogFile` of the audit log. */
export function verifyAuditLogFile(file: string, publicKey?: KeyObject, opts: VerifyFileOptions = {}): Promise<VerifyResult> {
  return verifyLogFile(file, AUDIT_CHAIN, publicKey, opts);
}

/**
 * Verifies a log in the database file as `verifyLog` does — the same result, the same first break —
 * with the walk split into chunks run by worker threads, each on its own read-only connection: the
 * caller's event loop stays free. Records appended meanwhile are not covered (the plan fixes the
 * last record); a prune meanwhile makes it verify again from the new start.
 */
export async function verifyLogFile(file: string, log: ChainLog, publicKey?: KeyObject, opts: VerifyFileOptions = {}): Promise<VerifyResult> {
  if (!existsSync(file)) {
    throw Object.assign(new Error(`no database at ${file}`), { code: 'SQLITE_CANTOPEN' });
  }
  const wanted = opts.workers ?? Math.max(1, availableParallelism());
  const script = wanted > 0 ? verifyWorkerScript() : undefined;
  const runner: Runner = script ? new WorkerRunner(script, file, wanted) : new LocalRunner(file);
  try {
    return await verifyWith(runner, publicKey, { ...opts, log });
  } finally {
    await runner.close();
  }
}

/** The orchestration on a given runner (which the caller closes). */
export async function verifyWith(
  runner: Runner,
  publicKey: KeyObject | undefined,
  opts: Omit<VerifyFileOptions, 'workers'> & { log?: ChainLog } = {},
): Promise<VerifyResult> {
  const log = (opts.log ?? ENTRY_CHAIN).name;
  // The key crosses to the workers as PEM (a private key, as the CLI may hold, checks as its public half).
  const pem = publicKey
    ? ((publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey).export({ type: 'spki', format: 'pem' }) as string)
    : undefined;
  const abort = opts.signal;
  abort?.throwIfAborted();
  const aborted = abort ? new Promise<never>((_, reject) => abort.addEventListener('abort', () => reject(abort.reason), { once: true })) : undefined;
  aborted?.catch(() => undefined);
  const once = () => (aborted ? Promise.race([verifyOnce(runner, log, pem, opts), aborted]) : verifyOnce(runner, log, pem, opts));
  let { result, plan } = await once();
  if (!result.ok && plan) {
    // A prune between the plan and the walk removes records the walk expected: verify again from the new start.
    const first = (await runner.run({ kind: 'first', log })) as number | null;
    if (first !== plan.firstSeq) ({ result } = await once());
  }
  return result;
}

async function verifyOnce(
  runner: Runner,
  log: ChainLog['name'],
  pem: string | undefined,
  opts: VerifyFileOptions,
): Promise<{ result: VerifyResult; plan?: VerifyPlan }> {
  // With the key, the plan also checks that no signed checkpoint is missing.
  const { ids, planned } = (await runner.run({ kind: 'plan', log, schedule: pem !== undefined })) as PlanOutcome;
  const checkpoints = ids.length;
  const fail = (b: VerifyBreak): VerifyResult => ({ ok: false, records: 0, checkpoints, breakAt: b });

  // Signature batches first (a bad signature is the verdict whatever the chain says), then the chunks.
  const tasks: VerifyTask[] = [];
  if (pem) {
    const batch = Math.max(1, opts.signatureBatch ?? 1000);
    for (let i = 0; i < ids.length; i += batch) {
      tasks.push({ kind: 'signatures', log, fromId: ids[i]!, toId: ids[Math.min(ids.length, i + batch) - 1]!, publicKey: pem });
    }
  }
  const signatureTasks = tasks.length;
  const plan = 'plan' in planned ? planned.plan : undefined;
  if (plan && plan.walkTo >= plan.startSeq) {
    const rows = plan.walkTo - plan.startSeq + 1;
    const size = Math.max(1, opts.chunkRows ?? Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, Math.ceil(rows / runner.size))));
    for (const [from, to] of split(plan.startSeq, plan.walkTo, size)) {
      tasks.push({ kind: 'chunk', log, from, to, prevHash: from === plan.startSeq ? plan.startHash : null });
    }
  }

  // Each task's outcome: undefined while pending, null when it holds, a break.
  const outcome: (VerifyBreak | null | undefined)[] = new Array(tasks.length).fill(undefined);
  /** The verdict, once every task that could change it is done. */
  const verdict = (): VerifyResult | undefined => {
    for (let i = 0; i < signatureTasks; i++) {
      if (outcome[i] === undefined) return undefined;
      if (outcome[i]) return fail(outcome[i]!);
    }
    if (!plan) return fail((planned as { fail: VerifyBreak }).fail);
    for (let i = signatureTasks; i < tasks.length; i++) {
      if (outcome[i] === undefined) return undefined;
      if (outcome[i]) return settleVerify(plan, outcome[i]!);
    }
    return settleVerify(plan, undefined);
  };

  const result = await new Promise<VerifyResult>((resolve, reject) => {
    let next = 0;
    let running = 0;
    /** The first task (in order) known to have broken: nothing after it can change the verdict. */
    let firstBroken = Infinity;
    let walked = 0;
    let settled = false;
    const pump = () => {
      if (settled) return;
      const v = verdict();
      if (v) {
        settled = true;
        resolve(v);
        return;
      }
      while (running < runner.size && next < tasks.length) {
        const i = next++;
        if (i > firstBroken) continue;
        running++;
        runner.run(tasks[i]!).then(
          (value) => {
            running--;
            const b = value as VerifyBreak | null;
            outcome[i] = b;
            const t = tasks[i]!;
            if (t.kind === 'chunk' && plan) {
              walked += t.to - t.from + 1;
              opts.onProgress?.(walked, plan.walkTo - plan.startSeq + 1);
            }
            if (b && i < firstBroken) firstBroken = i;
            pump();
          },
          (err: Error) => {
            if (!settled) {
              settled = true;
              reject(err);
            }
          },
        );
      }
    };
    pump();
  });
  return { result, plan };
}
