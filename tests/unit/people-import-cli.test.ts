// `tobira people import` run as the built CLI on an HR export that mixes good and bad rows
// (tests/fixtures/people-import/hr-export.sjis.csv, written in Shift_JIS by Python's codec; the
// UTF-8-with-BOM copy is made here from the same text): a dry run says so and changes nothing,
// --apply brings the good rows in through the services (audited as the local operator, grants
// pending under four-eyes) and names the refused lines; a second run leaves what is in unchanged.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { AuditLog } from '../../src/store/audit-log.js';
import { nextWithinFor, nextWithinSecondsFor } from '../../src/store/checkpoints.js';
import { openDatabase } from '../../src/store/db.js';
import { loadOrCreateLogKey } from '../../src/store/log-key.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/src/cli/main.js');
const SJIS_FILE = join(ROOT, 'tests/fixtures/people-import/hr-export.sjis.csv');
/** Spawned CLIs on a loaded machine: generous, and no timing is asserted. */
const SLOW = 180_000;

function tobira(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TOBIRA_DATA: join(tmpdir(), 'tobira-no-such-dir') },
    timeout: SLOW,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let site = '';
let bomFile = '';

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('build the CLI first: npm run build');
  const dir = mkdtempSync(join(tmpdir(), 'tobira-import-site-'));
  // The example site with four-eyes on: imported grants wait for a second person.
  const raw = parse(readFileSync(join(ROOT, 'examples/site.yaml'), 'utf8')) as { api?: Record<string, unknown> };
  raw.api = { ...(raw.api ?? {}), fourEyes: true };
  site = join(dir, 'site.yaml');
  writeFileSync(site, stringify(raw));
  // The same rows as UTF-8 with a BOM, as Excel saves "CSV UTF-8".
  const text = new TextDecoder('shift_jis', { fatal: true }).decode(readFileSync(SJIS_FILE));
  bomFile = join(dir, 'hr-export.utf8-bom.csv');
  writeFileSync(bomFile, `\ufeff${text}`);
});

/** A data directory as the controller leaves it after its first start: the signing key and the audit log's first checkpoint. */
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-cli-import-'));
  const key = loadOrCreateLogKey(dir);
  const db = openDatabase(dir);
  new AuditLog(db).checkpoint(key, 'periodic', new Date().toISOString(), undefined, {
    nextWithin: nextWithinFor(1000),
    nextWithinSeconds: nextWithinSecondsFor(60),
  });
  db.close();
  return dir;
}

function read<T>(dir: string, sql: string): T[] {
  const db = openDatabase(dir, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}
const auditActions = (dir: string) =>
  read<{ action: string; actor: string; detail: string | null }>(dir, 'SELECT action, actor, detail FROM audit_log ORDER BY seq');

/** What every run of the fixture says of each line (the first import). */
const FIRST_OUTCOMES = [
  { line: 2, staffNumber: 10001, outcome: 'add' },
  { line: 3, staffNumber: 10002, outcome: 'add' },
  { line: 4, staffNumber: 10003, outcome: 'refused' },
  { line: 5, staffNumber: 10004, outcome: 'refused' },
  { line: 6, staffNumber: null, outcome: 'refused' },
  { line: 7, staffNumber: 10005, outcome: 'refused' },
  { line: 8, staffNumber: 10001, outcome: 'change' },
  { line: 9, staffNumber: 10006, outcome: 'add' },
];

describe('tobira people import', () => {
  it('checks a Shift_JIS export in a dry run, applies it, and leaves it unchanged the second time', { timeout: 4 * SLOW }, () => {
    const dir = dataDir();
    const auditBefore = auditActions(dir).length;

    // Read as UTF-8 (the default), the Shift_JIS bytes are refused whole, with the way out.
    const wrong = tobira('people', 'import', SJIS_FILE, '--site', site, '--data', dir);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^tobira: .*malformed file: the file is not UTF-8.*--encoding sjis/);
    expect(wrong.stderr).not.toMatch(/\n\s+at /);

    const dry = tobira('people', 'import', SJIS_FILE, '--encoding', 'sjis', '--site', site, '--data', dir);
    expect(dry.code).toBe(1);
    expect(dry.stderr).toBe('');
    const lines = dry.stdout.split('\n');
    expect(lines[0]).toMatch(/^dry run: nothing is changed; run again with --apply .*Shift_JIS, 8 rows/);
    expect(dry.stdout).toContain('columns not imported: 生年月日');
    expect(lines.find((l) => l.startsWith('line 2 '))).toMatch(
      /10001\s+佐藤 花子\s+add\s+person added; card 04A1B2C3 enrolled; grant lab \(pending approval: four-eyes\); training 2026-04-01; pledge 2026-04-01/,
    );
    expect(lines.find((l) => l.startsWith('line 4 '))).toMatch(/REFUSED\s+card 04A1B2C3 is given to staff number 10001 on an earlier line/);
    expect(lines.find((l) => l.startsWith('line 5 '))).toMatch(/REFUSED\s+no area or safe "moon"/);
    expect(lines.find((l) => l.startsWith('line 6 '))).toMatch(/REFUSED\s+no staff number/);
    expect(lines.find((l) => l.startsWith('line 7 '))).toMatch(/REFUSED\s+training_date "2026\/13\/1" is not a date/);
    expect(lines.find((l) => l.startsWith('line 8 '))).toMatch(/change\s+grant doc-safe/);
    expect(dry.stdout).toContain('would add 3, change 1, leave unchanged 0; refuse 4');
    expect(dry.stdout).toContain('4 grants would wait');
    // Nothing written, not even to the audit log.
    expect(read(dir, 'SELECT id FROM people')).toEqual([]);
    expect(auditActions(dir)).toHaveLength(auditBefore);

    const applied = tobira('people', 'import', SJIS_FILE, '--encoding', 'sjis', '--apply', '--site', site, '--data', dir);
    expect(applied.code).toBe(1);
    expect(applied.stdout).toMatch(/^imported .*Shift_JIS, 8 rows/);
    expect(applied.stdout).toContain('added 3, changed 1, unchanged 0; refused 4');
    expect(applied.stdout).toMatch(/line 4 .*REFUSED\s+card 04A1B2C3 is enrolled for someone else/);
    const people = read<{ number: number; name: string; affiliation: string; title: string; status: string }>(
      dir,
      'SELECT number, name, affiliation, title, status FROM people ORDER BY number',
    );
    expect(people).toEqual([
      { number: 10001, name: '佐藤 花子', affiliation: '研究開発部', title: '主任', status: 'active' },
      { number: 10002, name: '鈴木 一郎', affiliation: '品質保証部', title: '', status: 'active' },
      { number: 10006, name: '渡辺 結衣', affiliation: '営業部, 東京', title: '', status: 'active' },
    ]);
    const grants = read<{ area_id: string; status: string; valid_until: string | null }>(dir, 'SELECT area_id, status, valid_until FROM grants ORDER BY id');
    expect(grants.map((g) => [g.area_id, g.status])).toEqual([
      ['lab', 'pending'],
      ['lab', 'pending'],
      ['vault', 'pending'],
      ['doc-safe', 'pending'],
    ]);
    // Valid until 2099/3/31 means through that day in the site's zone (Asia/Tokyo): until midnight after it.
    expect(grants[0]!.valid_until).toBe('2099-03-31T15:00:00.000Z');
    expect(read<{ value: string }>(dir, "SELECT value FROM credentials WHERE kind = 'card' ORDER BY id").map((c) => c.value)).toEqual([
      '04A1B2C3',
      '04A1B2C4',
      '04A1B2C7',
    ]);

    // Every part audited by its own service as the local operator; each row and the file too.
    const audit = auditActions(dir).slice(auditBefore);
    const operator = `local:${userInfo().username}`;
    for (const a of audit) expect(a.actor).toBe(operator);
    const count = (action: string) => audit.filter((a) => a.action === action).length;
    expect(count('person.create')).toBe(3);
    expect(count('credential.enrol')).toBe(3);
    expect(count('grant.create')).toBe(4);
    expect(count('training.record')).toBe(3);
    expect(count('pledge.record')).toBe(3);
    expect(count('people.import-row')).toBe(4);
    const summary = audit.find((a) => a.action === 'people.import')!;
    expect(JSON.parse(summary.detail!)).toMatchObject({ encoding: 'shift_jis', rows: 8, added: 3, changed: 1, refused: 4, pendingGrants: 4 });
    expect(JSON.parse(summary.detail!).refusedLines.map((l: { line: number }) => l.line)).toEqual([4, 5, 6, 7]);
    const verify = tobira('log', 'verify', '--audit', '--data', dir);
    expect(verify.stdout).toMatch(/^audit log OK: /);
    expect(verify.code).toBe(0);

    const again = tobira('people', 'import', SJIS_FILE, '--encoding', 'sjis', '--site', site, '--data', dir);
    expect(again.stdout).toContain('would add 0, change 0, leave unchanged 4; refuse 4');
  });

  it('reads UTF-8 with a BOM the same way, and reports as JSON', { timeout: 4 * SLOW }, () => {
    const dir = dataDir();
    const dry = tobira('people', 'import', bomFile, '--json', '--site', site, '--data', dir);
    expect(dry.code).toBe(1);
    const report = JSON.parse(dry.stdout);
    expect(report).toMatchObject({ dryRun: true, encoding: 'utf-8', bom: true, rows: 8, added: 3, changed: 1, unchanged: 0, refused: 4, pendingGrants: 4 });
    expect(
      report.lines.map((l: { line: number; staffNumber: number | null; outcome: string }) => ({
        line: l.line,
        staffNumber: l.staffNumber,
        outcome: l.outcome,
      })),
    ).toEqual(FIRST_OUTCOMES);
    expect(read(dir, 'SELECT id FROM people')).toEqual([]);

    const applied = tobira('people', 'import', bomFile, '--json', '--apply', '--site', site, '--data', dir);
    const done = JSON.parse(applied.stdout);
    expect(done).toMatchObject({ dryRun: false, added: 3, changed: 1, refused: 4 });
    expect(done.lines.filter((l: { outcome: string }) => l.outcome !== 'refused').every((l: { personId?: string }) => typeof l.personId === 'string')).toBe(
      true,
    );
    expect(read<{ name: string }>(dir, 'SELECT name FROM people ORDER BY number').map((p) => p.name)).toEqual(['佐藤 花子', '鈴木 一郎', '渡辺 結衣']);
  });

  it('refuses a malformed file whole, naming the line, and changes nothing', { timeout: 2 * SLOW }, () => {
    const dir = dataDir();
    const file = join(mkdtempSync(join(tmpdir(), 'tobira-import-bad-')), 'bad.csv');
    writeFileSync(file, 'staff_number,name,area\n10001,Ann,lab\n10002,"Bob,lab\n');
    const r = tobira('people', 'import', file, '--apply', '--site', site, '--data', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tobira: .*malformed file: .*\(line \d+\)\n$/);
    expect(read(dir, 'SELECT id FROM people')).toEqual([]);

    writeFileSync(file, '名前,所属\nAnn,R&D\n');
    const noNumber = tobira('people', 'import', file, '--site', site, '--data', dir);
    expect(noNumber.code).toBe(2);
    expect(noNumber.stderr).toContain('no staff_number column');
  });
});
