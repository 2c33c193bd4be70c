import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { generateKeyPairSync } from 'node:crypto';
import { writeCheckpoint } from '../../src/store/checkpoints.js';
import { EntryLog, GENESIS_HASH, canonicalEntry, rowToRecord, storedCanonical, verifyEntryLog, type EntryInput } from '../../src/store/entry-log.js';

function logWith(n: number) {
  const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-log-')));
  const log = new EntryLog(db);
  for (let i = 1; i <= n; i++) {
    log.append({
      at: `2026-11-25T01:00:0${i}Z`,
      kind: 'decision',
      doorId: 'lab-main',
      decision: i % 2 ? 'granted' : 'denied',
      reason: i % 2 ? 'granted' : 'no-grant',
      personName: `人 ${i}`,
      detail: { b: 1, a: [i] },
    });
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
    expect(verifyEntryLog(db)).toEqual({ ok: true, records: 3, checkpoints: 0 });
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

  // Tampering as data: what the intruder does to a log of `records`, and the break verify must name.
  const tampers: { what: string; records: number; sql: string; breakAt: { seq: number; problem?: string } }[] = [
    {
      what: 'an edited record',
      records: 5,
      sql: "UPDATE entry_log SET decision = 'granted', reason = 'granted' WHERE seq = 4",
      breakAt: { seq: 4, problem: 'content does not match its hash (edited)' },
    },
    { what: 'a deleted record', records: 5, sql: 'DELETE FROM entry_log WHERE seq = 2', breakAt: { seq: 2 } },
    {
      what: 'reordered records',
      records: 4,
      sql: 'UPDATE entry_log SET seq = 100 WHERE seq = 2; UPDATE entry_log SET seq = 2 WHERE seq = 3; UPDATE entry_log SET seq = 3 WHERE seq = 100;',
      breakAt: { seq: 2 },
    },
    {
      what: "a record's encoding version changed",
      records: 4,
      sql: 'UPDATE entry_log SET chain_version = NULL WHERE seq = 3',
      breakAt: { seq: 3, problem: 'content does not match its hash (edited)' },
    },
  ];
  it.each(tampers)('detects $what', ({ records, sql, breakAt }) => {
    const { db } = logWith(records);
    tamper(db, sql);
    expect(verifyEntryLog(db)).toMatchObject({ ok: false, records: breakAt.seq - 1, checkpoints: 0, breakAt });
  });
});

describe('entry log: truncation and the fast canonical encoding', () => {
  it('detects a truncated log through its signed checkpoint', () => {
    const { db } = logWith(6);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-11-25T02:00:00.000Z' });
    expect(verifyEntryLog(db, publicKey)).toEqual({ ok: true, records: 6, checkpoints: 1 });
    tamper(db, 'DELETE FROM entry_log WHERE seq >= 5');
    expect(verifyEntryLog(db, publicKey)).toEqual({
      ok: false,
      records: 4,
      checkpoints: 1,
      breakAt: { seq: 5, problem: 'truncated: checkpoint of 2026-11-25T02:00:00.000Z covers 6 records, only 4 remain' },
    });
  });

  it('builds, from the stored row, exactly the canonical encoding of the parsed record', () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-log-')));
    const log = new EntryLog(db);
    const inputs: EntryInput[] = [
      {
        at: '2026-11-25T01:00:00.000Z',
        kind: 'decision',
        doorId: 'lab-main',
        areaId: 'lab',
        direction: 'in',
        personId: 'p-1',
        personName: '山田 太郎',
        affiliation: '研究開発部',
        purpose: '定期点検',
        factors: ['card', 'pin'],
        decision: 'granted',
        reason: 'granted',
        deviceId: 'reader-1',
        deviceBoot: 3,
        deviceSeq: 9_007_199_254_740_991,
        detail: { z: 1, a: { y: [3, { b: 2, a: 1 }], x: null }, ü: 'ß' },
      },
      { at: '2026-11-25T01:00:01.000Z', kind: 'door', doorId: 'lab-main', reason: 'door-forced' },
      { at: '2026-11-25T01:00:02.000Z', kind: 'mode', areaId: 'lab', reason: 'mode-lockdown', factors: [], detail: {} },
      {
        at: '2026-11-25T01:00:03.000Z',
        kind: 'decision',
        personName: 'O"Brien \\ back\nslash\ttab \u0001 \u001f 😀 \u2028',
        affiliation: '',
        decision: 'denied',
        reason: 'no-grant',
        linkedSeq: 1,
        linkedPersonId: 'p-1',
        detail: { note: 'quote " and \\ and 改行\n', n: -0.5, big: 1e21, small: 1e-7 },
      },
    ];
    for (const input of inputs) log.append(input);
    for (let seq = 1; seq <= inputs.length; seq++) {
      const {
        hash: _h,
        prevHash: _p,
        ...body
      } = rowToRecord(db.prepare('SELECT * FROM entry_log WHERE seq = ?').get(seq) as Parameters<typeof rowToRecord>[0]);
      expect(storedCanonical(db, seq)).toBe(canonicalEntry(body));
    }
    expect(verifyEntryLog(db)).toEqual({ ok: true, records: inputs.length, checkpoints: 0 });
  });

  it('still verifies a record whose stored JSON is not in canonical form, and catches a changed one', () => {
    const { db } = logWith(3);
    // Same content, other key order and spacing: the fast path misses, the exact check passes.
    tamper(db, `UPDATE entry_log SET detail = '{ "b": 1, "a": [2] }' WHERE seq = 2`);
    expect(verifyEntryLog(db)).toEqual({ ok: true, records: 3, checkpoints: 0 });
    db.exec(`UPDATE entry_log SET detail = '{"a":[2],"b":2}' WHERE seq = 2`);
    expect(verifyEntryLog(db)).toEqual({ ok: false, records: 1, checkpoints: 0, breakAt: { seq: 2, problem: 'content does not match its hash (edited)' } });
    db.exec(`UPDATE entry_log SET detail = '{"a":[2],' WHERE seq = 2`);
    expect(verifyEntryLog(db)).toMatchObject({ ok: false, breakAt: { seq: 2, problem: 'factors or detail is not valid JSON (edited)' } });
  });

  it('reports the earliest break when an edit precedes a deletion', () => {
    const { db } = logWith(8);
    tamper(db, "UPDATE entry_log SET person_name = 'someone else' WHERE seq = 3; DELETE FROM entry_log WHERE seq = 6;");
    expect(verifyEntryLog(db)).toMatchObject({ ok: false, records: 2, breakAt: { seq: 3, problem: 'content does not match its hash (edited)' } });
  });

  it('finds a time range without an area through (area_id, at): every area and the records with none', () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-log-')));
    const log = new EntryLog(db);
    const areas = ['lab', null, 'office', 'store', null, 'lab'];
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    for (let i = 0; i < 600; i++) {
      log.append({ at: new Date(t0 + i * 60_000).toISOString(), kind: i % 7 ? 'decision' : 'mode', areaId: areas[i % areas.length], decision: 'granted' });
    }
    // The time-only index is gone (migration): each decision writes one index page fewer.
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entry_log' ORDER BY name").pluck().all()).toEqual([
      'entry_log_area_at',
      'entry_log_door',
      'entry_log_person',
    ]);
    const plain = db.prepare('SELECT seq FROM entry_log WHERE +at >= ? AND +at < ? ORDER BY seq DESC').pluck();
    for (const [a, b] of [
      [0, 600],
      [5, 6],
      [17, 311],
      [599, 700],
      [-10, 3],
      [250, 250],
    ] as const) {
      const from = new Date(t0 + a * 60_000).toISOString();
      const to = new Date(t0 + b * 60_000).toISOString();
      const got = [...log.iterate({ from, to }, 'desc')].map((r) => r.seq);
      expect(got).toEqual(plain.all(from, to));
      // Paged, newest first, the same records.
      const paged: number[] = [];
      let before: number | undefined;
      for (;;) {
        const page = log.query({ from, to, limit: 40, ...(before ? { before } : {}) });
        paged.push(...page.records.map((r) => r.seq));
        if (page.nextBefore === null) break;
        before = page.nextBefore;
      }
      expect(paged).toEqual(got);
    }
    db.close();
  });
});
