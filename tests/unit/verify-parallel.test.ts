// The entry log's verification split into steps and chunks (verify-parallel.ts): for every kind of
// tampering it must report exactly what the one-walk verification reported before (the reference,
// tests/helpers/verify-reference.ts) — the first break in seq order, the same message, the same
// count — whatever the chunk size, in this thread or in worker threads, and whichever chunk
// finishes first. And while it runs in workers, the event loop keeps turning.
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, DATABASE_FILE, type Db } from '../../src/store/db.js';
import { EntryLog, verifyEntryLog, type EntryInput, type VerifyResult } from '../../src/store/entry-log.js';
import { writeCheckpoint } from '../../src/store/checkpoints.js';
import { pruneEntryLog } from '../../src/store/retention.js';
import {
  LocalRunner,
  runVerifyTask,
  verifyEntryLogFile,
  verifyWith,
  verifyWorkerScript,
  openForVerify,
  type Runner,
  type VerifyTask,
} from '../../src/store/verify-parallel.js';
import { referenceVerify } from '../helpers/verify-reference.js';
import { rechain } from '../helpers/tamper.js';

const RECORDS = 60;
const CHECKPOINTS_AT = [10, 25, 40];
const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const dirs: string[] = [];

function input(i: number): EntryInput {
  return {
    at: new Date(T0 + i * 3_600_000).toISOString(),
    kind: i % 7 === 0 ? 'door' : 'decision',
    doorId: ['lab-main', 'vault-door', 'safe'][i % 3]!,
    areaId: i % 3 === 1 ? 'vault' : 'lab',
    direction: i % 2 ? 'in' : 'out',
    personId: i % 7 === 0 ? null : `p-${i % 5}`,
    personName: i % 7 === 0 ? null : ['佐藤 花子', 'O"Brien\\n', 'Ito Jun', '鈴木 一郎', 'Ann'][i % 5]!,
    affiliation: i % 4 ? '研究開発部' : null,
    purpose: i % 6 ? null : '点検',
    factors: i % 7 === 0 ? null : i % 2 ? ['card', 'pin'] : ['card'],
    decision: i % 7 === 0 ? null : i % 4 === 0 ? 'denied' : 'granted',
    reason: i % 7 === 0 ? 'rex' : i % 4 === 0 ? 'no-grant' : 'granted',
    deviceId: 'reader-1',
    deviceBoot: 1,
    deviceSeq: i,
    linkedSeq: i % 9 === 0 ? i - 1 : null,
    detail: i % 3 ? { z: i, a: { y: [i, { b: 2, a: 1 }] } } : null,
  };
}

/** A data directory: RECORDS records, signed checkpoints at CHECKPOINTS_AT and at the end. */
function makeTemplate(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-vp-'));
  dirs.push(dir);
  const db = openDatabase(dir);
  const log = new EntryLog(db);
  for (let i = 1; i <= RECORDS; i++) {
    log.append(input(i));
    if (CHECKPOINTS_AT.includes(i)) writeCheckpoint(db, privateKey, { kind: 'periodic', at: new Date(T0 + i * 3_600_000 + 1).toISOString() });
  }
  writeCheckpoint(db, privateKey, { kind: 'shutdown', at: '2026-02-01T00:00:00.000Z' });
  db.close();
  return dir;
}

interface Tamper {
  label: string;
  apply(db: Db): void;
}

const sql = (label: string, text: string): Tamper => ({ label, apply: (db) => db.exec(text) });

function copyTampered(template: string, t: Tamper | Tamper[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-vp-copy-'));
  dirs.push(dir);
  cpSync(template, dir, { recursive: true });
  const db = openDatabase(dir);
  try {
    db.exec('DROP TRIGGER IF EXISTS entry_log_no_update; DROP TRIGGER IF EXISTS entry_log_no_delete;');
    for (const one of Array.isArray(t) ? t : [t]) one.apply(db);
  } finally {
    db.close();
  }
  return dir;
}

/** Answers every task at once, in reverse order of asking: later chunks finish first. */
class ReverseRunner implements Runner {
  readonly size = 64;
  private readonly db: Db;
  private batch: { task: VerifyTask; resolve: (v: unknown) => void; reject: (e: Error) => void }[] = [];

  constructor(file: string) {
    this.db = openForVerify(file);
  }

  run(task: VerifyTask): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.batch.length === 0) setTimeout(() => this.flush(), 1);
      this.batch.push({ task, resolve, reject });
    });
  }

  private flush(): void {
    const jobs = this.batch.reverse();
    this.batch = [];
    const answers = jobs.map((j) => {
      try {
        return { ok: true as const, value: runVerifyTask(this.db, j.task) };
      } catch (e) {
        return { ok: false as const, error: e as Error };
      }
    });
    jobs.forEach((j, i) => {
      setTimeout(() => {
        const a = answers[i]!;
        if (a.ok) j.resolve(a.value);
        else j.reject(a.error);
      }, i * 2);
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Every way of verifying the copy, each compared with the reference. */
async function expectSameEverywhere(dir: string, label: string, opts: { workers?: boolean } = {}): Promise<VerifyResult> {
  const file = join(dir, DATABASE_FILE);
  const db = openDatabase(dir, { readonly: true });
  let expected: VerifyResult;
  let expectedNoKey: VerifyResult;
  try {
    expected = referenceVerify(db, publicKey);
    expectedNoKey = referenceVerify(db);
    expect(verifyEntryLog(db, publicKey), `${label}: verifyEntryLog`).toEqual(expected);
    expect(verifyEntryLog(db), `${label}: verifyEntryLog without the key`).toEqual(expectedNoKey);
  } finally {
    db.close();
  }
  for (const chunkRows of [1, 4, 7, 25, 1000]) {
    expect(await verifyEntryLogFile(file, publicKey, { workers: 0, chunkRows, signatureBatch: 2 }), `${label}: in this thread, chunks of ${chunkRows}`).toEqual(
      expected,
    );
  }
  expect(await verifyEntryLogFile(file, undefined, { workers: 0, chunkRows: 3 }), `${label}: no key, chunks of 3`).toEqual(expectedNoKey);
  // The gateway's own key file holds the private key (as `tobira log verify` loads it): it checks as its public half.
  expect(await verifyEntryLogFile(file, privateKey, { workers: 0, chunkRows: 5 }), `${label}: the private key`).toEqual(expected);
  const reverse = new ReverseRunner(file);
  try {
    expect(await verifyWith(reverse, publicKey, { chunkRows: 4, signatureBatch: 1 }), `${label}: later chunks first`).toEqual(expected);
    expect(await verifyWith(reverse, undefined, { chunkRows: 2 }), `${label}: later chunks first, no key`).toEqual(expectedNoKey);
  } finally {
    await reverse.close();
  }
  if (opts.workers) {
    expect(await verifyEntryLogFile(file, publicKey, { workers: 2, chunkRows: 6, signatureBatch: 2 }), `${label}: two worker threads`).toEqual(expected);
    expect(await verifyEntryLogFile(file, privateKey, { workers: 2, chunkRows: 9 }), `${label}: two worker threads, the private key`).toEqual(expected);
  }
  return expected;
}

let template: string;
let pruned: string;

beforeAll(() => {
  template = makeTemplate();
  // Records 1–12 pruned behind a signed anchor at 13.
  pruned = mkdtempSync(join(tmpdir(), 'tobira-vp-pruned-'));
  dirs.push(pruned);
  cpSync(template, pruned, { recursive: true });
  const db = openDatabase(pruned);
  expect(pruneEntryLog(db, { before: new Date(T0 + 13 * 3_600_000).toISOString(), key: privateKey, now: () => new Date('2026-03-01T00:00:00.000Z') })).toBe(12);
  db.close();
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('parallel verification: the same verdict as one walk', () => {
  it('an intact log, pruned or not, empty or not', async () => {
    expect(await expectSameEverywhere(template, 'intact', { workers: true })).toEqual({ ok: true, records: RECORDS, checkpoints: 4 });
    expect(await expectSameEverywhere(pruned, 'pruned', { workers: true })).toEqual({ ok: true, records: RECORDS - 12, checkpoints: 5 });
    const empty = mkdtempSync(join(tmpdir(), 'tobira-vp-empty-'));
    dirs.push(empty);
    openDatabase(empty).close();
    expect(await expectSameEverywhere(empty, 'empty', { workers: true })).toEqual({ ok: true, records: 0, checkpoints: 0 });
  });

  // Named cases, most at or next to the boundaries of chunks of 4, 6 and 7; `expect` pins the reference's verdict.
  const named: { t: Tamper | Tamper[]; at: number; problem: string | RegExp; on?: 'pruned' }[] = [
    {
      t: sql('edit at a chunk start', "UPDATE entry_log SET decision = 'granted', reason = 'granted' WHERE seq = 8"),
      at: 8,
      problem: 'content does not match its hash (edited)',
    },
    { t: sql('edit at a chunk end', "UPDATE entry_log SET person_name = 'Mallory' WHERE seq = 7"), at: 7, problem: 'content does not match its hash (edited)' },
    {
      t: sql('edit of the first record', "UPDATE entry_log SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 1"),
      at: 1,
      problem: 'content does not match its hash (edited)',
    },
    { t: sql('edit of the last record', 'UPDATE entry_log SET device_seq = 999 WHERE seq = 60'), at: 60, problem: 'content does not match its hash (edited)' },
    { t: sql('delete at a chunk start', 'DELETE FROM entry_log WHERE seq = 13'), at: 13, problem: 'record 13 is missing (next is 14)' },
    { t: sql('delete at a chunk end', 'DELETE FROM entry_log WHERE seq = 12'), at: 12, problem: 'record 12 is missing (next is 13)' },
    { t: sql('delete across chunks', 'DELETE FROM entry_log WHERE seq BETWEEN 11 AND 22'), at: 11, problem: 'record 11 is missing (next is 23)' },
    {
      t: sql('delete at the start', 'DELETE FROM entry_log WHERE seq <= 3'),
      at: 1,
      problem: 'records 1–3 are missing (the log starts at record 4) and no prune checkpoint accounts for them',
    },
    {
      t: sql(
        'reorder across a chunk boundary',
        'UPDATE entry_log SET seq = -1 WHERE seq = 12; UPDATE entry_log SET seq = 12 WHERE seq = 13; UPDATE entry_log SET seq = 13 WHERE seq = -1;',
      ),
      at: 12,
      problem: 'does not link to the record before it',
    },
    {
      t: sql(
        'reorder far apart',
        'UPDATE entry_log SET seq = -1 WHERE seq = 30; UPDATE entry_log SET seq = 30 WHERE seq = 50; UPDATE entry_log SET seq = 50 WHERE seq = -1;',
      ),
      at: 30,
      problem: 'does not link to the record before it',
    },
    {
      t: sql('truncate', 'DELETE FROM entry_log WHERE seq > 55'),
      at: 56,
      problem: 'truncated: checkpoint of 2026-02-01T00:00:00.000Z covers 60 records, only 55 remain',
    },
    {
      t: sql('truncate to nothing', 'DELETE FROM entry_log'),
      at: 1,
      problem: 'truncated: checkpoint of 2026-02-01T00:00:00.000Z covers 60 records, none remain',
    },
    {
      t: sql('prev_hash changed at a chunk start', `UPDATE entry_log SET prev_hash = '${'f'.repeat(64)}' WHERE seq = 29`),
      at: 29,
      problem: 'does not link to the record before it',
    },
    {
      t: sql('hash changed at a chunk end', `UPDATE entry_log SET hash = '${'f'.repeat(64)}' WHERE seq = 28`),
      at: 28,
      problem: 'content does not match its hash (edited)',
    },
    { t: sql('hash of another type', 'UPDATE entry_log SET hash = 42 WHERE seq = 20'), at: 20, problem: 'content does not match its hash (edited)' },
    { t: sql('hash as a blob', `UPDATE entry_log SET hash = CAST(hash AS BLOB) WHERE seq = 20`), at: 20, problem: 'content does not match its hash (edited)' },
    { t: sql('hash too short', "UPDATE entry_log SET hash = 'abc' WHERE seq = 20"), at: 20, problem: 'content does not match its hash (edited)' },
    {
      t: sql('prev_hash of non-ASCII characters', `UPDATE entry_log SET prev_hash = '${'é'.repeat(64)}' WHERE seq = 21`),
      at: 21,
      problem: 'does not link to the record before it',
    },
    {
      t: sql('prev_hash longer, same start', "UPDATE entry_log SET prev_hash = prev_hash || char(10) || 'x' WHERE seq = 21"),
      at: 21,
      problem: 'content does not match its hash (edited)',
    },
    { t: sql('detail not JSON', `UPDATE entry_log SET detail = '{"z":' WHERE seq = 17`), at: 17, problem: 'factors or detail is not valid JSON (edited)' },
    { t: sql('factors not JSON', `UPDATE entry_log SET factors = '[card' WHERE seq = 16`), at: 16, problem: 'factors or detail is not valid JSON (edited)' },
    {
      t: sql('detail changed inside', `UPDATE entry_log SET detail = json_set(detail, '$.z', 1000) WHERE seq = 17`),
      at: 17,
      problem: 'content does not match its hash (edited)',
    },
    {
      t: sql("a record's encoding version cleared (v2 read as v1)", 'UPDATE entry_log SET chain_version = NULL WHERE seq = 9'),
      at: 9,
      problem: 'content does not match its hash (edited)',
    },
    { t: sql('record 1 renumbered 0', 'UPDATE entry_log SET seq = 0 WHERE seq = 1'), at: 1, problem: 'record 1 is missing (next is 0)' },
    {
      t: sql('an edit before a deletion in a later chunk', "UPDATE entry_log SET reason = 'x' WHERE seq = 30; DELETE FROM entry_log WHERE seq = 9"),
      at: 9,
      problem: 'record 9 is missing (next is 10)',
    },
    {
      t: sql('a deletion before an edit', "DELETE FROM entry_log WHERE seq = 45; UPDATE entry_log SET reason = 'x' WHERE seq = 50"),
      at: 45,
      problem: 'record 45 is missing (next is 46)',
    },
    {
      t: sql(
        'an edit just before a broken link',
        `UPDATE entry_log SET reason = 'x' WHERE seq = 34; UPDATE entry_log SET prev_hash = '${'e'.repeat(64)}' WHERE seq = 35`,
      ),
      at: 34,
      problem: 'content does not match its hash (edited)',
    },
    {
      t: {
        label: 'edited and rechained',
        apply: (db) => {
          db.exec("UPDATE entry_log SET decision = 'granted' WHERE seq = 14");
          rechain(db, 14);
        },
      },
      at: 25,
      problem: 'hash differs from the periodic checkpoint of 2026-01-02T01:00:00.001Z (25 records): the chain was rewritten after record 10',
    },
    {
      t: {
        label: 'edited at a checkpoint head and rechained',
        apply: (db) => {
          db.exec("UPDATE entry_log SET purpose = 'x' WHERE seq = 40");
          rechain(db, 40);
        },
      },
      at: 40,
      problem: expect.stringContaining('the chain was rewritten after record 25') as unknown as string,
    },
    {
      t: {
        label: 'edited, rechained, head record also edited',
        apply: (db) => {
          db.exec("UPDATE entry_log SET purpose = 'x' WHERE seq = 22");
          rechain(db, 22);
          db.exec("UPDATE entry_log SET purpose = 'y' WHERE seq = 25");
        },
      },
      at: 25,
      problem: 'content does not match its hash (edited)',
    },
    {
      t: sql('a checkpoint head hash altered', `UPDATE checkpoints SET head_hash = '${'e'.repeat(64)}' WHERE count = 25`),
      at: 25,
      problem: /invalid signature/,
    },
    { t: sql('a checkpoint count altered', 'UPDATE checkpoints SET count = 24 WHERE count = 25'), at: 24, problem: /checkpoint #2, .*invalid signature/ },
    // With the key, deleted checkpoints are a break of their own (checkpoints v2: ordinals and a signed schedule).
    {
      t: sql('every checkpoint dropped, then truncated', 'DELETE FROM checkpoints; DELETE FROM entry_log WHERE seq > 50'),
      at: 1,
      problem: /^no signed checkpoint: records 1–50 are signed by none/,
    },
    {
      t: sql('a middle checkpoint dropped', 'DELETE FROM checkpoints WHERE count = 25'),
      at: 11,
      problem: /^checkpoint #2 is missing: the periodic checkpoint of .* is signed as #3/,
    },
    // Records an hour apart: record 42 is the first more than the promised 180 s after record 41.
    {
      t: sql('the newest checkpoint dropped', 'DELETE FROM checkpoints WHERE count = 60'),
      at: 42,
      problem: /^record 42 .* more than 180 s after record 41 .* the last one, #3/,
    },
    {
      t: sql('delete past the prune anchor', 'DELETE FROM entry_log WHERE seq <= 15'),
      at: 13,
      problem: /records 13–15 are missing: the last prune/,
      on: 'pruned',
    },
    {
      t: sql(
        'a record put back before the anchor',
        'INSERT INTO entry_log SELECT 12, at, kind, door_id, area_id, direction, person_id, person_name, affiliation, purpose, factors, decision, reason, device_id, device_boot, device_seq, linked_seq, linked_person_id, detail, prev_hash, hash, chain_version FROM entry_log WHERE seq = 13',
      ),
      at: 12,
      problem: /record 12 should not be there/,
      on: 'pruned',
    },
    {
      t: sql('the anchor record relinked', `UPDATE entry_log SET prev_hash = '${'a'.repeat(64)}' WHERE seq = 13`),
      at: 13,
      problem: /does not link to the anchor of the last prune/,
      on: 'pruned',
    },
    {
      t: sql('an edit in a pruned log', "UPDATE entry_log SET person_name = 'x' WHERE seq = 31"),
      at: 31,
      problem: 'content does not match its hash (edited)',
      on: 'pruned',
    },
    { t: sql('a deletion in a pruned log', 'DELETE FROM entry_log WHERE seq = 14'), at: 14, problem: 'record 14 is missing (next is 15)', on: 'pruned' },
  ];

  for (const c of named) {
    const label = Array.isArray(c.t) ? c.t.map((t) => t.label).join(' + ') : c.t.label;
    it(`${label}${c.on ? ` (${c.on})` : ''}`, async () => {
      const dir = copyTampered(c.on === 'pruned' ? pruned : template, c.t);
      const result = await expectSameEverywhere(dir, label, { workers: label.includes('chunk') || label.includes('prune') });
      if (c.at === 0) {
        expect(result.ok).toBe(true); // without checkpoints, a truncation cannot be seen (the external checkpoint catches it)
      } else {
        expect(result.ok).toBe(false);
        expect(result.breakAt!.seq).toBe(c.at);
        if (typeof c.problem === 'string' || !(c.problem instanceof RegExp)) expect(result.breakAt!.problem).toEqual(c.problem);
        else expect(result.breakAt!.problem).toMatch(c.problem);
      }
    });
  }

  it('generated tamperings, alone and in pairs, at random chunk sizes', async () => {
    const seq = fc.integer({ min: 1, max: RECORDS });
    const column = fc.constantFrom(
      'at',
      'kind',
      'door_id',
      'person_name',
      'affiliation',
      'factors',
      'decision',
      'reason',
      'device_seq',
      'linked_seq',
      'detail',
    );
    const one: fc.Arbitrary<Tamper> = fc.oneof(
      fc
        .tuple(seq, column)
        .map(([s, c]) => sql(`${c} of ${s} edited`, `UPDATE entry_log SET ${c} = CASE WHEN ${c} IS NULL THEN '1' ELSE ${c} || '' || 'x' END WHERE seq = ${s}`)),
      fc.tuple(seq, fc.integer({ min: 0, max: 5 })).map(([s, n]) => sql(`${s}–${s + n} deleted`, `DELETE FROM entry_log WHERE seq BETWEEN ${s} AND ${s + n}`)),
      fc
        .tuple(seq, seq)
        .filter(([a, b]) => a !== b)
        .map(([a, b]) =>
          sql(
            `${a} and ${b} swapped`,
            `UPDATE entry_log SET seq = -1 WHERE seq = ${a}; UPDATE entry_log SET seq = ${a} WHERE seq = ${b}; UPDATE entry_log SET seq = ${b} WHERE seq = -1;`,
          ),
        ),
      fc
        .tuple(seq, fc.constantFrom('hash', 'prev_hash'), fc.constantFrom(`'${'f'.repeat(64)}'`, "'short'", '7', 'NULL'))
        .map(([s, c, v]) => sql(`${c} of ${s} := ${v}`, `UPDATE entry_log SET ${c} = ${v} WHERE seq = ${s}`)),
      fc.integer({ min: 1, max: 20 }).map((n) => sql(`last ${n} cut`, `DELETE FROM entry_log WHERE seq > ${RECORDS - n}`)),
      fc.tuple(seq, column).map(
        ([s, c]): Tamper => ({
          label: `${c} of ${s} edited and rechained`,
          apply: (db) => {
            db.exec(`UPDATE entry_log SET ${c} = CASE WHEN ${c} IS NULL THEN '1' ELSE ${c} || 'x' END WHERE seq = ${s}`);
            rechain(db, s);
          },
        }),
      ),
      seq.map((s) =>
        sql(`detail of ${s} reformatted`, `UPDATE entry_log SET detail = CASE WHEN detail IS NULL THEN NULL ELSE json_pretty(detail) END WHERE seq = ${s}`),
      ),
      fc
        .constantFrom('count', 'head_hash', 'signature')
        .map((c) =>
          sql(
            `a checkpoint's ${c} altered`,
            `UPDATE checkpoints SET ${c} = ${c === 'count' ? 'count + 1' : `'${c === 'head_hash' ? 'e'.repeat(64) : 'AAAA'}'`} WHERE id = 2`,
          ),
        ),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(one, { minLength: 1, maxLength: 2 }), fc.integer({ min: 1, max: 30 }), async (ts, chunkRows) => {
        const label = ts.map((t) => t.label).join(' + ');
        let dir: string;
        try {
          dir = copyTampered(template, ts);
        } catch {
          return; // the tampering itself was impossible (NOT NULL, a duplicate seq)
        }
        const db = openDatabase(dir, { readonly: true });
        let expected: VerifyResult;
        try {
          expected = referenceVerify(db, publicKey);
          expect(verifyEntryLog(db, publicKey), label).toEqual(expected);
        } finally {
          db.close();
        }
        const file = join(dir, DATABASE_FILE);
        expect(await verifyEntryLogFile(file, publicKey, { workers: 0, chunkRows, signatureBatch: 2 }), `${label}, chunks of ${chunkRows}`).toEqual(expected);
        const reverse = new ReverseRunner(file);
        try {
          expect(await verifyWith(reverse, publicKey, { chunkRows, signatureBatch: 1 }), `${label}, chunks of ${chunkRows}, later first`).toEqual(expected);
        } finally {
          await reverse.close();
        }
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 120 },
    );
  }, 120_000);
});

describe('parallel verification: off the event loop', () => {
  it('runs in worker threads built from these sources (npm run build)', () => {
    expect(verifyWorkerScript(), 'no compiled worker, or one older than the sources: run `npm run build`').toBeDefined();
  });

  it('keeps the event loop turning while worker threads walk a larger log, and finds a break near its end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-vp-big-'));
    dirs.push(dir);
    const db = openDatabase(dir);
    const n = 120_000;
    db.pragma('synchronous = OFF');
    const log = new EntryLog(db);
    db.transaction(() => {
      for (let i = 1; i <= n; i++) log.append(input(i));
    })();
    writeCheckpoint(db, privateKey, { kind: 'periodic', at: '2026-12-01T00:00:00.000Z' });
    db.close();
    const file = join(dir, DATABASE_FILE);
    let ticks = 0;
    let longest = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      ticks++;
    }, 5);
    const started = performance.now();
    let result: VerifyResult;
    try {
      result = await verifyEntryLogFile(file, publicKey, { workers: 2, chunkRows: 20_000 });
    } finally {
      clearInterval(timer);
    }
    const took = performance.now() - started;
    expect(result).toEqual({ ok: true, records: n, checkpoints: 1 });
    // The walk of 120,000 records takes a few hundred milliseconds; the loop never stops for long.
    expect(ticks, `${ticks} ticks in ${took.toFixed(0)} ms, longest gap ${longest.toFixed(0)} ms`).toBeGreaterThan(3);
    expect(longest).toBeLessThan(Math.max(100, took / 2));

    const broken = copyTampered(dir, sql('edit near the end', `UPDATE entry_log SET reason = 'x' WHERE seq = ${n - 5}`));
    const ro = openDatabase(broken, { readonly: true });
    const expected = referenceVerify(ro, publicKey);
    ro.close();
    expect(expected).toMatchObject({ ok: false, records: n - 6, breakAt: { seq: n - 5, problem: 'content does not match its hash (edited)' } });
    expect(await verifyEntryLogFile(join(broken, DATABASE_FILE), publicKey, { workers: 2 })).toEqual(expected);
  }, 60_000);

  it('reports a file that is not there, and stops when aborted', async () => {
    await expect(verifyEntryLogFile(join(tmpdir(), 'tobira-no-such', DATABASE_FILE))).rejects.toMatchObject({ code: 'SQLITE_CANTOPEN' });
    const stop = new AbortController();
    const running = verifyEntryLogFile(join(template, DATABASE_FILE), publicKey, { workers: 2, chunkRows: 1, signal: stop.signal });
    stop.abort(new Error('stopped'));
    await expect(running).rejects.toThrow('stopped');
    const local = new LocalRunner(join(template, DATABASE_FILE));
    try {
      await expect(verifyWith(local, publicKey, { signal: AbortSignal.abort(new Error('before')) })).rejects.toThrow('before');
    } finally {
      await local.close();
    }
  });
});
