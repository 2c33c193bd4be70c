// The data directory holds card numbers, personal data, device secrets and keys: only the daemon's
// own user may read it. New directories are made 0700 and the database is created 0600 (SQLite gives
// its -wal and -shm files the database file's mode); what an older version or an operator left
// looser is reported, at start and in /healthz, rather than silently changed under an operator.
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates the directory (and parents) as 0700 if missing; an existing one keeps its mode. */
export function ensurePrivateDir(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** Creates an empty file as 0600 if missing, so whatever opens it next (SQLite) inherits that mode. */
export function ensurePrivateFile(path: string): void {
  if (existsSync(path)) return;
  try {
    closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * Creates a private file (0600) with its whole content, once: written to a temporary file, flushed,
 * then linked into place, so a crash never leaves half a key, and two processes racing to create it
 * end up sharing whichever won. Returns false when the file was there already (its content is kept).
 */
export function createPrivateFileOnce(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', PRIVATE_FILE_MODE);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    unlinkSync(tmp);
  }
}

export interface LooseMode {
  path: string;
  /** The mode found, octal, e.g. "644". */
  mode: string;
  /** The most it should be, octal. */
  want: string;
}

/**
 * Every entry of the data directory (and the directory itself) that group or others can read,
 * write or enter. Files only one level deep: the daemon keeps nothing in subfolders but the
 * device-link certificates, which are checked too.
 */
export function looseModes(dataDir: string): LooseMode[] {
  const out: LooseMode[] = [];
  const check = (path: string, want: number) => {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o777;
    } catch {
      return; // gone meanwhile (a -wal after a checkpoint): nothing to report
    }
    if (mode & ~want & 0o777) out.push({ path, mode: mode.toString(8), want: want.toString(8) });
  };
  if (!existsSync(dataDir)) return out;
  check(dataDir, PRIVATE_DIR_MODE);
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    const path = join(dataDir, entry.name);
    if (entry.isDirectory()) {
      check(path, PRIVATE_DIR_MODE);
      for (const inner of readdirSync(path, { withFileTypes: true })) {
        if (inner.isFile()) check(join(path, inner.name), PRIVATE_FILE_MODE);
      }
    } else if (entry.isFile()) {
      // The site file may sit in the data directory (tests, the service's state dir): it holds no
      // secrets, so it may be readable; everything else is private.
      check(path, /\.ya?ml$/.test(entry.name) ? 0o644 : PRIVATE_FILE_MODE);
    }
  }
  return out;
}
