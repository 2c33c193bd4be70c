// Keys and master keys through the real app: the inventory, loans only to access holders of what a
// key opens (each refusal with its reason), master keys only with a reason and with their event,
// returns, overdue loans (event once, reminder while out), CSV with ja/en headers, roles, audit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyService } from '../../src/services/keys.js';
import type { Role } from '../../src/store/accounts.js';
import { startApi, type TestApi } from '../helpers/api.js';

const v1 = (path: string) => `/api/v1${path}`;
const daysFromNow = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
const SAFE = 'kt-safe';

/** A staff member with current training and a pledge, and grants for these areas (or safes). */
function person(api: TestApi, name: string, grants: string[], opts: { trained?: boolean; kind?: 'staff' | 'visitor' } = {}): string {
  const { store } = api.controller.ctx;
  const p = store.people.addPerson({ name, kind: opts.kind ?? 'staff', affiliation: 'R&D', title: 'Researcher' });
  if (opts.trained !== false) {
    store.trainings.add(p.id, daysFromNow(-10), 'Security 2026', 'test');
    store.pledges.add(p.id, daysFromNow(-10), 'NDA v3', 'test');
  }
  for (const areaId of grants) store.people.addGrant({ personId: p.id, areaId, purpose: 'keys test', grantedBy: 'cli' });
  return p.id;
}

function eventsOf(api: TestApi, type: string): { source: string | null; detail: Record<string, unknown> | null }[] {
  return api
    .db()
    .prepare('SELECT source, detail FROM events WHERE type = ? ORDER BY id')
    .all(type)
    .map((r) => {
      const row = r as { source: string | null; detail: string | null };
      return { source: row.source, detail: row.detail ? JSON.parse(row.detail) : null };
    });
}

describe('keys and master keys', () => {
  let api: TestApi;
  let holder: string;
  beforeAll(async () => {
    api = await startApi({
      edit: (raw) => {
        const devices = raw.devices as Record<string, unknown>[];
        devices.push(
          { id: 'kt-safe-contact', kind: 'contact', transport: 'mqtt' },
          { id: 'kt-safe-dial', kind: 'input', input: 'dial', transport: 'mqtt' },
          { id: 'kt-safe-key', kind: 'input', input: 'key', transport: 'mqtt' },
        );
        raw.safes = [
          ...((raw.safes as unknown[] | undefined) ?? []),
          {
            id: SAFE,
            name: { en: 'Keys test safe', ja: '鍵試験金庫' },
            area: 'vault',
            locks: ['dial', 'key'],
            sensors: { contact: 'kt-safe-contact', dial: 'kt-safe-dial', key: 'kt-safe-key' },
          },
        ];
      },
    });
    holder = person(api, 'Key Holder', ['lab', 'vault', SAFE]);
    for (const [id, master, opens] of [
      ['K-LAB-1', false, [{ kind: 'area', id: 'lab' }]],
      ['K-SAFE-1', false, [{ kind: 'safe', id: SAFE }]],
      [
        'MK-1',
        true,
        [
          { kind: 'area', id: 'lab' },
          { kind: 'area', id: 'vault' },
        ],
      ],
    ] as const) {
      const res = await api.call('manager', 'POST', v1('/keys'), { id, name: `Key ${id}`, master, opens, location: 'key cabinet A' });
      expect(res.statusCode, res.body).toBe(201);
    }
  });
  afterAll(async () => api?.close());

  it('lets managers change the inventory, guards and managers lend and return, all roles read', async () => {
    const body = { id: 'K-ROLES', name: 'Roles', opens: [{ kind: 'area', id: 'lab' }] };
    for (const role of ['guard', 'auditor', 'admin'] as Role[]) expect((await api.call(role, 'POST', v1('/keys'), body)).statusCode).toBe(403);
    for (const role of ['manager', 'guard', 'auditor', 'admin'] as Role[]) expect((await api.call(role, 'GET', v1('/keys'))).statusCode).toBe(200);
    expect((await api.call(null, 'GET', v1('/keys'))).statusCode).toBe(401);
    const loan = { personId: holder, dueBackAt: daysFromNow(1) };
    for (const role of ['auditor', 'admin'] as Role[]) {
      expect((await api.call(role, 'POST', v1('/keys/K-LAB-1/loans'), loan)).statusCode).toBe(403);
      expect((await api.call(role, 'POST', v1('/keys/K-LAB-1/return'), {})).statusCode).toBe(403);
    }
    for (const role of ['guard', 'manager'] as Role[]) {
      expect((await api.call(role, 'POST', v1('/keys/K-LAB-1/loans'), loan)).statusCode).toBe(201);
      expect((await api.call(role, 'POST', v1('/keys/K-LAB-1/return'), {})).statusCode).toBe(200);
    }
  });

  it('refuses a key naming nothing, an unknown area or safe, or a tag already in the inventory', async () => {
    const add = (body: Record<string, unknown>) => api.call('manager', 'POST', v1('/keys'), { id: 'K-NEW', name: 'New', ...body });
    expect((await add({ opens: [] })).statusCode).toBe(400);
    const area = await add({ opens: [{ kind: 'area', id: 'nowhere' }] });
    expect(area.statusCode).toBe(400);
    expect(area.json().details[0].message).toContain('no area "nowhere"');
    const safe = await add({ opens: [{ kind: 'safe', id: 'no-safe' }] });
    expect(safe.statusCode).toBe(400);
    expect(safe.json().details[0].message).toContain('no safe "no-safe"');
    // An area's id is not a safe's.
    expect((await add({ opens: [{ kind: 'safe', id: 'lab' }] })).statusCode).toBe(400);
    const dup = await api.call('manager', 'POST', v1('/keys'), { id: 'K-LAB-1', name: 'Again', opens: [{ kind: 'area', id: 'lab' }] });
    expect(dup.statusCode).toBe(409);
  });

  it('lends only to an access holder of what the key opens, refused with the reason', async () => {
    const lend = (key: string, personId: string) => api.call('guard', 'POST', v1(`/keys/${key}/loans`), { personId, dueBackAt: daysFromNow(1) });
    const cases: [string, string, string][] = [
      ['K-LAB-1', person(api, 'No Grant', ['vault']), 'no-grant'],
      ['K-LAB-1', person(api, 'Untrained', ['lab'], { trained: false }), 'no-training'],
      ['K-LAB-1', person(api, 'A Visitor', ['lab'], { kind: 'visitor' }), 'no-grant'],
      // The safe says its holders are grants for the safe: a grant for its area is not enough.
      ['K-SAFE-1', person(api, 'Vault Only', ['vault']), 'no-grant'],
      // A master key opens both areas: a holder of one is refused for the other.
      ['MK-1', person(api, 'Lab Only', ['lab']), 'no-grant'],
    ];
    const left = person(api, 'Has Left', ['lab']);
    api.controller.ctx.store.people.updatePerson(left, { status: 'left' });
    cases.push(['K-LAB-1', left, 'person-inactive']);
    for (const [key, personId, reason] of cases) {
      const res =
        key === 'MK-1'
          ? await api.call('guard', 'POST', v1(`/keys/${key}/loans`), { personId, dueBackAt: daysFromNow(1), reason: 'emergency' })
          : await lend(key, personId);
      expect({ key, reason, status: res.statusCode }).toEqual({ key, reason, status: 409 });
      expect(res.json().details).toEqual([{ path: 'personId', message: reason }]);
      expect(res.json().detail).toContain('is not an access holder');
    }
    // None of them holds a key now.
    const keys = (await api.call('auditor', 'GET', v1('/keys'))).json().items as { id: string; loan: unknown }[];
    expect(keys.filter((k) => k.loan !== null)).toEqual([]);

    const ok = await lend('K-SAFE-1', holder);
    expect(ok.statusCode, ok.body).toBe(201);
    expect(ok.json().loan).toMatchObject({ personId: holder, personName: 'Key Holder', reason: null, returnedAt: null, lentBy: 'test-guard' });
    await api.call('guard', 'POST', v1('/keys/K-SAFE-1/return'), {});
  });

  it('refuses a loan of a key that is out, unknown, or due back in the past; a return of a key that is in', async () => {
    expect((await api.call('guard', 'POST', v1('/keys/K-LAB-1/loans'), { personId: holder, dueBackAt: daysFromNow(-1) })).statusCode).toBe(400);
    expect((await api.call('guard', 'POST', v1('/keys/K-NONE/loans'), { personId: holder, dueBackAt: daysFromNow(1) })).statusCode).toBe(404);
    expect((await api.call('guard', 'POST', v1('/keys/K-LAB-1/loans'), { personId: 'nobody', dueBackAt: daysFromNow(1) })).statusCode).toBe(400);
    expect((await api.call('guard', 'POST', v1('/keys/K-LAB-1/loans'), { personId: holder, dueBackAt: daysFromNow(1) })).statusCode).toBe(201);
    const again = await api.call('guard', 'POST', v1('/keys/K-LAB-1/loans'), { personId: holder, dueBackAt: daysFromNow(1) });
    expect(again.statusCode).toBe(409);
    expect(again.json().detail).toContain('is out');
    const back = await api.call('guard', 'POST', v1('/keys/K-LAB-1/return'), { note: 'back on its hook' });
    expect(back.statusCode).toBe(200);
    expect(back.json().loan).toBeNull();
    expect(back.json().loans[0]).toMatchObject({ returnedBy: 'test-guard', overdue: false });
    expect((await api.call('guard', 'POST', v1('/keys/K-LAB-1/return'), {})).statusCode).toBe(409);
    expect((await api.call('guard', 'POST', v1('/keys/K-NONE/return'), {})).statusCode).toBe(404);
  });

  it('lends a master key only with a reason (disaster, emergency) and raises master-key-used', async () => {
    const noReason = await api.call('guard', 'POST', v1('/keys/MK-1/loans'), { personId: holder, dueBackAt: daysFromNow(1) });
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json().details).toEqual([{ path: 'reason', message: expect.stringContaining('disaster or emergency') }]);
    expect((await api.call('guard', 'POST', v1('/keys/MK-1/loans'), { personId: holder, dueBackAt: daysFromNow(1), reason: 'curiosity' })).statusCode).toBe(
      400,
    );
    // An ordinary key is not lent "for an emergency": the reason would hide a master key's use.
    expect((await api.call('guard', 'POST', v1('/keys/K-LAB-1/loans'), { personId: holder, dueBackAt: daysFromNow(1), reason: 'emergency' })).statusCode).toBe(
      400,
    );
    expect(eventsOf(api, 'master-key-used')).toEqual([]);

    const res = await api.call('guard', 'POST', v1('/keys/MK-1/loans'), { personId: holder, dueBackAt: daysFromNow(1), reason: 'disaster' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().loan.reason).toBe('disaster');
    const events = eventsOf(api, 'master-key-used');
    expect(events).toEqual([{ source: 'MK-1', detail: expect.objectContaining({ personId: holder, reason: 'disaster', lentBy: 'test-guard' }) }]);
    expect((await api.call('guard', 'POST', v1('/keys/MK-1/return'), {})).statusCode).toBe(200);
  });

  it('raises key-loan-overdue once for a loan past due and lists it as a reminder until it is back', async () => {
    const res = await api.call('guard', 'POST', v1('/keys/K-SAFE-1/loans'), { personId: holder, dueBackAt: daysFromNow(1) });
    const loanId = res.json().loan.id as number;
    const { keyLoans } = api.controller;
    keyLoans.sweep();
    expect(eventsOf(api, 'key-loan-overdue')).toEqual([]);
    // The due-back time passes.
    api
      .db()
      .prepare('UPDATE key_loans SET due_back_at = ? WHERE id = ?')
      .run(new Date(Date.now() - 60_000).toISOString(), loanId);
    keyLoans.sweep();
    keyLoans.sweep();
    expect(eventsOf(api, 'key-loan-overdue')).toEqual([{ source: 'K-SAFE-1', detail: expect.objectContaining({ loan: loanId, personId: holder }) }]);
    const service = new KeyService({ store: api.controller.ctx.store, now: () => new Date(), controller: api.controller });
    expect(service.overdueLoans(new Date())).toEqual([expect.objectContaining({ loanId, keyId: 'K-SAFE-1', personName: 'Key Holder' })]);
    const view = (await api.call('auditor', 'GET', v1('/keys'))).json().items.find((k: { id: string }) => k.id === 'K-SAFE-1');
    expect(view.loan).toMatchObject({ id: loanId, overdue: true });
    expect(view.loan.overdueAt).not.toBeNull();
    const reminders = async () =>
      ((await api.call('auditor', 'GET', v1('/reminders'))).json().items as { kind: string }[]).filter((r) => r.kind === 'key-loan');
    expect(await reminders()).toEqual([
      expect.objectContaining({
        kind: 'key-loan',
        subject: 'key:K-SAFE-1',
        overdue: true,
        detail: expect.objectContaining({ loan: loanId, personId: holder }),
      }),
    ]);
    expect((await api.call('guard', 'POST', v1('/keys/K-SAFE-1/return'), {})).statusCode).toBe(200);
    expect(service.overdueLoans(new Date())).toEqual([]);
    expect(await reminders()).toEqual([]);
  });

  it('reads the inventory as CSV with Japanese or English headers, each export audited', async () => {
    const ja = await api.call('auditor', 'GET', v1('/keys?format=csv&lang=ja'));
    expect(ja.statusCode).toBe(200);
    expect(ja.headers['content-type']).toContain('text/csv');
    expect(ja.body.startsWith('\ufeff鍵番号,鍵名称,マスターキー,対象,保管場所,借用者ID,借用者,貸出日時')).toBe(true);
    expect(ja.body).toContain('MK-1,Key MK-1,該当,区域:lab 区域:vault');
    expect(ja.body).toContain('災害');
    const en = await api.call('auditor', 'GET', v1('/keys?format=csv&lang=en'));
    expect(en.body.startsWith('\ufeffkey,name,master key,opens,location,borrower id,borrower,lent at')).toBe(true);
    expect(en.body).toContain('\r\n');

    const audit = (await api.call('auditor', 'GET', v1('/audit?limit=1000'))).json().items as { action: string; outcome: string; actor: string | null }[];
    const actions = new Set(audit.filter((a) => a.outcome === 'ok').map((a) => a.action));
    for (const action of ['key.add', 'key.lend', 'key.return', 'keys.export']) expect(actions).toContain(action);
    // A refused loan is in the audit log too.
    expect(audit.some((a) => a.action === 'key.lend' && a.outcome !== 'ok')).toBe(true);
  });
  it("reads the code holders' ledger as CSV with Japanese or English headers, audited", async () => {
    const knower = person(api, 'Code Knower', ['vault', 'doc-safe']);
    const added = await api.call('manager', 'POST', v1('/dial-locks/doc-safe/holders'), { personId: knower });
    expect(added.statusCode, added.body).toBe(201);
    const ja = await api.call('auditor', 'GET', v1('/dial-locks/doc-safe/holders?format=csv&lang=ja'));
    expect(ja.statusCode).toBe(200);
    expect(ja.headers['content-type']).toContain('text/csv');
    expect(ja.body.split('\r\n').slice(0, 2)).toEqual([
      '\ufeffダイヤル錠,人員ID,氏名,登録日時,登録者',
      expect.stringMatching(new RegExp(`^doc-safe,${knower},Code Knower,.*,test-manager$`)),
    ]);
    const en = await api.call('auditor', 'GET', v1('/dial-locks/doc-safe/holders?format=csv'));
    expect(en.body.startsWith('\ufeffdial lock,person id,name,added at,added by\r\n')).toBe(true);
    const audit = (await api.call('auditor', 'GET', v1('/audit?limit=1000'))).json().items as { action: string; detail: { format?: string } | null }[];
    expect(audit.filter((a) => a.action === 'dial-lock.holders-export').map((a) => a.detail?.format)).toEqual(expect.arrayContaining(['csv']));
  });
});
