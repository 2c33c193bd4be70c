// Moving the write-ahead log into the database file (a WAL checkpoint), off the event loop.
//
// SQLite checkpoints by default inside the commit that grows the WAL past 1,000 pages: on the
// controller's one thread, copying megabytes and fsyncing twice while every door waits. Under a
// burst of reads, small commits cross that line several times a second. Here the controller's
// connection never checkpoints (wal_autocheckpoint = 0); a worker thread with its own connection
// runs PASSIVE checkpoints, which never block a reader or the writer, on a short interval.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './db.js';

export interface WalCheckpointStats {
  /** Checkpoints run, and the last one's result (frames in the WAL, frames copied into the database). */
  runs: number;
  last: { busy: number; log: number; checkpointed: number } | null;
  /** The last error, if the last checkpoint failed (the next one tries again). */
  error: string | null;
}

// Plain CommonJS, evaluated: runs the same from the TypeScript sources (tests) and from dist.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = FULL');
db.pragma('wal_autocheckpoint = 0');
let running = true;
const tick = () => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ok: true, result: r });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String(e && e.message || e) });
  }
};
const timer = setInterval(() => running && tick(), workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  running = false;
  clearInterval(timer);
  db.close();
  parentPort.postMessage({ stopped: true });
  parentPort.close();
});
`;

export class WalCheckpointer {
  private worker?: Worker;
  readonly stats: WalCheckpointStats = { runs: 0, last: null, error: null };

  constructor(
    private readonly db: Db,
    private readonly intervalMs = 500,
  ) {}

  /** Starts the worker, and only then turns the writer's own checkpoints off. No-op for a database without a WAL. */
  start(): void {
    if (this.db.memory || String(this.db.pragma('journal_mode', { simple: true })) !== 'wal') return;
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER, { eval: true, workerData: { file: this.db.name, sqlite, intervalMs: this.intervalMs } });
    worker.on('message', (m: { ok?: boolean; result?: { busy: number; log: number; checkpointed: number }; error?: string }) => {
      if (m.ok === undefined) return;
      this.stats.runs++;
      if (m.ok) {
        this.stats.last = m.result ?? null;
        this.stats.error = null;
      } else {
        this.stats.error = m.error ?? 'unknown error';
      }
    });
    // A worker that dies hands checkpointing back to the writer: the WAL must not grow without end.
    worker.on('error', () => this.handBack());
    worker.on('exit', () => this.handBack());
    worker.unref();
    this.worker = worker;
    this.db.pragma('wal_autocheckpoint = 0');
    // When the writer starts the WAL over after a checkpoint, it truncates the file instead of
    // overwriting it in place: the WAL holds no disk space it does not need, and a full disk shows
    // at the next commit (which then fails, and the door stays locked) rather than whenever the old
    // file's space runs out.
    this.db.pragma('journal_size_limit = 0');
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const stopped = new Promise<void>((resolve) => {
      worker.on('message', (m: { stopped?: boolean }) => m.stopped && resolve());
      worker.once('exit', () => resolve());
    });
    worker.postMessage('stop');
    await Promise.race([stopped, new Promise<void>((r) => setTimeout(r, 3000).unref())]);
    await worker.terminate();
    this.handBack();
  }

  private handBack(): void {
    if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
  }
}
