// The entry log's signing key: one Ed25519 key per gateway, kept in the data directory
// (log-signing-key.pem, PKCS#8 PEM, mode 0600), created the first time it is needed. Checkpoints
// are signed with it; its public key is exported (`tobira log pubkey`) so an auditor can check a
// log, an export or a published checkpoint without the gateway.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { createPrivateFileOnce, ensurePrivateDir } from './file-modes.js';
import { join } from 'node:path';

export const LOG_KEY_FILE = 'log-signing-key.pem';

export function logKeyPath(dataDir: string): string {
  return join(dataDir, LOG_KEY_FILE);
}

/** The private signing key from the data directory, created (atomically, mode 0600) if there is none. */
export function loadOrCreateLogKey(dataDir: string): KeyObject {
  const existing = loadLogKey(dataDir);
  if (existing) return existing;
  ensurePrivateDir(dataDir);
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  createPrivateFileOnce(logKeyPath(dataDir), pem);
  return loadLogKey(dataDir)!;
}

/** The private signing key, or undefined when the data directory has none yet. Never creates one. */
export function loadLogKey(dataDir: string): KeyObject | undefined {
  const path = logKeyPath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (err) {
    throw new Error(`${path} is not a PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} holds a ${key.asymmetricKeyType} key; the entry log is signed with Ed25519`);
  try {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  } catch {
    // A read-only data directory (an auditor's copy): the key is still usable.
  }
  return key;
}

/** The public half as SPKI PEM (what `tobira log pubkey` prints and every published checkpoint carries). */
export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'public' ? key : createPublicKey(key);
  return pub.export({ type: 'spki', format: 'pem' }) as string;
}

/** A public key from PEM text (SPKI; a private key's PEM is accepted and reduced to its public half). */
export function loadPublicKey(pemText: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pemText);
  } catch (err) {
    throw new Error(`not a PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key: the entry log is signed with Ed25519`);
  return key;
}
