// Secrets the database must not hold in clear (TOTP seeds), sealed with AES-256-GCM under a key
// kept in its own file in the data directory (secrets-key, mode 0600), beside the log signing key
// and never in tobira.db: a copy of the database alone (a backup, an export, a reader of the file)
// does not give the seeds away. Each sealed value is bound to what it belongs to (the account or
// person), so a seed copied into another row does not open there.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { createPrivateFileOnce, ensurePrivateDir } from './file-modes.js';
import { dirname, join } from 'node:path';
import type { Db } from './db.js';

export const SECRETS_KEY_FILE = 'secrets-key';
/** A sealed value: the prefix, then base64url of IV (12 bytes) | tag (16 bytes) | ciphertext. */
const SEALED_PREFIX = 'sealed:v1:';
const KEY_BYTES = 32;

/** A key that is missing, malformed or not the one the database's secrets were sealed with: the daemon does not start. */
export class SecretKeyError extends Error {}

export function secretsKeyPath(dataDir: string): string {
  return join(dataDir, SECRETS_KEY_FILE);
}

/** The data directory a database lives in (where its keys are kept); undefined for an in-memory one. */
export function dataDirOf(db: Db): string | undefined {
  return db.memory || !db.name ? undefined : dirname(db.name);
}

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new SecretKeyError(`a secrets key is ${KEY_BYTES} bytes, not ${key.length}`);
  }

  /** A key for a database that lives in memory only (nothing outlives the process). */
  static ephemeral(): SecretBox {
    return new SecretBox(randomBytes(KEY_BYTES));
  }

  static isSealed(value: string): boolean {
    return value.startsWith(SEALED_PREFIX);
  }

  /** `context` names what the secret belongs to, e.g. "account-totp:<id>"; opening needs the same. */
  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return SEALED_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The clear secret; throws SecretKeyError when the value is not sealed, or not with this key and context. */
  open(sealed: string, context: string): string {
    if (!SecretBox.isSealed(sealed)) throw new SecretKeyError(`${context}: not a sealed value`);
    const raw = Buffer.from(sealed.slice(SEALED_PREFIX.length), 'base64url');
    if (raw.length < 28) throw new SecretKeyError(`${context}: a sealed value too short to be one`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretKeyError(`${context}: does not open with this secrets key (another gateway's key, or the value was altered)`);
    }
  }
}

/** The key from the data directory, or undefined when there is none yet. Never creates one. */
export function loadSecretKey(dataDir: string): Buffer | undefined {
  const path = secretsKeyPath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== text.trim()) {
    throw new SecretKeyError(`${path} is not a tobira secrets key (${KEY_BYTES} bytes, base64)`);
  }
  try {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch {
    // A read-only data directory: the key is still usable.
  }
  return key;
}

/**
 * The secrets box for a data directory. A missing key file is created (atomically, 0600) only when
 * nothing sealed is in use yet: once seeds are sealed, a missing key is a startup error, never a
 * fresh key that would silently fail every sign-in (or tempt someone to store seeds in clear).
 */
export function secretBoxFor(dataDir: string, sealedInUse: boolean): SecretBox {
  const existing = loadSecretKey(dataDir);
  if (existing) return new SecretBox(existing);
  const path = secretsKeyPath(dataDir);
  if (sealedInUse) {
    throw new SecretKeyError(
      `${path} is missing, but the database holds TOTP seeds sealed with it. Restore that file from the backup ` +
        'taken with the database (it is kept apart from tobira.db on purpose); without it, every account needs a new TOTP enrolment.',
    );
  }
  ensurePrivateDir(dataDir);
  createPrivateFileOnce(path, `${randomBytes(KEY_BYTES).toString('base64')}\n`);
  return new SecretBox(loadSecretKey(dataDir)!);
}

/**
 * The secrets box for a database's data directory (an in-memory database gets a key of its own).
 * Sealed values anywhere (account seeds, people's door OTP seeds) mean the key must be there already.
 */
export function openSecretBox(db: Db): SecretBox {
  const dir = dataDirOf(db);
  if (!dir) return SecretBox.ephemeral();
  const sealedInUse = db
    .prepare(`SELECT EXISTS (SELECT 1 FROM accounts WHERE totp_secret LIKE 'sealed:%' OR totp_pending_secret LIKE 'sealed:%')
    OR EXISTS (SELECT 1 FROM credentials WHERE kind = 'otp' AND value LIKE 'sealed:%') AS n`)
    .get() as { n: number };
  return secretBoxFor(dir, sealedInUse.n === 1);
}
