// POST /api/v1/people/import through the real app and controller: the HR export that mixes good and
// bad rows (Shift_JIS fixture, and the same text as UTF-8 with a BOM), a dry run that changes
// nothing, apply with each row audited and four-eyes respected (the importing manager cannot
// approve; a second one can), a changed row, a malformed file, and who may call it.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/store/accounts.js';
import { startApi, type TestAccount, type TestApi } from '../helpers/api.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SJIS = readFileSync(join(ROOT, 'tests/fixtures/people-import/hr-export.sjis.csv'));
const TEXT = new TextDecoder('shift_jis', { fatal: true }).decode(SJIS);
const BOM_UTF8 = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TEXT, 'utf8')]);
const URL_IMPORT = '/api/v1/people/import';

describe('POST /people/import', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({
      edit: (raw) => {
        raw.api = { ...(raw.api ?? {}), fourEyes: true };
      },
    });
  }, 240_000);
  afterAll(async () => api?.close());

  const send = (as: Role | TestAccount, query: string, body: Buffer | string, type = 'text/csv') =>
    api.app.inject({
      method: 'POST',
      url: `${URL_IMPORT}${query}`,
      payload: body,
      headers: { authorization: `Bearer ${typeof as === 'string' ? api.accounts[as].token : as.token}`, 'content-type': type },
    });
  const peopleCount = () => api.db().prepare("SELECT count(*) FROM people WHERE kind = 'staff'").pluck().get() as number;

  it('is for managers only', async () => {
    for (const role of ['guard', 'auditor', 'admin'] as const) {
      const res = await send(role, '?encoding=sjis', SJIS);
      expect(res.statusCode).toBe(403);
    }
    expect(peopleCount()).toBe(0);
  });

  it('checks a Shift_JIS file in a dry run: line by line, nothing changed', async () => {
    const before = peopleCount();
    const res = await send('manager', '?encoding=sjis', SJIS);
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(r).toMatchObject({ dryRun: true, encoding: 'shift_jis', bom: false, rows: 8, added: 3, changed: 1, unchanged: 0, refused: 4, pendingGrants: 4 });
    expect(r.ignoredColumns).toEqual(['生年月日']);
    expect(r.columns).toContain('kana');
    const byLine = new Map(r.lines.map((l: { line: number }) => [l.line, l]));
    expect(byLine.get(2)).toMatchObject({ staffNumber: 10001, name: '佐藤 花子', outcome: 'add' });
    expect(byLine.get(4)).toMatchObject({ outcome: 'refused', reasons: ['card 04A1B2C3 is given to staff number 10001 on an earlier line'] });
    expect((byLine.get(5) as { reasons: string[] }).reasons[0]).toMatch(/^no area or safe "moon"/);
    expect(byLine.get(6)).toMatchObject({ staffNumber: null, outcome: 'refused' });
    expect(byLine.get(8)).toMatchObject({ outcome: 'change', changes: ['grant doc-safe (pending approval: four-eyes)'] });
    expect(peopleCount()).toBe(before);
    // The charset of the Content-Type names the encoding as well as the query does.
    const byCharset = await send('manager', '', SJIS, 'text/csv; charset=Shift_JIS');
    expect(byCharset.json()).toMatchObject({ encoding: 'shift_jis', added: 3 });
  });

  it('applies UTF-8 with a BOM: good rows in and audited, grants pending until a second manager approves', async () => {
    const res = await send('manager', '?apply=true', BOM_UTF8);
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(r).toMatchObject({ dryRun: false, encoding: 'utf-8', bom: true, added: 3, changed: 1, refused: 4, pendingGrants: 4 });
    expect(peopleCount()).toBe(3);
    const suzuki = r.lines.find((l: { staffNumber: number }) => l.staffNumber === 10002).personId as string;
    const file = (await api.call('manager', 'GET', `/api/v1/people/${suzuki}`)).json();
    expect(file).toMatchObject({ name: '鈴木 一郎', affiliation: '品質保証部', training: { status: 'current' }, pledge: { status: 'on-file' } });
    expect(file.credentials.map((c: { value: string }) => c.value)).toEqual(['04A1B2C4']);
    expect(file.grants.map((g: { areaId: string; status: string }) => [g.areaId, g.status])).toEqual([
      ['lab', 'pending'],
      ['vault', 'pending'],
    ]);

    // Four-eyes: the importing manager may not approve their own import's grant; another manager may.
    const grantId = file.grants[0].id as number;
    expect((await api.call('manager', 'POST', `/api/v1/grants/${grantId}/approve`)).statusCode).toBe(409);
    const second = await api.signIn('second-manager', 'manager');
    const approved = await api.app.inject({
      method: 'POST',
      url: `/api/v1/grants/${grantId}/approve`,
      headers: { authorization: `Bearer ${second.token}` },
    });
    expect(approved.statusCode).toBe(200);
    expect(approved.json().status).toBe('active');

    const audit = (await api.call('auditor', 'GET', '/api/v1/audit?limit=1000')).json().items as {
      action: string;
      actor: string;
      detail: Record<string, unknown>;
    }[];
    const mine = audit.filter((a) => a.actor === api.accounts.manager.username);
    const count = (action: string) => mine.filter((a) => a.action === action).length;
    expect(count('person.create')).toBe(3);
    expect(count('grant.create')).toBe(4);
    expect(count('people.import-row')).toBe(4);
    const rows = mine.filter((a) => a.action === 'people.import-row').map((a) => a.detail.line);
    expect(rows.sort()).toEqual([2, 3, 8, 9]);
    const summary = mine.find((a) => a.action === 'people.import')!;
    expect(summary.detail).toMatchObject({ sha256: r.sha256, added: 3, refused: 4 });
  });

  it('reports a changed row as a change, and a second import of the same file as unchanged', async () => {
    const same = (await send('manager', '?apply=true&encoding=sjis', SJIS)).json();
    expect(same).toMatchObject({ added: 0, changed: 0, unchanged: 4, refused: 4 });
    const moved = TEXT.replace('10002,鈴木 一郎,スズキ イチロウ,品質保証部,,契約社員,在籍', '10002,鈴木 一郎,スズキ イチロウ,製造部,,契約社員,休職');
    const res = await send('manager', '?apply=true', moved, 'text/csv; charset=utf-8');
    const line3 = res.json().lines.find((l: { line: number }) => l.line === 3);
    expect(line3).toMatchObject({ outcome: 'change', changes: ['affiliation: 品質保証部 → 製造部', 'status: active → suspended'] });
    const person = (await api.call('manager', 'GET', `/api/v1/people/${line3.personId}`)).json();
    expect(person).toMatchObject({ affiliation: '製造部', status: 'suspended' });
  });

  it('refuses a malformed file whole with the line, and a body that is not the file', async () => {
    const before = peopleCount();
    const bad = await send('manager', '?apply=true', 'staff_number,name\n20001,Ann\n20002,"Bob\n');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toMatch(/^malformed file: /);
    expect(bad.json().details[0].path).toMatch(/^line \d+$/);
    const notSjis = await send('manager', '', SJIS);
    expect(notSjis.statusCode).toBe(400);
    expect(notSjis.json().detail).toMatch(/not UTF-8.*encoding=sjis/);
    const json = await api.call('manager', 'POST', URL_IMPORT, { csv: 'staff_number,name' });
    expect(json.statusCode).toBe(400);
    expect(peopleCount()).toBe(before);
  });
});
