// `tobira backup` and `tobira restore`, run as the built CLI on a real data directory: the round
// trip, the refusals (wrong passphrase, a flipped byte, an archive re-encrypted with a file altered
// under its manifest), recipient mode, and the restored log checked against a checkpoint published
// before the backup.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Decrypter, Encrypter, generateIdentity, identityToRecipient } from 'age-encryption';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { publishedCheckpoint, writeCheckpoint } from '../../src/store/checkpoints.js';
import { loadOrCreateLogKey, publicKeyPem } from '../../src/store/log-key.js';
import { ensureSecrets } from '../../src/devices/secrets.js';
import { writeSnapshotFile } from '../../src/store/snapshots.js';
import { AuditLog } from '../../src/store/audit-log.js';
import { formatProblem, parseSiteText, SiteFileError } from '../../src/site/load.js';
import { appendDecisions } from '../helpers/entries.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const PASSPHRASE = 'correct horse battery staple';
const SLOW = 180_000; // scrypt at age's work factor (2^18) in JavaScript takes seconds on a busy machine

let data: string;
let site: string;
let work: string;
/** The checkpoint as published (kept off the gateway) before the backup. */
let published: string;
let identity: string;
let recipient: string;
let passphraseArchive: string;
let recipientArchive: string;

function tobira(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const e: NodeJS.ProcessEnv = { ...process.env, TOBIRA_DATA: join(tmpdir(), 'tobira-no-such-dir'), ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
    const p = spawn(process.execPath, [CLI, ...args], { env: e });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/src/cli/backup.js'))) throw new Error('build the CLI first: npm run build');
  work = mkdtempSync(join(tmpdir(), 'tobira-backup-test-'));
  data = join(work, 'data');
  site = join(work, 'site.yaml');
  writeFileSync(site, readFileSync(join(ROOT, 'examples/site.yaml')));
  const db = openDatabase(data);
  const key = loadOrCreateLogKey(data);
  ensureSecrets(data, ['lab-reader', 'lab-lock']);
  appendDecisions(db, 1, 30, Date.parse('2026-11-25T00:00:00.000Z'), 60_000);
  const cp = writeCheckpoint(db, key, { kind: 'periodic', at: '2026-11-25T00:31:00.000Z' });
  published = join(work, 'checkpoint.json');
  writeFileSync(published, JSON.stringify(publishedCheckpoint(cp, publicKeyPem(key))));
  appendDecisions(db, 31, 5, Date.parse('2026-11-25T00:31:10.000Z'), 10_000);
  const audit = new AuditLog(db);
  audit.append({
    at: new Date().toISOString(),
    actor: 'local:test',
    role: 'admin',
    action: 'person.create',
    target: 'person:p-1',
    outcome: 'ok',
    address: null,
    detail: null,
  });
  audit.checkpoint(key, 'periodic', new Date().toISOString());
  db.close();
  // A picture beside the log (evidence): restored with it, and checked against its digest.
  writeSnapshotFile(data, 'test-picture.jpg', Buffer.from('not really a jpeg'));
  identity = await generateIdentity();
  recipient = await identityToRecipient(identity);
  writeFileSync(join(work, 'identity.txt'), `# test identity\n${identity}\n`, { mode: 0o600 });

  passphraseArchive = join(work, 'passphrase.tobira-backup');
  recipientArchive = join(work, 'recipient.tobira-backup');
  const [a, b] = await Promise.all([
    tobira(['backup', '--data', data, '--site', site, '--out', passphraseArchive], { TOBIRA_BACKUP_PASSPHRASE: PASSPHRASE }),
    tobira(['backup', '--data', data, '--site', site, '--out', recipientArchive, '--recipient', recipient]),
  ]);
  expect(a.stderr).toBe('');
  expect(a.code).toBe(0);
  expect(b.code).toBe(0);
}, SLOW);

describe('tobira backup', () => {
  it('writes one private archive and says what is in it', () => {
    expect(statSync(passphraseArchive).mode & 0o777).toBe(0o600);
    expect(readFileSync(passphraseArchive).subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    // No temporaries left beside it.
    expect(readdirSync(work).filter((f) => f.includes('backup-tmp'))).toEqual([]);
  });

  it('refuses without a passphrase when not at a terminal (exit 2)', async () => {
    const r = await tobira(['backup', '--data', data, '--site', site, '--out', join(work, 'none.tobira-backup')], { TOBIRA_BACKUP_PASSPHRASE: undefined });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no passphrase: set TOBIRA_BACKUP_PASSPHRASE/);
    expect(existsSync(join(work, 'none.tobira-backup'))).toBe(false);
  });

  it('holds a manifest with the SHA-256 of every file, and a tar `tar` can list', async () => {
    const d = new Decrypter();
    d.addIdentity(identity);
    const plain = Buffer.from(await d.decrypt(readFileSync(recipientArchive)));
    const names: string[] = [];
    for (let at = 0; at + 512 <= plain.length; ) {
      const h = plain.subarray(at, at + 512);
      if (h.every((x) => x === 0)) break;
      const name = h.subarray(0, 100).toString().replace(/\0.*$/s, '');
      const size = Number.parseInt(h.subarray(124, 136).toString().replace(/\0.*$/s, ''), 8);
      names.push(name);
      if (name === 'manifest.json') {
        const manifest = JSON.parse(plain.subarray(at + 512, at + 512 + size).toString());
        expect(manifest.format).toBe('tobira-backup');
        expect(manifest.entryLog.records).toBe(35);
        expect(manifest.files.find((f: { path: string }) => f.path === 'data/secrets.json').sha256).toBe(sha(join(data, 'secrets.json')));
        expect(manifest.files.find((f: { path: string }) => f.path === 'site/site.yaml').sha256).toBe(sha(site));
      }
      at += 512 + Math.ceil(size / 512) * 512;
    }
    expect(names).toEqual([
      'data/tobira.db',
      'data/log-signing-key.pem',
      'data/secrets.json',
      'data/snapshots/test-picture.jpg',
      'site/site.yaml',
      'manifest.json',
    ]);
  });
});

describe('tobira restore', () => {
  it(
    'restores into a new directory, verifies both logs and the checkpoint published before the backup',
    async () => {
      const into = join(work, 'restored');
      const r = await tobira(['restore', passphraseArchive, '--data', into, '--checkpoint', published], { TOBIRA_BACKUP_PASSPHRASE: PASSPHRASE });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        /entry log OK: 35 records, hash chain intact; 1 checkpoints, signatures valid; matches the checkpoint of 2026-11-25T00:31:00.000Z \(30 records\)/,
      );
      expect(r.stdout).toMatch(/audit log OK: 1 records/);
      expect(r.stdout).toMatch(/^done: start it with tobira start/m);
      for (const f of ['secrets.json', 'log-signing-key.pem', 'snapshots/test-picture.jpg']) expect(sha(join(into, f))).toBe(sha(join(data, f)));
      expect(sha(join(into, 'site.yaml'))).toBe(sha(site));
      expect(statSync(join(into, 'tobira.db')).mode & 0o777).toBe(0o600);
      const db = new Database(join(into, 'tobira.db'), { readonly: true });
      expect(db.prepare('SELECT max(seq) FROM entry_log').pluck().get()).toBe(35);
      db.close();
      // Nothing staged left beside it.
      expect(readdirSync(work).filter((f) => f.includes('.restore-'))).toEqual([]);
    },
    SLOW,
  );

  it(
    'refuses a wrong passphrase: exit 1, nothing written',
    async () => {
      const into = join(work, 'wrong-passphrase');
      const r = await tobira(['restore', passphraseArchive, '--data', into], { TOBIRA_BACKUP_PASSPHRASE: 'not the passphrase' });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/restore refused: cannot decrypt: wrong passphrase or identity/);
      expect(existsSync(into)).toBe(false);
    },
    SLOW,
  );

  it('refuses a non-empty directory without --force (exit 2)', async () => {
    const r = await tobira(['restore', recipientArchive, '--data', data, '--identity', join(work, 'identity.txt')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not empty/);
  });

  it('round-trips to an age recipient, opened with its identity', async () => {
    const into = join(work, 'restored-recipient');
    const r = await tobira([
      'restore',
      recipientArchive,
      '--data',
      into,
      '--identity',
      join(work, 'identity.txt'),
      '--site-out',
      join(work, 'site-restored.yaml'),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(sha(join(work, 'site-restored.yaml'))).toBe(sha(site));
    expect(sha(join(into, 'secrets.json'))).toBe(sha(join(data, 'secrets.json')));
    // Another identity opens nothing.
    const other = join(work, 'other-identity.txt');
    writeFileSync(other, `${await generateIdentity()}\n`);
    const refused = await tobira(['restore', recipientArchive, '--data', join(work, 'other'), '--identity', other]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/wrong passphrase or identity/);
    expect(existsSync(join(work, 'other'))).toBe(false);
  });

  it('refuses an archive with one byte flipped, in the header or the payload', async () => {
    const bytes = readFileSync(recipientArchive);
    for (const at of [40, Math.floor(bytes.length / 2), bytes.length - 5]) {
      const tampered = Buffer.from(bytes);
      tampered[at]! ^= 0x01;
      const file = join(work, `flipped-${at}.tobira-backup`);
      writeFileSync(file, tampered);
      const into = join(work, `flipped-${at}`);
      const r = await tobira(['restore', file, '--data', into, '--identity', join(work, 'identity.txt')]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/restore refused: cannot decrypt/);
      expect(existsSync(into)).toBe(false);
    }
  });

  it('refuses a validly encrypted archive whose file does not match the manifest, or lacks one it lists', async () => {
    const d = new Decrypter();
    d.addIdentity(identity);
    const plain = Buffer.from(await d.decrypt(readFileSync(recipientArchive)));
    const reseal = async (tar: Buffer, name: string) => {
      const e = new Encrypter();
      e.addRecipient(recipient);
      const file = join(work, name);
      writeFileSync(file, await e.encrypt(tar));
      return file;
    };
    // secrets.json's content changed in place (same size): the tar is well formed, the digest is not.
    const at = plain.indexOf(Buffer.from('"controller"'));
    expect(at).toBeGreaterThan(0);
    const edited = Buffer.from(plain);
    edited[at + 2] = 'X'.charCodeAt(0);
    const into = join(work, 'edited');
    const r = await tobira(['restore', await reseal(edited, 'edited.tobira-backup'), '--data', into, '--identity', join(work, 'identity.txt')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/data\/secrets\.json does not match its digest in the manifest/);
    expect(existsSync(into)).toBe(false);

    // The picture's entry cut out of the tar: the manifest lists a file the archive does not hold.
    const start = plain.indexOf(Buffer.from('data/snapshots/test-picture.jpg'));
    const cut = Buffer.concat([plain.subarray(0, start), plain.subarray(start + 1024)]);
    const missing = await tobira(['restore', await reseal(cut, 'missing.tobira-backup'), '--data', into, '--identity', join(work, 'identity.txt')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/data\/snapshots\/test-picture\.jpg is in the manifest but missing from the archive/);
    expect(existsSync(into)).toBe(false);
  });

  it('refuses an archive with a file the manifest does not list, before or after the manifest', async () => {
    const d = new Decrypter();
    d.addIdentity(identity);
    const plain = Buffer.from(await d.decrypt(readFileSync(recipientArchive)));
    /** Offset of the tar header naming `name` (headers start on 512-byte blocks). */
    const headerOf = (name: string) => {
      for (let at = plain.indexOf(name); at >= 0; at = plain.indexOf(name, at + 1)) if (at % 512 === 0) return at;
      throw new Error(`no tar header for ${name}`);
    };
    // The picture's entry (one header block, one data block) copied under another name, its
    // header's checksum made right again: a well-formed tar entry the manifest knows nothing of.
    const picture = headerOf('data/snapshots/test-picture.jpg');
    const extra = Buffer.from(plain.subarray(picture, picture + 1024));
    extra.fill(0, 0, 100);
    extra.write('data/snapshots/extra.jpg', 0, 'utf8');
    extra.fill(' ', 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += extra[i]!;
    extra.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    const manifestAt = headerOf('manifest.json');
    const end = plain.length - 1024; // the two zero blocks that end the tar
    expect(plain.subarray(end).every((b) => b === 0)).toBe(true);
    const cases: [string, Buffer, RegExp][] = [
      [
        'extra-before',
        Buffer.concat([plain.subarray(0, manifestAt), extra, plain.subarray(manifestAt)]),
        /the archive holds data\/snapshots\/extra\.jpg, which the manifest does not list: altered/,
      ],
      [
        'extra-after',
        Buffer.concat([plain.subarray(0, end), extra, plain.subarray(end)]),
        /the archive has data\/snapshots\/extra\.jpg after its manifest: altered/,
      ],
    ];
    for (const [name, tar, message] of cases) {
      const e = new Encrypter();
      e.addRecipient(recipient);
      const file = join(work, `${name}.tobira-backup`);
      writeFileSync(file, await e.encrypt(tar));
      const into = join(work, name);
      const r = await tobira(['restore', file, '--data', into, '--identity', join(work, 'identity.txt')]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/nothing was written to/);
      expect(existsSync(into)).toBe(false);
    }
  });

  it(
    'refuses an intact archive of a data directory whose entry or audit log was edited after it was written',
    async () => {
      // The archive is exactly what `tobira backup` wrote (every digest matches its manifest): what
      // is wrong is the log inside it, caught by the verification restore runs before it says done.
      for (const [log, sql, message] of [
        [
          'entry',
          "DROP TRIGGER entry_log_no_update; UPDATE entry_log SET decision = 'denied', reason = 'no-grant' WHERE seq = 7;",
          /restore refused: the restored entry log is BROKEN at record 7: content does not match its hash \(edited\)/,
        ],
        [
          'audit',
          "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'local:someone-else' WHERE seq = 1;",
          /restore refused: the restored audit log is BROKEN at record 1:/,
        ],
      ] as const) {
        const edited = join(work, `edited-${log}-data`);
        cpSync(data, edited, { recursive: true });
        const db = openDatabase(edited);
        db.exec(sql);
        db.close();
        const archive = join(work, `edited-${log}.tobira-backup`);
        const b = await tobira(['backup', '--data', edited, '--site', site, '--out', archive, '--recipient', recipient]);
        expect(b.code, b.stderr).toBe(0);
        const into = join(work, `edited-${log}-restored`);
        const r = await tobira(['restore', archive, '--data', into, '--identity', join(work, 'identity.txt')]);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(r.stdout).not.toMatch(/^done/m);
        expect(existsSync(into)).toBe(false);
        expect(readdirSync(work).filter((f) => f.includes('.restore-'))).toEqual([]);
      }
    },
    SLOW,
  );

  it('replaces a directory that is not empty with --force', async () => {
    const into = join(work, 'forced');
    const first = await tobira(['restore', recipientArchive, '--data', into, '--identity', join(work, 'identity.txt')]);
    expect(first.code).toBe(0);
    writeFileSync(join(into, 'leftover'), 'x');
    const again = await tobira(['restore', recipientArchive, '--data', into, '--identity', join(work, 'identity.txt'), '--force']);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(existsSync(join(into, 'leftover'))).toBe(false);
    expect(sha(join(into, 'secrets.json'))).toBe(sha(join(data, 'secrets.json')));
  });
});

describe('the site file’s backups: section', () => {
  const siteWith = (backups: string) => `${readFileSync(join(ROOT, 'examples/site.yaml'), 'utf8')}\nbackups:\n${backups}\n`;
  const problems = (backups: string): string[] => {
    try {
      parseSiteText(siteWith(backups));
      return [];
    } catch (err) {
      if (err instanceof SiteFileError) return err.problems.map(formatProblem);
      throw err;
    }
  };

  it('takes a directory, an interval, a retention count and age recipients', () => {
    const site = parseSiteText(siteWith(`  directory: /mnt/backup/tobira\n  everyHours: 6\n  retention: 14\n  recipient: ${recipient}`));
    expect(site.backups).toEqual({ directory: '/mnt/backup/tobira', everyHours: 6, retention: 14, recipient: [recipient] });
  });

  it('refuses a passphrase (secrets do not go in the site file), a relative directory and a key that is not age', () => {
    const found = problems(`  directory: backups\n  recipient: ssh-ed25519 AAAA\n  passphrase: hunter2`);
    expect(found.join('\n')).toMatch(/backups\.passphrase.*a passphrase does not go in the site file/);
    expect(found.join('\n')).toMatch(/backups\.directory.*an absolute path/);
    expect(found.join('\n')).toMatch(/backups\.recipient.*an age public key/);
  });
});
