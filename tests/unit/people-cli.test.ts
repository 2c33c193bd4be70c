// `tobira people add` run as the built CLI: it enrols through the same services as the API, so the
// enrolment is in the audit log (as the local operator), the duress PIN is checked, and four-eyes
// leaves its grants pending.
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
const EXAMPLE_SITE = join(ROOT, 'examples/site.yaml');

function tobira(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, TOBIRA_DATA: join(tmpdir(), 'tobira-no-such-dir') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A data directory as the controller leaves it after its first start: the signing key and the audit log's first checkpoint. */
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-cli-people-'));
  const key = loadOrCreateLogKey(dir);
  const db = openDatabase(dir);
  new AuditLog(db).checkpoint(key, 'periodic', new Date().toISOString(), undefined, {
    nextWithin: nextWithinFor(1000),
    nextWithinSeconds: nextWithinSecondsFor(60),
  });
  db.close();
  return dir;
}

function auditRecords(dir: string) {
  const db = openDatabase(dir, { readonly: true });
  try {
    return new AuditLog(db).query({ limit: 1000 }).records.reverse();
  } finally {
    db.close();
  }
}

function tableCount(dir: string, table: 'people' | 'credentials' | 'grants'): number {
  const db = openDatabase(dir, { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

const enrol = ['people', 'add', '--site', EXAMPLE_SITE, '--name', '佐藤 花子', '--affiliation', '研究開発部', '--card', '04A1B2C3', '--pin', '2580'];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('build the CLI first: npm run build');
});

describe('tobira people add', () => {
  it('is in the audit log as the local operator, and `log verify --audit` shows it', () => {
    const dir = dataDir();
    const r = tobira(
      ...enrol,
      '--duress-pin',
      '9110',
      '--trained-on',
      '2026-11-01',
      '--pledge-signed-on',
      '2026-04-01',
      '--grant',
      'lab',
      '--purpose',
      '電池プロジェクト',
      '--data',
      dir,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^added 佐藤 花子 \(.+\) with card 04A1B2C3, granted lab\n/);
    expect(r.stdout).toContain('audit log: 7 records by local:');

    const records = auditRecords(dir);
    expect(records.map((a) => a.action)).toEqual([
      'person.create',
      'credential.enrol',
      'credential.pin-set',
      'credential.pin-set',
      'training.record',
      'pledge.record',
      'grant.create',
    ]);
    const operator = `local:${userInfo().username}`;
    for (const a of records) expect(a).toMatchObject({ actor: operator, role: 'local-operator', address: 'local', outcome: 'ok' });
    const personId = (records[0]!.target ?? '').replace(/^person:/, '');
    expect(records[0]!.detail).toMatchObject({ name: '佐藤 花子', affiliation: '研究開発部' });
    expect(records.slice(2, 4).map((a) => a.detail?.use)).toEqual(['normal', 'duress']);
    expect(records[6]!.detail).toMatchObject({ personId, areaId: 'lab', purpose: '電池プロジェクト', status: 'active' });

    const verify = tobira('log', 'verify', '--audit', '--data', dir);
    expect(verify.stderr).toBe('');
    expect(verify.stdout).toMatch(/^audit log OK: 7 records, hash chain intact; 2 checkpoints, signatures valid/);
    expect(verify.code).toBe(0);
  });

  it('signs the audit head, so records written while the controller is stopped still verify later', () => {
    const dir = dataDir();
    // A change an hour ago that nobody signed (as a CLI without signing would have left it): with
    // today's records after it, the unsigned tail spans more than the checkpoints' promise.
    const db = openDatabase(dir);
    new AuditLog(db).append({
      at: new Date(Date.now() - 3_600_000).toISOString(),
      actor: 'local:earlier',
      role: 'local-operator',
      action: 'person.create',
      target: 'person:earlier',
      outcome: 'ok',
      address: 'local',
      detail: null,
    });
    db.close();
    const r = tobira(...enrol, '--data', dir);
    expect(r.code).toBe(0);
    const verify = tobira('log', 'verify', '--audit', '--data', dir);
    expect(verify.stdout).toMatch(/^audit log OK: 4 records, hash chain intact; 2 checkpoints, signatures valid/);
    expect(verify.code).toBe(0);
  });

  it('refuses a duress PIN equal to the PIN and enrols nothing', () => {
    const dir = dataDir();
    const r = tobira(...enrol, '--duress-pin', '2580', '--grant', 'lab', '--purpose', 'x', '--data', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('tobira: the duress PIN and the PIN must differ\n');
    expect(tableCount(dir, 'people')).toBe(0);
    expect(auditRecords(dir)).toEqual([]);
  });

  it('refuses a card enrolled already, leaving no half-enrolled person', () => {
    const dir = dataDir();
    expect(tobira(...enrol, '--data', dir).code).toBe(0);
    const again = tobira(
      'people',
      'add',
      '--site',
      EXAMPLE_SITE,
      '--name',
      'Other',
      '--card',
      '04-a1-b2-c3',
      '--grant',
      'lab',
      '--purpose',
      'x',
      '--data',
      dir,
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^tobira: this card is enrolled already \(credential \d+, active\)\n$/);
    expect(tableCount(dir, 'people')).toBe(1);
    expect(tableCount(dir, 'grants')).toBe(0);
    expect(auditRecords(dir).map((a) => a.action)).toEqual(['person.create', 'credential.enrol', 'credential.pin-set']);
  });

  it('asks for the purpose of a grant', () => {
    const r = tobira(...enrol, '--grant', 'lab', '--data', dataDir());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('tobira: --purpose: state the need-to-know purpose\n');
  });

  it('leaves its grants pending approval when the site wants four eyes', () => {
    const dir = dataDir();
    const raw = parse(readFileSync(EXAMPLE_SITE, 'utf8')) as Record<string, unknown>;
    raw.api = { ...((raw.api as object) ?? {}), fourEyes: true };
    const site = join(dir, 'site.yaml');
    writeFileSync(site, stringify(raw));
    const r = tobira(
      'people',
      'add',
      '--site',
      site,
      '--name',
      'Four Eyes',
      '--card',
      'FE000001',
      '--grant',
      'lab',
      'vault',
      '--purpose',
      'audit',
      '--data',
      dir,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pending approval \(four-eyes\): grant \d+ \(lab\), grant \d+ \(vault\) opens nothing until a manager or an auditor approves it/);
    const grants = auditRecords(dir).filter((a) => a.action === 'grant.create');
    expect(grants.map((a) => a.detail?.status)).toEqual(['pending', 'pending']);
  });
});
