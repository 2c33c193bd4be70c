// People, credentials, training and pledges, grants (with four-eyes), reviews and the access-holder
// ledger through the real app: roles, validation, secrets never returned, revocation at once, audit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decidePass, type DenyReason } from '../../src/policy/access-rules.js';
import type { Role } from '../../src/store/accounts.js';
import { verifyPin } from '../../src/store/pin.js';
import { startApi, type TestApi } from '../helpers/api.js';

const v1 = (path: string) => `/api/v1${path}`;
const daysFromNow = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
type Method = 'GET' | 'POST' | 'PATCH' | 'PUT';

/** What the door flow decides for a person at an area's entrance right now (read fresh from SQLite, as the door does). */
function doorDecision(api: TestApi, personId: string, areaId: string): 'granted' | DenyReason {
  const { store, site } = api.controller.ctx;
  const person = store.people.person(personId)!;
  const d = decidePass({
    now: new Date(),
    direction: 'in',
    credential: { status: 'active' },
    person: { kind: person.kind, status: person.status, roles: person.roles, ...store.people.standing(person.id) },
    area: { id: areaId, mode: 'normal', allowedRoles: [], open: true, antiPassback: 'off' },
    grants: store.people.grants(personId, areaId),
    visits: [],
    inside: null,
    settings: site.policy,
  });
  return d.ok ? 'granted' : d.reason;
}

async function auditActions(
  api: TestApi,
): Promise<{ action: string; target: string | null; outcome: string; actor: string | null; detail: Record<string, unknown> | null }[]> {
  const res = await api.call('auditor', 'GET', v1('/audit?limit=1000'));
  expect(res.statusCode).toBe(200);
  return res.json().items;
}

/** A staff member with current training and a pledge, through the API. */
async function holder(api: TestApi, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await api.call('manager', 'POST', v1('/people'), { name, affiliation: 'R&D', title: 'Researcher', ...extra });
  expect(res.statusCode).toBe(201);
  const id = res.json().id as string;
  expect((await api.call('manager', 'POST', v1(`/people/${id}/trainings`), { completedAt: daysFromNow(-10), course: 'Security 2026' })).statusCode).toBe(201);
  expect((await api.call('manager', 'POST', v1(`/people/${id}/pledges`), { signedAt: daysFromNow(-10), document: 'NDA v3' })).statusCode).toBe(201);
  return id;
}

describe('people, credentials, grants, reviews and the ledger', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => api?.close());

  it('lets each role call only what it may (others get 403, no session 401)', async () => {
    const personId = await holder(api, 'Role Table');
    const store = api.controller.ctx.store;
    const card = store.people.addCredential(personId, 'card', 'ROLE-TABLE-CARD');
    const grant = store.people.addGrant({ personId, areaId: 'lab', purpose: 'role table', grantedBy: 'cli' });
    let n = 0;
    const fresh = () => ++n;
    const freshGrant = () => store.people.addGrant({ personId, areaId: 'lab', purpose: 'role table', grantedBy: 'cli' }).id;
    const pendingGrant = () => store.people.addGrant({ personId, areaId: 'lab', purpose: 'role table', grantedBy: 'someone-else', status: 'pending' }).id;
    const readers: Role[] = ['manager', 'auditor'];
    const managers: Role[] = ['manager'];
    const table: [Method, () => string, () => unknown, Role[]][] = [
      ['GET', () => '/people', () => undefined, readers],
      ['POST', () => '/people', () => ({ name: `Table ${fresh()}`, affiliation: '', title: '' }), managers],
      ['GET', () => `/people/${personId}`, () => undefined, readers],
      ['PATCH', () => `/people/${personId}`, () => ({ title: `Researcher ${fresh()}` }), managers],
      ['GET', () => `/people/${personId}/credentials`, () => undefined, readers],
      ['POST', () => `/people/${personId}/credentials`, () => ({ kind: 'card', value: `TABLE-${fresh()}` }), managers],
      ['PUT', () => `/people/${personId}/pin`, () => ({ pin: '482916' }), managers],
      ['POST', () => `/people/${personId}/totp`, () => undefined, managers],
      ['PATCH', () => `/credentials/${card.id}`, () => ({ status: 'active' }), managers],
      ['GET', () => `/people/${personId}/trainings`, () => undefined, readers],
      ['POST', () => `/people/${personId}/trainings`, () => ({ completedAt: daysFromNow(-1), course: 'Refresher' }), managers],
      ['GET', () => `/people/${personId}/pledges`, () => undefined, readers],
      ['POST', () => `/people/${personId}/pledges`, () => ({ signedAt: daysFromNow(-1), document: 'NDA v4' }), managers],
      ['GET', () => '/grants', () => undefined, readers],
      ['GET', () => `/grants/${grant.id}`, () => undefined, readers],
      ['POST', () => '/grants', () => ({ personId, areaId: 'vault', purpose: 'table' }), managers],
      ['POST', () => `/grants/${pendingGrant()}/approve`, () => undefined, ['manager', 'auditor']],
      ['POST', () => `/grants/${freshGrant()}/revoke`, () => undefined, managers],
      ['GET', () => '/reviews', () => undefined, readers],
      ['POST', () => `/reviews/${freshGrant()}`, () => ({ decision: 'confirm', nextReviewBy: daysFromNow(180) }), managers],
      ['GET', () => '/ledger', () => undefined, readers],
      ['GET', () => '/ledger?format=csv', () => undefined, readers],
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const [method, url, body, allowed] of table) {
      for (const role of ['admin', 'manager', 'guard', 'auditor'] as const) {
        const res = await api.call(role, method, v1(url()), body());
        const ok = allowed.includes(role);
        got.push(`${role} ${method} ${url()} → ${res.statusCode >= 200 && res.statusCode < 300 ? '2xx' : res.statusCode}`);
        want.push(`${role} ${method} ${url()} → ${ok ? '2xx' : 403}`);
      }
      expect((await api.call(null, method, v1(url()), body())).statusCode).toBe(401);
    }
    // url() of the approve/revoke/review rows makes a new grant each call: compare without the ids.
    const strip = (s: string) => s.replace(/\/grants\/\d+\/|\/reviews\/\d+/g, '/grants/N/');
    expect(got.map(strip)).toEqual(want.map(strip));
  });

  it('registers, lists, filters and pages people', async () => {
    const a = await api.call('manager', 'POST', v1('/people'), {
      name: '山田 太郎',
      affiliation: 'Battery Lab',
      title: '主任研究員',
      number: 4101,
      roles: ['security'],
    });
    expect(a.statusCode).toBe(201);
    expect(a.json()).toMatchObject({ kind: 'staff', number: 4101, status: 'active', roles: ['security'] });
    expect((await api.call('manager', 'POST', v1('/people'), { name: 'Dup', affiliation: '', title: '', number: 4101 })).statusCode).toBe(409);
    await api.call('manager', 'POST', v1('/people'), { name: 'Yamada Hanako', affiliation: 'Battery Lab', title: '' });
    await api.call('manager', 'POST', v1('/people'), { name: 'Suzuki Ichiro', affiliation: 'battery lab (annex)', title: '' });
    const found = (await api.call('auditor', 'GET', v1('/people?q=BATTERY%20lab&limit=2'))).json();
    expect(found.total).toBe(3);
    expect(found.items).toHaveLength(2);
    expect(found.limit).toBe(2);
    const second = (await api.call('auditor', 'GET', v1('/people?q=battery%20lab&limit=2&offset=2'))).json();
    expect(second.items).toHaveLength(1);
    expect(new Set([...found.items, ...second.items].map((p: { name: string }) => p.name))).toEqual(new Set(['山田 太郎', 'Yamada Hanako', 'Suzuki Ichiro']));
    expect((await api.call('auditor', 'GET', v1('/people?q=山田'))).json().items.map((p: { name: string }) => p.name)).toEqual(['山田 太郎']);
    const visitor = api.controller.ctx.store.people.addPerson({ kind: 'visitor', name: 'Visiting Battery Auditor' });
    expect((await api.call('manager', 'GET', v1('/people?kind=visitor'))).json().items.map((p: { id: string }) => p.id)).toEqual([visitor.id]);
    expect((await api.call('manager', 'GET', v1('/people/nobody'))).statusCode).toBe(404);
  });

  it('suspending a person applies to the next read', async () => {
    const id = await holder(api, 'Suspend Me');
    expect((await api.call('manager', 'POST', v1('/grants'), { personId: id, areaId: 'lab', purpose: 'cell testing' })).statusCode).toBe(201);
    expect(doorDecision(api, id, 'lab')).toBe('granted');
    const res = await api.call('manager', 'PATCH', v1(`/people/${id}`), { status: 'suspended', title: 'On leave' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'suspended', title: 'On leave' });
    expect(doorDecision(api, id, 'lab')).toBe('person-inactive');
    expect((await api.call('manager', 'GET', v1('/people?status=suspended'))).json().items.map((p: { id: string }) => p.id)).toContain(id);
    const audit = (await auditActions(api)).find((r) => r.action === 'person.update' && r.target === `person:${id}`);
    expect(audit?.detail).toMatchObject({ changes: { status: { from: 'active', to: 'suspended' } } });
  });

  it('names the failing fields of invalid input', async () => {
    const id = await holder(api, 'Validation Person');
    const paths = async (method: Method, url: string, body: unknown) => {
      const res = await api.call('manager', method, v1(url), body);
      expect(res.statusCode, res.body).toBe(400);
      return res.json().details.map((d: { path: string }) => d.path);
    };
    expect(await paths('POST', '/people', { name: '', affiliation: 'x' })).toEqual(expect.arrayContaining(['name', 'title']));
    expect(await paths('PATCH', `/people/${id}`, { status: 'retired' })).toEqual(['status']);
    expect(await paths('POST', '/grants', { personId: id, areaId: 'moon', purpose: 'x' })).toEqual(['areaId']);
    expect(await paths('POST', '/grants', { personId: id, areaId: 'lab' })).toEqual(['purpose']);
    expect(await paths('POST', '/grants', { personId: id, areaId: 'lab', purpose: '   ' })).toEqual(['purpose']);
    expect(await paths('POST', '/grants', { personId: id, areaId: 'lab', purpose: 'x', validFrom: daysFromNow(5), validUntil: daysFromNow(1) })).toEqual([
      'validUntil',
    ]);
    expect(await paths('POST', '/grants', { personId: 'nobody', areaId: 'lab', purpose: 'x' })).toEqual(['personId']);
    expect(await paths('POST', '/grants', { personId: id, areaId: 'lab', purpose: 'x', validUntil: 'next tuesday' })).toEqual(['validUntil']);
    expect(await paths('PUT', `/people/${id}/pin`, { pin: '123' })).toEqual(['pin']);
    expect(await paths('PUT', `/people/${id}/pin`, { pin: '1234567890123' })).toEqual(['pin']);
    expect(await paths('PUT', `/people/${id}/pin`, { pin: '12a4' })).toEqual(['pin']);
    expect(await paths('POST', `/people/${id}/credentials`, { kind: 'pin', value: '1234' })).toEqual(['kind']);
    expect(await paths('POST', `/people/${id}/trainings`, { completedAt: 'yesterday', course: 'x' })).toEqual(['completedAt']);
    expect(await paths('POST', `/people/${id}/trainings`, { completedAt: daysFromNow(3), course: 'x' })).toEqual(['completedAt']);
    expect(await paths('POST', `/people/${id}/pledges`, { signedAt: '2026-01-01' })).toEqual(['document']);
    expect(await paths('PATCH', '/credentials/1', { status: 'lost' })).toEqual(['status']);
    const grant = (await api.call('manager', 'POST', v1('/grants'), { personId: id, areaId: 'lab', purpose: 'x' })).json();
    expect(await paths('POST', `/reviews/${grant.id}`, { decision: 'confirm' })).toEqual(['nextReviewBy']);
    expect(await paths('POST', `/reviews/${grant.id}`, { decision: 'confirm', nextReviewBy: daysFromNow(-1) })).toEqual(['nextReviewBy']);
    expect(await paths('POST', `/reviews/${grant.id}`, { decision: 'maybe' })).toEqual(['decision']);
    // Refused input is audited too, as invalid.
    const refused = (await auditActions(api)).filter((r) => r.action === 'grant.create' && r.outcome === 'invalid');
    expect(refused.length).toBeGreaterThanOrEqual(6);
  });

  it('refuses a card enrolled already (409), whatever its separators or case', async () => {
    const a = await holder(api, 'Card Holder A');
    const b = await holder(api, 'Card Holder B');
    const first = await api.call('manager', 'POST', v1(`/people/${a}/credentials`), { kind: 'card', value: '04:a2:19:ff' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ kind: 'card', value: '04A219FF', status: 'active', use: 'normal' });
    expect((await api.call('manager', 'POST', v1(`/people/${b}/credentials`), { kind: 'card', value: '04A219FF' })).statusCode).toBe(409);
    expect((await api.call('manager', 'POST', v1(`/people/${a}/credentials`), { kind: 'card', value: '04-a2-19-ff' })).statusCode).toBe(409);
    expect(api.controller.ctx.store.people.findCredential('card', '04a219ff')?.personId).toBe(a);
    const conflict = (await auditActions(api)).find((r) => r.action === 'credential.enrol' && r.outcome === 'conflict');
    expect(conflict).toBeDefined();
    // Suspend, reactivate, revoke: a revocation is final.
    const cid = first.json().id as number;
    expect((await api.call('manager', 'PATCH', v1(`/credentials/${cid}`), { status: 'suspended' })).json().status).toBe('suspended');
    expect(api.controller.ctx.store.people.findCredential('card', '04A219FF')?.status).toBe('suspended');
    expect((await api.call('manager', 'PATCH', v1(`/credentials/${cid}`), { status: 'revoked' })).json().status).toBe('revoked');
    expect((await api.call('manager', 'PATCH', v1(`/credentials/${cid}`), { status: 'active' })).statusCode).toBe(409);
    expect((await api.call('manager', 'PATCH', v1('/credentials/999999'), { status: 'active' })).statusCode).toBe(404);
  });

  it('stores PINs as argon2id hashes and never returns them or OTP seeds', async () => {
    const id = await holder(api, 'Pin Person', { number: 7301 });
    const store = api.controller.ctx.store;
    const set = await api.call('manager', 'PUT', v1(`/people/${id}/pin`), { pin: '583920' });
    expect(set.statusCode).toBe(201);
    expect(set.json()).toMatchObject({ kind: 'pin', use: 'normal', status: 'active', value: null });
    const [stored] = store.people.credentialsOf(id, 'pin');
    expect(stored!.value).toMatch(/^\$argon2id\$/);
    expect(await verifyPin(stored!.value, '583920')).toBe(true);
    expect(set.body).not.toContain(stored!.value);
    expect(set.body).not.toContain('583920');
    // A new PIN replaces the old one; the duress PIN is separate and must differ.
    expect((await api.call('manager', 'PUT', v1(`/people/${id}/pin`), { pin: '111222' })).statusCode).toBe(201);
    const pins = store.people.credentialsOf(id, 'pin');
    expect(pins).toHaveLength(1);
    expect(await verifyPin(pins[0]!.value, '111222')).toBe(true);
    expect((await api.call('manager', 'PUT', v1(`/people/${id}/pin`), { pin: '111222', duress: true })).statusCode).toBe(409);
    const duress = await api.call('manager', 'PUT', v1(`/people/${id}/pin`), { pin: '999000', duress: true });
    expect(duress.statusCode).toBe(201);
    expect(duress.json().use).toBe('duress');
    expect(
      store.people
        .credentialsOf(id, 'pin')
        .map((c) => c.use)
        .sort(),
    ).toEqual(['duress', 'normal']);

    const otp = await api.call('manager', 'POST', v1(`/people/${id}/totp`));
    expect(otp.statusCode).toBe(201);
    const uri = new URL(otp.json().otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(decodeURIComponent(uri.pathname)).toContain('Pin Person');
    expect(uri.searchParams.get('issuer')).toBe('tobira');
    const seed = uri.searchParams.get('secret')!;
    expect(store.people.credentialsOf(id, 'otp').map((c) => c.value)).toEqual([seed]);
    const again = new URL((await api.call('manager', 'POST', v1(`/people/${id}/totp`))).json().otpauthUri).searchParams.get('secret')!;
    expect(again).not.toBe(seed);
    expect(store.people.credentialsOf(id, 'otp').map((c) => c.value)).toEqual([again]);

    const secrets = [...store.people.credentialsOf(id, 'pin').map((c) => c.value), seed, again, '$argon2'];
    for (const url of [`/people/${id}`, `/people/${id}/credentials`]) {
      for (const role of ['manager', 'auditor'] as const) {
        const res = await api.call(role, 'GET', v1(url));
        expect(res.statusCode).toBe(200);
        for (const s of secrets) expect(res.body).not.toContain(s);
      }
    }
    const list = (await api.call('manager', 'GET', v1(`/people/${id}/credentials`))).json();
    expect(list.items.filter((c: { kind: string }) => c.kind === 'pin' || c.kind === 'otp').every((c: { value: unknown }) => c.value === null)).toBe(true);
    expect(list.items.filter((c: { status: string }) => c.status === 'revoked')).toHaveLength(2); // the replaced PIN and seed
    const audit = JSON.stringify(await auditActions(api));
    for (const s of secrets) expect(audit).not.toContain(s);
  });

  it('shows a person with credentials, training, pledge and grants', async () => {
    const id = await holder(api, 'Detail Person');
    api.controller.ctx.store.people.addCredential(id, 'card', 'DETAIL-1');
    expect((await api.call('manager', 'POST', v1('/grants'), { personId: id, areaId: 'vault', purpose: 'archive', outOfHours: true })).statusCode).toBe(201);
    const trainings = (await api.call('auditor', 'GET', v1(`/people/${id}/trainings`))).json();
    expect(trainings).toMatchObject({ total: 1, items: [{ course: 'Security 2026', recordedBy: 'test-manager' }] });
    expect((await api.call('auditor', 'GET', v1(`/people/${id}/pledges`))).json()).toMatchObject({ total: 1, items: [{ document: 'NDA v3' }] });
    const p = (await api.call('auditor', 'GET', v1(`/people/${id}`))).json();
    expect(p.training.status).toBe('current');
    expect(p.training.lapsesAt > new Date().toISOString()).toBe(true);
    expect(p.pledge.status).toBe('on-file');
    expect(p.credentials).toEqual([expect.objectContaining({ kind: 'card', value: 'DETAIL1' })]);
    expect(p.grants).toEqual([expect.objectContaining({ areaId: 'vault', purpose: 'archive', outOfHours: true, status: 'active', grantedBy: 'test-manager' })]);
  });

  it('a revoked grant is gone from the next read; revoking twice is a conflict', async () => {
    const id = await holder(api, 'Revoke Person');
    const created = await api.call('manager', 'POST', v1('/grants'), { personId: id, areaId: 'lab', purpose: 'pilot line', reviewBy: daysFromNow(90) });
    expect(created.statusCode).toBe(201);
    const grant = created.json();
    expect(grant).toMatchObject({ status: 'active', personName: 'Revoke Person', grantedBy: 'test-manager', approvedBy: null });
    expect(api.controller.ctx.store.people.grants(id, 'lab').map((g) => g.id)).toEqual([grant.id]);
    expect(doorDecision(api, id, 'lab')).toBe('granted');
    const revoked = await api.call('manager', 'POST', v1(`/grants/${grant.id}/revoke`), { reason: 'project ended' });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ status: 'revoked', revokedBy: 'test-manager' });
    expect(api.controller.ctx.store.people.grants(id, 'lab')).toEqual([]);
    expect(doorDecision(api, id, 'lab')).toBe('no-grant');
    expect((await api.call('manager', 'POST', v1(`/grants/${grant.id}/revoke`))).statusCode).toBe(409);
    expect((await api.call('manager', 'POST', v1('/grants/999999/revoke'))).statusCode).toBe(404);
    // Without four-eyes a new grant is active already: nothing to approve.
    const other = (await api.call('manager', 'POST', v1('/grants'), { personId: id, areaId: 'lab', purpose: 'again' })).json();
    expect((await api.call('auditor', 'POST', v1(`/grants/${other.id}/approve`))).statusCode).toBe(409);
    const listed = (await api.call('auditor', 'GET', v1(`/grants?personId=${id}&status=revoked`))).json();
    expect(listed.items.map((g: { id: number }) => g.id)).toEqual([grant.id]);
    expect((await api.call('auditor', 'GET', v1(`/grants?personId=${id}&status=active&areaId=lab`))).json().items.map((g: { id: number }) => g.id)).toEqual([
      other.id,
    ]);
    expect((await api.call('auditor', 'GET', v1(`/grants?personId=${id}&areaId=vault`))).json().total).toBe(0);
    expect((await api.call('auditor', 'GET', v1(`/grants/${grant.id}`))).json().status).toBe('revoked');
    const audit = await auditActions(api);
    expect(audit.find((r) => r.action === 'grant.revoke' && r.target === `grant:${grant.id}` && r.outcome === 'ok')?.detail).toMatchObject({
      reason: 'project ended',
      personId: id,
    });
    expect(audit.find((r) => r.action === 'grant.revoke' && r.outcome === 'conflict')).toBeDefined();
  });

  it('reviews: due grants oldest first; confirm sets the next date, end revokes', async () => {
    const id = await holder(api, 'Review Person');
    const make = async (reviewBy: string) =>
      (await api.call('manager', 'POST', v1('/grants'), { personId: id, areaId: 'lab', purpose: 'review', reviewBy })).json().id as number;
    const later = await make('2025-06-01');
    const older = await make('2025-01-01T09:00:00+09:00');
    const notDue = await make(daysFromNow(30));
    const due = (await api.call('auditor', 'GET', v1('/reviews'))).json();
    const mine = due.items.map((g: { id: number }) => g.id).filter((g: number) => [later, older, notDue].includes(g));
    expect(mine).toEqual([older, later]);
    expect((await api.call('manager', 'GET', v1(`/grants?personId=${id}&reviewDue=true`))).json().items.map((g: { id: number }) => g.id)).toEqual([
      older,
      later,
    ]);

    const next = daysFromNow(180);
    const confirmed = await api.call('manager', 'POST', v1(`/reviews/${older}`), { decision: 'confirm', nextReviewBy: next });
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json()).toMatchObject({ status: 'active', reviewBy: next, reviewedBy: 'test-manager' });
    expect(confirmed.json().reviewedAt).not.toBeNull();
    const ended = await api.call('manager', 'POST', v1(`/reviews/${later}`), { decision: 'end', note: 'left the project' });
    expect(ended.statusCode).toBe(200);
    expect(ended.json()).toMatchObject({ status: 'revoked', reviewedBy: 'test-manager', revokedBy: 'test-manager' });
    expect(
      api.controller.ctx.store.people
        .grants(id, 'lab')
        .map((g) => g.id)
        .sort(),
    ).toEqual([older, notDue].sort());
    const after = (await api.call('auditor', 'GET', v1('/reviews?limit=1000'))).json().items.map((g: { id: number }) => g.id);
    expect(after).not.toContain(older);
    expect(after).not.toContain(later);
    expect((await api.call('manager', 'POST', v1(`/reviews/${later}`), { decision: 'end' })).statusCode).toBe(409);
    expect((await api.call('manager', 'POST', v1('/reviews/999999'), { decision: 'end' })).statusCode).toBe(404);
    const audit = await auditActions(api);
    expect(audit.find((r) => r.action === 'review.confirm' && r.target === `grant:${older}`)?.detail).toMatchObject({ nextReviewBy: next });
    expect(audit.find((r) => r.action === 'review.end' && r.target === `grant:${later}`)?.detail).toMatchObject({ revoked: true, note: 'left the project' });
  });

  it('the access-holder ledger: JSON, and CSV with BOM, Japanese headers and formula-safe cells', async () => {
    const current = await holder(api, '=HYPERLINK("http://x")', { title: '+主任', affiliation: '@Lab' });
    const g = (
      await api.call('manager', 'POST', v1('/grants'), { personId: current, areaId: 'lab', purpose: 'battery project', validUntil: daysFromNow(365) })
    ).json();
    const lapsed = (await api.call('manager', 'POST', v1('/people'), { name: 'Lapsed Person', affiliation: 'QA', title: 'Engineer' })).json().id as string;
    await api.call('manager', 'POST', v1(`/people/${lapsed}/trainings`), { completedAt: '2020-04-01', course: 'Security 2020' });
    await api.call('manager', 'POST', v1('/grants'), { personId: lapsed, areaId: 'vault', purpose: 'archive' });
    const revokedOnly = (await api.call('manager', 'POST', v1('/people'), { name: 'Revoked Only', affiliation: '', title: '' })).json().id as string;
    const gone = (await api.call('manager', 'POST', v1('/grants'), { personId: revokedOnly, areaId: 'lab', purpose: 'x' })).json();
    await api.call('manager', 'POST', v1(`/grants/${gone.id}/revoke`));

    const json = await api.call('auditor', 'GET', v1('/ledger'));
    expect(json.statusCode).toBe(200);
    const holders = json.json().holders as { personId: string }[];
    expect(holders.map((h) => h.personId)).not.toContain(revokedOnly);
    expect(holders.find((h) => h.personId === current)).toMatchObject({
      name: '=HYPERLINK("http://x")',
      title: '+主任',
      affiliation: '@Lab',
      training: { status: 'current' },
      pledge: { status: 'on-file' },
      grants: [
        {
          id: g.id,
          area: { id: 'lab', en: 'Research lab', ja: '研究室' },
          grantedAt: g.grantedAt,
          validUntil: g.validUntil,
          purpose: 'battery project',
          approval: { status: 'active' },
        },
      ],
    });
    expect(holders.find((h) => h.personId === lapsed)).toMatchObject({
      training: { status: 'lapsed', lastAt: '2020-04-01T00:00:00.000Z', lapsesAt: '2021-04-01T00:00:00.000Z' },
      pledge: { status: 'none', signedAt: null },
      grants: [{ area: { id: 'vault', en: 'Document vault', ja: '文書保管庫' } }],
    });

    const csv = await api.call('manager', 'GET', v1('/ledger?format=csv'));
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.rawPayload.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    const lines = csv.body
      .replace(/^\ufeff/, '')
      .trimEnd()
      .split('\r\n');
    expect(lines[0]).toMatch(/^name,title,affiliation,/);
    const row = lines.find((l) => l.includes('battery project'))!;
    expect(row.startsWith(`"'=HYPERLINK(""http://x"")",'+主任,'@Lab,`)).toBe(true);
    expect(row).toContain(',Research lab,');
    expect(lines.find((l) => l.startsWith('Revoked Only'))).toBeUndefined();

    const ja = await api.call('auditor', 'GET', v1('/ledger?format=csv&lang=ja'));
    expect(ja.body.startsWith('\ufeff氏名,役職,所属,')).toBe(true);
    const header = ja.body.slice(1).split('\r\n')[0]!.split(',');
    expect(header).toEqual(expect.arrayContaining(['氏名', '役職', '所属', '区域', '権限設定日', '有効期限', '目的', '教育受講状況', '誓約書']));
    const jaRow = ja.body
      .split('\r\n')
      .find((l) => l.startsWith('Lapsed Person'))!
      .split(',');
    expect(jaRow[header.indexOf('区域')]).toBe('文書保管庫');
    expect(jaRow[header.indexOf('教育受講状況')]).toBe('期限切れ');
    expect(jaRow[header.indexOf('誓約書')]).toBe('未提出');
    expect((await api.call('manager', 'GET', v1('/ledger?format=xml'))).statusCode).toBe(400);
    const exports = (await auditActions(api)).filter((r) => r.action === 'ledger.export');
    expect(exports.map((r) => r.detail?.format)).toEqual(expect.arrayContaining(['json', 'csv']));
  });

  it('every change is in the audit log under its action, by its actor', async () => {
    const records = await auditActions(api);
    const ok = new Set(records.filter((r) => r.outcome === 'ok' && r.actor === 'test-manager').map((r) => r.action));
    for (const action of [
      'person.create',
      'person.update',
      'credential.enrol',
      'credential.pin-set',
      'credential.otp-enrol',
      'credential.status-change',
      'training.record',
      'pledge.record',
      'grant.create',
      'grant.revoke',
      'review.confirm',
      'review.end',
      'ledger.export',
    ])
      expect(ok, action).toContain(action);
    // Approval by an auditor (the role table) and refusals by role are there too.
    expect(records.some((r) => r.action === 'grant.approve' && r.outcome === 'ok' && r.actor === 'test-auditor')).toBe(true);
    expect(records.some((r) => r.action === 'grant.create' && r.outcome === 'denied' && r.actor === 'test-guard')).toBe(true);
    const created = records.find((r) => r.action === 'person.create' && r.outcome === 'ok')!;
    expect(created.target).toMatch(/^person:/);
  });
});

describe('four-eyes grants', () => {
  let api: TestApi;
  let personId: string;
  beforeAll(async () => {
    api = await startApi({ edit: (raw) => (raw.api = { fourEyes: true }) });
    personId = await holder(api, 'Four Eyes Person');
  });
  afterAll(async () => api?.close());

  it('a new grant is pending and opens nothing until a different manager approves it', async () => {
    const created = await api.call('manager', 'POST', v1('/grants'), { personId, areaId: 'lab', purpose: 'cell chemistry' });
    expect(created.statusCode).toBe(201);
    const grant = created.json();
    expect(grant).toMatchObject({ status: 'pending', approvedBy: null, grantedBy: 'test-manager' });
    expect(api.controller.ctx.store.people.grants(personId, 'lab')).toEqual([]);
    expect(doorDecision(api, personId, 'lab')).toBe('no-grant');
    expect((await api.call('manager', 'GET', v1('/grants?status=pending'))).json().items.map((g: { id: number }) => g.id)).toContain(grant.id);

    const self = await api.call('manager', 'POST', v1(`/grants/${grant.id}/approve`));
    expect(self.statusCode).toBe(409);
    expect(self.json().error).toMatch(/creator/);
    expect(api.controller.ctx.store.people.grants(personId, 'lab')).toEqual([]);
    for (const role of ['guard', 'admin'] as const) expect((await api.call(role, 'POST', v1(`/grants/${grant.id}/approve`))).statusCode).toBe(403);

    const pending = (await api.call('auditor', 'GET', v1('/ledger'))).json().holders.find((h: { personId: string }) => h.personId === personId);
    expect(pending.grants[0].approval).toEqual({ status: 'pending', approvedBy: null, approvedAt: null });

    const second = await api.signIn('manager-2', 'manager');
    const approve = (id: number) => api.app.inject({ method: 'POST', url: v1(`/grants/${id}/approve`), headers: { authorization: `Bearer ${second.token}` } });
    const approved = await approve(grant.id);
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'active', approvedBy: 'manager-2' });
    expect(api.controller.ctx.store.people.grants(personId, 'lab').map((g) => g.id)).toEqual([grant.id]);
    expect(doorDecision(api, personId, 'lab')).toBe('granted');
    expect((await approve(grant.id)).statusCode).toBe(409);

    const audit = await auditActions(api);
    expect(audit.find((r) => r.action === 'grant.approve' && r.outcome === 'ok')).toMatchObject({ actor: 'manager-2', target: `grant:${grant.id}` });
    expect(audit.find((r) => r.action === 'grant.approve' && r.outcome === 'conflict' && r.actor === 'test-manager')).toBeDefined();
    expect(audit.find((r) => r.action === 'grant.create' && r.target === `grant:${grant.id}`)?.detail).toMatchObject({ status: 'pending' });
  });

  it('an auditor may approve; a revoked pending grant cannot be approved', async () => {
    const grant = (await api.call('manager', 'POST', v1('/grants'), { personId, areaId: 'vault', purpose: 'archive' })).json();
    expect(api.controller.ctx.store.people.grants(personId, 'vault')).toEqual([]);
    const approved = await api.call('auditor', 'POST', v1(`/grants/${grant.id}/approve`));
    expect(approved.statusCode).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'active', approvedBy: 'test-auditor' });
    expect(api.controller.ctx.store.people.grants(personId, 'vault').map((g) => g.id)).toEqual([grant.id]);

    const withdrawn = (await api.call('manager', 'POST', v1('/grants'), { personId, areaId: 'vault', purpose: 'withdrawn' })).json();
    expect((await api.call('manager', 'POST', v1(`/grants/${withdrawn.id}/revoke`))).statusCode).toBe(200);
    expect((await api.call('auditor', 'POST', v1(`/grants/${withdrawn.id}/approve`))).statusCode).toBe(409);
    expect(api.controller.ctx.store.people.grants(personId, 'vault').map((g) => g.id)).toEqual([grant.id]);
  });
});
