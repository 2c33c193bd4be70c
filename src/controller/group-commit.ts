// Group commit: access decisions made in the same turn of the event loop share one durable
// transaction, so one fsync covers them all. A decision still commits before its door is released
// (the caller releases after the promise resolves); what changes is that sixty doors reading at
// once pay for one commit, not sixty.
import type { Db } from '../store/db.js';

interface Job {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class GroupCommit {
  private pending: Job[] = [];
  private scheduled = false;
  /** Commits made and writes they carried, for the metrics and the benchmark. */
  readonly stats = { commits: 0, writes: 0, largest: 0 };

  /**
   * @param resync called after any rollback, so in-memory state (the entry log's head) follows
   *   what is on disk again.
   */
  constructor(
    private readonly db: Db,
    private readonly resync: () => void,
  ) {}

  /**
   * Runs `write` inside the next shared transaction. Resolves with its result once the
   * transaction is durable; rejects if `write` throws (only its own writes are rolled back) or if
   * the commit fails (then every write in it is rolled back and every caller is told).
   */
  submit<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ write, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // After the I/O callbacks and promise jobs of this turn: every read that arrived together
        // has been decided by then.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits what is pending now (also called on stop, so nothing decided is left unwritten). */
  flush(): void {
    this.scheduled = false;
    const jobs = this.pending;
    this.pending = [];
    if (jobs.length === 0) return;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; err: Error })[] = [];
    try {
      this.db.transaction(() => {
        for (const job of jobs) {
          try {
            // A nested transaction is a savepoint: a write that throws takes only itself back.
            outcomes.push({ ok: true, value: this.db.transaction(job.write)() });
          } catch (err) {
            this.resync();
            outcomes.push({ ok: false, err: err as Error });
          }
        }
      })();
    } catch (err) {
      this.resync();
      for (const job of jobs) job.reject(err as Error);
      return;
    }
    this.stats.commits++;
    this.stats.writes += jobs.length;
    if (jobs.length > this.stats.largest) this.stats.largest = jobs.length;
    jobs.forEach((job, i) => {
      const o = outcomes[i]!;
      if (o.ok) job.resolve(o.value);
      else job.reject(o.err);
    });
  }
}
