// Group commit: access decisions made in the same turn of the event loop share one transaction,
// and one flush of the write-ahead log to disk makes them durable together. A decision still
// reaches the disk before its door is released (the caller releases when the promise resolves).
//
// The flush runs off the event loop: the transaction commits with synchronous=NORMAL (SQLite writes
// the WAL frames but does not fsync), then fdatasync of the WAL file runs on libuv's thread pool and
// only its completion resolves the decisions. Meanwhile the event loop keeps reading and deciding,
// and whatever commits while one flush is on its way waits for the next: sixty doors reading at once
// pay for one fsync, and no door's fsync stalls every other door. Every other writer of the database
// keeps synchronous=FULL (its own commit fsyncs the WAL, ours included).
import { closeSync, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import type { Statement, Transaction } from 'better-sqlite3';
import type { Db } from './db.js';

type Outcome = { ok: true; value: unknown } | { ok: false; err: Error };

interface Job {
  write: (changed: boolean) => unknown;
  /** What the database had seen when the job was submitted (decided): see `submit`. */
  seen: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** Committed writes waiting for the WAL flush that makes them durable. */
interface Unsynced {
  job: Job;
  value: unknown;
}

export interface GroupCommitOptions {
  /** The WAL flush (tests hold it back); fdatasync on the thread pool by default. */
  syncWal?: (fd: number, done: (err: Error | null) => void) => void;
}

export class GroupCommit {
  private pending: Job[] = [];
  private scheduled = false;
  private unsynced: Unsynced[] = [];
  /** The batch the flush on its way will settle. */
  private inFlight: Unsynced[] = [];
  private syncing = false;
  /** The WAL file, opened at the first commit; null when the database has none (falls back to FULL). */
  private walFd: number | null | undefined;
  /** Built once (better-sqlite3 wraps each transaction function anew): the shared transaction and a savepoint per write. */
  private readonly inTransaction: Transaction<(jobs: Job[], outcomes: Outcome[], seen: string) => void>;
  private readonly inSavepoint: (job: Job, changed: boolean) => unknown;
  private readonly changes: Statement;
  private readonly normal: Statement;
  private readonly full: Statement;
  private readonly syncWal: (fd: number, done: (err: Error | null) => void) => void;
  /** Transactions and WAL flushes made, and the writes they carried, for the metrics and the benchmark. */
  readonly stats = { commits: 0, writes: 0, largest: 0, walSyncs: 0 };

  /**
   * @param resync called after any rollback, so in-memory state (the entry log's head) follows
   *   what is on disk again.
   */
  constructor(
    private readonly db: Db,
    private readonly resync: () => void,
    opts: GroupCommitOptions = {},
  ) {
    this.syncWal = opts.syncWal ?? ((fd, done) => fdatasync(fd, (err) => done(err)));
    this.normal = db.prepare('PRAGMA synchronous = NORMAL');
    this.full = db.prepare('PRAGMA synchronous = FULL');
    // Writes by this connection (the API, door events) and commits by any other (the CLI).
    this.changes = db.prepare("SELECT total_changes() || '.' || data_version FROM pragma_data_version").pluck();
    this.inSavepoint = db.transaction((job: Job, changed: boolean) => job.write(changed));
    this.inTransaction = db.transaction((jobs: Job[], outcomes: Outcome[], seen: string) => {
      if (jobs.length === 1) {
        // Alone in its transaction: a throw rolls back only its own writes anyway, so no savepoint
        // (two statements fewer per commit, and one commit per decision is the common case).
        const job = jobs[0]!;
        outcomes.push({ ok: true, value: job.write(job.seen !== seen) });
        return;
      }
      for (const job of jobs) {
        try {
          // A nested transaction is a savepoint: a write that throws takes only itself back.
          outcomes.push({ ok: true, value: this.inSavepoint(job, job.seen !== seen) });
        } catch (err) {
          this.resync();
          outcomes.push({ ok: false, err: err as Error });
        }
      }
    });
  }

  /**
   * Runs `write` inside the next shared transaction; `changed` tells it whether anything was
   * written to the database between the submit (when the caller decided) and now, by anyone but
   * the writes of this same batch: then the caller decides again before writing. Resolves with its result once the
   * transaction is on disk; rejects if `write` throws (only its own writes are rolled back), if
   * the commit fails (every write in it is rolled back and every caller told), or if the WAL
   * cannot be flushed (committed, but not known durable: the caller must not act on it).
   */
  submit<T>(write: (changed: boolean) => T): Promise<T> {
    const seen = this.changes.get() as string;
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, seen, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O callbacks and promise jobs of this turn: every read that arrived together
        // has been decided by then.
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Commits what is pending now. `waitForDisk` (on stop): flush the WAL before returning, so
   * every decision is settled when the controller closes the database.
   */
  flush(opts: { waitForDisk?: boolean } = {}): void {
    this.scheduled = false;
    const jobs = this.pending;
    this.pending = [];
    if (jobs.length > 0) this.commit(jobs, !opts.waitForDisk);
    if (opts.waitForDisk) this.syncNowSync();
  }

  /** Closes the WAL file (after a final flush). */
  close(): void {
    this.flush({ waitForDisk: true });
    if (this.walFd != null) closeSync(this.walFd);
    this.walFd = undefined;
  }

  private commit(jobs: Job[], syncSoon: boolean): void {
    const outcomes: Outcome[] = [];
    // Runs from setImmediate: whatever fails here is told to the callers, never thrown.
    let fd: number | null = null;
    try {
      fd = this.wal();
      const seen = this.changes.get() as string;
      if (fd !== null) this.normal.run();
      // IMMEDIATE, as the store's transactions: see store/index.ts.
      this.inTransaction.immediate(jobs, outcomes, seen);
    } catch (err) {
      this.resync();
      for (const job of jobs) job.reject(err as Error);
      return;
    } finally {
      if (fd !== null) this.restoreFull();
    }
    this.stats.commits++;
    this.stats.writes += jobs.length;
    if (jobs.length > this.stats.largest) this.stats.largest = jobs.length;
    jobs.forEach((job, i) => {
      const o = outcomes[i]!;
      if (!o.ok) job.reject(o.err);
      // Without a WAL of our own to flush the commit itself was synchronous=FULL: durable now.
      else if (fd === null) job.resolve(o.value);
      else this.unsynced.push({ job, value: o.value });
    });
    if (syncSoon) this.syncSoon();
  }

  /** Every other writer commits with FULL: put it back (setting a pragma does not fail short of a closed database). */
  private restoreFull(): void {
    try {
      this.full.run();
    } catch {
      // Nothing to do: a closed database has no other writers.
    }
  }

  /** One flush at a time; what commits meanwhile rides on the next one. */
  private syncSoon(): void {
    if (this.syncing || this.unsynced.length === 0 || this.walFd == null) return;
    this.syncing = true;
    const batch = this.unsynced;
    this.unsynced = [];
    this.inFlight = batch;
    this.syncWal(this.walFd, (err) => {
      this.syncing = false;
      this.inFlight = [];
      this.settle(batch, err);
      this.syncSoon();
    });
  }

  /** Flushes now, on this thread: what waits, and what an unfinished flush carries (settled twice is settled once). */
  private syncNowSync(): void {
    const batch = [...this.inFlight, ...this.unsynced];
    if (batch.length === 0 || this.walFd == null) return;
    this.unsynced = [];
    let err: Error | null = null;
    try {
      fdatasyncSync(this.walFd);
    } catch (e) {
      err = e as Error;
    }
    this.settle(batch, err);
  }

  private settle(batch: Unsynced[], err: Error | null): void {
    this.stats.walSyncs++;
    for (const { job, value } of batch) {
      if (err) job.reject(new Error(`the write-ahead log could not be flushed to disk: ${err.message}`));
      else job.resolve(value);
    }
  }

  /** The WAL's file descriptor, opened once; null for a database not in WAL mode (or in memory). */
  private wal(): number | null {
    if (this.walFd !== undefined) return this.walFd;
    if (!this.db.open) return null;
    const mode = String(this.db.pragma('journal_mode', { simple: true }));
    if (mode !== 'wal' || this.db.memory) {
      this.walFd = null;
      return null;
    }
    try {
      // fdatasync flushes the file, whichever descriptor asks: SQLite's writes are ours to flush.
      this.walFd = openSync(`${this.db.name}-wal`, 'r');
    } catch {
      // Not there yet (nothing written since the database opened): FULL this time, try again next.
      return null;
    }
    return this.walFd;
  }
}
