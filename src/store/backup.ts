// Backups of a data directory: the database copied online (SQLite's backup API on a connection of
// its own that holds one read snapshot, so a daemon writing meanwhile neither waits nor restarts the
// copy), the device secrets, keys, certificates and pictures beside it, and the site file, in one
// POSIX tar (ustar, written here: `age -d FILE | tar t` lists it) ending with manifest.json (each
// file's size and SHA-256), encrypted with age (a passphrase, scrypt; or age recipients).
// Restoring decrypts into a staging directory, checks every digest against the manifest and only
// then hands the files over: a tampered, truncated or wrongly keyed archive leaves nothing behind.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  createReadStream,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { Decrypter, Encrypter } from 'age-encryption';
import { DATABASE_FILE } from './db.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './file-modes.js';

export const BACKUP_FORMAT = 'tobira-backup';
export const BACKUP_VERSION = 1;
export const MANIFEST_NAME = 'manifest.json';
/** Inside the archive: the data directory's files under data/, the site file under site/. */
const DATA_PREFIX = 'data/';
const SITE_PREFIX = 'site/';

/** A backup that cannot be made or an archive that is refused: the message says which file and why. */
export class BackupError extends Error {}

export interface BackupFileEntry {
  /** Path inside the archive (data/… or site/…). */
  path: string;
  size: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_VERSION;
  createdAt: string;
  host: string;
  /** Where the data came from (information only: a restore goes where it is told). */
  dataDir: string;
  /** The site file: its original path and its path in the archive; null when none was included. */
  site: { source: string; path: string } | null;
  /** The entry log's head in the copy: a restored gateway continues from the record after it. */
  entryLog: { records: number; headHash: string | null };
  auditLog: { records: number };
  files: BackupFileEntry[];
}

/** A passphrase (age's scrypt recipient) or age public keys (age1…). */
export type BackupKey = { passphrase: string } | { recipients: string[] };
/** What opens an archive: its passphrase, or age identities (AGE-SECRET-KEY-1…). */
export type RestoreKey = { passphrase: string } | { identities: string[] };

export interface BackupProgress {
  phase: 'database' | 'archive' | 'restore';
  done: number;
  total: number;
  unit: 'pages' | 'bytes';
}

export interface BackupOptions {
  /** The live database file (tobira.db) to copy online. */
  database: string;
  dataDir: string;
  /** The site file to include (it may also sit inside the data directory: then it is there once). */
  siteFile?: string;
  out: string;
  key: BackupKey;
  /** Absolute paths under the data directory left out (a backups directory kept inside it). */
  exclude?: string[];
  /** Pages copied per step of the backup API (default 1,000: 4 MB). */
  pagesPerStep?: number;
  onProgress?: (p: BackupProgress) => void;
}

export interface BackupResult {
  manifest: BackupManifest;
  /** SHA-256 and size of the encrypted archive as written, and as read back from disk after. */
  archive: { sha256: string; bytes: number };
}

// ---------------------------------------------------------------------------------------------
// The database, copied online

/**
 * Copies the database with SQLite's online backup API on a read-only connection of its own that
 * holds one read transaction for the whole copy: in WAL mode the writer goes on committing (into the
 * WAL) while the copy reads the snapshot, and the copy is that snapshot, whole. Without the held
 * snapshot, every commit by another connection restarts the backup from the first page (a busy
 * gateway's never finishes). The WAL grows meanwhile: checkpoints cannot pass a snapshot still read.
 * Then `PRAGMA quick_check` on the copy.
 */
export async function copyDatabaseSnapshot(
  source: string,
  dest: string,
  opts: { pagesPerStep?: number; onProgress?: (p: BackupProgress) => void } = {},
): Promise<{ pages: number; bytes: number }> {
  if (!existsSync(source)) throw new BackupError(`no database at ${source}`);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  let pages = 0;
  try {
    db.pragma('busy_timeout = 5000');
    db.exec('BEGIN');
    db.prepare('SELECT count(*) FROM sqlite_master').get(); // the read transaction starts here
    const step = opts.pagesPerStep ?? 1000;
    await db.backup(dest, {
      progress: ({ totalPages, remainingPages }) => {
        pages = totalPages;
        opts.onProgress?.({ phase: 'database', done: totalPages - remainingPages, total: totalPages, unit: 'pages' });
        return step;
      },
    });
    db.exec('COMMIT');
  } finally {
    db.close();
  }
  chmodSync(dest, PRIVATE_FILE_MODE);
  const copy = new Database(dest, { fileMustExist: true });
  try {
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`the database copy fails SQLite's quick_check: ${String(check)}`);
    // The copy stands alone: no WAL beside it.
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
  return { pages, bytes: statSync(dest).size };
}

function logHeads(dbFile: string): Pick<BackupManifest, 'entryLog' | 'auditLog'> {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const head = db.prepare('SELECT seq, hash FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    const audit = db.prepare('SELECT max(seq) FROM audit_log').pluck(true).get() as number | null;
    return { entryLog: { records: head?.seq ?? 0, headHash: head?.hash ?? null }, auditLog: { records: audit ?? 0 } };
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// ustar

const BLOCK = 512;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function tarHeader(name: string, size: number, mode: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  let prefix = '';
  let short = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new BackupError(`${name}: path too long for the archive`);
    prefix = name.slice(0, cut);
    short = name.slice(cut + 1);
  }
  h.write(short, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  if (size < 8 ** 11) h.write(octal(size, 12), 124, 'ascii');
  else {
    // GNU base-256 for 8 GiB and more (GNU tar and bsdtar read it).
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

interface TarEntryHeader {
  name: string;
  size: number;
  type: string;
}

function parseTarHeader(h: Buffer): TarEntryHeader | null {
  if (h.every((b) => b === 0)) return null;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  const field = (at: number, len: number) =>
    h
      .subarray(at, at + len)
      .toString('utf8')
      .replace(/\0.*$/s, '');
  const stored = Number.parseInt(field(148, 8).trim(), 8);
  if (stored !== sum) throw new BackupError('the archive is corrupted: a tar header fails its checksum');
  let size: number;
  if (h[124]! & 0x80) {
    let v = 0n;
    for (let i = 125; i < 136; i++) v = (v << 8n) | BigInt(h[i]!);
    size = Number(v);
  } else size = Number.parseInt(field(124, 12).trim() || '0', 8);
  const prefix = field(345, 155);
  const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
  return { name, size, type: field(156, 1) || '0' };
}

// ---------------------------------------------------------------------------------------------
// Writing

interface SourceFile {
  path: string;
  file: string;
  size: number;
  mode: number;
  mtime: number;
}

/** The data directory's regular files (subfolders too), but the live database and its WAL, temporaries and exclusions. */
function dataFiles(dataDir: string, exclude: string[]): SourceFile[] {
  const skip = new Set([DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, `${DATABASE_FILE}-journal`]);
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = join(dir, entry.name);
      if (exclude.some((x) => file === x || file.startsWith(`${x}${sep}`))) continue;
      const rel = relative(dataDir, file).split(sep).join('/');
      if (dir === dataDir && skip.has(entry.name)) continue;
      if (/\.tmp$|\.backup-tmp/.test(entry.name)) continue;
      if (entry.isDirectory()) walk(file);
      else if (entry.isFile()) {
        const st = lstatSync(file);
        out.push({ path: `${DATA_PREFIX}${rel}`, file, size: st.size, mode: st.mode & 0o777, mtime: Math.floor(st.mtimeMs / 1000) });
      }
    }
  };
  walk(dataDir);
  return out;
}

async function* tarStream(files: SourceFile[], manifest: (entries: BackupFileEntry[]) => Buffer, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  const entries: BackupFileEntry[] = [];
  for (const f of files) {
    yield tarHeader(f.path, f.size, f.mode, f.mtime);
    const hash = createHash('sha256');
    let n = 0;
    if (f.size > 0) {
      for await (const chunk of createReadStream(f.file, { start: 0, end: f.size - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        n += chunk.length;
        onBytes(chunk.length);
        yield chunk;
      }
    }
    if (n !== f.size) throw new BackupError(`${f.file} changed size while it was being archived (${f.size} → ${n} bytes): run the backup again`);
    const pad = (BLOCK - (f.size % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
    entries.push({ path: f.path, size: f.size, sha256: hash.digest('hex') });
  }
  const body = manifest(entries);
  yield tarHeader(MANIFEST_NAME, body.length, 0o600, Math.floor(Date.now() / 1000));
  yield body;
  const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
  if (pad) yield Buffer.alloc(pad);
  yield Buffer.alloc(BLOCK * 2);
}

// age's payload (age-encryption.org/v1: ChaCha20-Poly1305 over 64 KiB chunks, each nonce an
// 11-byte counter and a last-chunk flag, the key HKDF-SHA256(file key, the file's 16-byte nonce,
// "payload")), sealed and opened with Node's native cipher. age-encryption writes and reads the
// header (stanzas, scrypt, X25519, the MAC); its own payload cipher is JavaScript, about 17 MB/s
// here: a 6 GB database would take six minutes of a gateway's CPU, natively well under one.
const CHUNK = 64 * 1024;
const TAG = 16;
const NONCE = 16;

function chunkNonce(counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(counter, 5, 6);
  n[11] = last ? 1 : 0;
  return n;
}

function sealChunk(key: Buffer, counter: number, last: boolean, plain: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function openChunk(key: Buffer, counter: number, last: boolean, sealed: Buffer): Buffer {
  if (sealed.length < TAG) throw new BackupError('the archive ends early: truncated');
  const d = createDecipheriv('chacha20-poly1305', key, chunkNonce(counter, last), { authTagLength: TAG });
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
}

const payloadKey = (fileKey: Uint8Array, nonce: Uint8Array) => Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));

/**
 * A new age file's header and nonce, and its payload key. The library makes the header (encrypting
 * nothing); the file key comes from a recipient of ours that only looks at it (no stanza), or, for a
 * passphrase, from opening the header again with it (a second scrypt: seconds, once per backup).
 */
async function ageHead(key: BackupKey): Promise<{ head: Buffer; streamKey: Buffer }> {
  const e = new Encrypter();
  let fileKey: Uint8Array | undefined;
  if ('passphrase' in key) {
    if (!key.passphrase) throw new BackupError('an empty passphrase encrypts nothing');
    e.setPassphrase(key.passphrase);
  } else {
    if (!key.recipients.length) throw new BackupError('no age recipient given');
    e.addRecipient({
      wrapFileKey: (k: Uint8Array) => {
        fileKey = k;
        return [];
      },
    });
    for (const r of key.recipients) {
      if (!/^age1[0-9a-z]+$/.test(r)) throw new BackupError(`"${r}" is not an age public key (age1…)`);
      e.addRecipient(r);
    }
  }
  const empty = Buffer.from(await e.encrypt(new Uint8Array(0)));
  const head = empty.subarray(0, empty.length - TAG);
  const header = head.subarray(0, head.length - NONCE);
  if ('passphrase' in key) {
    const d = new Decrypter();
    d.addPassphrase(key.passphrase);
    fileKey = await d.decryptHeader(header);
  }
  return { head: Buffer.from(head), streamKey: payloadKey(fileKey!, head.subarray(head.length - NONCE)) };
}

/** Encrypts a stream of bytes into an age file, chunk by chunk. */
async function* ageSeal(plain: AsyncIterable<Uint8Array>, key: BackupKey): AsyncGenerator<Buffer> {
  const { head, streamKey } = await ageHead(key);
  yield head;
  let pending = Buffer.alloc(0);
  let counter = 0;
  for await (const c of plain) {
    pending = pending.length ? Buffer.concat([pending, c]) : Buffer.from(c);
    // Strictly more than a chunk: the last one (full or not) carries the flag.
    while (pending.length > CHUNK) {
      yield sealChunk(streamKey, counter++, false, pending.subarray(0, CHUNK));
      pending = pending.subarray(CHUNK);
    }
  }
  yield sealChunk(streamKey, counter, true, pending);
}

/** Decrypts an age file: the header by the library (key, MAC), then the chunks, each authenticated, the last flagged. */
async function* ageOpen(source: AsyncIterable<Uint8Array>, key: RestoreKey): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let buf = Buffer.alloc(0);
  const more = async (): Promise<boolean> => {
    const r = await it.next();
    if (r.done) return false;
    buf = buf.length ? Buffer.concat([buf, r.value]) : Buffer.from(r.value);
    return true;
  };
  let headerEnd = -1;
  for (;;) {
    const mac = buf.indexOf('\n--- ');
    const nl = mac >= 0 ? buf.indexOf('\n', mac + 1) : -1;
    if (nl >= 0) {
      headerEnd = nl + 1;
      break;
    }
    if (buf.length > 1 << 20 || !(await more())) throw new BackupError('not an age file (no header), or cut short in its header');
  }
  if (!buf.subarray(0, 22).equals(Buffer.from('age-encryption.org/v1\n'))) throw new BackupError('not an age file: not a tobira backup');
  const fileKey = await decrypter(key).decryptHeader(buf.subarray(0, headerEnd));
  buf = buf.subarray(headerEnd);
  while (buf.length < NONCE) if (!(await more())) throw new BackupError('the archive ends early: truncated');
  const streamKey = payloadKey(fileKey, buf.subarray(0, NONCE));
  buf = buf.subarray(NONCE);
  const sealed = CHUNK + TAG;
  for (let counter = 0; ; counter++) {
    // More than a sealed chunk at hand, or the end: only then is it known whether this one is the last.
    while (buf.length <= sealed && (await more()));
    if (buf.length > sealed) {
      yield openChunk(streamKey, counter, false, buf.subarray(0, sealed));
      buf = buf.subarray(sealed);
      continue;
    }
    const last = openChunk(streamKey, counter, true, buf);
    if (last.length === 0 && counter > 0) throw new BackupError('the archive ends with an empty chunk: altered');
    yield last;
    return;
  }
}

/** SHA-256 and size of a file read back from disk. */
export async function fileDigest(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Writes an encrypted backup to `out` (mode 0600; written to a temporary file beside it, flushed,
 * then renamed: a crash leaves no half archive under the name). Verified before it returns: the
 * database copy passes quick_check, each file's digest is taken as it goes into the archive, and the
 * archive is read back from disk and must match the digest and size of what was encrypted.
 */
export async function writeBackup(opts: BackupOptions): Promise<BackupResult> {
  const out = resolve(opts.out);
  const dataDir = resolve(opts.dataDir);
  const outDir = dirname(out);
  if (!existsSync(outDir)) throw new BackupError(`${outDir}: no such directory`);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const dbCopy = join(outDir, `.${basename(out)}.db.backup-tmp-${tag}`);
  const tmpOut = join(outDir, `.${basename(out)}.backup-tmp-${tag}`);
  if ('recipients' in opts.key)
    for (const r of opts.key.recipients) if (!/^age1[0-9a-z]+$/.test(r)) throw new BackupError(`"${r}" is not an age public key (age1…)`);
  try {
    await copyDatabaseSnapshot(opts.database, dbCopy, { pagesPerStep: opts.pagesPerStep, onProgress: opts.onProgress });
    const heads = logHeads(dbCopy);
    const dbStat = statSync(dbCopy);
    const files: SourceFile[] = [
      { path: `${DATA_PREFIX}${DATABASE_FILE}`, file: dbCopy, size: dbStat.size, mode: PRIVATE_FILE_MODE, mtime: Math.floor(Date.now() / 1000) },
      ...dataFiles(dataDir, [out, ...(opts.exclude ?? []).map((x) => resolve(x))]),
    ];
    let site: BackupManifest['site'] = null;
    if (opts.siteFile) {
      const siteFile = resolve(opts.siteFile);
      const inData = files.find((f) => f.file === siteFile);
      if (inData) site = { source: siteFile, path: inData.path };
      else {
        const st = statSync(siteFile);
        const path = `${SITE_PREFIX}${basename(siteFile)}`;
        files.push({ path, file: siteFile, size: st.size, mode: 0o600, mtime: Math.floor(st.mtimeMs / 1000) });
        site = { source: siteFile, path };
      }
    }
    const total = files.reduce((n, f) => n + f.size, 0);
    let done = 0;
    let manifest: BackupManifest | undefined;
    const plain = tarStream(
      files,
      (entries) => {
        manifest = {
          format: BACKUP_FORMAT,
          version: BACKUP_VERSION,
          createdAt: new Date().toISOString(),
          host: hostname(),
          dataDir,
          site,
          ...heads,
          files: entries,
        };
        return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      },
      (n) => {
        done += n;
        opts.onProgress?.({ phase: 'archive', done, total, unit: 'bytes' });
      },
    );
    const cipher = ageSeal(plain, opts.key);
    const fd = openSync(tmpOut, 'w', PRIVATE_FILE_MODE);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of cipher) {
        hash.update(chunk);
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
        bytes += chunk.length;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const written = { sha256: hash.digest('hex'), bytes };
    const readBack = await fileDigest(tmpOut);
    if (readBack.sha256 !== written.sha256 || readBack.bytes !== written.bytes) {
      throw new BackupError(
        `${out}: the archive read back from disk differs from what was written (${readBack.bytes} of ${written.bytes} bytes; digest ${readBack.sha256 === written.sha256 ? 'matches' : 'differs'})`,
      );
    }
    renameSync(tmpOut, out);
    chmodSync(out, PRIVATE_FILE_MODE);
    fsyncDir(outDir);
    return { manifest: manifest!, archive: written };
  } finally {
    rmSync(dbCopy, { force: true });
    rmSync(`${dbCopy}-journal`, { force: true });
    rmSync(tmpOut, { force: true });
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse to open a directory for fsync; the rename is still atomic.
  }
}

// ---------------------------------------------------------------------------------------------
// Writing in a worker thread (the daemon's scheduled backups: digests and encryption are CPU work)

/**
 * The compiled worker script, or undefined when there is none fresh (running from the TypeScript
 * sources without a build): then the backup runs in this thread.
 */
export function backupWorkerScript(): URL | undefined {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.js')) return new URL('./backup-worker.js', here);
  const root = new URL('../../', here);
  const fresh = ['backup', 'backup-worker'].every((name) => {
    const js = fileURLToPath(new URL(`dist/src/store/${name}.js`, root));
    const ts = fileURLToPath(new URL(`src/store/${name}.ts`, root));
    return existsSync(js) && statSync(js).mtimeMs >= statSync(ts).mtimeMs;
  });
  return fresh ? new URL('dist/src/store/backup-worker.js', root) : undefined;
}

/** writeBackup in a worker thread, so the event loop that decides at doors never runs the copy or the cipher. */
export function writeBackupInWorker(opts: Omit<BackupOptions, 'onProgress'>, signal?: AbortSignal): Promise<BackupResult> {
  const script = backupWorkerScript();
  if (!script) return writeBackup(opts);
  return new Promise((resolvePromise, reject) => {
    const worker = new Worker(script, { workerData: opts });
    let settled = false;
    // Stopping the daemon ends a backup under way (its temporaries are swept at the next one).
    signal?.addEventListener('abort', () => {
      if (settled) return;
      settled = true;
      void worker.terminate().finally(() => reject(new BackupError('stopped before it was written')));
    });
    worker.once('message', (m: { ok: true; result: BackupResult } | { ok: false; error: string; backupError: boolean }) => {
      settled = true;
      if (m.ok) resolvePromise(m.result);
      else reject(m.backupError ? new BackupError(m.error) : new Error(m.error));
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the backup worker exited (${code}) without an answer`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Reading and restoring

/** Reads exactly the bytes asked for from an async stream of chunks. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  private async fill(n: number): Promise<void> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, Buffer.from(r.value)]) : Buffer.from(r.value);
    }
  }

  async exact(n: number): Promise<Buffer> {
    await this.fill(n);
    if (this.buf.length < n) throw new BackupError('the archive ends early: truncated');
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Up to `max` bytes (at least one), for streaming a file's content. */
  async some(max: number): Promise<Buffer> {
    if (!this.buf.length) await this.fill(1);
    if (!this.buf.length) throw new BackupError('the archive ends early: truncated');
    const n = Math.min(max, this.buf.length);
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** Drains the rest (age authenticates the last chunk only when it is read). */
  async rest(): Promise<number> {
    let n = this.buf.length;
    this.buf = Buffer.alloc(0);
    for (;;) {
      const r = await this.it.next();
      if (r.done) return n;
      n += r.value.length;
    }
  }
}

function decrypter(key: RestoreKey): Decrypter {
  const d = new Decrypter();
  if ('passphrase' in key) d.addPassphrase(key.passphrase);
  else for (const id of key.identities) d.addIdentity(id);
  return d;
}

/** The identities (AGE-SECRET-KEY-1…) of an age identity file: one a line, # comments. */
export function parseIdentityFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

function safeArchivePath(name: string): boolean {
  if (name === MANIFEST_NAME) return true;
  if (!name.startsWith(DATA_PREFIX) && !name.startsWith(SITE_PREFIX)) return false;
  const parts = name.split('/');
  return parts.every((p, i) => (i === 0 ? true : p !== '' && p !== '.' && p !== '..')) && parts.length >= 2;
}

function decryptError(e: unknown): BackupError {
  const msg = (e as Error).message ?? String(e);
  if (/no identity matched/i.test(msg)) return new BackupError('cannot decrypt: wrong passphrase or identity (no key given opens this archive)');
  return new BackupError(`cannot decrypt: the archive is corrupted or was altered (${msg})`);
}

/**
 * Decrypts and unpacks an archive into `staging` (created, 0700), checking every file against the
 * manifest: its digest and size, none missing, none extra. Throws BackupError at the first problem;
 * the caller removes the staging directory.
 */
export async function unpackBackup(archive: string, key: RestoreKey, staging: string, onProgress?: (p: BackupProgress) => void): Promise<BackupManifest> {
  if (!existsSync(archive)) throw new BackupError(`${archive}: no such file`);
  const total = statSync(archive).size;
  const source = createReadStream(archive, { highWaterMark: 1 << 20 });
  async function* counted(): AsyncGenerator<Uint8Array> {
    let read = 0;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      read += chunk.length;
      onProgress?.({ phase: 'restore', done: read, total, unit: 'bytes' });
      yield chunk;
    }
  }
  const it = ageOpen(counted(), key);
  const reader = new ByteReader(it);
  mkdirSync(staging, { recursive: true, mode: PRIVATE_DIR_MODE });
  const seen = new Map<string, { size: number; sha256: string }>();
  let manifest: BackupManifest | undefined;
  try {
    for (;;) {
      const header = parseTarHeader(await reader.exact(BLOCK));
      if (!header) break;
      if (manifest) throw new BackupError(`the archive has ${header.name} after its manifest: altered`);
      if (header.type !== '0' && header.type !== '\0') throw new BackupError(`the archive holds ${header.name}, not a plain file: not a tobira backup`);
      if (!safeArchivePath(header.name)) throw new BackupError(`the archive holds an unexpected path ${JSON.stringify(header.name)}: not a tobira backup`);
      if (seen.has(header.name)) throw new BackupError(`the archive holds ${header.name} twice: altered`);
      const pad = (BLOCK - (header.size % BLOCK)) % BLOCK;
      if (header.name === MANIFEST_NAME) {
        if (header.size > 16 << 20) throw new BackupError('the manifest is implausibly large: altered');
        const body = await reader.exact(header.size);
        await reader.exact(pad);
        try {
          manifest = JSON.parse(body.toString('utf8')) as BackupManifest;
        } catch {
          throw new BackupError('the manifest is not JSON: corrupted or altered');
        }
        continue;
      }
      const target = join(staging, ...header.name.split('/'));
      mkdirSync(dirname(target), { recursive: true, mode: PRIVATE_DIR_MODE });
      const fd = openSync(target, 'wx', PRIVATE_FILE_MODE);
      const hash = createHash('sha256');
      try {
        let left = header.size;
        while (left > 0) {
          const chunk = await reader.some(Math.min(left, 1 << 20));
          hash.update(chunk);
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
          left -= chunk.length;
        }
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      await reader.exact(pad);
      seen.set(header.name, { size: header.size, sha256: hash.digest('hex') });
    }
    await reader.rest();
  } catch (e) {
    source.destroy();
    if (e instanceof BackupError) throw e;
    throw decryptError(e);
  }
  if (!manifest) throw new BackupError('the archive has no manifest: truncated, or not a tobira backup');
  if (manifest.format !== BACKUP_FORMAT || manifest.version !== BACKUP_VERSION || !Array.isArray(manifest.files))
    throw new BackupError(`the manifest is not a ${BACKUP_FORMAT} v${BACKUP_VERSION} manifest`);
  for (const f of manifest.files) {
    const got = seen.get(f.path);
    if (!got) throw new BackupError(`${f.path} is in the manifest but missing from the archive`);
    if (got.size !== f.size || got.sha256 !== f.sha256)
      throw new BackupError(`${f.path} does not match its digest in the manifest (${got.size} bytes, sha256 ${got.sha256.slice(0, 16)}…): altered`);
    seen.delete(f.path);
  }
  if (seen.size) throw new BackupError(`the archive holds ${[...seen.keys()].join(', ')}, which the manifest does not list: altered`);
  if (!manifest.files.some((f) => f.path === `${DATA_PREFIX}${DATABASE_FILE}`)) throw new BackupError(`the archive holds no ${DATABASE_FILE}`);
  return manifest;
}

/**
 * Moves an unpacked archive's files into place: data/… into `dataDir`, the site file to `siteOut`
 * (when the archive has one outside the data directory). `dataDir` must be empty or missing, or the
 * caller said so (force): then files of the same name are replaced and the database's old WAL is removed.
 */
export function installBackup(staging: string, manifest: BackupManifest, dataDir: string, siteOut?: string): { siteFile?: string } {
  mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  for (const stale of [`${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, `${DATABASE_FILE}-journal`]) rmSync(join(dataDir, stale), { force: true });
  let siteFile: string | undefined;
  for (const f of manifest.files) {
    const from = join(staging, ...f.path.split('/'));
    let to: string;
    if (f.path.startsWith(DATA_PREFIX)) to = join(dataDir, ...f.path.slice(DATA_PREFIX.length).split('/'));
    else {
      to = siteOut ?? join(dataDir, basename(f.path));
      siteFile = to;
    }
    if (manifest.site?.path === f.path) siteFile = to;
    mkdirSync(dirname(to), { recursive: true, mode: PRIVATE_DIR_MODE });
    renameOrCopy(from, to);
  }
  fsyncDir(dataDir);
  return siteFile ? { siteFile } : {};
}

function renameOrCopy(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    // Another file system: copy, flush, then drop the staged one.
    copyFileSync(from, to);
    chmodSync(to, PRIVATE_FILE_MODE);
    const fd = openSync(to, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    rmSync(from);
  }
}
