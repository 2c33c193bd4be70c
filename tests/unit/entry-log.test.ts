import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { EntryLog, GENESIS_HASH, verifyEntryLog } from '../../src/store/entry-log.js';

function logWith(n: number) {
  const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-log-')));
  const log = new EntryLog(db);
  for (let i = 1; i <= n; i++) {
    log.append({ at: `2026-11-25T01:00:0${i}Z`, kind: 'decision', doorId: 'lab-main', decision: i % 2 ? 'granted' : 'denied', reason: i % 2 ? 'granted' : 'no-grant', personName: `人 ${i}`, detail: { b: 1, a: [i] } });
  }
  return { db, log };
}

/** The triggers stop the daemon's own code; an intruder with the file can drop them. */
function tamper(db: ReturnType<typeof openDatabase>, sql: string) {
  db.exec('DROP TRIGGER entry_log_no_update; DROP TRIGGER entry_log_no_delete;');
  db.exec(sql);
}

describe('entry log hash chain', () => {
  it('chains each record to the one before, from the genesis hash', () => {
    const { db, log } = logWith(3);
    expect(log.get(1)!.prevHash).toBe(GENESIS_HASH);
    expect(log.get(2)!.prevHash).toBe(log.get(1)!.hash);
    expect(log.get(3)!.prevHash).toBe(log.get(2)!.hash);
    expect(verifyEntryLog(db)).toEqual({ ok: true, records: 3 });
    // A reopened log continues the same chain.
    const again = new EntryLog(db).append({ at: 'x', kind: 'door', reason: 'rex' });
    expect(again.prevHash).toBe(log.get(3)!.hash);
    expect(verifyEntryLog(db).ok).toBe(true);
  });

  it('refuses updates and deletes through SQL', () => {
    const { db } = logWith(2);
    expect(() => db.exec("UPDATE entry_log SET decision = 'granted' WHERE seq = 2")).toThrow(/append-only/);
    expect(() => db.exec('DELETE FROM entry_log WHERE seq = 1')).toThrow(/append-only/);
  });

  it('detects an edited record', () => {
    const { db } = logWith(5);
    tamper(db, "UPDATE entry_log SET decision = 'granted', reason = 'granted' WHERE seq = 4");
    expect(verifyEntryLog(db)).toEqual({ ok: false, records: 3, breakAt: { seq: 4, problem: 'content does not match its hash (edited)' } });
  });

  it('detects a deleted record', () => {
    const { db } = logWith(5);
    tamper(db, 'DELETE FROM entry_log WHERE seq = 2');
    expect(verifyEntryLog(db)).toMatchObject({ ok: false, breakAt: { seq: 2 } });
  });

  it('detects reordered records', () => {
    const { db } = logWith(4);
    tamper(db, 'UPDATE entry_log SET seq = 100 WHERE seq = 2; UPDATE entry_log SET seq = 2 WHERE seq = 3; UPDATE entry_log SET seq = 3 WHERE seq = 100;');
    expect(verifyEntryLog(db)).toMatchObject({ ok: false, breakAt: { seq: 2 } });
  });
});
