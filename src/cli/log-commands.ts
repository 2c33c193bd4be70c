// `tobira log`: verify the entry log (on the gateway, against a checkpoint kept off it, or an export
// offline with the public key), export it (CSV for people, JSON Lines for auditors) and print the
// public key. Exit codes: 0 intact, 1 broken, 2 usage.
import type { KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import type { CommanderError } from 'commander';
import { verifyAuditLog } from '../store/audit-log.js';
import { openDatabase, DATABASE_FILE, type Db } from '../store/db.js';
import { parseCheckpointJson, verifyCheckpointSignature, type Checkpoint } from '../store/checkpoints.js';
import { ENTRY_FIELDS, EntryLog, GENESIS_HASH, entryHash, verifyExternalCheckpoint, type EntryFilter, type EntryRecord } from '../store/entry-log.js';
import { verifyEntryLogFile } from '../store/verify-parallel.js';
import { verifySnapshotFiles } from '../store/snapshots.js';
import { loadLogKey, loadPublicKey, logKeyPath, publicKeyPem } from '../store/log-key.js';
import { writeExport } from '../services/entry-export.js';
import { dataDir, UsageError, type CommonFlags } from './options.js';
import { progress } from './progress.js';

const out = (line = '') => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

/** For commander's exitOverride on `log`: its usage errors exit 2 like ours; help exits 0. */
export function usageExit(e: CommanderError): never {
  process.exit(e.exitCode === 0 ? 0 : 2);
}

function openLog(flags: CommonFlags): { db: Db; dir: string } {
  const dir = dataDir(flags);
  if (!existsSync(`${dir}/${DATABASE_FILE}`))
    throw new UsageError(`no entry log in ${dir} (no ${DATABASE_FILE}); give the data directory with --data or TOBIRA_DATA`);
  return { db: openDatabase(dir, { readonly: true }), dir };
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${what} ${file}: ${(e as Error).message}`);
  }
}

function publicKeyFromFile(file: string): KeyObject {
  try {
    return loadPublicKey(readText(file, '--pubkey'));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--pubkey ${file}: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// log verify

export interface LogVerifyFlags extends CommonFlags {
  checkpoint?: string;
  export?: string;
  pubkey?: string;
  audit?: boolean;
  /** Accept a check of the hash chain alone when no key is at hand (says so; never the default). */
  chainOnly?: boolean;
}

/**
 * Without a key nothing binds the chain: anyone holding the database can recompute every hash, so
 * a chain that checks out proves nothing. Deleting the key file with the checkpoints must not turn
 * a rewritten log into "OK": it is a failure unless the caller asked for the chain alone.
 */
function noKey(what: string, dir: string, flags: LogVerifyFlags): boolean {
  if (flags.chainOnly) {
    err(`note: no signing key in ${dir}: only the hash chain is checked (--chain-only); anyone holding the database can recompute it`);
    return false;
  }
  err(
    `${what} NOT VERIFIED: no signing key in ${dir} and no --pubkey: without one, a rewritten chain cannot be told from the original. ` +
      'Give --pubkey FILE.pem (from `tobira log pubkey`, kept off the gateway), or --chain-only to check the chain alone.',
  );
  process.exitCode = 1;
  return true;
}

/** `log verify --audit`: the audit log of admin actions, chain and signed checkpoints. */
function auditVerify(flags: LogVerifyFlags): void {
  if (flags.export || flags.checkpoint) throw new UsageError('--audit checks the audit log in the database; --export and --checkpoint are for the entry log');
  const { db, dir } = openLog(flags);
  try {
    const key = flags.pubkey ? publicKeyFromFile(flags.pubkey) : loadLogKey(dir);
    if (!key && noKey('audit log', dir, flags)) return;
    const result = verifyAuditLog(db, key);
    if (result.ok) {
      out(
        `audit log OK: ${result.records} records, hash chain intact; ${result.checkpoints} checkpoints${key ? ', signatures valid' : ' (chain only: signatures not checked)'}`,
      );
      return;
    }
    err(`audit log BROKEN at record ${result.breakAt!.seq}: ${result.breakAt!.problem} (${result.records} records verified before it)`);
    process.exitCode = 1;
  } finally {
    db.close();
  }
}

export async function logVerify(flags: LogVerifyFlags): Promise<void> {
  if (flags.audit) return auditVerify(flags);
  if (flags.export) {
    if (!flags.pubkey)
      throw new UsageError('log verify --export needs the public key: --pubkey FILE.pem (from `tobira log pubkey`, kept apart from the export)');
    if (flags.checkpoint) throw new UsageError('give --export or --checkpoint, not both');
    const key = publicKeyFromFile(flags.pubkey);
    const result = await verifyExportFile(flags.export, key);
    for (const note of result.notes) err(`note: ${note}`);
    if (result.ok) {
      out(
        `export OK: ${result.records} records, every hash matches its content${result.signed ? `; ${result.signed} of them chained to the signed checkpoint of ${result.checkpoint!.at} (${result.checkpoint!.count} records)` : ''}`,
      );
      return;
    }
    const b = result.breakAt!;
    err(`export BROKEN at line ${b.line}${b.seq !== undefined ? ` (record ${b.seq})` : ''}: ${b.problem} (${result.records} records verified before it)`);
    process.exitCode = 1;
    return;
  }

  let external: { checkpoint: Checkpoint; publicKey?: string } | undefined;
  if (flags.checkpoint) {
    try {
      external = parseCheckpointJson(readText(flags.checkpoint, '--checkpoint'));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(`--checkpoint ${flags.checkpoint}: ${(e as Error).message}`);
    }
  }
  const { db, dir } = openLog(flags);
  try {
    // The key to trust: given apart from the gateway (--pubkey, then the checkpoint kept off it),
    // else the gateway's own (which catches edits by anyone without the key file).
    let key: KeyObject | undefined;
    let keySource = '';
    if (flags.pubkey) {
      key = publicKeyFromFile(flags.pubkey);
      keySource = flags.pubkey;
    } else if (external?.publicKey) {
      try {
        key = loadPublicKey(external.publicKey);
      } catch (e) {
        throw new UsageError(`--checkpoint ${flags.checkpoint}: publicKey: ${(e as Error).message}`);
      }
      keySource = `the checkpoint file ${flags.checkpoint}`;
    } else {
      const own = loadLogKey(dir);
      if (own) {
        key = own;
        keySource = logKeyPath(dir);
      }
    }
    if (external && !key) throw new UsageError(`--checkpoint ${flags.checkpoint} names no public key: give --pubkey FILE.pem`);
    if (key && keySource !== logKeyPath(dir)) {
      const own = loadLogKey(dir);
      if (own && publicKeyPem(own) !== publicKeyPem(key)) err(`note: the signing key in ${dir} is not the one from ${keySource}`);
    }
    if (!key && noKey('entry log', dir, flags)) return;

    // The walk runs in worker threads (one per core), each with its own read-only connection.
    // On a terminal, smaller chunks (same verdict) so the progress line moves.
    const bar = progress('verifying the entry log');
    const result = await verifyEntryLogFile(
      join(dir, DATABASE_FILE),
      key,
      bar.enabled ? { chunkRows: 50_000, onProgress: (done, total) => bar.update(done, total) } : {},
    ).finally(() => bar.end());
    if (!result.ok) {
      err(`entry log BROKEN at record ${result.breakAt!.seq}: ${result.breakAt!.problem} (${result.records} records verified before it)`);
      process.exitCode = 1;
      return;
    }
    // The chain holds each picture's digest: a file swapped under it is a break of the evidence.
    const pictures = verifySnapshotFiles(db, dir);
    if (pictures.problems.length) {
      for (const p of pictures.problems) err(`entry log evidence BROKEN at record ${p.seq} (snapshots/${p.file}): ${p.problem}`);
      process.exitCode = 1;
      return;
    }
    let externalNote = '';
    if (external) {
      const ext = verifyExternalCheckpoint(db, external.checkpoint, key!);
      if (!ext.ok) {
        err(`entry log BROKEN at record ${ext.breakAt!.seq}: ${ext.breakAt!.problem} (the log itself verified ${result.records} records)`);
        process.exitCode = 1;
        return;
      }
      if (ext.note) err(`note: ${ext.note}`);
      externalNote = `; matches the external checkpoint of ${external.checkpoint.at} (${external.checkpoint.count} records)`;
    }
    const first = new EntryLog(db).firstStoredSeq();
    const pruned = first !== null && first > 1 ? ` (records before ${first} pruned)` : '';
    out(
      `entry log OK: ${result.records} records${pruned}, hash chain intact; ${result.checkpoints} checkpoints${key ? ', signatures valid' : ''}${externalNote}${pictures.checked ? `; ${pictures.checked} pictures match their digests` : ''}`,
    );
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Offline verification of a JSON Lines export

export interface ExportVerifyResult {
  ok: boolean;
  /** Record lines whose hash matched their content. */
  records: number;
  /** Records chained, link by link, to the signed checkpoint's head. */
  signed: number;
  checkpoint?: Checkpoint;
  breakAt?: { line: number; seq?: number; problem: string };
  notes: string[];
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks an export line by line: every record's hash against its fields and prevHash, the link
 * between records with consecutive seqs, the order, the trailing checkpoint's signature and, when
 * its count falls inside the export, the hash of the record there. Stops at the first problem.
 */
class ExportVerifier {
  private records = 0;
  private prev?: { seq: number; hash: string; line: number };
  /** The first record after the checkpoint's count (the start of the unsigned tail). */
  private tailStart?: { seq: number; t: number; at: string };
  /** First seq of the run of linked consecutive records ending at `prev`. */
  private runStart = 0;
  private signed = 0;
  private headSeen = false;
  private trailerSeen = false;
  private trailerLine = 0;
  private full = false;
  private checkpoint?: Checkpoint;
  private trailerProblem?: { line: number; problem: string };
  readonly notes: string[] = [];
  private breakAt?: { line: number; seq?: number; problem: string };

  constructor(trailerText: string | undefined, key: KeyObject) {
    if (trailerText === undefined) return;
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(trailerText) as Record<string, unknown>;
    } catch {
      return;
    }
    if (!raw || typeof raw !== 'object' || !('checkpoint' in raw)) return;
    const filter = raw.filter;
    this.full = !!filter && typeof filter === 'object' && Object.keys(filter).length === 0;
    if (raw.checkpoint === null) {
      this.trailerProblem = { line: 0, problem: 'the export carries no checkpoint: nothing signed ties it to the gateway' };
      return;
    }
    try {
      this.checkpoint = parseCheckpointJson(trailerText).checkpoint;
    } catch (e) {
      this.trailerProblem = { line: 0, problem: `the checkpoint line is malformed: ${(e as Error).message}` };
      return;
    }
    if (!verifyCheckpointSignature(this.checkpoint, key)) {
      const named = typeof raw.publicKey === 'string' ? raw.publicKey : undefined;
      const other = named !== undefined && named.trim() !== publicKeyPem(key).trim() ? ' (the export names a different public key)' : '';
      this.trailerProblem = { line: 0, problem: `the checkpoint's signature does not verify with the public key: altered, or not this gateway's${other}` };
      this.checkpoint = undefined;
    }
  }

  get broken(): boolean {
    return this.breakAt !== undefined;
  }

  line(text: string, lineNo: number): void {
    if (this.breakAt) return;
    if (lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') return;
    const fail = (problem: string, seq?: number) => {
      this.breakAt = { line: lineNo, ...(seq !== undefined ? { seq } : {}), problem };
    };
    if (this.trailerSeen) {
      fail('a line after the checkpoint line (the checkpoint must be last)');
      return;
    }
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(text) as Record<string, unknown>;
    } catch {
      fail('not a JSON line');
      return;
    }
    if (!rec || typeof rec !== 'object' || Array.isArray(rec)) {
      fail('not a JSON object');
      return;
    }
    if ('checkpoint' in rec) {
      this.trailerSeen = true;
      this.trailerLine = lineNo;
      if (this.trailerProblem) this.trailerProblem.line = lineNo;
      return;
    }
    for (const f of [...ENTRY_FIELDS, 'prevHash', 'hash'] as const) {
      if (!(f in rec)) {
        fail(`field ${f} is missing`, typeof rec.seq === 'number' ? rec.seq : undefined);
        return;
      }
    }
    const seq = rec.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      fail(`seq ${JSON.stringify(seq)} is not a record number`);
      return;
    }
    const prevHash = rec.prevHash;
    const hash = rec.hash;
    if (typeof prevHash !== 'string' || !HEX64.test(prevHash)) {
      fail('prevHash is not a SHA-256 hash', seq);
      return;
    }
    if (typeof hash !== 'string' || !HEX64.test(hash)) {
      fail('hash is not a SHA-256 hash', seq);
      return;
    }
    const prev = this.prev;
    if (prev && seq <= prev.seq) {
      fail(`record ${seq} comes after record ${prev.seq} (line ${prev.line}): out of order`, seq);
      return;
    }
    if (entryHash(prevHash, rec as unknown as Omit<EntryRecord, 'hash' | 'prevHash'>) !== hash) {
      fail('content does not match its hash (edited)', seq);
      return;
    }
    if (seq === 1 && prevHash !== GENESIS_HASH) {
      fail('record 1 does not start from the genesis hash', seq);
      return;
    }
    const cp = this.checkpoint;
    if (!prev && seq > 1 && this.full) {
      // A whole export of a pruned log starts at the prune anchor, when the checkpoint is that prune's.
      if (cp?.kind === 'prune' && cp.anchorSeq != null) {
        if (seq !== cp.anchorSeq) {
          fail(`the export starts at record ${seq} but the prune checkpoint of ${cp.at} kept every record from ${cp.anchorSeq}`, seq);
          return;
        }
        if (prevHash !== cp.anchorPrevHash) {
          fail(`does not link to the anchor of the prune checkpoint of ${cp.at}`, seq);
          return;
        }
      } else {
        this.notes.push(`the export starts at record ${seq} (earlier records pruned): its link to them is not checked offline`);
      }
    }
    if (prev && seq === prev.seq + 1) {
      if (prevHash !== prev.hash) {
        fail(`does not link to record ${prev.seq} (line ${prev.line})`, seq);
        return;
      }
    } else {
      if (prev && this.full) {
        fail(
          `${seq - prev.seq === 2 ? `record ${prev.seq + 1} is` : `records ${prev.seq + 1}–${seq - 1} are`} missing (between lines ${prev.line} and ${lineNo})`,
          seq,
        );
        return;
      }
      this.runStart = seq;
    }
    if (cp && seq === cp.count) {
      if (hash !== cp.headHash) {
        fail(`hash differs from the signed checkpoint of ${cp.at} (${cp.count} records): rewritten`, seq);
        return;
      }
      this.headSeen = true;
      this.signed = seq - this.runStart + 1;
    }
    // The checkpoint's promise, by seq and record time: an export with an older (still signed)
    // checkpoint in place of the latest has more records after it, or later ones, than it allowed.
    // Sound for a filtered export too: its records are a subset of the log's.
    if (cp && cp.ordinal != null && seq > cp.count) {
      if (cp.nextWithin != null && seq - cp.count > cp.nextWithin) {
        fail(
          `record ${seq} is more than ${cp.nextWithin} records after the checkpoint of ${cp.at} (#${cp.ordinal}), which allowed at most that before the next: not the latest checkpoint, and the records after it may have been rewritten`,
          seq,
        );
        return;
      }
      const t = typeof rec.at === 'string' ? Date.parse(rec.at) : NaN;
      if (Number.isFinite(t)) {
        this.tailStart ??= { seq, t, at: rec.at as string };
        if (cp.nextWithinSeconds != null && t - this.tailStart.t > cp.nextWithinSeconds * 1000) {
          fail(
            `record ${seq} (${rec.at as string}) is more than ${cp.nextWithinSeconds} s after record ${this.tailStart.seq} (${this.tailStart.at}), the first after the checkpoint of ${cp.at} (#${cp.ordinal}), which allowed at most that before the next: not the latest checkpoint, and the records after it may have been rewritten`,
            seq,
          );
          return;
        }
      }
    }
    this.prev = { seq, hash, line: lineNo };
    this.records++;
  }

  finish(lastLine: number): ExportVerifyResult {
    const base = { records: this.records, signed: this.signed, notes: this.notes, ...(this.checkpoint ? { checkpoint: this.checkpoint } : {}) };
    if (this.breakAt) return { ok: false, ...base, breakAt: this.breakAt };
    if (!this.trailerSeen) {
      return {
        ok: false,
        ...base,
        breakAt: { line: lastLine + 1, problem: 'the export does not end with its checkpoint line: cut short, or not a tobira export' },
      };
    }
    if (this.trailerProblem) return { ok: false, ...base, breakAt: { line: this.trailerProblem.line, problem: this.trailerProblem.problem } };
    const cp = this.checkpoint!;
    if (!this.headSeen && this.prev) {
      if (this.full && cp.count > this.prev.seq) {
        return {
          ok: false,
          ...base,
          breakAt: {
            line: this.trailerLine,
            seq: this.prev.seq + 1,
            problem: `truncated: the checkpoint of ${cp.at} covers ${cp.count} records, the export ends at record ${this.prev.seq}`,
          },
        };
      }
      this.notes.push(`the checkpoint's head, record ${cp.count}, is not in this export: only its signature was checked`);
    }
    if (this.prev && this.prev.seq > cp.count) this.notes.push(`records after ${cp.count} are newer than the checkpoint: chained and hashed, not yet signed`);
    return { ok: true, ...base };
  }
}

/** Verifies an export given as text (tests, small files). */
export function verifyExportText(text: string, publicKey: KeyObject): ExportVerifyResult {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  let last = lines.length;
  while (last > 0 && lines[last - 1]!.trim() === '') last--;
  const v = new ExportVerifier(last > 0 ? stripBom(lines[last - 1]!) : undefined, publicKey);
  for (let i = 0; i < last && !v.broken; i++) v.line(lines[i]!, i + 1);
  return v.finish(last);
}

/** Verifies an export file, streaming it (the checkpoint line is read first from the file's end). */
export async function verifyExportFile(file: string, publicKey: KeyObject): Promise<ExportVerifyResult> {
  let trailer: string | undefined;
  try {
    trailer = lastLine(file);
  } catch (e) {
    throw new UsageError(`--export ${file}: ${(e as Error).message}`);
  }
  const v = new ExportVerifier(trailer === undefined ? undefined : stripBom(trailer), publicKey);
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  let lastNonEmpty = 0;
  for await (const line of rl) {
    n++;
    if (line.trim() !== '') lastNonEmpty = n;
    v.line(line, n);
    if (v.broken) {
      rl.close();
      break;
    }
  }
  return v.finish(lastNonEmpty);
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/** The last non-empty line of a file, read from its end. */
function lastLine(file: string): string | undefined {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    let chunk = 64 * 1024;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const text = buf.toString('utf8').replace(/[\r\n]+$/, '');
      const nl = text.lastIndexOf('\n');
      if (nl >= 0 || start === 0) return text.length ? text.slice(nl + 1).replace(/\r$/, '') : undefined;
      chunk *= 4;
    }
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// log export

export interface LogExportFlags extends CommonFlags {
  format?: string;
  lang?: string;
  area?: string;
  door?: string;
  person?: string;
  decision?: string;
  reason?: string;
  from?: string;
  to?: string;
  out?: string;
}

function streamWriter(stream: Writable): (chunk: string) => Promise<void> {
  return async (chunk) => {
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
}

export async function logExport(flags: LogExportFlags): Promise<void> {
  const format = flags.format;
  if (format !== 'csv' && format !== 'jsonl') throw new UsageError(`--format ${format ?? '(missing)'}: give --format csv or --format jsonl`);
  const lang = flags.lang ?? 'en';
  if (lang !== 'en' && lang !== 'ja') throw new UsageError(`--lang ${lang}: give en or ja`);
  for (const [name, value] of [
    ['--from', flags.from],
    ['--to', flags.to],
  ] as const) {
    if (value !== undefined && !Number.isFinite(Date.parse(value)))
      throw new UsageError(`${name} "${value}" is not an ISO date or time (e.g. 2026-11-01 or 2026-11-01T09:00+09:00)`);
  }
  if (flags.decision !== undefined && flags.decision !== 'granted' && flags.decision !== 'denied')
    throw new UsageError(`--decision ${flags.decision}: give granted or denied`);
  const filter: EntryFilter = {
    areaId: flags.area,
    doorId: flags.door,
    personId: flags.person,
    decision: flags.decision,
    reason: flags.reason,
    from: flags.from,
    to: flags.to,
  };
  const { db, dir } = openLog(flags);
  try {
    const key = loadLogKey(dir);
    const stream: Writable = flags.out ? createWriteStream(flags.out) : process.stdout;
    if (flags.out) {
      await new Promise<void>((resolve, reject) => {
        stream.once('open', () => resolve());
        stream.once('error', (e) => reject(new UsageError(`--out ${flags.out}: ${e.message}`)));
      });
    }
    // Progress by the lines written (a CSV row ends in CRLF); the total is known only without a filter.
    const log = new EntryLog(db);
    const whole = Object.values(filter).every((v) => v === undefined);
    const first = whole ? log.firstStoredSeq() : null;
    const bar = progress(`exporting ${format}`, whole ? { total: first === null ? 0 : log.count - first + 1 } : {});
    const write = streamWriter(stream);
    const rowEnd = format === 'csv' ? '\r\n' : '\n';
    let lines = format === 'csv' ? -1 : 0;
    const n = await writeExport(db, { format, lang, filter, publicKey: key ? publicKeyPem(key) : null }, (chunk) => {
      if (bar.enabled) {
        for (let i = chunk.indexOf(rowEnd); i >= 0; i = chunk.indexOf(rowEnd, i + rowEnd.length)) lines++;
        bar.update(Math.max(0, lines));
      }
      return write(chunk);
    })
      .then((count) => {
        bar.update(count);
        return count;
      })
      .finally(() => bar.end());
    if (flags.out) {
      await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
      err(`wrote ${n} records to ${flags.out}`);
    }
    if (!key && format === 'jsonl') err(`note: no signing key in ${dir}: the export names no public key`);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// log pubkey

export function logPubkey(flags: CommonFlags): void {
  const dir = dataDir(flags);
  const key = loadLogKey(dir);
  if (!key) throw new UsageError(`no signing key in ${dir} yet: the controller creates ${logKeyPath(dir)} when it first starts`);
  process.stdout.write(publicKeyPem(key));
}
