// The entry log for its readers: query it (newest first, paged by seq; guards see no affiliation or
// purpose), export it (the same bytes as `tobira log export`, from a read-only snapshot), verify it
// (one verification at a time, in worker threads), and its signed checkpoints with the public key.
import { createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PassThrough } from 'node:stream';
import { writeExport, type ExportOptions } from './entry-export.js';
import type { EntryFilter, EntryPage, EntryRecord, VerifyResult } from '../store/entry-log.js';
import { type CheckpointKind, checkpointFields } from '../store/checkpoints.js';
import { DATABASE_FILE, openDatabase } from '../store/db.js';
import { verifyEntryLogFile } from '../store/verify-parallel.js';
import { ReadUnavailableError } from '../store/query-pool.js';
import { loadLogKey, publicKeyPem } from '../store/log-key.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';

/** An entry-log record as a role may see it: null when it may not; guards without affiliation and purpose. */
export function entryForRole(r: EntryRecord, role: Actor['role']): EntryRecord | null {
  if (role === 'admin') return null;
  if (role === 'guard') return { ...r, affiliation: null, purpose: null };
  return r;
}

export interface ExportRequest {
  format: 'csv' | 'jsonl';
  lang: 'en' | 'ja';
  filter: EntryFilter;
}

/** The newest signed checkpoint a verification checked the chain against (what an auditor compares with a copy kept off the gateway). */
export interface CheckpointUsed {
  id: number;
  kind: CheckpointKind;
  ordinal: number | null;
  count: number;
  headHash: string;
  at: string;
}

export type VerifyOutcome = VerifyResult & { publicKey: string | null; checkpoint: CheckpointUsed | null };

export class EntryService {
  /** One verification at a time: a request while one runs joins it (and gets its result). */
  private verifying: Promise<VerifyOutcome> | undefined;
  private readonly stop = new AbortController();

  constructor(private readonly deps: ServiceDeps) {}

  private get dataDir(): string {
    return running(this.deps).dataDir;
  }

  /** One page, newest first; `nextBefore` is the cursor for the next (older) page. */
  async query(actor: Pick<Actor, 'role'>, q: EntryFilter & { before?: number; limit: number }): Promise<{ items: EntryRecord[]; nextBefore: number | null }> {
    const { entryLog, reads } = this.deps.store;
    let page: EntryPage;
    try {
      // Read on a query worker's connection: a long page never holds up the doors' decisions.
      page = await entryLog.queryOn(reads, q);
    } catch (err) {
      if (err instanceof RangeError)
        throw new ServiceError('invalid', 'invalid querystring', [{ path: err.message.split(':')[0] ?? '', message: err.message }]);
      if (err instanceof ReadUnavailableError) throw new ServiceError('unavailable', `the entry log cannot be read now (${err.message}); try again`);
      throw err;
    }
    return { items: page.records.map((r) => entryForRole(r, actor.role)!), nextBefore: page.nextBefore };
  }

  /** Records after `seq`, oldest first, at most `limit` (a stream catching up). */
  after(seq: number, limit: number): EntryRecord[] {
    return this.deps.store.entryLog.after(seq, limit);
  }

  /** How many records follow `seq`, counting no further than `cap`. */
  countAfter(seq: number, cap: number): number {
    return this.deps.store.entryLog.countAfter(seq, cap);
  }

  /** The last seq committed: where a new stream starts. */
  lastSeq(): number {
    return this.deps.store.entryLog.lastStoredSeq();
  }

  /**
   * Starts an export, recorded in the audit log first, and returns the stream it is written to.
   * `ended` settles when the stream is done (with the error that cut it short, if one did).
   */
  export(actor: Actor, r: ExportRequest): { out: PassThrough; ended: Promise<Error | undefined> } {
    const { store } = this.deps;
    const dataDir = this.dataDir;
    const key = loadLogKey(dataDir);
    const given = Object.fromEntries(Object.entries(r.filter).filter(([, v]) => v !== undefined));
    store.transaction(() => recordChange(store, actor, 'entry.export', 'entry-log', { format: r.format, lang: r.lang, filter: given }));

    // Its own read-only connection: the export holds a read snapshot and an open cursor for as long
    // as the client takes to read, which the controller's connection must never wait on. Opened here
    // first even for the worker, so a database that cannot be read is a 503, not a cut stream.
    const db = openDatabase(dataDir, { readonly: true });
    const options = { format: r.format, lang: r.lang, filter: r.filter, publicKey: key ? publicKeyPem(key) : null };
    const script = exportWorkerScript();
    if (script) {
      db.close();
      return exportInWorker(script, dataDir, options);
    }
    const out = new PassThrough();
    const write = async (chunk: string) => {
      if (out.destroyed) throw new Error('the client went away');
      if (!out.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            out.off('drain', done);
            out.off('close', done);
            resolve();
          };
          out.on('drain', done);
          out.on('close', done);
        });
      }
    };
    const ended = writeExport(db, options, write)
      .then(
        () => {
          out.end();
          return undefined;
        },
        (err: Error) => {
          out.destroy(err);
          return err;
        },
      )
      .finally(() => db.close());
    return { out, ended };
  }

  /** The signed checkpoints after `after`, oldest first, with the gateway's public key. */
  checkpoints(after: number, limit: number) {
    const rows = this.deps.store.checkpoints.page(after, limit + 1);
    const more = rows.length > limit;
    if (more) rows.pop();
    const key = loadLogKey(this.dataDir);
    return {
      items: rows.map((cp) => ({ id: cp.id, ...checkpointFields(cp) })),
      nextAfter: more ? rows[rows.length - 1]!.id : null,
      publicKey: key ? publicKeyPem(key) : null,
    };
  }

  /**
   * Walks the hash chain and checks the checkpoints, in worker threads on their own read-only
   * connections (doors are decided meanwhile). A call while one runs gets that one's result.
   */
  verify(): Promise<VerifyOutcome> {
    const dataDir = this.dataDir;
    this.verifying ??= (async () => {
      const key = loadLogKey(dataDir);
      // Read before the walk starts: the walk reads every checkpoint after this, so this one is among those checked.
      const latest = this.deps.store.checkpoints.latest();
      const result = await verifyEntryLogFile(join(dataDir, DATABASE_FILE), key ? createPublicKey(key) : undefined, { signal: this.stop.signal });
      const checkpoint = latest
        ? { id: latest.id, kind: latest.kind, ordinal: latest.ordinal ?? null, count: latest.count, headHash: latest.headHash, at: latest.at }
        : null;
      return { ...result, publicKey: key ? publicKeyPem(key) : null, checkpoint };
    })().finally(() => {
      this.verifying = undefined;
    });
    return this.verifying;
  }

  /** Stops a verification under way (the API is closing). */
  close(): void {
    this.stop.abort(new Error('the API is closing'));
  }
}

/**
 * The compiled export worker, or undefined when there is none to run (from the TypeScript sources
 * without a build, or a build older than any source): then the export runs in this thread.
 */
export function exportWorkerScript(): URL | undefined {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.js')) return new URL('./export-worker.js', here);
  const root = new URL('../../', here);
  const compiled = fileURLToPath(new URL('dist/src/services/export-worker.js', root));
  if (!existsSync(compiled)) return undefined;
  const built = statSync(compiled).mtimeMs;
  const src = fileURLToPath(new URL('src/', root));
  const stale = readdirSync(src, { recursive: true, encoding: 'utf8' }).some((f) => f.endsWith('.ts') && statSync(join(src, f)).mtimeMs > built);
  return stale ? undefined : pathToFileURL(compiled);
}

/**
 * `writeExport` in a worker thread (export-worker.ts), streamed into `out` chunk by chunk: the
 * worker writes the next chunk once the client has taken this one.
 */
function exportInWorker(script: URL, dataDir: string, options: ExportOptions): { out: PassThrough; ended: Promise<Error | undefined> } {
  const out = new PassThrough();
  const worker = new Worker(script, { workerData: { dataDir, options } });
  // A client that stopped reading never holds the process up at shutdown (as a pending write would not).
  worker.unref();
  const ended = new Promise<Error | undefined>((resolve) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) out.destroy(err);
      else out.end();
      resolve(err);
    };
    type Message = { chunk: string } | { done: number } | { error: { message: string; name?: string; code?: string } };
    worker.on('message', (m: Message) => {
      if ('chunk' in m) {
        if (out.destroyed) return worker.postMessage('stop');
        if (out.write(m.chunk)) return worker.postMessage('more');
        const go = () => {
          out.off('drain', go);
          out.off('close', go);
          worker.postMessage(out.destroyed ? 'stop' : 'more');
        };
        out.on('drain', go);
        out.on('close', go);
      } else if ('done' in m) {
        settle();
      } else {
        settle(Object.assign(new Error(m.error.message), { name: m.error.name ?? 'Error', ...(m.error.code ? { code: m.error.code } : {}) }));
      }
    });
    worker.on('error', (err) => settle(err));
    worker.on('exit', (code) => settle(new Error(`the export worker stopped (exit code ${code})`)));
  });
  return { out, ended };
}
