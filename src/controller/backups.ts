// Scheduled backups (the site file's `backups:`, docs/backup.md): every `everyHours` an archive of
// the data directory and the site file, encrypted to the site's age recipients, is written into
// `directory` by a worker thread (the doors' event loop never copies or encrypts), verified, and the
// oldest beyond `retention` are deleted. A backup that fails raises `backup-failed`.
//
// "Verified" here means, without the identity (which is kept off the gateway, so nothing here can
// decrypt): the database copy passed SQLite's quick_check; every file's SHA-256 in the manifest was
// taken from the very bytes that went into the archive; the archive read back from disk, after it
// was flushed, has the SHA-256 and size of the ciphertext the encryption produced; and it starts
// with an age header holding one stanza per recipient. The digest is written beside it
// (NAME.sha256, `sha256sum -c` format) for a copy elsewhere to be checked.
import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BackupError, type BackupResult } from '../store/backup.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../store/file-modes.js';
import type { BackupSchedule } from '../site/backups.js';
import type { SiteFile } from '../site/schema.js';
import type { Context, Extension } from './context.js';
import { EVENT_TYPES } from '../policy/vocabulary.js';

const ARCHIVE = /^tobira-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:-\d{3})?Z\.tobira-backup$/;
/** setTimeout's longest delay: a longer wait is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The first backup after a start waits at least this long (or the interval, if shorter): starting is busy enough. */
const START_DELAY_MS = 60_000;

export interface BackupRun {
  at: string;
  ok: boolean;
  file?: string;
  archive?: BackupResult['archive'];
  pruned?: string[];
  error?: string;
}

export class ScheduledBackups implements Extension {
  readonly name = 'backups';
  private timer?: NodeJS.Timeout;
  private running?: Promise<BackupRun>;
  private stopping = new AbortController();
  private dueAt = 0;
  /** The latest run, whatever its outcome. */
  last?: BackupRun;

  constructor(
    private readonly ctx: Context,
    private readonly dataDir: string,
    /** The site file's path; without one (a controller started from a parsed site) the archive has none. */
    private readonly siteFile?: string,
  ) {}

  private get schedule(): BackupSchedule | undefined {
    return this.ctx.site.backups;
  }

  start(): void {
    this.plan(true);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.stopping.abort();
    await this.running?.catch(() => undefined);
    const s = this.schedule;
    if (s) this.sweep(resolve(s.directory));
  }

  /** Removes what a stopped or crashed run left: the writer's hidden temporaries. */
  private sweep(directory: string): void {
    try {
      for (const f of readdirSync(directory)) if (f.includes('.backup-tmp-')) rmSync(join(directory, f), { force: true });
    } catch {
      // No directory (yet), or not ours to list: nothing to sweep.
    }
  }

  reload(_site: SiteFile): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.plan(false);
  }

  /** When the next is due: the newest archive in the directory plus the interval (now, if none). */
  private plan(atStart: boolean): void {
    const s = this.schedule;
    if (!s) return;
    const everyMs = s.everyHours * 3_600_000;
    const newest = this.archives(s.directory)[0];
    let due = newest ? statSync(join(s.directory, newest)).mtimeMs + everyMs : Date.now();
    if (atStart) due = Math.max(due, Date.now() + Math.min(START_DELAY_MS, everyMs));
    this.dueAt = due;
    this.arm();
  }

  private arm(): void {
    const wait = Math.max(0, this.dueAt - Date.now());
    this.timer = setTimeout(
      () => {
        if (Date.now() < this.dueAt) return this.arm();
        void this.run()
          .catch((err: unknown) => this.ctx.log.error({ err }, 'scheduled backup failed'))
          .finally(() => {
            const s = this.schedule;
            if (!s || this.stopping.signal.aborted) return;
            this.dueAt = Date.now() + s.everyHours * 3_600_000;
            this.arm();
          });
      },
      Math.min(wait, MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  /** Archives in the directory, newest first (their names sort by time). */
  private archives(directory: string): string[] {
    try {
      return readdirSync(directory)
        .filter((f) => ARCHIVE.test(f))
        .sort()
        .reverse();
    } catch {
      return [];
    }
  }

  /** Writes, verifies and prunes once now (the schedule calls it; so may an operator's tool or a test). */
  run(): Promise<BackupRun> {
    this.running ??= this.runOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runOnce(): Promise<BackupRun> {
    const s = this.schedule;
    const at = this.ctx.now();
    if (!s) return { at: at.toISOString(), ok: false, error: 'no backups: section in the site file' };
    const directory = resolve(s.directory);
    const name = `tobira-${at.toISOString().replace(/:/g, '-').replace('.', '-')}.tobira-backup`;
    const file = join(directory, name);
    let run: BackupRun;
    try {
      mkdirSync(directory, { recursive: true, mode: PRIVATE_DIR_MODE });
      this.sweep(directory);
      const result = await this.ctx.store.backup(
        { dataDir: this.dataDir, siteFile: this.siteFile, out: file, key: { recipients: s.recipient }, exclude: [directory] },
        this.stopping.signal,
      );
      verifyWritten(file, result, s.recipient.length);
      writeFileSync(`${file}.sha256`, `${result.archive.sha256}  ${name}\n`, { mode: PRIVATE_FILE_MODE });
      const pruned = this.prune(directory, s.retention);
      run = { at: at.toISOString(), ok: true, file, archive: result.archive, pruned };
      this.ctx.log.info(
        { file, bytes: result.archive.bytes, sha256: result.archive.sha256, entryLog: result.manifest.entryLog.records, pruned },
        'scheduled backup written and verified',
      );
    } catch (err) {
      for (const f of [file, `${file}.sha256`]) {
        try {
          rmSync(f, { force: true });
        } catch {
          // The directory itself is what failed (not one, not writable): nothing of this run is there.
        }
      }
      const error = err instanceof BackupError ? err.message : String((err as Error).message ?? err);
      run = { at: at.toISOString(), ok: false, file, error };
      if (!this.stopping.signal.aborted) {
        this.ctx.log.error({ err, directory }, 'scheduled backup failed');
        this.ctx.alarms.raise({ ...EVENT_TYPES['backup-failed'], type: 'backup-failed', source: 'backups', detail: { directory, error } });
      }
    }
    this.last = run;
    return run;
  }

  /** Deletes the archives (and their digests) beyond the newest `keep`, once a new one verified. */
  private prune(directory: string, keep: number): string[] {
    const old = this.archives(directory).slice(keep);
    for (const f of old) {
      rmSync(join(directory, f), { force: true });
      rmSync(join(directory, `${f}.sha256`), { force: true });
    }
    return old;
  }
}

/** The archive on disk as written: its size, and an age header with a stanza per recipient. */
function verifyWritten(file: string, result: BackupResult, recipients: number): void {
  const size = statSync(file).size;
  if (size !== result.archive.bytes) throw new BackupError(`${file} is ${size} bytes on disk, ${result.archive.bytes} were written`);
  const head = Buffer.alloc(Math.min(size, 4096));
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const text = head.toString('latin1');
  if (!text.startsWith('age-encryption.org/v1\n')) throw new BackupError(`${file} does not start with an age header`);
  const end = text.indexOf('\n--- ');
  const stanzas = (end < 0 ? text : text.slice(0, end)).split('\n').filter((l) => l.startsWith('-> X25519 ')).length;
  if (stanzas !== recipients) throw new BackupError(`${file}: its header names ${stanzas} recipients, not ${recipients}`);
}
