// `tobira backup` and `tobira restore` (docs/backup.md). The backup runs beside a live daemon: it
// reads the database through a snapshot of its own (the daemon holds no lock that stops it, and
// its doors keep deciding). Exit codes: 0 done, 1 the backup failed or the archive was refused,
// 2 usage (a non-empty --data without --force, no passphrase).
import { existsSync, readdirSync, readFileSync, rmSync, accessSync, constants as fsConstants, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Command } from 'commander';
import Database from 'better-sqlite3';
import {
  BackupError,
  installBackup,
  parseIdentityFile,
  unpackBackup,
  writeBackup,
  type BackupKey,
  type BackupProgress,
  type RestoreKey,
} from '../store/backup.js';
import { DATABASE_FILE } from '../store/db.js';
import { loadLogKey, loadPublicKey } from '../store/log-key.js';
import { verifyAuditLogFile, verifyEntryLogFile } from '../store/verify-parallel.js';
import { verifySnapshotFiles } from '../store/snapshots.js';
import { verifyExternalCheckpoint } from '../store/entry-log.js';
import { parseCheckpointJson } from '../store/checkpoints.js';
import { dataDir, sitePath, UsageError, type CommonFlags } from './options.js';
import { progress } from './progress.js';

const out = (line = '') => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

export const PASSPHRASE_ENV = 'TOBIRA_BACKUP_PASSPHRASE';

// ---------------------------------------------------------------------------------------------
// Progress on a terminal

function human(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(1)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(0)} KiB`;
  return `${bytes} B`;
}

const PHASE_NAME: Record<BackupProgress['phase'], string> = {
  database: 'copying the database',
  archive: 'archiving and encrypting',
  restore: 'decrypting and unpacking',
};

/** The shared progress line (progress.ts: stderr, only on a terminal), one phase after another. */
function backupProgress(): { update: (p: BackupProgress) => void; end: () => void } {
  const line = progress(PHASE_NAME.database);
  let phase: BackupProgress['phase'] | undefined;
  return {
    update: (p) => {
      if (p.phase !== phase) {
        phase = p.phase;
        line.phase(PHASE_NAME[p.phase], { total: p.total, unit: p.unit });
      }
      line.update(p.done, p.total);
    },
    end: () => line.end(),
  };
}

// ---------------------------------------------------------------------------------------------
// The passphrase

/** Reads a line from the terminal without echoing it. */
function askHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  let text = '';
  return new Promise((resolvePromise, reject) => {
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolvePromise(text);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          reject(new UsageError('no passphrase given'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function passphrase(confirm: boolean): Promise<string> {
  const fromEnv = process.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!process.stdin.isTTY || !process.stderr.isTTY)
    throw new UsageError(`no passphrase: set ${PASSPHRASE_ENV}, run at a terminal to be asked, or encrypt to an age public key with --recipient age1…`);
  const first = await askHidden('backup passphrase: ');
  if (!first) throw new UsageError('an empty passphrase encrypts nothing');
  if (confirm && (await askHidden('again: ')) !== first) throw new UsageError('the two passphrases differ');
  return first;
}

// ---------------------------------------------------------------------------------------------
// tobira backup

export interface BackupFlags extends CommonFlags {
  out: string;
  recipient?: string[];
}

export async function backupCommand(flags: BackupFlags): Promise<void> {
  const dir = dataDir(flags);
  const database = join(dir, DATABASE_FILE);
  if (!existsSync(database)) throw new UsageError(`no database in ${dir} (no ${DATABASE_FILE}); give the data directory with --data or TOBIRA_DATA`);
  const site = sitePath(flags);
  if (!existsSync(site)) throw new UsageError(`no site file at ${site}; give it with --site or TOBIRA_SITE`);
  const outFile = resolve(flags.out);
  if (!existsSync(dirname(outFile))) throw new UsageError(`--out ${flags.out}: the directory ${dirname(outFile)} does not exist`);
  for (const r of flags.recipient ?? []) if (!/^age1[0-9a-z]+$/.test(r)) throw new UsageError(`--recipient ${r}: not an age public key (age1…)`);
  const key: BackupKey = flags.recipient?.length ? { recipients: flags.recipient } : { passphrase: await passphrase(true) };
  const bar = backupProgress();
  let result: Awaited<ReturnType<typeof writeBackup>>;
  try {
    result = await writeBackup({ database, dataDir: dir, siteFile: site, out: outFile, key, onProgress: bar.update });
  } catch (e) {
    bar.end();
    if (e instanceof BackupError) {
      err(`tobira: backup failed: ${e.message}`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
  bar.end();
  const m = result.manifest;
  out(
    `wrote ${outFile} (${human(result.archive.bytes)}, sha256 ${result.archive.sha256}), encrypted ${'passphrase' in key ? 'with the passphrase' : `to ${key.recipients.length} age recipient${key.recipients.length > 1 ? 's' : ''}`}`,
  );
  out(
    `  ${m.files.length} files with their SHA-256 in manifest.json; entry log ${m.entryLog.records} records, audit log ${m.auditLog.records} records; site file ${m.site?.source ?? 'none'}`,
  );
  out('  keep the passphrase or the age identity off this gateway: the archive holds every key it has');
}

// ---------------------------------------------------------------------------------------------
// tobira restore

export interface RestoreFlags {
  data?: string;
  force?: boolean;
  identity?: string;
  siteOut?: string;
  checkpoint?: string;
  pubkey?: string;
}

function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Verifies the restored logs as `tobira log verify` (and `--audit`) do; returns the lines to print, or throws BackupError. */
async function verifyRestored(dir: string, flags: RestoreFlags): Promise<string[]> {
  const lines: string[] = [];
  let key: KeyObject | undefined;
  if (flags.pubkey) key = loadPublicKey(readFileSync(flags.pubkey, 'utf8'));
  else key = loadLogKey(dir);
  if (!key) lines.push('note: the backup holds no signing key: only the hash chains were checked');
  const file = join(dir, DATABASE_FILE);
  const entries = await verifyEntryLogFile(file, key);
  if (!entries.ok) throw new BackupError(`the restored entry log is BROKEN at record ${entries.breakAt!.seq}: ${entries.breakAt!.problem}`);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const pictures = verifySnapshotFiles(db, dir);
    if (pictures.problems.length) {
      const p = pictures.problems[0]!;
      throw new BackupError(`the restored entry log's evidence is BROKEN at record ${p.seq} (snapshots/${p.file}): ${p.problem}`);
    }
    let external = '';
    if (flags.checkpoint) {
      const { checkpoint, publicKey } = parseCheckpointJson(readFileSync(flags.checkpoint, 'utf8'));
      const cpKey = key ?? (publicKey ? loadPublicKey(publicKey) : undefined);
      if (!cpKey) throw new UsageError(`--checkpoint ${flags.checkpoint} names no public key: give --pubkey FILE.pem`);
      const ext = verifyExternalCheckpoint(db, checkpoint, cpKey);
      if (!ext.ok)
        throw new BackupError(`the restored entry log does not match the checkpoint of ${checkpoint.at}: record ${ext.breakAt!.seq}: ${ext.breakAt!.problem}`);
      if (ext.note) lines.push(`note: ${ext.note}`);
      external = `; matches the checkpoint of ${checkpoint.at} (${checkpoint.count} records)`;
    }
    lines.push(
      `entry log OK: ${entries.records} records, hash chain intact; ${entries.checkpoints} checkpoints${key ? ', signatures valid' : ''}${pictures.checked ? `; ${pictures.checked} pictures match their digests` : ''}${external}`,
    );
  } finally {
    db.close();
  }
  const audit = await verifyAuditLogFile(file, key);
  if (!audit.ok) throw new BackupError(`the restored audit log is BROKEN at record ${audit.breakAt!.seq}: ${audit.breakAt!.problem}`);
  lines.push(`audit log OK: ${audit.records} records, hash chain intact; ${audit.checkpoints} checkpoints${key ? ', signatures valid' : ''}`);
  return lines;
}

export async function restoreCommand(file: string, flags: RestoreFlags): Promise<void> {
  if (!flags.data) throw new UsageError('give the directory to restore into: --data DIR');
  const dir = resolve(flags.data);
  if (!isEmptyDir(dir) && !flags.force)
    throw new UsageError(`${dir} is not empty: restore into an empty or new directory, or give --force to replace what is there`);
  const archive = resolve(file);
  if (!existsSync(archive)) throw new UsageError(`${file}: no such file`);
  let key: RestoreKey;
  if (flags.identity) {
    let text: string;
    try {
      text = readFileSync(flags.identity, 'utf8');
    } catch (e) {
      throw new UsageError(`--identity ${flags.identity}: ${(e as Error).message}`);
    }
    const identities = parseIdentityFile(text);
    if (!identities.length) throw new UsageError(`--identity ${flags.identity}: no AGE-SECRET-KEY-1… line in it`);
    key = { identities };
  } else key = { passphrase: await passphrase(false) };

  // Unpacked and checked beside the target (same file system: the files are then renamed into
  // place), or, when its parent is not ours to write (a service's state directory), inside it in a
  // hidden folder: either way gone again if anything is refused.
  const parent = dirname(dir);
  if (!existsSync(parent)) mkdirSync(parent, { recursive: true });
  const tag = randomBytes(4).toString('hex');
  const staging = writable(parent) ? join(parent, `.${basename(dir)}.restore-${tag}`) : join(dir, `.restore-${tag}`);
  const bar = backupProgress();
  try {
    const manifest = await unpackBackup(archive, key, staging, bar.update);
    bar.end();
    const lines = await verifyRestored(join(staging, 'data'), flags);
    if (flags.force && existsSync(dir)) {
      for (const entry of readdirSync(dir)) if (join(dir, entry) !== staging) rmSync(join(dir, entry), { recursive: true, force: true });
    }
    const { siteFile } = installBackup(staging, manifest, dir, flags.siteOut ? resolve(flags.siteOut) : undefined);
    out(
      `restored ${manifest.files.length} files from the backup of ${manifest.createdAt} (${manifest.host}) into ${dir}: entry log ${manifest.entryLog.records} records, audit log ${manifest.auditLog.records} records`,
    );
    for (const line of lines) out(`  ${line}`);
    if (siteFile) out(`  site file: ${siteFile} (was ${manifest.site?.source ?? 'unknown'})`);
    out(`done: start it with tobira start --data ${dir}${siteFile ? ` --site ${siteFile}` : ''}`);
  } catch (e) {
    bar.end();
    if (e instanceof BackupError) {
      err(`tobira: restore refused: ${e.message}; nothing was written to ${dir}`);
      process.exitCode = 1;
      return;
    }
    throw e;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Registration (main.ts)

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerBackupCommands(program: Command, common: (cmd: Command) => Command): void {
  common(program.command('backup').description('write an encrypted backup of the data directory and the site file, while the daemon runs (docs/backup.md)'))
    .requiredOption('--out <file>', 'the archive to write (mode 0600)')
    .option(
      '--recipient <age1…>',
      `encrypt to this age public key instead of a passphrase (repeatable); the passphrase otherwise comes from ${PASSPHRASE_ENV} or the terminal`,
      collect,
    )
    .action(backupCommand);
  program
    .command('restore <file>')
    .description('check an archive whole, restore it into a data directory and verify its entry and audit logs (docs/backup.md)')
    .option('--data <dir>', 'the data directory to restore into (empty or new)')
    .option('--force', 'restore into a directory that is not empty, replacing everything in it')
    .option('--identity <file>', 'an age identity file (AGE-SECRET-KEY-1…) for an archive encrypted to a recipient')
    .option('--site-out <file>', 'where to write the site file (default: in the data directory, under its own name)')
    .option('--checkpoint <file>', 'also check the restored entry log against a checkpoint published before the backup (JSON)')
    .option('--pubkey <file>', "the log's public key (PEM) to check signatures with, instead of the key in the backup")
    .action(restoreCommand);
}
