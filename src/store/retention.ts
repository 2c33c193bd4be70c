// Retention: records of a log (the entry log, the audit log) older than the configured period are
// pruned, the one delete a log allows. A signed prune checkpoint, written in the same transaction,
// anchors the first record kept (its seq and prev_hash), so what remains still verifies from there.
import type { KeyObject } from 'node:crypto';
import type { Db } from './db.js';
import { writeCheckpoint } from './checkpoints.js';
import { ENTRY_CHAIN, type ChainLog } from './hash-chain.js';

/** The shortest retention the daemon accepts: 3 months. */
export const MIN_RETENTION_DAYS = 90;

export class RetentionError extends Error {}

/** Throws when the configured retention is below the minimum (the daemon refuses to start). */
export function assertRetention(days: number): void {
  if (!Number.isFinite(days) || days < MIN_RETENTION_DAYS) {
    throw new RetentionError(
      `log.retentionDays is ${days}: entry-log records must be kept at least ${MIN_RETENTION_DAYS} days (3 months); ` +
        'set log.retentionDays to 90 or more in the site file (default 1095, 3 years)',
    );
  }
}

/** The ISO cutoff for a retention period: records older than this may go. */
export function retentionCutoff(now: Date, days: number): string {
  return new Date(now.getTime() - days * 86_400_000).toISOString();
}

/**
 * Prunes the oldest records, those before `before` (ISO), in one transaction: never the head (at
 * least the newest record stays), and only the unbroken run of old records at the start of the
 * log, so a clock that once stepped back cannot take newer records with it. Refuses (throws) when
 * the record after the cut does not link to the last one removed: pruning must not hide a break.
 * Writes a signed 'prune' checkpoint anchoring the first record kept. Returns how many were pruned.
 */
export function pruneEntryLog(db: Db, opts: { before: string; key: KeyObject; now?: () => Date }): number {
  return pruneLog(db, ENTRY_CHAIN, opts);
}

/** `pruneEntryLog` of any log: its table, its prune token, its checkpoints. */
export function pruneLog(db: Db, log: ChainLog, opts: { before: string; key: KeyObject; now?: () => Date }): number {
  const table = log.table;
  const t = Date.parse(opts.before);
  if (!Number.isFinite(t)) throw new RangeError(`before: "${opts.before}" is not an ISO time`);
  const before = new Date(t).toISOString();
  const at = (opts.now?.() ?? new Date()).toISOString();
  return db
    .transaction(() => {
      const head = db.prepare(`SELECT seq FROM ${table} ORDER BY seq DESC LIMIT 1`).pluck(true).get() as number | undefined;
      if (head === undefined) return 0;
      // The first record at or after the cutoff, walking from the oldest (primary key, not the at index).
      const firstKept = db.prepare(`SELECT seq FROM ${table} WHERE +at >= ? ORDER BY seq LIMIT 1`).pluck(true).get(before) as number | undefined;
      const cut = Math.min(firstKept === undefined ? head : firstKept, head) - 1;
      const oldest = db.prepare(`SELECT seq FROM ${table} ORDER BY seq LIMIT 1`).pluck(true).get() as number;
      if (cut < oldest) return 0;
      const anchor = db.prepare(`SELECT seq, prev_hash AS prevHash FROM ${table} WHERE seq > ? ORDER BY seq LIMIT 1`).get(cut) as {
        seq: number;
        prevHash: string;
      };
      const lastRemoved = db.prepare(`SELECT seq, hash FROM ${table} WHERE seq <= ? ORDER BY seq DESC LIMIT 1`).get(cut) as { seq: number; hash: string };
      if (anchor.seq !== lastRemoved.seq + 1 || anchor.prevHash !== lastRemoved.hash) {
        throw new Error(
          `refusing to prune: record ${anchor.seq} does not follow and link to record ${lastRemoved.seq}; run \`tobira log verify${log === ENTRY_CHAIN ? '' : ' --audit'}\``,
        );
      }
      db.prepare(`INSERT INTO ${log.pruneTable} (token) VALUES (1)`).run();
      const removed = db.prepare(`DELETE FROM ${table} WHERE seq <= ?`).run(cut).changes;
      db.prepare(`DELETE FROM ${log.pruneTable}`).run();
      writeCheckpoint(db, opts.key, { kind: 'prune', at, anchorSeq: anchor.seq, anchorPrevHash: anchor.prevHash, log });
      return removed;
    })
    .immediate();
}
