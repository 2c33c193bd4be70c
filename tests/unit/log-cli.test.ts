// `tobira log ...` run as the built CLI, on copies of a real data directory.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { EntryLog } from '../../src/store/entry-log.js';
import { publishedCheckpoint, writeCheckpoint } from '../../src/store/checkpoints.js';
import { loadOrCreateLogKey, publicKeyPem } from '../../src/store/log-key.js';
import { rechain } from '../helpers/tamper.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');

let template: string;
/** Off the gateway: the checkpoint as published on MQTT, and the public key. */
let offsite: string;

function tobira(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TOBIRA_DATA: join(tmpdir(), 'tobira-no-such-dir') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the template data directory, tampered with as an intruder holding the file would. */
function copyWith(sql?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-cli-copy-'));
  cpSync(template, dir, { recursive: true });
  if (sql) {
    const db = openDatabase(dir);
    db.exec('DROP TRIGGER entry_log_no_update; DROP TRIGGER entry_log_no_delete;');
    db.exec(sql);
    db.close();
  }
  return dir;
}

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/src/cli/log-commands.js'))) throw new Error('build the CLI first: npm run build');
  template = mkdtempSync(join(tmpdir(), 'tobira-cli-log-'));
  offsite = mkdtempSync(join(tmpdir(), 'tobira-cli-offsite-'));
  const db = openDatabase(template);
  const log = new EntryLog(db);
  const key = loadOrCreateLogKey(template);
  for (let i = 1; i <= 20; i++) {
    log.append({
      at: new Date(Date.parse('2026-11-25T00:00:00.000Z') + i * 60_000).toISOString(),
      kind: 'decision',
      doorId: i % 2 ? 'lab-main' : 'vault-door',
      areaId: i % 2 ? 'lab' : 'vault',
      direction: 'in',
      personId: `p-${i % 3}`,
      personName: ['佐藤 花子', '鈴木 一郎', 'Ito Jun'][i % 3]!,
      affiliation: '研究部',
      factors: ['card', 'pin'],
      decision: i % 4 ? 'granted' : 'denied',
      reason: i % 4 ? 'granted' : 'no-grant',
      deviceId: 'reader-1',
      deviceBoot: 1,
      deviceSeq: i,
    });
    if (i === 10) writeCheckpoint(db, key, { kind: 'periodic', at: '2026-11-25T00:10:30.000Z' });
  }
  const cp = writeCheckpoint(db, key, { kind: 'shutdown', at: '2026-11-25T00:21:00.000Z' });
  writeFileSync(join(offsite, 'checkpoint.json'), JSON.stringify(publishedCheckpoint(cp, publicKeyPem(key))));
  writeFileSync(join(offsite, 'log.pem'), publicKeyPem(key));
  db.close();
});

describe('tobira log verify', () => {
  it('exits 0 on an intact log', () => {
    const r = tobira('log', 'verify', '--data', copyWith());
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^entry log OK: 20 records, hash chain intact; 2 checkpoints, signatures valid/);
    expect(r.code).toBe(0);
  });

  it('exits 1 on an edited record and names it', () => {
    const r = tobira('log', 'verify', '--data', copyWith("UPDATE entry_log SET decision = 'granted', reason = 'granted' WHERE seq = 8"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('entry log BROKEN at record 8: content does not match its hash (edited)');
  });

  it('exits 1 on a deleted record and names it', () => {
    const r = tobira('log', 'verify', '--data', copyWith('DELETE FROM entry_log WHERE seq = 13'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('entry log BROKEN at record 13: record 13 is missing (next is 14)');
  });

  it('exits 1 on reordered records and names the first', () => {
    const r = tobira(
      'log',
      'verify',
      '--data',
      copyWith('UPDATE entry_log SET seq = 100 WHERE seq = 5; UPDATE entry_log SET seq = 5 WHERE seq = 6; UPDATE entry_log SET seq = 6 WHERE seq = 100;'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('entry log BROKEN at record 5:');
  });

  it('exits 1 on a truncated log and names the first missing record', () => {
    const r = tobira('log', 'verify', '--data', copyWith('DELETE FROM entry_log WHERE seq > 17'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('entry log BROKEN at record 18: truncated: checkpoint of 2026-11-25T00:21:00.000Z covers 20 records, only 17 remain');
  });

  it('catches truncation with --checkpoint when the newest local checkpoint was deleted too', () => {
    // Cut back to record 12 with the shutdown checkpoint gone: what is left is within what the
    // checkpoint at 10 allowed after it (a rollback to it), so only the copy kept off the gateway shows it.
    const dir = copyWith('DELETE FROM entry_log WHERE seq > 12; DELETE FROM checkpoints WHERE count = 20;');
    expect(tobira('log', 'verify', '--data', dir).code).toBe(0);
    const r = tobira('log', 'verify', '--data', dir, '--checkpoint', join(offsite, 'checkpoint.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'entry log BROKEN at record 13: truncated: the external checkpoint of 2026-11-25T00:21:00.000Z covers 20 records, only 12 remain',
    );
    const ok = tobira('log', 'verify', '--data', copyWith(), '--checkpoint', join(offsite, 'checkpoint.json'));
    expect(ok.stdout).toContain('matches the external checkpoint of 2026-11-25T00:21:00.000Z (20 records)');
    expect(ok.code).toBe(0);
  });

  it('exits 1 naming the missing checkpoints when the chain is rewritten and every checkpoint deleted', () => {
    // The intruder edits record 8, recomputes every hash after it, and deletes the checkpoints.
    const dir = copyWith("UPDATE entry_log SET decision = 'granted', reason = 'granted' WHERE seq = 8; DELETE FROM checkpoints;");
    const db = openDatabase(dir);
    rechain(db, 8);
    db.close();
    const r = tobira('log', 'verify', '--data', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^entry log BROKEN at record 1: no signed checkpoint: records 1–20 are signed by none, .* the checkpoints were deleted/);
    // A middle one alone: the ordinals signed in the checkpoints after it count it.
    const middle = tobira('log', 'verify', '--data', copyWith('DELETE FROM checkpoints WHERE count = 10'));
    expect(middle.code).toBe(1);
    expect(middle.stderr).toMatch(
      /BROKEN at record 1: checkpoint #1 is missing: the shutdown checkpoint of 2026-11-25T00:21:00.000Z \(20 records\) is signed as #2/,
    );
    // The newest one, and the records after the one kept rewritten: more than it allowed in time.
    const last = copyWith("UPDATE entry_log SET person_name = 'x' WHERE seq = 15; DELETE FROM checkpoints WHERE count = 20;");
    const ldb = openDatabase(last);
    rechain(ldb, 15);
    ldb.close();
    const l = tobira('log', 'verify', '--data', last);
    expect(l.code).toBe(1);
    expect(l.stderr).toMatch(/BROKEN at record 15: record 15 \(.*\) follows no signed checkpoint and is more than 180 s after record 11/);
  });

  it('exits 1 when the signing key was deleted with the checkpoints: a chain alone proves nothing', () => {
    // The intruder rewrites record 5, recomputes the chain, and deletes the checkpoints and the key file.
    const dir = copyWith("UPDATE entry_log SET person_name = 'x' WHERE seq = 5; DELETE FROM checkpoints; DELETE FROM audit_checkpoints;");
    const db = openDatabase(dir);
    rechain(db, 5);
    db.close();
    rmSync(join(dir, 'log-signing-key.pem'));
    const r = tobira('log', 'verify', '--data', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('entry log NOT VERIFIED: no signing key');
    expect(r.stdout).not.toContain('OK');
    const audit = tobira('log', 'verify', '--audit', '--data', dir);
    expect(audit.code).toBe(1);
    expect(audit.stderr).toContain('audit log NOT VERIFIED: no signing key');
    // Asked for explicitly, the chain alone is checked, and said to be only that.
    const chain = tobira('log', 'verify', '--chain-only', '--data', dir);
    expect(chain.code).toBe(0);
    expect(chain.stderr).toContain('only the hash chain is checked (--chain-only)');
    // With the key kept off the gateway the rewrite is caught.
    const off = tobira('log', 'verify', '--data', dir, '--pubkey', join(offsite, 'log.pem'));
    expect(off.code).toBe(1);
    expect(off.stderr).toContain('entry log BROKEN');
  });

  it('catches a re-signed log when the key is taken from off the gateway', () => {
    // The intruder rewrites record 3, re-chains, and re-signs with a new key of their own.
    const dir = copyWith();
    const db = openDatabase(dir);
    db.exec('DROP TRIGGER entry_log_no_update; DROP TRIGGER entry_log_no_delete; DELETE FROM entry_log WHERE seq >= 3; DELETE FROM checkpoints;');
    const log = new EntryLog(db);
    for (let i = 3; i <= 20; i++) log.append({ at: new Date(Date.parse('2026-11-25T00:00:00.000Z') + i * 60_000).toISOString(), kind: 'door', reason: 'rex' });
    db.close();
    const fresh = mkdtempSync(join(tmpdir(), 'tobira-cli-newkey-'));
    const newKey = loadOrCreateLogKey(fresh);
    cpSync(join(fresh, 'log-signing-key.pem'), join(dir, 'log-signing-key.pem'));
    const db2 = openDatabase(dir);
    writeCheckpoint(db2, newKey, { kind: 'shutdown', at: '2026-11-25T00:22:00.000Z' });
    db2.close();
    expect(tobira('log', 'verify', '--data', dir).code).toBe(0);
    const r = tobira('log', 'verify', '--data', dir, '--pubkey', join(offsite, 'log.pem'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('invalid signature');
    expect(r.stderr).toContain('note: the signing key in');
  });

  it('exits 2 on usage errors', () => {
    expect(tobira('log', 'verify', '--data', join(tmpdir(), 'tobira-no-such-dir')).code).toBe(2);
    expect(tobira('log', 'verify', '--export', 'x.jsonl').code).toBe(2);
    expect(tobira('log', 'export', '--data', copyWith(), '--format', 'xml').code).toBe(2);
    expect(tobira('log', 'export', '--data', copyWith()).code).toBe(2);
    expect(tobira('log', 'verify', '--no-such-flag').code).toBe(2);
  });
});

describe('tobira log export and pubkey', () => {
  it('exports JSON Lines that verify offline with the public key, and catches an edited line', () => {
    const dir = copyWith();
    const file = join(offsite, 'export.jsonl');
    const ex = tobira('log', 'export', '--data', dir, '--format', 'jsonl', '--out', file);
    expect(ex.code).toBe(0);
    expect(ex.stderr).toContain('wrote 20 records');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(21);
    const ok = tobira('log', 'verify', '--export', file, '--pubkey', join(offsite, 'log.pem'));
    expect(ok.stdout).toMatch(/^export OK: 20 records, every hash matches its content; 20 of them chained to the signed checkpoint/);
    expect(ok.code).toBe(0);
    lines[11] = lines[11]!.replace('"personName":"佐藤 花子"', '"personName":"田中 次郎"');
    const edited = join(offsite, 'edited.jsonl');
    writeFileSync(edited, `${lines.join('\n')}\n`);
    const bad = tobira('log', 'verify', '--export', edited, '--pubkey', join(offsite, 'log.pem'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('export BROKEN at line 12 (record 12): content does not match its hash (edited)');
  });

  it('exports filtered CSV for Excel, with Japanese headers', () => {
    const r = tobira('log', 'export', '--data', copyWith(), '--format', 'csv', '--lang', 'ja', '--area', 'vault', '--decision', 'denied');
    expect(r.code).toBe(0);
    const rows = r.stdout.split('\r\n').filter((l) => l !== '');
    expect(rows[0]!.startsWith('\ufeff通番,日時,種別,扉,区域,方向,利用者ID,氏名,所属,目的,認証要素,判定,理由')).toBe(true);
    expect(rows.slice(1).map((l) => l.split(',')[0])).toEqual(['4', '8', '12', '16', '20']);
  });

  it('prints the public key', () => {
    const r = tobira('log', 'pubkey', '--data', copyWith());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(offsite, 'log.pem'), 'utf8'));
  });
});
