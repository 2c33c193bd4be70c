// Moving the write-ahead log into the database file (a WAL checkpoint), off the event loop.
//
// SQLite checkpoints by default inside the commit that grows the WAL past 1,000 pages: on the
// controller's one thread, copying megabytes and fsyncing twice while every door waits. Under a
// burst of reads, small commits cross that line several times a second. Here the controller's
// connection never checkpoints (wal_autocheckpoint = 0); a worker thread with its own connection
// runs PASSIVE checkpoints, which never block a reader or the writer, on a short interval.
//
// PASSIVE alone does not bound the WAL: SQLite starts the WAL over only when a write begins with
// every frame already copied, and under steady writes (reads 2 ms apart, a burst) frames land
// during every pass, so the file grew without end (235 MB after 20,000 decisions). So once the file
// passes `truncateAtBytes`, the worker runs a TRUNCATE checkpoint, which takes the write lock, copies
// what is left and empties the file. It does so only right after a PASSIVE pass left a short tail
// (so the writer, which waits in its busy handler, synchronously, on the event loop, waits only for
// that tail), with a short busy timeout of its own (so a reader in the way, such as a long export,
// costs the writer at most that much), and after a refusal it waits longer before trying again.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './db.js';

export interface WalCheckpointStats {
  /** Checkpoints run, and the last one's result (frames in the WAL, frames copied into the database). */
  runs: number;
  last: { busy: number; log: number; checkpointed: number } | null;
  /** The last error, if the last checkpoint failed (the next one tries again). */
  error: string | null;
  /** TRUNCATE checkpoints that emptied the WAL, and those refused (a reader or the writer in the way). */
  truncations: number;
  truncationsRefused: number;
  /** The WAL file's size after the last pass, and the largest a pass found (bytes). */
  walBytes: number;
  walPeakBytes: number;
}

export interface WalCheckpointOptions {
  /** Between passes (ms). */
  intervalMs?: number;
  /** WAL size past which the worker empties it with a TRUNCATE checkpoint (bytes): well under the 64 MB bound. */
  truncateAtBytes?: number;
  /** How long the TRUNCATE checkpoint waits for the write lock and for readers (ms): the longest the writer can be held up by it. */
  truncateBusyMs?: number;
}

type WorkerMessage =
  | { ok: true; result: { busy: number; log: number; checkpointed: number }; truncated: boolean | null; found: number; walBytes: number }
  | { ok: false; error: string }
  | { stopped: true };

// Plain CommonJS, evaluated: runs the same from the TypeScript sources (tests) and from dist.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = ' + workerData.truncateBusyMs);
db.pragma('synchronous = FULL');
db.pragma('wal_autocheckpoint = 0');
const walFile = workerData.file + '-wal';
const walBytes = () => { try { return statSync(walFile).size; } catch { return 0; } };
// Frames left after a PASSIVE pass that the TRUNCATE may copy while it holds the write lock.
const SHORT_TAIL = 64;
let running = true;
let backoff = 1;
let skip = 0;
let lastPass = 0;
const pass = () => {
  lastPass = Date.now();
  const found = walBytes();
  let [r] = db.pragma('wal_checkpoint(PASSIVE)');
  let truncated = null;
  // After a refusal, the next few passes stay PASSIVE (skip counts them down).
  if (walBytes() > workerData.truncateAtBytes && skip-- <= 0) {
    // Frames written during that pass: a second pass copies most, then a few more at most.
    for (let i = 0; i < 3 && r.log - r.checkpointed > SHORT_TAIL; i++) [r] = db.pragma('wal_checkpoint(PASSIVE)');
    // A long tail means a reader holds old frames (a backup, an export): TRUNCATE would wait for it, holding the writer.
    if (r.log - r.checkpointed <= SHORT_TAIL) {
      [r] = db.pragma('wal_checkpoint(TRUNCATE)');
      truncated = r.busy === 0;
    } else truncated = false;
    if (truncated) backoff = 1;
    else skip = backoff = Math.min(backoff * 2, 4);
  }
  parentPort.postMessage({ ok: true, result: r, truncated, found, walBytes: walBytes() });
};
// A pass every intervalMs, and sooner when the WAL passes the threshold: its size is looked at five
// times as often (a stat), so a fast writer cannot run far past the threshold between passes.
const watch = () => {
  if (!running) return;
  try {
    if (Date.now() - lastPass >= workerData.intervalMs || (walBytes() > workerData.truncateAtBytes && skip <= 0)) pass();
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String(e && e.message || e) });
  }
  timer = setTimeout(watch, Math.max(5, workerData.intervalMs / 5));
};
let timer = setTimeout(watch, Math.max(5, workerData.intervalMs / 5));
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  running = false;
  clearTimeout(timer);
  db.close();
  parentPort.postMessage({ stopped: true });
  parentPort.close();
});
`;

export class WalCheckpointer {
  private worker?: Worker;
  readonly stats: WalCheckpointStats = { runs: 0, last: null, error: null, truncations: 0, truncationsRefused: 0, walBytes: 0, walPeakBytes: 0 };
  private readonly opts: Required<WalCheckpointOptions>;

  constructor(
    private readonly db: Db,
    opts: WalCheckpointOptions = {},
  ) {
    // 16 MB: a quarter of the 64 MB bound, so a few refused truncations in a burst still stay under it;
    // 20 ms: the default busy handler's first four sleeps (1 + 2 + 5 + 10 ms) and a bit.
    this.opts = { intervalMs: 500, truncateAtBytes: 16 * 2 ** 20, truncateBusyMs: 20, ...opts };
  }

  /** Starts the worker, and only then turns the writer's own checkpoints off. No-op for a database without a WAL. */
  start(): void {
    if (this.db.memory || String(this.db.pragma('journal_mode', { simple: true })) !== 'wal') return;
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER, { eval: true, workerData: { file: this.db.name, sqlite, ...this.opts } });
    worker.on('message', (m: WorkerMessage) => {
      if ('stopped' in m) return;
      this.stats.runs++;
      if (m.ok) {
        this.stats.last = m.result;
        this.stats.error = null;
        if (m.truncated === true) this.stats.truncations++;
        else if (m.truncated === false) this.stats.truncationsRefused++;
        this.stats.walBytes = m.walBytes;
        this.stats.walPeakBytes = Math.max(this.stats.walPeakBytes, m.found, m.walBytes);
      } else {
        this.stats.error = m.error;
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
      worker.on('message', (m: WorkerMessage) => 'stopped' in m && resolve());
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
