// The SQLite database: one file in the data directory, WAL mode, durable commits.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { migrations } from './schema.js';
import { ensurePrivateDir, ensurePrivateFile } from './file-modes.js';

export type Db = Database.Database;

export const DATABASE_FILE = 'tobira.db';

export function openDatabase(dataDir: string, opts: { readonly?: boolean } = {}): Db {
  if (!opts.readonly) {
    // Card numbers, personal data and TOTP seeds: private to the daemon's user from the first byte.
    ensurePrivateDir(dataDir);
    ensurePrivateFile(join(dataDir, DATABASE_FILE));
  }
  const db = new Database(join(dataDir, DATABASE_FILE), { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  db.pragma('busy_timeout = 5000');
  if (opts.readonly) return db;
  db.pragma('journal_mode = WAL');
  // FULL: an entry-log record must survive power loss before the door it opens is unlocked.
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // 16 MiB of page cache (SQLite's default is 2 MiB): with millions of credentials and log rows, each
  // decision's lookups and each append's index updates otherwise go back to the OS for their pages
  // (from its page cache, a few microseconds each). Bounded, so resident memory stays within a
  // Raspberry Pi's budget: 32 MiB took the daemon's peak to 208 MB in the benchmark's burst.
  db.pragma('cache_size = -16384');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * Runs `read` (which may await between reads) inside one read transaction, so all it reads is one
 * snapshot of the database (an export's records and its checkpoint agree). Inside a transaction
 * already open, it reads in that one.
 */
export async function inReadSnapshot<T>(db: Db, read: () => Promise<T>): Promise<T> {
  const own = !db.inTransaction;
  if (own) db.exec('BEGIN');
  try {
    return await read();
  } finally {
    if (own && db.inTransaction) db.exec('COMMIT');
  }
}
