import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { openDatabase, type Db } from '../../src/store/db.js';
import { AuditLog, verifyAuditLog } from '../../src/store/audit-log.js';
import { verifyEntryLogFile } from '../../src/store/verify-parallel.js';
import { rechain } from '../helpers/tamper.js';
import { referenceVerify } from '../helpers/verify-reference.js';
import { EntryLog, verifyEntryLog, verifyExternalCheckpoint, type EntryInput, type EntryRecord } from '../../src/store/entry-log.js';
import {
  CheckpointStore,
  checkpointMessage,
  nextWithinSecondsFor,
  parseCheckpointJson,
  publishedCheckpoint,
  signCheckpoint,
  verifyCheckpointSignature,
  writeCheckpoint,
} from '../../src/store/checkpoints.js';
import { LOG_KEY_FILE, loadLogKey, loadOrCreateLogKey, loadPublicKey, publicKeyPem } from '../../src/store/log-key.js';
import { assertRetention, MIN_RETENTION_DAYS, pruneEntryLog } from '../../src/store/retention.js';
import { verifyExportText } from '../../src/cli/log-commands.js';
import { writeExport } from '../../src/services/entry-export.js';
import { LogKeeper } from '../../src/controller/log-keeper.js';
import { StartupError } from '../../src/controller/controller.js';
import { Bus } from '../../src/controller/bus.js';
import type { Context } from '../../src/controller/context.js';
import { StorageFaults } from '../../src/controller/storage-faults.js';
import { EntryCheckpoints } from '../../src/store/entry-checkpoints.js';

const keys = () => generateKeyPairSync('ed25519');
const newDb = () => openDatabase(mkdtempSync(join(tmpdir(), 'tobira-integrity-')));
const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00.000Z');

/** `n` records, one a day from T0, over two areas, three doors, four people, both decisions. */
function seed(db: Db, n: number): EntryRecord[] {
  const log = new EntryLog(db);
  const out: EntryRecord[] = [];
  for (let i = 1; i <= n; i++) {
    const input: EntryInput = {
      at: new Date(T0 + (i - 1) * DAY).toISOString(),
      kind: i % 5 === 0 ? 'door' : 'decision',
      doorId: ['lab-main', 'lab-back', 'safe'][i % 3]!,
      areaId: i % 3 === 2 ? 'vault' : 'lab',
      direction: i % 2 ? 'in' : 'out',
      personId: i % 5 === 0 ? null : `p-${i % 4}`,
      personName: i % 5 === 0 ? null : `利用者 ${i % 4}`,
      decision: i % 5 === 0 ? null : i % 4 === 0 ? 'denied' : 'granted',
      reason: i % 5 === 0 ? 'rex' : i % 4 === 0 ? 'no-grant' : 'granted',
      factors: ['card'],
      detail: { i },
    };
    out.push(log.append(input));
  }
  return out;
}

function tamper(db: Db, sql: string) {
  db.exec('DROP TRIGGER IF EXISTS entry_log_no_update; DROP TRIGGER IF EXISTS entry_log_no_delete;');
  db.exec(sql);
}

describe('checkpoints', () => {
  it('signs a versioned message and verifies only the same fields with the same key', () => {
    const { privateKey, publicKey } = keys();
    const body = { kind: 'periodic' as const, count: 12, headHash: 'a'.repeat(64), at: '2026-11-25T00:00:00.000Z' };
    expect(checkpointMessage(body)).toBe(`tobira-checkpoint-v1\nperiodic\n12\n${'a'.repeat(64)}\n2026-11-25T00:00:00.000Z\n\n`);
    const cp = signCheckpoint(body, privateKey);
    expect(verifyCheckpointSignature(cp, publicKey)).toBe(true);
    expect(verifyCheckpointSignature({ ...cp, count: 11 }, publicKey)).toBe(false);
    expect(verifyCheckpointSignature({ ...cp, headHash: 'b'.repeat(64) }, publicKey)).toBe(false);
    expect(verifyCheckpointSignature({ ...cp, kind: 'shutdown' }, publicKey)).toBe(false);
    expect(verifyCheckpointSignature({ ...cp, anchorSeq: 3 }, publicKey)).toBe(false);
    expect(verifyCheckpointSignature({ ...cp, signature: 'not base64 at all' }, publicKey)).toBe(false);
    expect(verifyCheckpointSignature(cp, keys().publicKey)).toBe(false);
    const prune = signCheckpoint({ ...body, kind: 'prune', anchorSeq: 5, anchorPrevHash: 'c'.repeat(64) }, privateKey);
    expect(verifyCheckpointSignature(prune, publicKey)).toBe(true);
    expect(verifyCheckpointSignature({ ...prune, anchorPrevHash: 'd'.repeat(64) }, publicKey)).toBe(false);
  });

  it('stores checkpoints in order and round-trips the published form', () => {
    const db = newDb();
    seed(db, 3);
    const { privateKey, publicKey } = keys();
    const a = writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-11-25T00:00:00.000Z' });
    new EntryLog(db).append({ at: '2026-11-25T00:00:01.000Z', kind: 'door', reason: 'rex' });
    const b = writeCheckpoint(db, privateKey, { kind: 'shutdown', at: '2026-11-25T00:00:02.000Z' });
    const store = new CheckpointStore(db);
    expect(store.all().map((c) => [c.kind, c.count])).toEqual([
      ['periodic', 3],
      ['shutdown', 4],
    ]);
    expect(store.latest()).toEqual(b);
    expect(a.headHash).toBe(new EntryLog(db).get(3)!.hash);
    const published = JSON.stringify(publishedCheckpoint(b, publicKeyPem(privateKey)));
    const parsed = parseCheckpointJson(published);
    expect(verifyCheckpointSignature(parsed.checkpoint, loadPublicKey(parsed.publicKey!))).toBe(true);
    expect(verifyCheckpointSignature(parsed.checkpoint, publicKey)).toBe(true);
    expect(() => parseCheckpointJson('{"kind":"periodic"}')).toThrow(/not a checkpoint/);
  });

  it('keeps the signing key in the data directory: PKCS#8 PEM, mode 0600, the same key on reload', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-key-'));
    expect(loadLogKey(dir)).toBeUndefined();
    const key = loadOrCreateLogKey(dir);
    const file = join(dir, LOG_KEY_FILE);
    expect(readFileSync(file, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(key.asymmetricKeyType).toBe('ed25519');
    expect(publicKeyPem(loadOrCreateLogKey(dir))).toBe(publicKeyPem(key));
    const pem = publicKeyPem(key);
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(publicKeyPem(loadPublicKey(pem))).toBe(pem);
    expect(() => loadPublicKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string)).toThrow(
      /Ed25519/,
    );
  });
});

describe('verification with checkpoints', () => {
  it('catches truncation through the checkpoint, and a checkpoint kept off the gateway catches it after local checkpoints are deleted', () => {
    const db = newDb();
    seed(db, 10);
    const { privateKey, publicKey } = keys();
    const cp = writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-11-25T00:00:00.000Z' });
    expect(verifyEntryLog(db, publicKey)).toEqual({ ok: true, records: 10, checkpoints: 1 });
    expect(verifyExternalCheckpoint(db, cp, publicKey)).toEqual({ ok: true });
    tamper(db, 'DELETE FROM entry_log WHERE seq > 7');
    expect(verifyEntryLog(db, publicKey)).toMatchObject({
      ok: false,
      breakAt: { seq: 8, problem: 'truncated: checkpoint of 2026-11-25T00:00:00.000Z covers 10 records, only 7 remain' },
    });
    db.exec('DELETE FROM checkpoints');
    // With the key, a log without checkpoints is itself a break; without it only the chain is checked.
    expect(verifyEntryLog(db, publicKey)).toMatchObject({
      ok: false,
      records: 7,
      checkpoints: 0,
      breakAt: { seq: 1, problem: expect.stringContaining('no signed checkpoint') },
    });
    expect(verifyEntryLog(db)).toEqual({ ok: true, records: 7, checkpoints: 0 });
    expect(verifyExternalCheckpoint(db, cp, publicKey)).toMatchObject({
      ok: false,
      breakAt: { seq: 8, problem: expect.stringMatching(/^truncated: .* covers 10 records, only 7 remain/) },
    });
  });

  it('catches a chain rewritten with fresh hashes at the first checkpoint after it', () => {
    const db = newDb();
    const records = seed(db, 12);
    const { privateKey, publicKey } = keys();
    // Checkpoints at 4 and 9, as the keeper would sign them while the log grew (one record a day here).
    const store = new CheckpointStore(db);
    const promise = { nextWithin: 10, nextWithinSeconds: 7 * 86_400 };
    store.insert(
      signCheckpoint({ kind: 'periodic', count: 4, headHash: records[3]!.hash, at: '2026-02-01T00:00:00.000Z', ordinal: 1, ...promise }, privateKey),
    );
    store.insert(
      signCheckpoint({ kind: 'periodic', count: 9, headHash: records[8]!.hash, at: '2026-02-02T00:00:00.000Z', ordinal: 2, ...promise }, privateKey),
    );
    expect(verifyEntryLog(db, publicKey).ok).toBe(true);
    // The intruder edits record 6 and re-chains everything after it: every link and hash holds.
    tamper(db, 'DELETE FROM entry_log WHERE seq >= 6');
    const log = new EntryLog(db);
    for (const r of records.slice(5)) {
      const { seq: _s, prevHash: _p, hash: _h, ...input } = r;
      log.append(r.seq === 6 ? { ...input, decision: 'denied', reason: 'no-grant' } : input);
    }
    expect(verifyEntryLog(db)).toMatchObject({ ok: false, breakAt: { seq: 9, problem: expect.stringContaining('the chain was rewritten after record 4') } });
  });

  it('prune keeps a remainder that verifies from a signed anchor; deleting past the anchor is caught', () => {
    const db = newDb();
    const records = seed(db, 20);
    const { privateKey, publicKey } = keys();
    writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-01-20T12:00:00.000Z' });
    // Records 1–7 are before 2026-01-08.
    expect(pruneEntryLog(db, { before: '2026-01-08T00:00:00.000Z', key: privateKey, now: () => new Date('2026-11-25T00:00:00.000Z') })).toBe(7);
    expect(db.prepare('SELECT min(seq) AS first, count(*) AS n FROM entry_log').get()).toEqual({ first: 8, n: 13 });
    const prune = new CheckpointStore(db).latest()!;
    expect(prune).toMatchObject({
      kind: 'prune',
      count: 20,
      headHash: records[19]!.hash,
      anchorSeq: 8,
      anchorPrevHash: records[6]!.hash,
      at: '2026-11-25T00:00:00.000Z',
    });
    expect(verifyEntryLog(db, publicKey)).toEqual({ ok: true, records: 13, checkpoints: 2 });
    // The log_prune row is gone: the delete trigger guards again.
    expect(() => db.exec('DELETE FROM entry_log WHERE seq = 8')).toThrow(/append-only/);
    tamper(db, 'DELETE FROM entry_log WHERE seq <= 9');
    expect(verifyEntryLog(db, publicKey)).toMatchObject({ ok: false, breakAt: { seq: 8, problem: expect.stringContaining('records 8–9 are missing') } });
  });

  it('never prunes the newest record, and prunes nothing twice', () => {
    const db = newDb();
    const records = seed(db, 5);
    const { privateKey, publicKey } = keys();
    expect(pruneEntryLog(db, { before: '2030-01-01T00:00:00.000Z', key: privateKey })).toBe(4);
    expect(new EntryLog(db).get(5)!.hash).toBe(records[4]!.hash);
    expect(pruneEntryLog(db, { before: '2030-01-01T00:00:00.000Z', key: privateKey })).toBe(0);
    expect(verifyEntryLog(db, publicKey)).toEqual({ ok: true, records: 1, checkpoints: 1 });
    // The chain continues from the kept head after pruning.
    new EntryLog(db).append({ at: '2030-01-02T00:00:00.000Z', kind: 'door', reason: 'rex' });
    expect(verifyEntryLog(db, publicKey)).toEqual({ ok: true, records: 2, checkpoints: 1 });
  });

  it('refuses to prune across a broken link', () => {
    const db = newDb();
    seed(db, 6);
    const { privateKey } = keys();
    tamper(db, `UPDATE entry_log SET prev_hash = '${'f'.repeat(64)}' WHERE seq = 4`);
    expect(() => pruneEntryLog(db, { before: '2026-01-04T00:00:00.000Z', key: privateKey })).toThrow(/refusing to prune: record 4/);
    expect(db.prepare('SELECT count(*) FROM entry_log').pluck().get()).toBe(6);
    expect(db.prepare('SELECT count(*) FROM log_prune').pluck().get()).toBe(0);
  });

  it('catches a forged prune checkpoint (bad signature) and deleted old records with no prune checkpoint', () => {
    const db = newDb();
    const records = seed(db, 10);
    const { privateKey, publicKey } = keys();
    writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-01-11T00:00:00.000Z' });
    tamper(db, 'DELETE FROM entry_log WHERE seq <= 5');
    expect(verifyEntryLog(db, publicKey)).toMatchObject({ ok: false, breakAt: { seq: 1, problem: expect.stringContaining('records 1–5 are missing') } });
    // The intruder adds a prune checkpoint of their own, signed with another key.
    const forged = signCheckpoint(
      { kind: 'prune', count: 10, headHash: records[9]!.hash, at: '2026-11-25T00:00:00.000Z', anchorSeq: 6, anchorPrevHash: records[4]!.hash },
      keys().privateKey,
    );
    new CheckpointStore(db).insert(forged);
    expect(verifyEntryLog(db, publicKey)).toMatchObject({
      ok: false,
      breakAt: { seq: 6, problem: expect.stringMatching(/prune checkpoint of 2026-11-25T00:00:00.000Z .*invalid signature/) },
    });
    // Without the key only the structure can be checked, and the forgery is consistent.
    expect(verifyEntryLog(db).ok).toBe(true);
  });

  it('refuses a retention below three months', () => {
    expect(MIN_RETENTION_DAYS).toBe(90);
    expect(() => assertRetention(89)).toThrow(/at least 90 days/);
    expect(() => assertRetention(90)).not.toThrow();
    expect(() => assertRetention(1095)).not.toThrow();
  });
});

describe('deleted checkpoints (checkpoints v2: ordinals and a signed schedule)', () => {
  const MIN = 60_000;
  /** `n` records a minute apart; a checkpoint after every `every`-th, promising `nextWithin` records and `seconds`. */
  function signedLog(n: number, every: number, promise: { nextWithin: number; nextWithinSeconds: number }) {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-v2-'));
    const db = openDatabase(dir);
    const log = new EntryLog(db);
    const { privateKey, publicKey } = keys();
    writeCheckpoint(db, privateKey, { kind: 'periodic', at: new Date(T0).toISOString(), ...promise });
    for (let i = 1; i <= n; i++) {
      log.append({
        at: new Date(T0 + i * MIN).toISOString(),
        kind: 'decision',
        doorId: 'lab-main',
        personId: `p-${i % 3}`,
        decision: 'granted',
        reason: 'granted',
        factors: ['card'],
      });
      if (i % every === 0) writeCheckpoint(db, privateKey, { kind: 'periodic', at: new Date(T0 + i * MIN + 1000).toISOString(), ...promise });
    }
    return { dir, db, privateKey, publicKey, file: join(dir, 'tobira.db') };
  }
  /** The same verdict in this thread, in worker threads (the CLI's and the API's path) and from the reference walk. */
  async function verdict(db: Db, file: string, publicKey: KeyObject) {
    const one = verifyEntryLog(db, publicKey);
    expect(await verifyEntryLogFile(file, publicKey, { workers: 0 })).toEqual(one);
    expect(referenceVerify(db, publicKey)).toEqual(one);
    return one;
  }
  const wide = { nextWithin: 1000, nextWithinSeconds: 3600 };
  const ords = (db: Db) => new CheckpointStore(db).all().map((c) => c.ordinal);

  it('an untampered log with checkpoints verifies; each checkpoint is signed with its ordinal and promise', async () => {
    const { db, file, publicKey } = signedLog(30, 10, wide);
    expect(ords(db)).toEqual([1, 2, 3, 4]);
    expect(await verdict(db, file, publicKey)).toEqual({ ok: true, records: 30, checkpoints: 4 });
    // Records after the last checkpoint, within its promise, are the ordinary unsigned head.
    new EntryLog(db).append({ at: new Date(T0 + 31 * MIN).toISOString(), kind: 'door', reason: 'rex' });
    expect((await verdict(db, file, publicKey)).ok).toBe(true);
  });

  it('a chain rewritten with every checkpoint deleted is a break naming the missing checkpoints (with the key)', async () => {
    const { db, file, publicKey } = signedLog(30, 10, wide);
    tamper(db, "UPDATE entry_log SET decision = 'denied', reason = 'no-grant' WHERE seq = 5");
    rechain(db, 5);
    db.exec('DELETE FROM checkpoints');
    expect(await verdict(db, file, publicKey)).toMatchObject({
      ok: false,
      records: 30,
      checkpoints: 0,
      breakAt: { seq: 1, problem: expect.stringMatching(/^no signed checkpoint: records 1–30 are signed by none.*checkpoints were deleted/) },
    });
    // Without the key only the chain can be checked (anyone could add unsigned rows), and it holds.
    expect(verifyEntryLog(db).ok).toBe(true);
  });

  it('a checkpoint deleted in the middle leaves a gap in the signed ordinals', async () => {
    const { db, file, publicKey } = signedLog(30, 10, wide);
    db.exec('DELETE FROM checkpoints WHERE ordinal = 2');
    expect(await verdict(db, file, publicKey)).toMatchObject({
      ok: false,
      breakAt: {
        seq: 1,
        problem: expect.stringMatching(
          /^checkpoint #2 is missing: the periodic checkpoint of .* \(20 records\) is signed as #3, so 2 were written before it and 1 remain/,
        ),
      },
    });
    db.exec('DELETE FROM checkpoints WHERE ordinal = 3');
    expect(verifyEntryLog(db, publicKey).breakAt!.problem).toMatch(/^checkpoints #2–#3 are missing/);
    // Stripping the ordinal and promise to pass a v2 checkpoint off as v1 breaks its signature.
    db.exec('UPDATE checkpoints SET ordinal = NULL, next_within = NULL, next_within_s = NULL WHERE ordinal = 4');
    expect(verifyEntryLog(db, publicKey).breakAt!.problem).toMatch(/invalid signature/);
  });

  it('the last checkpoints deleted and the records after the one kept rewritten: caught past its promise in records, and in time', async () => {
    // 45 records a minute apart, checkpoints after 10, 20, 30, 40: records 41–45 are the unsigned head.
    const byCount = signedLog(45, 10, { nextWithin: 12, nextWithinSeconds: 3600 });
    tamper(byCount.db, 'DELETE FROM checkpoints WHERE ordinal = 5');
    rechain(byCount.db, 31);
    expect(await verdict(byCount.db, byCount.file, byCount.publicKey)).toMatchObject({
      ok: false,
      breakAt: {
        seq: 43,
        problem: expect.stringMatching(
          /^records 31–45 follow no signed checkpoint and the last one, #4, .* allowed at most 12: later checkpoints were deleted/,
        ),
      },
    });
    const byTime = signedLog(45, 10, { nextWithin: 1000, nextWithinSeconds: 600 });
    tamper(byTime.db, 'DELETE FROM checkpoints WHERE ordinal = 5');
    rechain(byTime.db, 31);
    // Record 31 is at minute 31: record 42 (minute 42) is the first more than 600 s after it.
    expect(await verdict(byTime.db, byTime.file, byTime.publicKey)).toMatchObject({
      ok: false,
      breakAt: { seq: 42, problem: expect.stringMatching(/^record 42 .* is more than 600 s after record 31 .* the first after the last one, #4/) },
    });
    // The bound: deleting the newest checkpoint and rewriting no more, and no later, than the one
    // before it allowed is a rollback to that checkpoint — only a copy kept off the gateway shows it.
    const within = signedLog(40, 10, { nextWithin: 12, nextWithinSeconds: 600 });
    tamper(within.db, 'DELETE FROM checkpoints WHERE ordinal = 5');
    rechain(within.db, 35);
    expect((await verdict(within.db, within.file, within.publicKey)).ok).toBe(true);
  });

  it('a checkpoint signed after the deletion (a restart) does not make the unsigned stretch good', async () => {
    const { db, file, privateKey, publicKey } = signedLog(45, 10, { nextWithin: 12, nextWithinSeconds: 3600 });
    tamper(db, 'DELETE FROM checkpoints WHERE ordinal = 5');
    rechain(db, 31);
    writeCheckpoint(db, privateKey, { kind: 'periodic', at: new Date(T0 + 50 * MIN).toISOString() });
    expect(ords(db)).toEqual([1, 2, 3, 4, 5]);
    expect(await verdict(db, file, publicKey)).toMatchObject({
      ok: false,
      breakAt: { seq: 43, problem: expect.stringMatching(/^records 31–45 were signed only by #5, .* but #4 allowed at most 12 before the next/) },
    });
  });

  it('a log written before checkpoints v2 still verifies; the first v2 checkpoint counts the v1 ones before it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-v1-'));
    const db = openDatabase(dir);
    const file = join(dir, 'tobira.db');
    const records = seed(db, 20);
    const { privateKey, publicKey } = keys();
    const store = new CheckpointStore(db);
    // As the controller signed them before: the v1 message, no ordinal, no promise.
    for (const n of [10, 20])
      store.insert(signCheckpoint({ kind: 'periodic', count: n, headHash: records[n - 1]!.hash, at: `2026-02-0${n / 10}T00:00:00.000Z` }, privateKey));
    expect(checkpointMessage(store.all()[0]!)).toMatch(/^tobira-checkpoint-v1\n/);
    expect(await verdict(db, file, publicKey)).toEqual({ ok: true, records: 20, checkpoints: 2 });
    // Records after a v1 checkpoint are nobody's promise: a break until the controller signs them.
    new EntryLog(db).append({ at: '2026-02-03T00:00:00.000Z', kind: 'door', reason: 'rex' });
    expect(await verdict(db, file, publicKey)).toMatchObject({
      ok: false,
      breakAt: { seq: 21, problem: expect.stringContaining('is in the old format (v1), which allows none after it') },
    });
    const v2 = writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-02-03T00:00:01.000Z' });
    expect(v2).toMatchObject({ ordinal: 3, count: 21 });
    expect(checkpointMessage(v2)).toMatch(/^tobira-checkpoint-v2\n/);
    expect(await verdict(db, file, publicKey)).toEqual({ ok: true, records: 21, checkpoints: 3 });
    // A v1 checkpoint deleted once a v2 one counts it.
    db.exec('DELETE FROM checkpoints WHERE count = 10');
    expect(verifyEntryLog(db, publicKey)).toMatchObject({
      ok: false,
      breakAt: { problem: expect.stringMatching(/^checkpoint #2 is missing: .* signed as #3/) },
    });
  });

  it('a checkpoint kept off the gateway that the log no longer has shows the rollback', async () => {
    const { db, file, publicKey } = signedLog(30, 10, wide);
    const kept = new CheckpointStore(db).latest()!;
    expect(verifyExternalCheckpoint(db, kept, publicKey)).toEqual({ ok: true });
    db.exec('DELETE FROM checkpoints WHERE ordinal = 4');
    // Within the promise of #3: locally a rollback to it, invisible ...
    expect((await verdict(db, file, publicKey)).ok).toBe(true);
    // ... but not to the copy kept off the gateway (published, or from GET /entries/checkpoints).
    expect(verifyExternalCheckpoint(db, kept, publicKey)).toMatchObject({
      ok: false,
      breakAt: { seq: 30, problem: expect.stringContaining("(#4, 30 records) is not among the log's checkpoints: checkpoints were deleted") },
    });
  });

  it('an export ending with an older signed checkpoint than the latest breaks its promise', async () => {
    const exportWith = async (promise: { nextWithin: number; nextWithinSeconds: number }) => {
      const { db, publicKey } = signedLog(30, 10, promise);
      let text = '';
      await writeExport(db, { format: 'jsonl', publicKey: publicKeyPem(publicKey) }, (chunk) => {
        text += chunk;
      });
      expect(verifyExportText(text, publicKey)).toMatchObject({ ok: true, records: 30, signed: 30 });
      // The intruder swaps in checkpoint #2 (10 records), to rewrite records 11–30 unseen.
      const ls = text.trimEnd().split('\n');
      const trailer = JSON.parse(ls.pop()!);
      const older = new CheckpointStore(db).all().find((c) => c.ordinal === 2)!;
      trailer.checkpoint = { ...trailer.checkpoint, ...Object.fromEntries(Object.entries(older).filter(([k]) => k in trailer.checkpoint)) };
      return verifyExportText(`${[...ls, JSON.stringify(trailer)].join('\n')}\n`, publicKey);
    };
    expect(await exportWith({ nextWithin: 5, nextWithinSeconds: 3600 })).toMatchObject({
      ok: false,
      breakAt: { seq: 16, problem: expect.stringMatching(/^record 16 is more than 5 records after the checkpoint of .* \(#2\)/) },
    });
    // Records a minute apart: record 17 is the first more than 300 s after record 11.
    expect(await exportWith({ nextWithin: 1000, nextWithinSeconds: 300 })).toMatchObject({
      ok: false,
      breakAt: { seq: 17, problem: expect.stringMatching(/^record 17 .* is more than 300 s after record 11 .*\(#2\)/) },
    });
  });

  it('the audit log: its checkpoints deleted is a break too', () => {
    const db = newDb();
    const log = new AuditLog(db);
    const { privateKey, publicKey } = keys();
    for (let i = 1; i <= 4; i++)
      log.append({
        at: `2026-11-2${i}T00:00:00.000Z`,
        actor: 'm',
        role: 'manager',
        action: 'grant.create',
        target: `grant:${i}`,
        outcome: 'ok',
        address: null,
        detail: null,
      });
    log.checkpoint(privateKey, 'periodic', '2026-11-25T00:00:00.000Z', undefined, { nextWithin: 2, nextWithinSeconds: 3600 });
    log.checkpoint(privateKey, 'periodic', '2026-11-25T00:00:01.000Z');
    expect(new CheckpointStore(db, 'audit_checkpoints').all().map((c) => [c.ordinal, c.nextWithin])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(verifyAuditLog(db, publicKey)).toEqual({ ok: true, records: 4, checkpoints: 2 });
    db.exec('DELETE FROM audit_checkpoints WHERE ordinal = 1');
    expect(verifyAuditLog(db, publicKey)).toMatchObject({ ok: false, breakAt: { problem: expect.stringMatching(/^checkpoint #1 is missing/) } });
    db.exec('DELETE FROM audit_checkpoints');
    expect(verifyAuditLog(db, publicKey)).toMatchObject({ ok: false, breakAt: { seq: 1, problem: expect.stringContaining('no signed checkpoint') } });
    expect(verifyAuditLog(db).ok).toBe(true);
  });
});

describe('query', () => {
  const db = newDb();
  const all = seed(db, 40);
  const log = new EntryLog(db);
  const newestFirst = (pred: (r: EntryRecord) => boolean) =>
    all
      .filter(pred)
      .reverse()
      .map((r) => r.seq);
  const pages = (filter: Parameters<EntryLog['query']>[0], limit: number) => {
    const seen: number[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = log.query({ ...filter, limit, ...(before !== undefined ? { before } : {}) });
      seen.push(page.records.map((r) => r.seq));
      if (page.nextBefore === null) return seen;
      before = page.nextBefore;
    }
  };

  it('filters by each field and by time, newest first', () => {
    const from = new Date(T0 + 9 * DAY).toISOString();
    const to = new Date(T0 + 30 * DAY).toISOString();
    const cases: [Parameters<EntryLog['query']>[0], (r: EntryRecord) => boolean][] = [
      [{}, () => true],
      [{ areaId: 'vault' }, (r) => r.areaId === 'vault'],
      [{ doorId: 'safe' }, (r) => r.doorId === 'safe'],
      [{ personId: 'p-1' }, (r) => r.personId === 'p-1'],
      [{ decision: 'denied' }, (r) => r.decision === 'denied'],
      [{ reason: 'rex' }, (r) => r.reason === 'rex'],
      [{ from, to }, (r) => r.at >= from && r.at < to],
      [{ from: '2026-01-10T09:00:00+09:00' }, (r) => r.at >= '2026-01-10T00:00:00.000Z'],
      [{ areaId: 'lab', from, to }, (r) => r.areaId === 'lab' && r.at >= from && r.at < to],
      [{ personId: 'p-3', decision: 'granted', to }, (r) => r.personId === 'p-3' && r.decision === 'granted' && r.at < to],
      [{ doorId: 'lab-main', areaId: 'lab', from }, (r) => r.doorId === 'lab-main' && r.areaId === 'lab' && r.at >= from],
      [{ doorId: 'safe', decision: 'granted', from, to }, (r) => r.doorId === 'safe' && r.decision === 'granted' && r.at >= from && r.at < to],
      [{ areaId: 'nowhere', from }, () => false],
    ];
    for (const [filter, pred] of cases) {
      const expected = newestFirst(pred);
      expect(
        log.query({ ...filter, limit: 1000 }).records.map((r) => r.seq),
        JSON.stringify(filter),
      ).toEqual(expected);
      expect(pages(filter, 3).flat(), JSON.stringify(filter)).toEqual(expected);
    }
  });

  it('pages with a seq cursor: full pages, no repeats, null at the end', () => {
    const seen = pages({ areaId: 'lab' }, 5);
    const expected = newestFirst((r) => r.areaId === 'lab');
    expect(seen.flat()).toEqual(expected);
    expect(seen.slice(0, -1).every((p) => p.length === 5)).toBe(true);
    expect(log.query({ limit: 10 }).nextBefore).toBe(31);
    expect(log.query({ limit: 10, before: 31 }).records[0]!.seq).toBe(30);
    expect(log.query({ limit: 40 }).nextBefore).toBeNull();
    expect(log.query().records).toHaveLength(40);
    expect(() => log.query({ limit: 0 })).toThrow(RangeError);
    expect(() => log.query({ limit: 1001 })).toThrow(RangeError);
    expect(() => log.query({ from: 'yesterday' })).toThrow(/not an ISO date/);
  });

  it('iterates a filter oldest first for export', () => {
    expect([...log.iterate({ doorId: 'safe' })].map((r) => r.seq)).toEqual(all.filter((r) => r.doorId === 'safe').map((r) => r.seq));
    expect([...log.iterate({}, 'desc')][0]!.seq).toBe(40);
  });
});

describe('export and offline verification', () => {
  async function exportText(db: Db, format: 'csv' | 'jsonl', key: KeyObject, filter = {}, lang: 'en' | 'ja' = 'en') {
    let text = '';
    await writeExport(db, { format, filter, lang, publicKey: publicKeyPem(key) }, (chunk) => {
      text += chunk;
    });
    return text;
  }
  function fixture() {
    const db = newDb();
    seed(db, 12);
    const { privateKey, publicKey } = keys();
    writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-11-25T00:00:00.000Z' });
    return { db, privateKey, publicKey };
  }
  const lines = (text: string) => text.trimEnd().split('\n');

  it('exports JSON Lines with every chain field and a trailing checkpoint that verifies offline', async () => {
    const { db, publicKey } = fixture();
    const text = await exportText(db, 'jsonl', publicKey);
    const ls = lines(text);
    expect(ls).toHaveLength(13);
    expect(Object.keys(JSON.parse(ls[0]!))).toEqual([
      'seq',
      'at',
      'kind',
      'doorId',
      'areaId',
      'direction',
      'personId',
      'personName',
      'affiliation',
      'purpose',
      'factors',
      'decision',
      'reason',
      'deviceId',
      'deviceBoot',
      'deviceSeq',
      'linkedSeq',
      'linkedPersonId',
      'detail',
      'chainVersion',
      'prevHash',
      'hash',
    ]);
    const trailer = JSON.parse(ls[12]!);
    expect(trailer).toMatchObject({ checkpoint: { kind: 'periodic', count: 12 }, publicKey: publicKeyPem(publicKey), filter: {}, records: 12 });
    expect(verifyExportText(text, publicKey)).toMatchObject({ ok: true, records: 12, signed: 12 });
  });

  it('catches an edited, a deleted, a reordered and a cut-short export, a forged trailer and the wrong key', async () => {
    const { db, publicKey } = fixture();
    const ls = lines(await exportText(db, 'jsonl', publicKey));
    const join = (xs: string[]) => `${xs.join('\n')}\n`;
    const edited = [...ls];
    edited[3] = edited[3]!.replace('"decision":"denied"', '"decision":"granted"');
    expect(edited[3]).not.toBe(ls[3]);
    expect(verifyExportText(join(edited), publicKey)).toMatchObject({
      ok: false,
      records: 3,
      breakAt: { line: 4, seq: 4, problem: 'content does not match its hash (edited)' },
    });
    const deleted = ls.filter((_, i) => i !== 6);
    expect(verifyExportText(join(deleted), publicKey)).toMatchObject({
      ok: false,
      breakAt: { line: 7, seq: 8, problem: 'record 7 is missing (between lines 6 and 7)' },
    });
    const reordered = [...ls];
    [reordered[2], reordered[3]] = [reordered[3]!, reordered[2]!];
    expect(verifyExportText(join(reordered), publicKey)).toMatchObject({ ok: false, breakAt: { line: 3, seq: 4 } });
    expect(verifyExportText(join(ls.slice(0, 10)), publicKey)).toMatchObject({
      ok: false,
      breakAt: { line: 11, problem: expect.stringContaining('does not end with its checkpoint line') },
    });
    expect(verifyExportText(join([...ls.slice(0, 9), ls[12]!]), publicKey)).toMatchObject({
      ok: false,
      breakAt: {
        line: 10,
        seq: 10,
        problem: expect.stringContaining('truncated: the checkpoint of 2026-11-25T00:00:00.000Z covers 12 records, the export ends at record 9'),
      },
    });
    const forged = JSON.parse(ls[12]!);
    forged.checkpoint.count = 9;
    forged.checkpoint.headHash = JSON.parse(ls[8]!).hash;
    expect(verifyExportText(join([...ls.slice(0, 9), JSON.stringify(forged)]), publicKey)).toMatchObject({
      ok: false,
      breakAt: { line: 10, problem: expect.stringContaining("checkpoint's signature does not verify") },
    });
    expect(verifyExportText(join(ls), keys().publicKey)).toMatchObject({
      ok: false,
      breakAt: { line: 13, problem: expect.stringContaining('does not verify') },
    });
  });

  it('a filtered export verifies each record and names what the signature covers', async () => {
    const { db, publicKey } = fixture();
    const text = await exportText(db, 'jsonl', publicKey, { areaId: 'vault' });
    const result = verifyExportText(text, publicKey);
    expect(result).toMatchObject({ ok: true, records: 4 });
    expect(result.notes.join('\n')).toMatch(/record 12, is not in this export/);
  });

  it('exports CSV with a BOM, English or Japanese headers, JSON text for factors and detail', async () => {
    const { db, publicKey } = fixture();
    const en = await exportText(db, 'csv', publicKey);
    expect(en.startsWith('\ufeffseq,time,kind,door,area,direction,person id,name,affiliation,purpose,factors,decision,reason,')).toBe(true);
    const ja = await exportText(db, 'csv', publicKey, { decision: 'denied' }, 'ja');
    const rows = ja.split('\r\n');
    expect(rows[0]).toMatch(/^\ufeff通番,日時,種別,扉,区域,方向,利用者ID,氏名,所属,目的,認証要素,判定,理由,.*,ハッシュ,理由（説明）$/);
    expect(rows[1]).toContain('"[""card""]"');
    expect(rows[1]).toContain('{""i"":4}');
    expect(rows[1]).toMatch(/,利用者 0,.*,denied,no-grant,.*,区域の入室権限なし$/);
    expect(rows.filter((r) => r !== '')).toHaveLength(1 + 3);
  });
});

describe('log keeper', () => {
  function keeperContext(overrides: Partial<Context['site']['log']> = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-keeper-'));
    const db = openDatabase(dir);
    const entryLog = new EntryLog(db);
    const bus = new Bus();
    const raised: unknown[] = [];
    let now = new Date('2026-11-25T00:00:00.000Z');
    const log = pino({ level: 'silent' });
    const alarms = { raise: (e: unknown) => raised.push(e), raiseLimited: (_key: string, _windowMs: number, e: unknown) => raised.push(e) };
    const counters = { granted: 0, denied: 0, rejected: 0, duplicates: 0, storageFaults: 0, listenerFaults: 0 };
    const ctx = {
      site: { log: { retentionDays: 1095, checkpointEveryRecords: 3, checkpointIntervalSeconds: 60, ...overrides }, api: { auditRetentionDays: 1095 } },
      log,
      store: { entryLog, audit: new AuditLog(db), checkpoints: new EntryCheckpoints(db), auditCheckpoints: new CheckpointStore(db, 'audit_checkpoints') },
      bus,
      alarms,
      counters,
      storageFaults: new StorageFaults({ log, alarms, counters, now: () => now }),
      now: () => now,
    } as unknown as Context;
    const published: { topic: string; payload: Record<string, unknown> }[] = [];
    const keeper = new LogKeeper(ctx, {
      dataDir: dir,
      checkpointTopic: 'tobira/log/checkpoints',
      publishRetained: (topic, payload) => published.push({ topic, payload: payload as Record<string, unknown> }),
    });
    const append = (n: number) => {
      for (let i = 0; i < n; i++) bus.emit('entry', entryLog.append({ at: now.toISOString(), kind: 'door', reason: 'rex' }));
    };
    return { dir, db, ctx, keeper, published, raised, append, setNow: (d: Date) => (now = d) };
  }

  it('checkpoints at start, every N records and at shutdown, publishing each with the public key', async () => {
    const k = keeperContext();
    k.keeper.start();
    // At start, even an empty log is signed (record 0): from then on no record follows no checkpoint.
    expect(k.published.map((p) => p.payload)).toMatchObject([
      { kind: 'periodic', count: 0, ordinal: 1, nextWithin: 2 * 3 + 1000, nextWithinSeconds: 2 * 60 + 60 },
    ]);
    k.append(2);
    await new Promise((r) => setImmediate(r));
    expect(k.published).toHaveLength(1);
    k.append(1);
    await new Promise((r) => setImmediate(r));
    expect(k.published).toHaveLength(2);
    const first = k.published[1]!;
    expect(first.topic).toBe('tobira/log/checkpoints');
    expect(first.payload).toMatchObject({ kind: 'periodic', count: 3 });
    const parsed = parseCheckpointJson(JSON.stringify(first.payload));
    expect(verifyCheckpointSignature(parsed.checkpoint, loadPublicKey(parsed.publicKey!))).toBe(true);
    expect(parsed.publicKey).toBe(publicKeyPem(loadLogKey(k.dir)!));
    // The interval tick writes nothing when nothing was added.
    expect(k.keeper.checkpoint('periodic')).toBeUndefined();
    k.append(1);
    k.keeper.stop();
    expect(k.published.map((p) => [p.payload.kind, p.payload.count, p.payload.ordinal])).toEqual([
      ['periodic', 0, 1],
      ['periodic', 3, 2],
      ['shutdown', 4, 3],
    ]);
    // Published again when the broker link comes up (a client that did not exist dropped it).
    const again = keeperContext();
    again.append(2);
    again.keeper.start();
    again.keeper.checkpoint('periodic');
    again.ctx.bus.emit('broker.link', { connected: true });
    expect(again.published.map((p) => [p.payload.kind, p.payload.count])).toEqual([
      ['periodic', 2],
      ['periodic', 2],
    ]);
    again.keeper.stop();
    expect(verifyEntryLog(k.db, loadLogKey(k.dir))).toEqual({ ok: true, records: 4, checkpoints: 3 });
    expect(k.raised).toEqual([]);
  });

  it('raises a security alarm at start when signed checkpoints were deleted while it was stopped', async () => {
    const k = keeperContext();
    k.keeper.start();
    k.append(3);
    await new Promise((r) => setImmediate(r));
    k.append(3);
    await new Promise((r) => setImmediate(r));
    k.keeper.stop();
    expect(new CheckpointStore(k.db).all().map((c) => c.ordinal)).toEqual([1, 2, 3]);
    expect(k.raised).toEqual([]);
    tamper(k.db, 'DELETE FROM checkpoints WHERE ordinal = 2');
    const again = new LogKeeper(k.ctx, { dataDir: k.dir, checkpointTopic: 't', publishRetained: () => undefined });
    again.start();
    again.stop();
    expect(k.raised).toMatchObject([
      { category: 'security', type: 'log-checkpoints-missing', severity: 'alarm', detail: { problem: expect.stringMatching(/^checkpoint #2 is missing/) } },
    ]);
    // The checkpoint it signs at start does not hide the gap from verification.
    expect(verifyEntryLog(k.db, loadLogKey(k.dir))).toMatchObject({ ok: false, breakAt: { problem: expect.stringMatching(/^checkpoint #2 is missing/) } });
  });

  it('does not number over checkpoints deleted while it runs', async () => {
    const k = keeperContext();
    k.keeper.start();
    k.append(3);
    await new Promise((r) => setImmediate(r));
    tamper(k.db, 'DELETE FROM checkpoints WHERE ordinal = 2');
    k.append(3);
    await new Promise((r) => setImmediate(r));
    expect(new CheckpointStore(k.db).all().map((c) => c.ordinal)).toEqual([1, 3]);
    expect(k.raised).toMatchObject([{ category: 'security', type: 'log-checkpoints-missing', detail: { from: 2, to: 2 } }]);
    expect(verifyEntryLog(k.db, loadLogKey(k.dir))).toMatchObject({ ok: false, breakAt: { problem: expect.stringMatching(/^checkpoint #2 is missing/) } });
    k.keeper.stop();
  });

  it('signs the audit log at start and every N audit records, with the same promise', async () => {
    const k = keeperContext();
    k.keeper.start();
    const audit = k.ctx.store.audit;
    const signed = () => new CheckpointStore(k.db, 'audit_checkpoints').all().map((c) => [c.ordinal, c.count, c.nextWithin, c.nextWithinSeconds]);
    expect(signed()).toEqual([[1, 0, 1006, 180]]);
    for (let i = 0; i < 3; i++)
      audit.append({
        at: new Date().toISOString(),
        actor: 'm',
        role: 'manager',
        action: 'grant.create',
        target: null,
        outcome: 'ok',
        address: null,
        detail: null,
      });
    await new Promise((r) => setImmediate(r));
    expect(signed()).toEqual([
      [1, 0, 1006, 180],
      [2, 3, 1006, 180],
    ]);
    expect(verifyAuditLog(k.db, loadLogKey(k.dir))).toEqual({ ok: true, records: 3, checkpoints: 2 });
    k.keeper.stop();
  });

  it('prunes past the retention period at start and refuses less than 90 days', () => {
    const k = keeperContext({ retentionDays: 90 });
    k.setNow(new Date('2026-01-01T00:00:00.000Z'));
    k.append(3);
    k.setNow(new Date('2026-06-01T00:00:00.000Z'));
    k.append(2);
    k.keeper.start();
    expect(k.db.prepare('SELECT min(seq) FROM entry_log').pluck().get()).toBe(4);
    expect(k.published.at(-1)!.payload).toMatchObject({ kind: 'prune', count: 5, anchorSeq: 4 });
    expect(verifyEntryLog(k.db, loadLogKey(k.dir))).toMatchObject({ ok: true, records: 2 });
    k.keeper.stop();

    const short = keeperContext({ retentionDays: 30 });
    expect(() => short.keeper.start()).toThrow(StartupError);
    expect(() => short.keeper.start()).toThrow(/at least 90 days/);
  });

  it('raises a storage fault instead of throwing when a checkpoint cannot be written', () => {
    const k = keeperContext();
    k.keeper.start();
    k.append(1);
    k.db.close();
    expect(() => k.keeper.checkpoint('periodic')).not.toThrow();
    // Both logs fail to sign: the audit log's checkpoint first, then the entry log's.
    expect(k.raised).toMatchObject([
      { category: 'system', type: 'storage-fault', severity: 'alarm', source: 'audit-log', detail: { during: 'periodic audit checkpoint' } },
      { category: 'system', type: 'storage-fault', severity: 'alarm', source: 'entry-log', detail: { during: 'periodic checkpoint' } },
    ]);
    expect(k.ctx.counters.storageFaults).toBe(2);
    k.keeper.stop();
  });

  it('a reload that changes the schedule signs at once under the new promise and runs the timer on the new interval', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const k = keeperContext();
      k.keeper.start();
      k.append(1);
      // Nothing changed in the schedule: nothing is signed.
      k.keeper.reload(k.ctx.site);
      expect(k.published).toHaveLength(1);
      k.ctx.site = { ...k.ctx.site, log: { ...k.ctx.site.log, checkpointIntervalSeconds: 600 } };
      k.keeper.reload(k.ctx.site);
      expect(k.published.at(-1)!.payload).toMatchObject({ kind: 'periodic', count: 1, nextWithinSeconds: nextWithinSecondsFor(600) });
      expect(new CheckpointStore(k.db, 'audit_checkpoints').latest()).toMatchObject({ nextWithinSeconds: nextWithinSecondsFor(600) });
      k.append(1);
      // The old interval's tick no longer comes; the new one does.
      vi.advanceTimersByTime(60_000);
      expect(k.published).toHaveLength(2);
      vi.advanceTimersByTime(540_000);
      expect(k.published.at(-1)!.payload).toMatchObject({ kind: 'periodic', count: 2 });
      k.keeper.stop();
      expect(verifyEntryLog(k.db, loadLogKey(k.dir))).toMatchObject({ ok: true, records: 2 });
    } finally {
      vi.useRealTimers();
    }
  });
});
