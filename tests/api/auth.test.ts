// Accounts, login, TOTP, sessions, lockout and the password policy, through fastify's inject.
import Database from 'better-sqlite3';
import type { LightMyRequestResponse } from 'fastify';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.js';
import { AuthService } from '../../src/services/auth.js';
import { checkPassword } from '../../src/services/password-policy.js';
import { Controller } from '../../src/controller/controller.js';
import { PeopleStore } from '../../src/store/people.js';
import { SECRETS_KEY_FILE } from '../../src/store/secret-box.js';
import { startApi, TEST_PASSWORD, type TestApi } from '../helpers/api.js';
import { freePort } from '../helpers/ports.js';

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
    api = await startApi({ edit: (raw) => (raw.api = { fourEyes: true }) });
  });
  afterAll(async () => api?.close());

  it('keeps 401 (no or ended session) and 403 (role may not) distinct', async () => {
    expect((await api.call(null, 'GET', '/api/v1/accounts')).statusCode).toBe(401);
    const bogus = await api.app.inject({ method: 'GET', url: '/api/v1/accounts', headers: { authorization: 'Bearer nope' } });
    expect(bogus.statusCode).toBe(401);
    const guard = await api.call('guard', 'GET', '/api/v1/accounts');
    expect(guard.statusCode).toBe(403);
    expect(guard.json()).toMatchObject({ type: 'about:blank', title: 'Forbidden', status: 403, detail: 'a guard may not read accounts (needs admin)' });
    expect((await api.call('admin', 'GET', '/api/v1/accounts')).statusCode).toBe(200);
  });

  it('requires TOTP for every role and refuses a replayed code', async () => {
    const manager = api.accounts.manager;
    const login = (totp?: string) =>
      api.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: manager.username, password: manager.password, ...(totp ? { totp } : {}) },
      });
    expect((await login()).statusCode).toBe(401);
    // The code the harness signed in with has been used: replaying it is refused.
    const used = await api.code(manager.totpSecret!);
    expect((await login(used)).statusCode).toBe(401);
    const next = await api.code(manager.totpSecret!, 1);
    expect((await login(next)).statusCode).toBe(200);
    expect((await login(next)).statusCode).toBe(401);
    // A guard opens doors and checks visitors in; an auditor approves: both need a code too.
    for (const role of ['guard', 'auditor'] as const) {
      const acct = api.accounts[role];
      const as = (totp?: string) =>
        api.app.inject({
          method: 'POST',
          url: '/api/v1/auth/login',
          payload: { username: acct.username, password: acct.password, ...(totp ? { totp } : {}) },
          remoteAddress: '10.0.1.1',
        });
      const noCode = await as();
      expect(noCode.statusCode).toBe(401);
      expect(noCode.json().detail ?? noCode.json().error).toBe('wrong username, password or code');
      const ok = await as(await api.code(acct.totpSecret!, 1));
      expect(ok.statusCode).toBe(200);
      expect(ok.json().account).toMatchObject({ role, totpEnrolled: true, totpExempt: false });
    }
  });

  it('an admin may exempt an auditor who only reads (audited); that auditor cannot approve, and a role change ends it', async () => {
    const acct = await api.signIn('reader.only', 'auditor');
    const id = (await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${acct.token}` } })).json().id as string;
    const login = (totp?: string) =>
      api.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: acct.username, password: acct.password, ...(totp ? { totp } : {}) },
        remoteAddress: '10.0.2.1',
      });
    expect((await login()).statusCode).toBe(401);

    // Only an auditor, and only by an admin.
    const guardId = (await api.call('admin', 'GET', '/api/v1/accounts?role=guard')).json().items[0].id as string;
    const refusedGuard = await api.call('admin', 'PATCH', `/api/v1/accounts/${guardId}`, { totpExempt: true });
    expect(refusedGuard.statusCode).toBe(400);
    expect((await api.call('manager', 'PATCH', `/api/v1/accounts/${id}`, { totpExempt: true })).statusCode).toBe(403);
    const exempt = await api.call('admin', 'PATCH', `/api/v1/accounts/${id}`, { totpExempt: true });
    expect(exempt.statusCode).toBe(200);
    expect(exempt.json()).toMatchObject({ role: 'auditor', totpExempt: true });
    const records = (await api.call('auditor', 'GET', '/api/v1/audit?action=account.totp-exempt')).json().items;
    expect(records).toEqual([
      expect.objectContaining({ actor: 'test-admin', target: `account:${id}`, outcome: 'ok', detail: { role: 'auditor', totpExempt: true } }),
    ]);

    const signedIn = await login();
    expect(signedIn.statusCode).toBe(200);
    const headers = { authorization: `Bearer ${signedIn.json().token}` };
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/audit', headers })).statusCode).toBe(200);

    // A pending four-eyes grant: the exempted auditor may read it but not approve it; a full auditor may.
    const person = await api.call('manager', 'POST', '/api/v1/people', { name: 'Approval Subject', affiliation: 'R&D', title: 'Researcher' });
    expect(person.statusCode).toBe(201);
    const grant = await api.call('manager', 'POST', '/api/v1/grants', { personId: person.json().id, areaId: 'lab', purpose: 'four-eyes test' });
    expect(grant.json()).toMatchObject({ status: 'pending' });
    const refused = await api.app.inject({ method: 'POST', url: `/api/v1/grants/${grant.json().id}/approve`, headers });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().detail ?? refused.json().error).toBe('an auditor without a second factor may only read');
    const visit = await api.app.inject({ method: 'POST', url: '/api/v1/visits/1/approve', headers });
    expect(visit.statusCode).toBe(403);
    expect(visit.json().detail ?? visit.json().error).toBe('an auditor without a second factor may only read');
    expect((await api.call('auditor', 'POST', `/api/v1/grants/${grant.json().id}/approve`)).statusCode).toBe(200);

    // A new role ends the exemption: a code is needed again.
    const moved = await api.call('admin', 'PATCH', `/api/v1/accounts/${id}`, { role: 'guard' });
    expect(moved.json()).toMatchObject({ role: 'guard', totpExempt: false });
    expect((await login()).statusCode).toBe(401);
    expect((await api.call('admin', 'PATCH', `/api/v1/accounts/${id}`, { role: 'auditor' })).json()).toMatchObject({ totpExempt: false });
    expect((await login()).statusCode).toBe(401);
    expect((await login(await api.code(acct.totpSecret!, 1))).statusCode).toBe(200);
  });

  it('an admin resets a TOTP seed: the old one stops working', async () => {
    const acct = await api.signIn('lost.phone', 'guard');
    const id = (await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${acct.token}` } })).json().id as string;
    const reset = await api.call('admin', 'POST', `/api/v1/accounts/${id}/reset-totp`);
    expect(reset.statusCode).toBe(200);
    const secret = new URL(reset.json().totpUri).searchParams.get('secret')!;
    expect(secret).not.toBe(acct.totpSecret);
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${acct.token}` } })).statusCode).toBe(401);
    const login = (s: string) =>
      api.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'lost.phone', password: acct.password, totp: s },
        remoteAddress: '10.0.3.1',
      });
    expect((await login(await api.code(acct.totpSecret!, 1))).statusCode).toBe(401);
    expect((await login(await api.code(secret, 1))).statusCode).toBe(200);
  });

  it('an admin creates a manager with a one-time password and a TOTP URI; first login must change the password', async () => {
    const res = await api.call('admin', 'POST', '/api/v1/accounts', { username: 'kenji.tanaka', displayName: '田中 健二', role: 'manager' });
    expect(res.statusCode).toBe(201);
    const { oneTimePassword, totpUri, account } = res.json();
    expect(totpUri).toMatch(/^otpauth:\/\/totp\/tobira:kenji\.tanaka\?secret=[A-Z2-7]+/);
    expect(account).toMatchObject({ role: 'manager', mustChangePassword: true, totpEnrolled: true });
    const secret = new URL(totpUri).searchParams.get('secret')!;
    const login = await api.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'kenji.tanaka', password: oneTimePassword, totp: await api.code(secret) },
    });
    expect(login.statusCode).toBe(200);
    expect(login.json().mustChangePassword).toBe(true);
    const token = login.json().token;
    const as = (method: 'GET' | 'POST', url: string, payload?: object) =>
      api.app.inject({ method, url, payload, headers: { authorization: `Bearer ${token}` } });
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
    const change = (from: string, to: string) =>
      api.app.inject({ method: 'POST', url: '/api/v1/auth/password', headers, payload: { currentPassword: from, newPassword: to } });
    const sequence = [TEST_PASSWORD, 'amber-field-1-otter', 'amber-field-2-otter', 'amber-field-3-otter', 'amber-field-4-otter', 'amber-field-5-otter'];
    for (let i = 1; i < sequence.length; i++) expect((await change(sequence[i - 1]!, sequence[i]!)).statusCode).toBe(204);
    expect((await change(sequence[5]!, sequence[1]!)).statusCode).toBe(400);
    expect((await change(sequence[5]!, TEST_PASSWORD)).statusCode).toBe(204); // six back: allowed again
  });

  it('locks an account after repeated failures, each logged; while locked it answers exactly as an unknown account does', async () => {
    const acct = await api.signIn('lock.test', 'guard');
    const attempt = (username: string, password: string, totp?: string) =>
      api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password, ...(totp ? { totp } : {}) }, remoteAddress: '10.0.0.9' });
    for (let i = 0; i < 5; i++) expect((await attempt('lock.test', 'wrong-password-xyz', '000000')).statusCode).toBe(401);
    const locked = await attempt('lock.test', acct.password, await api.code(acct.totpSecret!, 1));
    const unknown = await attempt('lock.test.nobody', acct.password, await api.code(acct.totpSecret!, 1));
    expect(locked.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    // Byte for byte: nothing in the answer tells a real, locked account from one that does not exist.
    expect(locked.body).toBe(unknown.body);
    const headersOf = (r: typeof locked) =>
      Object.fromEntries(Object.entries(r.headers).filter(([k]) => !['date', 'x-ratelimit-remaining', 'x-ratelimit-reset'].includes(k)));
    expect(headersOf(locked)).toEqual(headersOf(unknown));
    const audit = (await api.call('auditor', 'GET', '/api/v1/audit?actor=lock.test&limit=20')).json().items as { action: string; outcome: string }[];
    expect(audit.filter((r) => r.action === 'auth.login' && r.outcome === 'failed')).toHaveLength(5);
    expect(audit.filter((r) => r.action === 'auth.lockout')).toHaveLength(1);
    expect(audit.filter((r) => r.action === 'auth.login' && r.outcome === 'locked')).toHaveLength(1);
  });

  it('rate-limits login attempts per address, with Retry-After, and records the refusals', async () => {
    const statuses: number[] = [];
    let last: LightMyRequestResponse | undefined;
    for (let i = 0; i < 25; i++) {
      last = await api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: `nobody${i}`, password: 'x' }, remoteAddress: '10.9.9.9' });
      statuses.push(last.statusCode);
    }
    expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(20).every((s) => s === 429)).toBe(true);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(last!.headers['retry-after'])).toBeLessThanOrEqual(60);
    const audit = (await api.call('auditor', 'GET', '/api/v1/audit?actor=nobody24')).json().items;
    expect(audit).toEqual([expect.objectContaining({ action: 'auth.login', outcome: 'rate-limited', address: '10.9.9.9' })]);
  });

  it("a flood from more than 10,000 addresses does not reset a limited address's window", async () => {
    // Its own API with a ten-minute window: each refused call is an audit record (a durable write),
    // and a loaded machine may need more than the minute's window to send 10,000 of them; the window
    // running out would then reset the address for the wrong reason.
    const api = await startApi({ edit: (raw) => (raw.api = { fourEyes: true }), rateLimitWindowMs: 600_000 });
    const limited = '10.8.8.8';
    const login = (address: string, payload: object = { username: 'flood.target', password: 'wrong-password-xyz' }) =>
      api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload, remoteAddress: address });
    // Every request to the login route counts, even one that fails validation (the limit stands in
    // front of everything else), so the flood below is cheap to send and still fills the limiter.
    for (let i = 0; i < 20; i++) expect((await login(limited, {})).statusCode).toBe(400);
    expect((await login(limited)).statusCode).toBe(429);
    // Each flood request counts in the limiter (a body that fails validation: no password hashing).
    for (let i = 0; i < 10_050; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => login(`172.${16 + ((i + k) >> 16)}.${((i + k) >> 8) & 255}.${(i + k) & 255}`, {})));
    }
    const after = await login(limited);
    expect(after.statusCode).toBe(429);
    expect(Number(after.headers['retry-after'])).toBeGreaterThan(0);
    await api.close();
  }, 180_000);

  it('logout ends the session; an idle session ends by itself', async () => {
    const acct = await api.signIn('logout.test', 'auditor');
    const headers = { authorization: `Bearer ${acct.token}` };
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).statusCode).toBe(200);
    expect((await api.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers })).statusCode).toBe(204);
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers })).statusCode).toBe(401);
    const idle = await api.signIn('idle.test', 'auditor');
    api
      .db()
      .prepare("UPDATE sessions SET last_seen_at = '2020-01-01T00:00:00.000Z' WHERE account_id = (SELECT id FROM accounts WHERE username = 'idle.test')")
      .run();
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${idle.token}` } })).statusCode).toBe(401);
  });

  it('validation errors name the failing fields', async () => {
    const res = await api.call('admin', 'POST', '/api/v1/accounts', { username: 'X', role: 'emperor', extra: 1 });
    expect(res.statusCode).toBe(400);
    const paths = res.json().details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['username', 'role']));
    expect(res.body).not.toMatch(/at .*\.js/); // no stack trace
  });

  it('a password lockout does not end a refresh token; a lockout that ran out starts the count over', async () => {
    const acct = await api.signIn('console.guard', 'guard');
    const attempt = (password: string, totp?: string) =>
      api.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: acct.username, password, ...(totp ? { totp } : {}) },
        remoteAddress: '10.0.4.1',
      });
    const signedIn = await attempt(acct.password, await api.code(acct.totpSecret!, 1));
    expect(signedIn.statusCode).toBe(200);
    // Anyone on the LAN can lock the guard out with wrong passwords...
    for (let i = 0; i < 5; i++) expect((await attempt('wrong-password-xyz', '000000')).statusCode).toBe(401);
    const account = () => api.auth.accounts.byUsername(acct.username)!;
    expect(account().lockedUntil).not.toBeNull();
    // ...but the console's refresh token is its own credential: it still renews, and the one after it too.
    const renewed = await api.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: signedIn.json().refreshToken } });
    expect(renewed.statusCode, renewed.body).toBe(200);
    expect((await api.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: renewed.json().refreshToken } })).statusCode).toBe(
      200,
    );

    // The lockout runs out: one wrong attempt after it is the first of a new count, not another lockout.
    api.db().prepare("UPDATE accounts SET locked_until = '2020-01-01T00:00:00.000Z' WHERE username = ?").run(acct.username);
    expect((await attempt('wrong-password-xyz', '000000')).statusCode).toBe(401);
    expect(account()).toMatchObject({ failedLogins: 1, lockedUntil: null });
  });

  it('refresh tokens end when the account changes: a TOTP reset, an exemption ended, disabled and enabled again', async () => {
    const acct = await api.signIn('console.auditor', 'auditor');
    const id = api.auth.accounts.byUsername(acct.username)!.id;
    const login = async (totp?: string) => {
      const res = await api.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: acct.username, password: acct.password, ...(totp ? { totp } : {}) },
        remoteAddress: '10.0.5.1',
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json().refreshToken as string;
    };
    const refresh = (refreshToken: string) => api.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });
    const patch = async (body: object) => expect((await api.call('admin', 'PATCH', `/api/v1/accounts/${id}`, body)).statusCode).toBe(200);

    // A lost phone: the seed is reset, and what was signed in with the old one cannot renew.
    const beforeReset = await login(await api.code(acct.totpSecret!, 1));
    expect((await api.call('admin', 'POST', `/api/v1/accounts/${id}/reset-totp`)).statusCode).toBe(200);
    expect((await refresh(beforeReset)).statusCode).toBe(401);

    // An exempted auditor signs in without a code; ending the exemption ends that sign-in's renewal.
    await patch({ totpExempt: true });
    const exempt = await login();
    await patch({ totpExempt: false });
    expect((await refresh(exempt)).statusCode).toBe(401);

    // Disabled and enabled again: the tokens from before do not come back with the account.
    await patch({ totpExempt: true });
    const beforeDisable = await login();
    const stillGood = await login();
    await patch({ status: 'disabled' });
    await patch({ status: 'active' });
    expect((await refresh(beforeDisable)).statusCode).toBe(401);
    expect((await refresh(stillGood)).statusCode).toBe(401);
    // The account itself is fine: a new sign-in renews.
    expect((await refresh(await login())).statusCode).toBe(200);
  });

  it('two sign-ins racing with one code: one passes; parallel wrong attempts still lock the account', async () => {
    const acct = await api.signIn('race.code', 'guard');
    const attempt = (username: string, password: string, totp: string, address: string) =>
      api.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password, totp }, remoteAddress: address });
    const code = await api.code(acct.totpSecret!, 1);
    const both = await Promise.all([attempt(acct.username, acct.password, code, '10.0.6.1'), attempt(acct.username, acct.password, code, '10.0.6.2')]);
    expect(both.map((r) => r.statusCode).sort()).toEqual([200, 401]);

    const victim = await api.signIn('race.lock', 'guard');
    const wrong = await Promise.all(Array.from({ length: 5 }, (_, i) => attempt(victim.username, 'wrong-password-xyz', '000000', `10.0.6.${10 + i}`)));
    expect(wrong.map((r) => r.statusCode)).toEqual([401, 401, 401, 401, 401]);
    expect(api.auth.accounts.byUsername(victim.username)).toMatchObject({ failedLogins: 5, lockedUntil: expect.any(String) });
    const audit = (await api.call('auditor', 'GET', '/api/v1/audit?actor=race.lock&limit=20')).json().items as { action: string }[];
    expect(audit.filter((r) => r.action === 'auth.lockout')).toHaveLength(1);
  });

  it("role changes are audited and end the account's sessions", async () => {
    const acct = await api.signIn('role.test', 'guard');
    const me = await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${acct.token}` } });
    const res = await api.call('admin', 'PATCH', `/api/v1/accounts/${me.json().id}`, { role: 'auditor' });
    expect(res.statusCode).toBe(200);
    expect((await api.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${acct.token}` } })).statusCode).toBe(401);
    const audit = (await api.call('auditor', 'GET', '/api/v1/audit?action=account.role-change')).json().items;
    expect(audit[0]).toMatchObject({ actor: 'test-admin', outcome: 'ok', detail: { from: 'guard', to: 'auditor' } });
  });
});

describe('the per-address limit on changes', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({ edit: (raw) => (raw.api = { writesPerMinute: 10 }) });
  });
  afterAll(async () => api?.close());

  it('limits changes per address on every write route, with Retry-After', async () => {
    const statuses: number[] = [];
    let last: LightMyRequestResponse | undefined;
    for (let i = 0; i < 12; i++) {
      last = await api.app.inject({
        method: 'POST',
        url: '/api/v1/people',
        payload: { name: `Flood ${i}`, affiliation: 'R&D', title: 'Researcher' },
        headers: { authorization: `Bearer ${api.accounts.manager.token}` },
        remoteAddress: '10.7.7.7',
      });
      statuses.push(last.statusCode);
    }
    expect(statuses.slice(0, 10).every((s) => s === 201)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    // Unauthenticated changes count too, and other addresses are not affected.
    expect((await api.app.inject({ method: 'DELETE', url: '/api/v1/people/x', remoteAddress: '10.7.7.7' })).statusCode).toBe(429);
    expect(
      (
        await api.app.inject({
          method: 'POST',
          url: '/api/v1/people',
          payload: { name: 'Other', affiliation: 'R&D', title: 'Researcher' },
          headers: { authorization: `Bearer ${api.accounts.manager.token}` },
          remoteAddress: '10.7.7.8',
        })
      ).statusCode,
    ).toBe(201);
  });
});

describe('TOTP seeds at rest', () => {
  it('the accounts table holds no seed in clear; sign-in with TOTP works after a restart; a missing key stops the start', async () => {
    const api = await startApi();
    const { dataDir } = api;
    const manager = api.accounts.manager;
    // A door OTP seed (a person's, for a keypad) is sealed the same way.
    const person = (await api.call('manager', 'POST', '/api/v1/people', { name: 'Door Otp', affiliation: 'R&D', title: 'Researcher' })).json().id as string;
    const doorSeed = new URL((await api.call('manager', 'POST', `/api/v1/people/${person}/totp`)).json().otpauthUri).searchParams.get('secret')!;
    expect(api.controller.ctx.store.people.credentialsOf(person, 'otp').map((c) => c.value)).toEqual([doorSeed]);
    await api.close();

    const db = new Database(join(dataDir, 'tobira.db'), { readonly: true });
    const rows = db.prepare('SELECT username, totp_secret AS secret FROM accounts').all() as { username: string; secret: string | null }[];
    const doorSeeds = db.prepare("SELECT value FROM credentials WHERE kind = 'otp'").all() as { value: string }[];
    db.close();
    expect(doorSeeds).toHaveLength(1);
    expect(doorSeeds[0]!.value).not.toContain(doorSeed);
    expect(doorSeeds[0]!.value).toMatch(/^sealed:v1:/);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const r of rows) {
      expect(r.secret).not.toBeNull();
      expect(r.secret).not.toMatch(/^[A-Z2-7]+=*$/); // not base32
      expect(r.secret).not.toContain(manager.totpSecret!);
    }
    const keyFile = join(dataDir, SECRETS_KEY_FILE);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);

    // The same data directory, a new process's worth of controller and API.
    const site = api.controller.ctx.site;
    const log = pino({ level: 'silent' });
    const start = async () => {
      const controller = await Controller.start({ site, dataDir, log, broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() } });
      try {
        return { controller, app: await buildServer({ controller, log }) };
      } catch (err) {
        await controller.stop();
        throw err;
      }
    };
    const again = await start();
    try {
      const { generate } = await import('otplib');
      const code = await generate({ secret: manager.totpSecret!, epoch: Math.floor(Date.now() / 1000) + 30 });
      const res = await again.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: manager.username, password: manager.password, totp: code },
      });
      expect(res.statusCode).toBe(200);
    } finally {
      await again.app.close();
      await again.controller.stop();
    }

    // Without its key the database's seeds are useless: the API refuses to start, saying why.
    renameSync(keyFile, `${keyFile}.away`);
    await expect(start()).rejects.toThrow(/secrets-key/);
    expect(existsSync(keyFile)).toBe(false); // no fresh key was made in its place
    // Another gateway's key is no better.
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    await expect(start()).rejects.toThrow(/do not open/);
  });

  it('seeds left in clear by an older version are sealed when the accounts are opened', async () => {
    const api = await startApi();
    const db = api.db();
    const { id } = db.prepare("SELECT id FROM accounts WHERE username = 'test-guard'").get() as { id: string };
    db.prepare('UPDATE accounts SET totp_secret = ? WHERE id = ?').run(api.accounts.guard.totpSecret, id);
    try {
      const auth = new AuthService(api.controller.ctx.store, () => api.controller.ctx.site.api);
      expect(auth.accounts.byId(id)!.totpSecret).toBe(api.accounts.guard.totpSecret);
      const stored = (db.prepare('SELECT totp_secret AS s FROM accounts WHERE id = ?').get(id) as { s: string }).s;
      expect(stored).toMatch(/^sealed:v1:/);
      // A door OTP seed in clear too, sealed when the people are opened.
      const doorSeed = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
      const person = api.controller.ctx.store.people.addPerson({ name: 'Clear Seed' });
      db.prepare("INSERT INTO credentials (person_id, kind, value, use, status, created_at) VALUES (?, 'otp', ?, 'normal', 'active', ?)").run(
        person.id,
        doorSeed,
        new Date().toISOString(),
      );
      new PeopleStore(db);
      expect((db.prepare("SELECT value FROM credentials WHERE person_id = ? AND kind = 'otp'").get(person.id) as { value: string }).value).toMatch(
        /^sealed:v1:/,
      );
      // Nothing of either clear seed is left on disk: not in freed page space, not in the WAL.
      for (const file of ['tobira.db', 'tobira.db-wal']) {
        const path = join(api.dataDir, file);
        const bytes = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
        expect(bytes.includes(api.accounts.guard.totpSecret!), `the account seed in ${file}`).toBe(false);
        expect(bytes.includes(doorSeed), `the door seed in ${file}`).toBe(false);
      }
    } finally {
      await api.close();
    }
  });
});
