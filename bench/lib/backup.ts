// Decision latency while `tobira backup` runs beside the daemon on the big database: the CLI as
// operators run it (its own process, an age recipient so no scrypt), quiet reads one at a time for
// as long as it runs, each batch of reads counted in the phase the backup was in (copying the
// database with SQLite's backup API; archiving and encrypting), against the quiet reads just before.
import { spawn } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { CLI, track } from './procs.js';
import { quietReads } from './drive.js';
import type { DoorRig } from './devices.js';
import { ratio, summarize, type Summary } from './stats.js';

export interface DuringBackupResult {
  dbMB: number;
  archiveMB: number | null;
  /** The backup ran to its end (else it was stopped at the cap). */
  finished: boolean;
  exitCode: number | null;
  seconds: number;
  copySeconds: number | null;
  encryptSeconds: number | null;
  quiet: Summary;
  /** Every read while the backup ran, and by phase (batches that straddled a phase change count only in `during`). */
  during: Summary;
  copy: Summary;
  encrypt: Summary;
  p99OverQuiet: number | null;
  lost: number;
  denied: number;
  stderr: string;
}

type Phase = 'starting' | 'copy' | 'encrypt' | 'done';

export async function duringBackup(o: {
  dataDir: string;
  siteFile: string;
  out: string;
  rigs: DoorRig[];
  card: () => string;
  quiet: Summary;
  gapMs: number;
  /** Reads per batch (one phase each). */
  batch: number;
  /** Stops the backup after this long (the figures so far are kept). */
  maxSeconds: number;
}): Promise<DuringBackupResult> {
  const recipient = await identityToRecipient(await generateIdentity());
  const dbBytes = statSync(`${o.dataDir}/tobira.db`).size;
  rmSync(o.out, { force: true });
  const t0 = Date.now();
  const proc = track(spawn(process.execPath, [CLI, 'backup', '--data', o.dataDir, '--site', o.siteFile, '--out', o.out, '--recipient', recipient]));
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c));
  proc.stdout!.resume();
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let running = true;
  void exited.then(() => (running = false));

  // The phase, from the writer's temporaries beside the archive: the database copy, then the archive.
  const dir = dirname(o.out);
  const base = basename(o.out);
  const marks: { copy?: number; encrypt?: number; done?: number } = {};
  const phaseNow = (): Phase => {
    if (!running) return 'done';
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      // the directory is ours; nothing to see yet
    }
    if (names.some((n) => n.startsWith(`.${base}.backup-tmp-`))) return 'encrypt';
    if (names.some((n) => n.startsWith(`.${base}.db.backup-tmp-`))) return 'copy';
    return 'starting';
  };
  const poll = setInterval(() => {
    const p = phaseNow();
    if (p === 'copy') marks.copy ??= Date.now();
    if (p === 'encrypt') marks.encrypt ??= Date.now();
  }, 100);

  const all: number[] = [];
  const byPhase: Record<'copy' | 'encrypt', number[]> = { copy: [], encrypt: [] };
  let lost = 0;
  let denied = 0;
  let finished = true;
  try {
    while (running) {
      if (Date.now() - t0 > o.maxSeconds * 1000) {
        finished = false;
        proc.kill('SIGTERM');
        break;
      }
      const before = phaseNow();
      const q = await quietReads(o.rigs, () => o.card(), o.batch, 0, o.gapMs);
      const after = phaseNow();
      lost += q.lost;
      denied += q.denied;
      all.push(...q.samples);
      if (before === after && (before === 'copy' || before === 'encrypt')) byPhase[before].push(...q.samples);
    }
  } finally {
    clearInterval(poll);
  }
  const exitCode = await exited;
  marks.done = Date.now();
  let archiveMB: number | null = null;
  try {
    archiveMB = Math.round(statSync(o.out).size / 2 ** 20);
  } catch {
    // not written (stopped, or it failed: the exit code and stderr say)
  }
  rmSync(o.out, { force: true });
  const during = summarize(all);
  return {
    dbMB: Math.round(dbBytes / 2 ** 20),
    archiveMB,
    finished,
    exitCode,
    seconds: Number(((marks.done - t0) / 1000).toFixed(1)),
    copySeconds: marks.copy ? Number((((marks.encrypt ?? marks.done) - marks.copy) / 1000).toFixed(1)) : null,
    encryptSeconds: marks.encrypt ? Number(((marks.done - marks.encrypt) / 1000).toFixed(1)) : null,
    quiet: o.quiet,
    during,
    copy: summarize(byPhase.copy),
    encrypt: summarize(byPhase.encrypt),
    p99OverQuiet: ratio(during.p99, o.quiet.p99),
    lost,
    denied,
    stderr: stderr.slice(-2000),
  };
}
