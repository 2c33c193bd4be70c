// Rewriting secrets found in clear (seeds an older version stored unsealed): the clear values must
// not survive the rewrite on disk. secure_delete makes SQLite zero the space the old values leave in
// their pages; a checkpoint that truncates the WAL drops the frames that still held them. No VACUUM:
// it would rewrite the whole database (millions of log rows on a big site) to gain nothing more,
// since the pages that held the seeds are already zeroed where the values were.
import type { Db } from './db.js';

/** Runs `rewrite` in a transaction with secure_delete on, then checkpoints and truncates the WAL. */
export function rewriteSecurely(db: Db, rewrite: () => void): void {
  const before = db.pragma('secure_delete', { simple: true }) as number;
  db.pragma('secure_delete = ON');
  try {
    db.transaction(rewrite).immediate();
  } finally {
    db.pragma(`secure_delete = ${Number(before) || 0}`);
  }
  // Best effort: a reader still holding an old snapshot keeps the WAL until the next checkpoint
  // (SQLite's automatic one), which then overwrites the frames in the database file.
  db.pragma('wal_checkpoint(TRUNCATE)');
}
