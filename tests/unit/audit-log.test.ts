import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { AuditLog, verifyAuditLog } from '../../src/store/audit-log.js';
import { loadOrCreateLogKey } from '../../src/store/log-key.js';
import { CLI } from '../helpers/daemon.js';

function auditWith(n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-audit-'));
  const db = openDatabase(dir);
  const log = new AuditLog(db);
  const key = loadOrCreateLogKey(dir);
  for (let i = 1; i <= n; i++) {
    log.append({
      at: `2026-11-${String(10 + i).padStart(2, '0')}T00:00:00.000Z`,
      actor: 'manager-1',
      role: 'manager',
      action: i % 2 ? 'grant.create' : 'grant.revoke',
      target: `grant:${i}`,
      outcome: 'ok',
      address: '127.0.0.1',
      detail: { areaId: 'lab', n: i },
    });
  }
  log.checkpoint(key, 'periodic', '2026-11-25T00:00:00.000Z');
  return { dir, db, log, key, pub: createPublicKey(key) };
}

const tamper = (db: Database.Database, sql: string) => db.exec(`DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; ${sql}`);

describe('audit log', () => {
  it('is append-only through SQL and verifies with its signed checkpoint', () => {
    const { db, pub } = auditWith(6);
    expect(() => db.exec("UPDATE audit_log SET outcome = 'denied' WHERE seq = 2")).toThrow(/append-only/);
    expect(() => db.exec('DELETE FROM audit_log WHERE seq = 2')).toThrow(/append-only/);
    expect(verifyAuditLog(db, pub)).toEqual({ ok: true, records: 6, checkpoints: 1 });
  });

  it.each([
    ['an edited record', "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3", 3, /edited/],
    ['a deleted record', 'DELETE FROM audit_log WHERE seq = 4', 4, /missing/],
    ['a truncated log', 'DELETE FROM audit_log WHERE seq > 4', 5, /truncated/],
  ])('catches %s', (_what, sql, seq, problem) => {
    const { db, pub } = auditWith(6);
    tamper(db, sql);
    const result = verifyAuditLog(db, pub);
    expect(result.ok).toBe(false);
    expect(result.breakAt?.seq).toBe(seq);
    expect(result.breakAt?.problem).toMatch(problem);
  });

  it('a forged checkpoint (another key) is caught', () => {
    const { db, log, pub } = auditWith(3);
    log.checkpoint(loadOrCreateLogKey(mkdtempSync(join(tmpdir(), 'other-key-'))), 'periodic', '2026-11-26T00:00:00.000Z');
    expect(verifyAuditLog(db, pub)).toMatchObject({ ok: false, breakAt: { problem: expect.stringMatching(/invalid signature/) } });
  });

  it('pruning keeps a verifiable remainder behind a signed anchor', () => {
    const { db, log, key, pub } = auditWith(8);
    expect(log.prune(key, '2026-11-15T00:00:00.000Z', '2026-11-25T01:00:00.000Z')).toBe(4);
    expect(verifyAuditLog(db, pub)).toMatchObject({ ok: true, records: 4 });
    tamper(db, 'DELETE FROM audit_checkpoints');
    // Verified as the entry log is (one verifier): the gap is named from its start.
    expect(verifyAuditLog(db, pub)).toMatchObject({
      ok: false,
      breakAt: { seq: 1, problem: expect.stringMatching(/^records 1–4 are missing \(the log starts at record 5\) and no prune checkpoint/) },
    });
  });

  it('`tobira log verify --audit` exits 0 on a good log and 1 naming the record on an edited copy', () => {
    const { dir, db } = auditWith(5);
    db.close();
    const ok = spawnSync(process.execPath, [CLI, 'log', 'verify', '--audit', '--data', dir], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/audit log OK: 5 records/);
    const copy = mkdtempSync(join(tmpdir(), 'tobira-audit-copy-'));
    copyFileSync(join(dir, 'tobira.db'), join(copy, 'tobira.db'));
    copyFileSync(join(dir, 'log-signing-key.pem'), join(copy, 'log-signing-key.pem'));
    const edited = new Database(join(copy, 'tobira.db'));
    tamper(edited, "UPDATE audit_log SET action = 'grant.create' WHERE seq = 2");
    edited.close();
    const bad = spawnSync(process.execPath, [CLI, 'log', 'verify', '--audit', '--data', copy], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/audit log BROKEN at record 2: content does not match its hash/);
  });
});
