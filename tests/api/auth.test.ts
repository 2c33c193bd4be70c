// Accounts, login, TOTP, sessions, lockout and the password policy, through fastify's inject.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPassword } from '../../src/api/password-policy.js';
import { startApi, TEST_PASSWORD, type TestApi } from '../helpers/api.js';

describe('password policy', () => {
  const user = { username: 'hanako.sato', displayName: '佐藤 花子' };
  it.each([
    ['short1!', ['too-short']],
    ['aaaaaaaaaaaaaaaa', ['one-repeated-character', 'letters-only']],
    ['123456789012345', ['digits-only']],
    ['abcdefghijklmnop', ['letters-only']],
    ['パスワードパスワード文字', ['letters-only']],
    ['my-hanako.sato-2026!', ['contains-username']],
    ['佐藤のパスワード2026!', ['contains-name']],
    ['password1234', ['common-password']],
    ['Welcome12345', []],
    ['tram-ocean-7-violet', []],
  ])('%s → %j', (password, problems) => {
    expect(checkPassword(password, user)).toEqual(problems);
  });
});

describe('sign-in, sessions and accounts', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => api?.close());

  it('keeps 401 (no or ended session) and 403 (role may not) distinct', async () => {
    expect((await api.call(null, 'GET', '/api/v1/accounts')).statusCode).toBe(401);
    const bogus = await api.app.inject({ method: 'GET', url: '/api/v1/accounts', headers: { authorization: 'Bearer nope' } });
    expect(bogus.statusCode).toBe(401);
    const guard = await api.call('guard', 'GET', '/api/v1/accounts');
    expect(guard.statusCode).toBe(403);
    expect(guard.json()).toEqual({ error: 'a guard may not do this (needs admin)' });
    expect((await api.call('admin', 'GET', '/api/v1/accounts')).statusCode).toBe(200);
  });

  it('requires TOTP for admins and managers, refuses a replayed code, and not for guards', async () => {
    const manager = api.accounts.manager;
    const login = (totp?: string) => api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: manager.username, password: manager.password, ...(totp ? { totp } : {}) } });
    expect((await login()).statusCode).toBe(401);
    // The code the harness signed in with has been used: replaying it is refused.
    const used = await api.code(manager.totpSecret!);
    expect((await login(used)).statusCode).toBe(401);
    const next = await api.code(manager.totpSecret!, 1);
    expect((await login(next)).statusCode).toBe(200);
    expect((await login(next)).statusCode).toBe(401);
    const guard = await api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'test-guard', password: TEST_PASSWORD } });
    expect(guard.statusCode).toBe(200);
    expect(guard.json().account.totpEnrolled).toBe(false);
  });

  it('an admin creates a manager with a one-time password and a TOTP URI; first login must change the password', async () => {
    const res = await api.call('admin', 'POST', '/api/v1/accounts', { username: 'kenji.tanaka', displayName: '田中 健二', role: 'manager' });
    expect(res.statusCode).toBe(201);
    const { oneTimePassword, totpUri, account } = res.json();
    expect(totpUri).toMatch(/^otpauth:\/\/totp\/tobira:kenji\.tanaka\?secret=[A-Z2-7]+/);
    expect(account).toMatchObject({ role: 'manager', mustChangePassword: true, totpEnrolled: true });
    const secret = new URL(totpUri).searchParams.get('secret')!;
    const login = await api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'kenji.tanaka', password: oneTimePassword, totp: await api.code(secret) } });
    expect(login.statusCode).toBe(200);
    expect(login.json().mustChangePassword).toBe(true);
    const token = login.json().token;
    const as = (method: 'GET' | 'POST', url: string, payload?: object) => api.app.inject({ method, url, payload, headers: { authorization: `Bearer ${token}` } });
    expect((await as('GET', '/api/v1/people')).statusCode).toBe(403);
    const weak = await as('POST', '/api/v1/auth/password', { currentPassword: oneTimePassword, newPassword: 'kenji.tanaka2026' });
    expect(weak.statusCode).toBe(400);
    expect(weak.json().details.map((d: { problem: string }) => d.problem)).toEqual(expect.arrayContaining(['contains-username']));
    const reuse = await as('POST', '/api/v1/auth/password', { currentPassword: oneTimePassword, newPassword: oneTimePassword });
    expect(reuse.statusCode).toBe(400);
    expect((await as('POST', '/api/v1/auth/password', { currentPassword: oneTimePassword, newPassword: 'violet-harbour-73-kite' })).statusCode).toBe(204);
    expect((await as('GET', '/api/v1/auth/me')).json()).toMatchObject({ username: 'kenji.tanaka', mustChangePassword: false });
  });

  it('the last five passwords cannot be reused', async () => {
    const acct = await api.signIn('reuse.test', 'guard');
    const headers = { authorization: `Bearer ${acct.token}` };
    const change = (from: string, to: string) => api.app.inject({ method: 'POST', url: '/api/v1/auth/password', headers, payload: { currentPassword: from, newPassword: to } });
    const sequence = [TEST_PASSWORD, 'amber-field-1-otter', 'amber-field-2-otter', 'amber-field-3-otter', 'amber-field-4-otter', 'amber-field-5-otter'];
    for (let i = 1; i < sequence.length; i++) expect((await change(sequence[i - 1]!, sequence[i]!)).statusCode).toBe(204);
    expect((await change(sequence[5]!, sequence[1]!)).statusCode).toBe(400);
    expect((await change(sequence[5]!, TEST_PASSWORD)).statusCode).toBe(204); // six back: allowed again
  });

  it('locks an account after repeated failures, each logged; the right password is refused while locked', async () => {
    const acct = await api.signIn('lock.test', 'guard');
    const attempt = (password: string) => api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'lock.test', password }, remoteAddress: '10.0.0.9' });
    for (let i = 0; i < 5; i++) expect((await attempt('wrong-password-xyz')).statusCode).toBe(401);
    const locked = await attempt(acct.password);
    expect(locked.statusCode).toBe(401);
    expect(locked.json().error).toMatch(/locked/);
    const audit = (await api.call('auditor', 'GET', '/api/v1/audit?actor=lock.test&limit=20')).json().items as { action: string; outcome: string }[];
    expect(audit.filter((r) => r.action === 'auth.login' && r.outcome === 'failed')).toHaveLength(5);
    expect(audit.filter((r) => r.action === 'auth.lockout')).toHaveLength(1);
    expect(audit.filter((r) => r.action === 'auth.login' && r.outcome === 'locked')).toHaveLength(1);
  });

  it('rate-limits login attempts per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) {
      statuses.push((await api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: `nobody${i}`, password: 'x' }, remoteAddress: '10.9.9.9' })).statusCode);
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
  });

  it('logout ends the session; an idle session ends by itself', async () => {
    const acct = await api.signIn('logout.test', 'auditor');
    const headers = { authorization: `Bearer ${acct.token}` };
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).statusCode).toBe(200);
    expect((await api.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers })).statusCode).toBe(204);
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).statusCode).toBe(401);
    const idle = await api.signIn('idle.test', 'auditor');
    api.controller.ctx.store.db.prepare("UPDATE sessions SET last_seen_at = '2020-01-01T00:00:00.000Z' WHERE account_id = (SELECT id FROM accounts WHERE username = 'idle.test')").run();
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${idle.token}` } })).statusCode).toBe(401);
  });

  it('validation errors name the failing fields', async () => {
    const res = await api.call('admin', 'POST', '/api/v1/accounts', { username: 'X', role: 'emperor', extra: 1 });
    expect(res.statusCode).toBe(400);
    const paths = res.json().details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['username', 'role']));
    expect(res.body).not.toMatch(/at .*\.js/); // no stack trace
  });

  it('role changes are audited and end the account\'s sessions', async () => {
    const acct = await api.signIn('role.test', 'guard');
    const me = await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${acct.token}` } });
    const res = await api.call('admin', 'PATCH', `/api/v1/accounts/${me.json().id}`, { role: 'auditor' });
    expect(res.statusCode).toBe(200);
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${acct.token}` } })).statusCode).toBe(401);
    const audit = (await api.call('auditor', 'GET', '/api/v1/audit?action=account.role-change')).json().items;
    expect(audit[0]).toMatchObject({ actor: 'test-admin', outcome: 'ok', detail: { from: 'guard', to: 'auditor' } });
  });
});
