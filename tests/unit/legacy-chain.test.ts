// Logs written before the chain encoding was versioned still verify: the fixture
// (tests/fixtures/legacy-v1, written by the code of commit 105654f) holds an entry log and an audit
// log of every kind of record, pruned behind signed anchors, with signed checkpoints. A copy is
// opened with today's code (migrations and all), both logs verify, an edit of an old record is still
// caught, and records and checkpoints appended now (in the versioned encoding) verify together with
// the old ones. An export made by the old code (lines without chainVersion) still verifies offline.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, DATABASE_FILE, type Db } from '../../src/store/db.js';
import { ENTRY_FIELDS, EntryLog, verifyEntryLog } from '../../src/store/entry-log.js';
import { AuditLog, verifyAuditLog } from '../../src/store/audit-log.js';
import { CheckpointStore, checkpointFields, writeCheckpoint } from '../../src/store/checkpoints.js';
import { loadPublicKey, publicKeyPem } from '../../src/store/log-key.js';
import { verifyAuditLogFile, verifyEntryLogFile } from '../../src/store/verify-parallel.js';
import { verifyExportText } from '../../src/cli/log-commands.js';
import { CLI } from '../helpers/daemon.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/legacy-v1');
const publicKey = loadPublicKey(readFileSync(join(FIXTURE, 'log-public-key.pem'), 'utf8'));
// Test only: the key pair committed with the fixture, to sign checkpoints after the old ones.
const privateKey = createPrivateKey(readFileSync(join(FIXTURE, 'test-only-log-signing-key.pem'), 'utf8'));

/** The heads as the old code wrote them: the fixture is that file, not one written again since. */
const ENTRY_HEAD = { seq: 17, hash: '7fc4133612d3fbff9b20d896331a947e8338f979628ae194b6450264d1cfd43e' };
const AUDIT_HEAD = { seq: 7, hash: 'ecd1144665796cb8e317615b46f473709be28807aa2ffee9ed147dcfaa924200' };

function copyOfFixture(opts: { readonly?: boolean } = {}): { dir: string; db: Db } {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-legacy-'));
  copyFileSync(join(FIXTURE, DATABASE_FILE), join(dir, DATABASE_FILE));
  return { dir, db: openDatabase(dir, opts) };
}

const head = (db: Db, table: 'entry_log' | 'audit_log') => db.prepare(`SELECT seq, hash FROM ${table} ORDER BY seq DESC LIMIT 1`).get();

describe('logs written before the versioned encoding', () => {
  it('verify as they were written: both chains, their prune anchors and signed checkpoints', async () => {
    const { dir, db } = copyOfFixture();
    expect(head(db, 'entry_log')).toEqual(ENTRY_HEAD);
    expect(head(db, 'audit_log')).toEqual(AUDIT_HEAD);
    // Every record is v1: no version stored, none in the bytes its hash covers.
    expect(db.prepare('SELECT count(*) FROM entry_log WHERE chain_version IS NOT NULL').pluck(true).get()).toBe(0);
    expect(new EntryLog(db).get(4)!.chainVersion).toBe(1);
    expect(verifyEntryLog(db, publicKey)).toEqual({ ok: true, records: 14, checkpoints: 4 });
    expect(verifyAuditLog(db, publicKey)).toEqual({ ok: true, records: 5, checkpoints: 3 });
    db.close();
    // In worker threads too (the path `tobira log verify` and the API take).
    const file = join(dir, DATABASE_FILE);
    expect(await verifyEntryLogFile(file, publicKey)).toEqual({ ok: true, records: 14, checkpoints: 4 });
    expect(await verifyEntryLogFile(file, publicKey, { workers: 0, chunkRows: 3 })).toEqual({ ok: true, records: 14, checkpoints: 4 });
    expect(await verifyAuditLogFile(file, publicKey, { workers: 2, chunkRows: 2 })).toEqual({ ok: true, records: 5, checkpoints: 3 });
  });

  it('an export as the old code wrote it (no chainVersion on its lines) verifies offline', () => {
    const { db } = copyOfFixture();
    const lines = [...new EntryLog(db).iterate()].map((r) => {
      const line: Record<string, unknown> = {};
      for (const f of ENTRY_FIELDS) line[f] = r[f];
      return JSON.stringify({ ...line, prevHash: r.prevHash, hash: r.hash });
    });
    const trailer = { checkpoint: checkpointFields(new CheckpointStore(db).latest()!), publicKey: publicKeyPem(publicKey), filter: {}, records: lines.length };
    const text = `${[...lines, JSON.stringify(trailer)].join('\n')}\n`;
    expect(verifyExportText(text, publicKey)).toMatchObject({ ok: true, records: 14 });
    // Claiming a version its record was not written in is an edit.
    const claimed = text.replace('"seq":9,', '"seq":9,"chainVersion":2,');
    expect(verifyExportText(claimed, publicKey)).toMatchObject({ ok: false, breakAt: { seq: 9, problem: 'content does not match its hash (edited)' } });
  });

  it("verify read-only, not migrated, as `tobira log verify` opens an auditor's copy", async () => {
    const { dir, db } = copyOfFixture({ readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(6);
    expect(verifyEntryLog(db, publicKey)).toEqual({ ok: true, records: 14, checkpoints: 4 });
    expect(verifyAuditLog(db, publicKey)).toEqual({ ok: true, records: 5, checkpoints: 3 });
    db.close();
    expect(await verifyEntryLogFile(join(dir, DATABASE_FILE), publicKey, { workers: 2, chunkRows: 4 })).toEqual({ ok: true, records: 14, checkpoints: 4 });
    const pem = join(FIXTURE, 'log-public-key.pem');
    const entries = spawnSync(process.execPath, [CLI, 'log', 'verify', '--data', dir, '--pubkey', pem], { encoding: 'utf8' });
    expect(entries.status, entries.stderr).toBe(0);
    expect(entries.stdout).toMatch(/entry log OK: 14 records/);
    const audits = spawnSync(process.execPath, [CLI, 'log', 'verify', '--audit', '--data', dir, '--pubkey', pem], { encoding: 'utf8' });
    expect(audits.status, audits.stderr).toBe(0);
    expect(audits.stdout).toMatch(/audit log OK: 5 records/);
  });

  it('an old record edited is still caught', () => {
    const { db } = copyOfFixture();
    db.exec("DROP TRIGGER entry_log_no_update; UPDATE entry_log SET person_name = '佐藤 花' WHERE seq = 5");
    db.exec('DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = \'{"areaId":"lab"}\' WHERE seq = 4');
    expect(verifyEntryLog(db, publicKey)).toMatchObject({ ok: false, breakAt: { seq: 5, problem: expect.stringMatching(/edited/) } });
    expect(verifyAuditLog(db, publicKey)).toMatchObject({ ok: false, breakAt: { seq: 4, problem: expect.stringMatching(/edited/) } });
  });

  it('go on: records and checkpoints appended now verify with the old ones', async () => {
    const { dir, db } = copyOfFixture();
    const entries = new EntryLog(db);
    const audit = new AuditLog(db);
    entries.append({
      at: '2026-04-12T08:00:00.000Z',
      kind: 'decision',
      doorId: 'lab-main',
      areaId: 'lab',
      direction: 'in',
      personId: 'p-sato',
      personName: '佐藤 花子',
      affiliation: '研究開発部',
      purpose: '電池プロジェクト',
      factors: ['card', 'pin'],
      decision: 'granted',
      reason: 'granted',
      deviceId: 'lab-keypad',
      deviceBoot: 1775900000,
      deviceSeq: 1,
      detail: { grantId: 1 },
    });
    entries.append({
      at: '2026-04-12T08:01:00.000Z',
      kind: 'door',
      doorId: 'lab-main',
      areaId: 'lab',
      reason: 'door-held-open',
      deviceId: 'lab-contact',
      deviceBoot: 1775900000,
      deviceSeq: 2,
    });
    writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-04-12T08:02:00.000Z' });
    audit.append({
      at: '2026-04-12T08:00:00.000Z',
      actor: 'manager-1',
      role: 'manager',
      action: 'grant.revoke',
      target: 'grant:3',
      outcome: 'ok',
      address: '192.0.2.8',
      detail: { reason: 'project ended' },
    });
    audit.checkpoint(privateKey, 'periodic', '2026-04-12T08:02:00.000Z');
    // The new records are v2, after v1 ones.
    expect(db.prepare('SELECT seq, chain_version FROM entry_log WHERE seq >= 17').raw(true).all()).toEqual([
      [17, null],
      [18, 2],
      [19, 2],
    ]);
    expect(db.prepare('SELECT seq, chain_version FROM audit_log WHERE seq >= 7').raw(true).all()).toEqual([
      [7, null],
      [8, 2],
    ]);
    expect(verifyEntryLog(db, publicKey)).toEqual({ ok: true, records: 16, checkpoints: 5 });
    expect(verifyAuditLog(db, publicKey)).toEqual({ ok: true, records: 6, checkpoints: 4 });
    db.close();
    expect(await verifyEntryLogFile(join(dir, DATABASE_FILE), publicKey)).toEqual({ ok: true, records: 16, checkpoints: 5 });
    expect(await verifyAuditLogFile(join(dir, DATABASE_FILE), publicKey)).toEqual({ ok: true, records: 6, checkpoints: 4 });
  });
});
