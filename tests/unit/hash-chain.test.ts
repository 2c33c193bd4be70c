// The one hash chain of both logs (src/store/hash-chain.ts): the bytes each encoding version hashes,
// pinned; and a record's version, as stored, is checked like its content — on the entry log and the
// audit log alike, in this thread and in worker threads.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, DATABASE_FILE, type Db } from '../../src/store/db.js';
import { EntryLog } from '../../src/store/entry-log.js';
import { AuditLog } from '../../src/store/audit-log.js';
import { writeCheckpoint } from '../../src/store/checkpoints.js';
import { AUDIT_CHAIN, CHAIN_VERSION, ENTRY_CHAIN, canonicalRecord, chainHash, GENESIS_HASH, type ChainLog } from '../../src/store/hash-chain.js';
import { verifyLog } from '../../src/store/hash-chain-verify.js';
import { verifyLogFile } from '../../src/store/verify-parallel.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

const entry = {
  seq: 7,
  at: '2026-11-25T01:00:00.000Z',
  kind: 'decision',
  doorId: 'lab-main',
  areaId: 'lab',
  direction: 'in',
  personId: 'p-1',
  personName: '佐藤 花子',
  affiliation: null,
  purpose: null,
  factors: ['card', 'pin'],
  decision: 'granted',
  reason: 'granted',
  deviceId: 'lab-keypad',
  deviceBoot: 1,
  deviceSeq: 2,
  linkedSeq: null,
  linkedPersonId: null,
  detail: { z: 1, a: { y: 2, b: 'x' } },
};
const audit = {
  seq: 3,
  at: '2026-11-25T01:00:00.000Z',
  actor: 'm',
  role: 'manager',
  action: 'grant.create',
  target: 'grant:1',
  outcome: 'ok',
  address: null,
  detail: { b: 1, a: 2 },
};
const ENTRY_V1 =
  '[7,"2026-11-25T01:00:00.000Z","decision","lab-main","lab","in","p-1","佐藤 花子",null,null,["card","pin"],"granted","granted","lab-keypad",1,2,null,null,{"a":{"b":"x","y":2},"z":1}]';
const AUDIT_V1 = '[3,"2026-11-25T01:00:00.000Z","m","manager","grant.create","grant:1","ok",null,{"a":2,"b":1}]';

describe('the encoding', () => {
  it('v1 (no version: records written before versions) is the fields alone; v2 puts the version first', () => {
    expect(CHAIN_VERSION).toBe(2);
    expect(canonicalRecord(ENTRY_CHAIN, entry)).toBe(ENTRY_V1);
    expect(canonicalRecord(ENTRY_CHAIN, { ...entry, chainVersion: null })).toBe(ENTRY_V1);
    expect(canonicalRecord(ENTRY_CHAIN, { ...entry, chainVersion: 1 })).toBe(ENTRY_V1);
    expect(canonicalRecord(ENTRY_CHAIN, { ...entry, chainVersion: 2 })).toBe(`[2,${ENTRY_V1.slice(1)}`);
    expect(canonicalRecord(AUDIT_CHAIN, audit)).toBe(AUDIT_V1);
    expect(canonicalRecord(AUDIT_CHAIN, { ...audit, chainVersion: 2 })).toBe(`[2,${AUDIT_V1.slice(1)}`);
  });

  it('a version it does not know has no encoding, and hashes to what no stored hash is', () => {
    expect(canonicalRecord(ENTRY_CHAIN, { ...entry, chainVersion: 3 })).toBeUndefined();
    expect(chainHash(ENTRY_CHAIN, GENESIS_HASH, { ...entry, chainVersion: 3 })).toBe('');
    expect(chainHash(ENTRY_CHAIN, GENESIS_HASH, { ...entry, chainVersion: 2 })).not.toBe(chainHash(ENTRY_CHAIN, GENESIS_HASH, entry));
  });
});

/** A data directory with both logs: 6 records each, all v2, and a signed checkpoint of each. */
function bothLogs(): { dir: string; db: Db } {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-chain-'));
  const db = openDatabase(dir);
  const entries = new EntryLog(db);
  const audits = new AuditLog(db);
  for (let i = 1; i <= 6; i++) {
    const at = `2026-11-25T01:00:0${i}.000Z`;
    expect(
      entries.append({ at, kind: 'decision', doorId: 'lab-main', decision: 'granted', reason: 'granted', personName: `人 ${i}`, detail: { b: i, a: [i] } })
        .chainVersion,
    ).toBe(2);
    expect(
      audits.append({ at, actor: 'm', role: 'manager', action: 'grant.create', target: `grant:${i}`, outcome: 'ok', address: null, detail: { n: i } })
        .chainVersion,
    ).toBe(2);
  }
  writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-11-25T01:00:10.000Z' });
  audits.checkpoint(privateKey, 'periodic', '2026-11-25T01:00:10.000Z');
  return { dir, db };
}

describe("a record's version is checked like its content, on both logs", () => {
  const cases: { label: string; set: string; at: number; problem: string | RegExp }[] = [
    { label: 'cleared (a v2 record read as v1)', set: 'chain_version = NULL', at: 4, problem: 'content does not match its hash (edited)' },
    { label: 'set to 1', set: 'chain_version = 1', at: 4, problem: 'content does not match its hash (edited)' },
    {
      label: 'set to a version not known',
      set: 'chain_version = 3',
      at: 4,
      problem: /^written in chain encoding version 3, which this verifier does not know/,
    },
    { label: 'set to text', set: "chain_version = 'two'", at: 4, problem: /^written in chain encoding version "two"/ },
  ];
  const logs: ChainLog[] = [ENTRY_CHAIN, AUDIT_CHAIN];
  it('untouched, both verify', async () => {
    const { dir, db } = bothLogs();
    for (const log of logs) {
      expect(verifyLog(db, log, publicKey), log.label).toEqual({ ok: true, records: 6, checkpoints: 1 });
      expect(db.prepare(`SELECT DISTINCT chain_version FROM ${log.table}`).pluck(true).all()).toEqual([2]);
    }
    db.close();
    for (const log of logs)
      expect(await verifyLogFile(join(dir, DATABASE_FILE), log, publicKey, { workers: 0, chunkRows: 2 })).toEqual({ ok: true, records: 6, checkpoints: 1 });
  });
  for (const log of logs) {
    for (const c of cases) {
      it(`${log.label}: ${c.label}`, async () => {
        const { dir, db } = bothLogs();
        db.exec(`DROP TRIGGER ${log.table}_no_update; UPDATE ${log.table} SET ${c.set} WHERE seq = ${c.at}`);
        const result = verifyLog(db, log, publicKey);
        expect(result).toMatchObject({
          ok: false,
          records: c.at - 1,
          breakAt: { seq: c.at, problem: c.problem instanceof RegExp ? expect.stringMatching(c.problem) : c.problem },
        });
        db.close();
        expect(await verifyLogFile(join(dir, DATABASE_FILE), log, publicKey, { workers: 0, chunkRows: 3 })).toEqual(result);
      });
    }
  }
});
