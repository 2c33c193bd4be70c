// Camera evidence: pictures taken for alarms and denied entries. The file lives under
// <data>/snapshots/ (0600 in a 0700 directory); its row here names it, and the entry log's evidence
// record carries its SHA-256, so the hash chain covers the digest and verification re-hashes the file.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './db.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './file-modes.js';

export const SNAPSHOTS_DIR = 'snapshots';

export interface SnapshotRecord {
  id: number;
  camera: string;
  sha256: string;
  /** The file's name under <data>/snapshots/. */
  file: string;
  contentType: string;
  takenAt: string;
  eventId: number | null;
  entrySeq: number | null;
  evidenceSeq: number | null;
}

interface Row {
  id: number;
  camera: string;
  sha256: string;
  file: string;
  content_type: string;
  taken_at: string;
  event_id: number | null;
  entry_seq: number | null;
  evidence_seq: number | null;
}

const toRecord = (r: Row): SnapshotRecord => ({
  id: r.id,
  camera: r.camera,
  sha256: r.sha256,
  file: r.file,
  contentType: r.content_type,
  takenAt: r.taken_at,
  eventId: r.event_id,
  entrySeq: r.entry_seq,
  evidenceSeq: r.evidence_seq,
});

export class SnapshotStore {
  constructor(private readonly db: Db) {}

  add(s: Omit<SnapshotRecord, 'id' | 'evidenceSeq'>): SnapshotRecord {
    const id = this.db
      .prepare(
        `INSERT INTO snapshots (camera, sha256, file, content_type, taken_at, event_id, entry_seq)
         VALUES (@camera, @sha256, @file, @contentType, @takenAt, @eventId, @entrySeq)`,
      )
      .run(s).lastInsertRowid as number;
    return { id: Number(id), ...s, evidenceSeq: null };
  }

  setEvidenceSeq(id: number, seq: number): void {
    this.db.prepare('UPDATE snapshots SET evidence_seq = ? WHERE id = ?').run(seq, id);
  }

  get(id: number): SnapshotRecord | undefined {
    const row = this.db.prepare('SELECT * FROM snapshots WHERE id = ?').get(id) as Row | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** The pictures of an alarm (its event id), oldest first. */
  ofEvent(eventId: number): SnapshotRecord[] {
    return (this.db.prepare('SELECT * FROM snapshots WHERE event_id = ? ORDER BY id').all(eventId) as Row[]).map(toRecord);
  }

  /** The pictures of a denied entry (its entry-log seq), oldest first. */
  ofEntry(seq: number): SnapshotRecord[] {
    return (this.db.prepare('SELECT * FROM snapshots WHERE entry_seq = ? ORDER BY id').all(seq) as Row[]).map(toRecord);
  }

  /** Removes the rows taken before `before` (ISO) and returns their files, for the caller to delete. */
  pruneBefore(before: string): string[] {
    return this.db
      .transaction(() => {
        const files = this.db.prepare('SELECT file FROM snapshots WHERE taken_at < ?').pluck(true).all(before) as string[];
        this.db.prepare('DELETE FROM snapshots WHERE taken_at < ?').run(before);
        return files;
      })
      .immediate();
  }
}

export function snapshotsDir(dataDir: string): string {
  return join(dataDir, SNAPSHOTS_DIR);
}

/** Writes a picture as a private file (0600, flushed, renamed into place) and returns its path. */
export function writeSnapshotFile(dataDir: string, file: string, data: Buffer): string {
  const dir = snapshotsDir(dataDir);
  ensurePrivateDir(dir);
  const path = join(dir, file);
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', PRIVATE_FILE_MODE);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return path;
}

export function readSnapshotFile(dataDir: string, file: string): Buffer | undefined {
  const path = join(snapshotsDir(dataDir), file);
  return existsSync(path) ? readFileSync(path) : undefined;
}

export function removeSnapshotFile(dataDir: string, file: string): void {
  try {
    unlinkSync(join(snapshotsDir(dataDir), file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** A picture whose file does not match the digest its evidence record holds. */
export interface SnapshotProblem {
  /** The evidence record's seq in the entry log. */
  seq: number;
  file: string;
  problem: string;
}

/**
 * Re-hashes every picture the entry log's evidence records name. A file that differs from its
 * chained digest was swapped; a missing file counts only while its row is kept (a row and its file
 * go together at retention). Works on a read-only copy without the snapshots table too.
 */
export function verifySnapshotFiles(db: Db, dataDir: string): { checked: number; problems: SnapshotProblem[] } {
  const hasTable = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'snapshots'").pluck(true).get() === 1;
  const rowOf = hasTable ? db.prepare('SELECT 1 FROM snapshots WHERE file = ?').pluck(true) : undefined;
  const problems: SnapshotProblem[] = [];
  let checked = 0;
  const records = db.prepare("SELECT seq, detail FROM entry_log WHERE kind = 'evidence' ORDER BY seq").all() as { seq: number; detail: string | null }[];
  for (const r of records) {
    let detail: { file?: unknown; sha256?: unknown };
    try {
      detail = r.detail ? (JSON.parse(r.detail) as typeof detail) : {};
    } catch {
      continue; // an edited detail is the chain's break to report
    }
    if (typeof detail.file !== 'string' || typeof detail.sha256 !== 'string' || detail.file.includes('/')) continue;
    const data = readSnapshotFile(dataDir, detail.file);
    if (!data) {
      if (rowOf?.get(detail.file)) problems.push({ seq: r.seq, file: detail.file, problem: 'the picture is missing (deleted outside retention)' });
      continue;
    }
    checked++;
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (sha256 !== detail.sha256)
      problems.push({ seq: r.seq, file: detail.file, problem: `the picture does not match its digest (swapped or edited): ${sha256} ≠ ${detail.sha256}` });
  }
  return { checked, problems };
}
