// Tampering: a database written by the real daemon (reads granted and denied, doors opened, signed
// checkpoints, a clean shutdown) is copied, and each copy tampered with as an intruder holding the
// file would: records edited (any column), deleted, reordered, truncated, forged into the middle, a
// record edited and the chain after it recomputed, checkpoints altered or deleted (the signed
// ordinals and schedule show it), and the log truncated with the local checkpoints deleted (caught
// locally, and through the checkpoint kept off the gateway). `tobira log verify` must catch each one
// (exit 1) and name the first record that does not hold.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { CheckpointStore, publishedCheckpoint } from '../../src/store/checkpoints.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { loadLogKey, publicKeyPem } from '../../src/store/log-key.js';
import { CLI } from '../helpers/daemon.js';
import { FaultTally, cardDoorsSite, enrolMany, launchDaemon, prepareSite, readEntries, runSeed, sleep, verifyLog } from '../helpers/faults.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { rechain } from '../helpers/tamper.js';

const GENERATED = 40;
const tally = new FaultTally('tampering');

type Row = Record<string, unknown> & { seq: number; hash: string; prev_hash: string };

interface Tamper {
  label: string;
  /** SQL-level change to a copy (triggers already dropped). */
  apply(db: Db, rows: Row[], checkpointCounts: number[]): void;
  /** The record verify must name, or undefined when only "BROKEN" is required. */
  expectAt?: number;
  expectProblem: RegExp;
  /** Extra arguments to `log verify` (the off-gateway checkpoint). */
  args?: string[];
}

const CONTENT_COLUMNS = [
  'at',
  'kind',
  'door_id',
  'area_id',
  'direction',
  'person_id',
  'person_name',
  'affiliation',
  'purpose',
  'factors',
  'decision',
  'reason',
  'device_id',
  'device_boot',
  'device_seq',
  'linked_seq',
  'linked_person_id',
  'detail',
] as const;

/** A different value for a column, as an intruder would write it. */
function forged(column: string, value: unknown): unknown {
  switch (column) {
    case 'at':
      return new Date(Date.parse(value as string) - 3_600_000).toISOString();
    case 'kind':
      return value === 'decision' ? 'door' : 'decision';
    case 'decision':
      return value === 'granted' ? 'denied' : 'granted';
    case 'direction':
      return value === 'in' ? 'out' : 'in';
    case 'factors':
      return value === null ? '["card"]' : JSON.stringify([...(JSON.parse(value as string) as string[]), 'pin']);
    case 'detail':
      return value === null ? '{"forged":true}' : JSON.stringify({ ...(JSON.parse(value as string) as object), forged: true });
    case 'device_boot':
    case 'device_seq':
    case 'linked_seq':
      return value === null ? 1 : (value as number) + 1;
    default:
      return value === null ? 'forged' : `${value as string}x`;
  }
}

function tampers(last: number, counts: number[], offsite: string): fc.Arbitrary<Tamper> {
  const seq = fc.integer({ min: 1, max: last });
  const inner = fc.integer({ min: 1, max: last - 1 });
  const coveringCheckpoint = (k: number) => Math.min(...counts.filter((c) => c >= k));
  return fc.oneof(
    fc.tuple(seq, fc.constantFrom(...CONTENT_COLUMNS)).map(
      ([s, column]): Tamper => ({
        label: `record ${s}: ${column} edited`,
        expectAt: s,
        expectProblem: /content does not match its hash \(edited\)/,
        apply: (db, rows) => {
          db.prepare(`UPDATE entry_log SET ${column} = ? WHERE seq = ?`).run(forged(column, rows[s - 1]![column]) as never, s);
        },
      }),
    ),
    fc.tuple(seq, fc.constantFrom('hash', 'prev_hash')).map(
      ([s, column]): Tamper => ({
        label: `record ${s}: ${column} replaced`,
        expectAt: s,
        expectProblem: /does not link|does not match its hash/,
        apply: (db) => {
          db.prepare(`UPDATE entry_log SET ${column} = ? WHERE seq = ?`).run('f'.repeat(64), s);
        },
      }),
    ),
    fc.tuple(seq, fc.constantFrom(...CONTENT_COLUMNS)).map(
      ([s, column]): Tamper => ({
        label: `record ${s}: ${column} edited and the chain after it recomputed`,
        expectAt: coveringCheckpoint(s),
        expectProblem: /hash differs from the .* checkpoint/,
        apply: (db, rows) => {
          db.prepare(`UPDATE entry_log SET ${column} = ? WHERE seq = ?`).run(forged(column, rows[s - 1]![column]) as never, s);
          rechain(db, s);
        },
      }),
    ),
    fc.tuple(inner, fc.integer({ min: 0, max: 3 })).map(([s, extra]): Tamper => {
      const to = Math.min(s + extra, last - 1);
      return {
        label: to === s ? `record ${s} deleted` : `records ${s}–${to} deleted`,
        expectAt: s,
        // A gap at the very start is reported as such (no prune anchor explains it); elsewhere as the first missing record.
        expectProblem: s === 1 ? new RegExp(`records 1–${to} are missing \\(the log starts at record ${to + 1}\\)`) : new RegExp(`record ${s} is missing`),
        apply: (db) => {
          db.prepare('DELETE FROM entry_log WHERE seq BETWEEN ? AND ?').run(s, to);
        },
      };
    }),
    fc
      .tuple(seq, seq)
      .filter(([x, y]) => x !== y)
      .map(([x, y]): Tamper => {
        const [a, b] = x < y ? [x, y] : [y, x];
        return {
          label: `records ${a} and ${b} swapped`,
          expectAt: a,
          expectProblem: /does not link|does not match its hash/,
          apply: (db) => {
            db.prepare('UPDATE entry_log SET seq = -1 WHERE seq = ?').run(a);
            db.prepare('UPDATE entry_log SET seq = ? WHERE seq = ?').run(a, b);
            db.prepare('UPDATE entry_log SET seq = ? WHERE seq = -1').run(b);
          },
        };
      }),
    fc.integer({ min: 1, max: Math.min(10, last - 1) }).map(
      (n): Tamper => ({
        label: `the last ${n} record(s) cut off`,
        expectAt: last - n + 1,
        expectProblem: /truncated/,
        apply: (db) => {
          db.prepare('DELETE FROM entry_log WHERE seq > ?').run(last - n);
        },
      }),
    ),
    fc.integer({ min: 1, max: Math.min(10, last - 1) }).map(
      (n): Tamper => ({
        label: `the last ${n} record(s) cut off and the local checkpoints covering them deleted (caught by the one kept off the gateway)`,
        expectAt: last - n + 1,
        expectProblem: /truncated/,
        args: ['--checkpoint', offsite],
        apply: (db) => {
          db.prepare('DELETE FROM entry_log WHERE seq > ?').run(last - n);
          db.prepare('DELETE FROM checkpoints WHERE count > ?').run(last - n);
        },
      }),
    ),
    inner.map(
      (s): Tamper => ({
        label: `a forged record slipped in at ${s} and the chain after it recomputed`,
        expectAt: coveringCheckpoint(s),
        expectProblem: /hash differs from the .* checkpoint/,
        apply: (db, rows) => {
          db.prepare('UPDATE entry_log SET seq = seq + 1000000 WHERE seq >= ?').run(s);
          db.prepare('UPDATE entry_log SET seq = seq - 999999 WHERE seq >= 1000000').run();
          const model = rows[s - 1]!;
          db.prepare(`INSERT INTO entry_log (seq, at, kind, door_id, area_id, direction, person_id, person_name, affiliation, purpose, factors, decision, reason, device_id, prev_hash, hash)
          VALUES (?, ?, 'decision', ?, ?, 'in', ?, ?, ?, 'forged', '["card"]', 'granted', 'granted', ?, '', '')`).run(
            s,
            model.at as string,
            model.door_id as string,
            model.area_id as string,
            'p-forged',
            'Mallory',
            'Nowhere',
            model.device_id as string,
          );
          rechain(db, s);
        },
      }),
    ),
    fc.constantFrom('count', 'head_hash', 'at', 'signature').map(
      (column): Tamper => ({
        label: `a signed checkpoint's ${column} altered`,
        expectProblem: /invalid signature|does not verify|hash differs|truncated/,
        apply: (db) => {
          const cp = db.prepare('SELECT * FROM checkpoints ORDER BY id LIMIT 1').get() as Record<string, unknown>;
          const value =
            column === 'count'
              ? (cp.count as number) - 1
              : column === 'head_hash'
                ? 'e'.repeat(64)
                : column === 'at'
                  ? '2020-01-01T00:00:00.000Z'
                  : Buffer.alloc(64, 1).toString('base64');
          db.prepare(`UPDATE checkpoints SET ${column} = ? WHERE id = ?`).run(value, cp.id as number);
        },
      }),
    ),
  );
}

function verifyAsync(dataDir: string, extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, 'log', 'verify', '--data', dataDir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tampering: `tobira log verify` catches each change to a copy of the database', () => {
  const seed = runSeed();
  let template: string;
  let offsite: string;
  let rows: Row[];
  let checkpointCounts: number[];
  const copies: string[] = [];

  beforeAll(async () => {
    const prepared = prepareSite(cardDoorsSite({ doors: 2, contacts: true, log: { checkpointEveryRecords: 10 } }));
    const holders = enrolMany(prepared.dataDir, 8, { areas: ['store'] });
    const daemon = await launchDaemon({
      dataDir: prepared.dataDir,
      siteFile: prepared.siteFile,
      broker: { kind: 'embedded', port: await freePort() },
      apiPort: await freePort(),
      onCrash: (what) => tally.crash(what),
    });
    const sim = await Simulator.start({ site: prepared.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: prepared.secrets });
    await waitFor(() => sim.observed('l1').length > 0 && sim.observed('l2').length > 0, 5000, 'locks driven to rest');
    // Real records: grants (with the door opened and closed), denials of unknown cards, a forced door.
    for (let i = 0; i < 36; i++) {
      const door = 1 + (i % 2);
      const shown = sim.expectCommand(`r${door}`, (c) => c.command === 'indicate', 3000, 'outcome');
      await sim.swipe(`r${door}`, i % 4 === 3 ? `BAD0${i.toString(16).padStart(4, '0')}` : holders[i % holders.length]!.card);
      const c = await shown;
      if (c.command === 'indicate' && c.pattern === 'granted' && i % 3 === 0) {
        await sim.door(`d${door}`).open();
        await sim.door(`d${door}`).close();
      }
    }
    // Pushed open while locked: a door-forced record.
    await sim.waitFor(() => sim.lockState('l1') === 'locked', 5000, 'l1 relocked');
    await sleep(200);
    await sim.door('d1').force();
    await waitFor(() => readEntries(prepared.dataDir).some((r) => r.reason === 'door-forced'), 3000, 'door-forced record');
    await sim.door('d1').close();
    await sim.stop();
    expect(await daemon.stop()).toBe(0);
    template = prepared.dataDir;
    rows = readEntries(template) as Row[];
    const db = openDatabase(template, { readonly: true });
    try {
      const cps = new CheckpointStore(db).all();
      checkpointCounts = cps.map((c) => c.count);
      // The checkpoint as published off the gateway (retained on {base}/log/checkpoints), kept apart.
      offsite = join(mkdtempSync(join(tmpdir(), 'tobira-offsite-')), 'checkpoint.json');
      writeFileSync(offsite, JSON.stringify(publishedCheckpoint(cps.at(-1)!, publicKeyPem(loadLogKey(template)!))));
    } finally {
      db.close();
    }
    expect(checkpointCounts.at(-1)).toBe(rows.length); // the shutdown checkpoint covers everything
    const intact = verifyLog(template);
    expect(intact.code, intact.stderr).toBe(0);
    console.log(
      `tampering: ${rows.length} records (${rows.filter((r) => r.decision === 'granted').length} grants, ${rows.filter((r) => r.kind === 'door').length} door events), checkpoints at ${checkpointCounts.join(', ')}; seed ${seed}`,
    );
  });

  afterAll(() => {
    for (const dir of copies) rmSync(dir, { recursive: true, force: true });
    tally.write();
  });

  async function tamperAndVerify(t: Tamper): Promise<void> {
    await tally.fault(t.label, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tobira-tampered-'));
      copies.push(dir);
      cpSync(template, dir, { recursive: true });
      const db = openDatabase(dir);
      try {
        db.exec('DROP TRIGGER entry_log_no_update; DROP TRIGGER entry_log_no_delete;');
        t.apply(db, rows, checkpointCounts);
      } finally {
        db.close();
      }
      if (t.args) {
        // Without the copy kept off the gateway, this is a rollback to the last checkpoint kept: what
        // remains after it is within what it allowed (the bound of local verification).
        expect((await verifyAsync(dir, [])).code).toBe(0);
      }
      const r = await verifyAsync(dir, t.args ?? []);
      expect(r.code, `${t.label}: verify said ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(t.expectProblem);
      if (t.expectAt !== undefined) expect(r.stderr).toContain(`BROKEN at record ${t.expectAt}`);
    });
  }

  it('catches an edited, a deleted, a reordered and a truncated record', async () => {
    const last = rows.length;
    const named: Tamper[] = [
      {
        label: 'edit: a denial turned into a grant',
        expectAt: rows.find((r) => r.decision === 'denied')!.seq,
        expectProblem: /edited/,
        apply: (db) =>
          db.prepare("UPDATE entry_log SET decision = 'granted', reason = 'granted' WHERE seq = ?").run(rows.find((r) => r.decision === 'denied')!.seq),
      },
      {
        label: 'delete: one record removed',
        expectAt: 7,
        expectProblem: /record 7 is missing \(next is 8\)/,
        apply: (db) => db.prepare('DELETE FROM entry_log WHERE seq = 7').run(),
      },
      {
        label: 'reorder: two records swapped',
        expectAt: 5,
        expectProblem: /does not link|edited/,
        apply: (db) =>
          db.exec('UPDATE entry_log SET seq = -1 WHERE seq = 5; UPDATE entry_log SET seq = 5 WHERE seq = 6; UPDATE entry_log SET seq = 6 WHERE seq = -1;'),
      },
      {
        label: 'truncate: the last three records cut off',
        expectAt: last - 2,
        expectProblem: /truncated/,
        apply: (db) => db.prepare('DELETE FROM entry_log WHERE seq > ?').run(last - 3),
      },
      {
        label: 'a denial turned into a grant, the chain recomputed and every checkpoint deleted',
        expectAt: 1,
        expectProblem: new RegExp(`no signed checkpoint: records 1–${last} are signed by none`),
        apply: (db) => {
          const denied = rows.find((r) => r.decision === 'denied')!.seq;
          db.prepare("UPDATE entry_log SET decision = 'granted', reason = 'granted' WHERE seq = ?").run(denied);
          rechain(db, denied);
          db.prepare('DELETE FROM checkpoints').run();
        },
      },
      {
        label: 'a checkpoint in the middle deleted',
        expectProblem: /checkpoint #3 is missing: .* signed as #4/,
        apply: (db) => db.prepare('DELETE FROM checkpoints WHERE ordinal = 3').run(),
      },
      {
        label: 'the last records cut off and every local checkpoint deleted',
        expectAt: 1,
        expectProblem: /no signed checkpoint/,
        apply: (db) => {
          db.prepare('DELETE FROM entry_log WHERE seq > ?').run(last - 3);
          db.prepare('DELETE FROM checkpoints').run();
        },
      },
    ];
    for (const t of named) await tamperAndVerify(t);
    tally.assertAllSurvived();
  });

  it(`catches ${GENERATED} generated tamperings of every kind`, async () => {
    const cases = fc.sample(tampers(rows.length, checkpointCounts, offsite), { numRuns: GENERATED, seed });
    for (let i = 0; i < cases.length; i += 2) await Promise.all(cases.slice(i, i + 2).map(tamperAndVerify));
    tally.note(`seed ${seed}: ${cases.map((c) => c.label).join('; ')}`);
    tally.assertAllSurvived();
    expect(tally.counts.injected).toBe(GENERATED + 7);
  }, 120_000);
});
