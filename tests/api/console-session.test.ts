// The console's session over a real socket: sign-in as an HttpOnly SameSite=Strict cookie, CSRF
// on every change made with it (bearer clients need none), the cookie on the stream and snapshots,
// the account's language, the TOTP QR code, sign-out, and the page itself served at / with its CSP.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiPlugin } from '../../src/api/app.js';
import { CONSOLE_CSP } from '../../src/api/console.js';
import { startApi, TEST_PASSWORD, type TestApi } from '../helpers/api.js';

const V1 = '/api/v1';

describe('the console session and page', () => {
  let api: TestApi;
  let app: FastifyInstance;
  let bare: FastifyInstance;
  let base: string;
  let bareBase: string;
  let consoleDir: string;

  beforeAll(async () => {
    api = await startApi();
    // A built console as the test's own fixture: index.html and one asset.
    consoleDir = mkdtempSync(join(tmpdir(), 'tobira-console-'));
    mkdirSync(join(consoleDir, 'assets'));
    writeFileSync(join(consoleDir, 'index.html'), '<!doctype html><title>tobira console fixture</title><script type="module" src="/assets/main.js"></script>');
    writeFileSync(join(consoleDir, 'assets', 'main.js'), 'console.log("fixture");\n');
    // The same controller and database, served over a real socket with that console.
    app = Fastify();
    await app.register(apiPlugin, { controller: api.controller, consoleDir });
    base = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
    // And one whose console was never built.
    bare = Fastify();
    await bare.register(apiPlugin, { controller: api.controller, consoleDir: join(consoleDir, 'missing') });
    bareBase = (await bare.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  });
  afterAll(async () => {
    await bare?.close();
    await app?.close();
    await api?.close();
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });

  /** A new account signed in through the console's form: its cookie and CSRF token. */
  async function consoleSignIn(username: string, role: 'guard' | 'manager' | 'auditor' | 'admin') {
    const acct = await api.signIn(username, role); // a bearer sign-in used this step's code
    const res = await fetch(`${base}${V1}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: TEST_PASSWORD, totp: await api.code(acct.totpSecret!, 1), session: 'cookie' }),
    });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie') ?? '';
    const cookie = /^tobira_session=[^;]+/.exec(setCookie)?.[0];
    expect(cookie).toBeDefined();
    const body = (await res.json()) as { csrfToken: string; expiresAt: string; mustChangePassword: boolean; account: { username: string } };
    return { acct, setCookie, cookie: cookie!, body };
  }

  const send = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  it('signs in with an HttpOnly SameSite=Strict cookie and answers a CSRF token, no bearer token', async () => {
    const { setCookie, body } = await consoleSignIn('console.guard', 'guard');
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Path=\//);
    expect(setCookie).not.toMatch(/Secure/i); // plain HTTP on loopback: a Secure cookie would never come back
    expect(body).toMatchObject({ mustChangePassword: false, account: { username: 'console.guard' } });
    expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(body).not.toHaveProperty('token');
    expect(body).not.toHaveProperty('refreshToken');
  });

  it('refuses a change made with the cookie but no or a wrong CSRF header (403, audited); accepts it with the header', async () => {
    const { cookie, body } = await consoleSignIn('console.manager', 'manager');
    const none = await send('PATCH', `${V1}/auth/me`, { cookie }, { language: 'ja' });
    expect(none.status).toBe(403);
    expect(((await none.json()) as { detail: string }).detail).toMatch(/x-csrf-token/);
    const wrong = await send('PATCH', `${V1}/auth/me`, { cookie, 'x-csrf-token': `${body.csrfToken.slice(0, -2)}xx` }, { language: 'ja' });
    expect(wrong.status).toBe(403);
    // Another session's token does not fit this one.
    const other = await consoleSignIn('console.other', 'manager');
    expect((await send('PATCH', `${V1}/auth/me`, { cookie, 'x-csrf-token': other.body.csrfToken }, { language: 'ja' })).status).toBe(403);

    const refusals = api.db().prepare("SELECT actor, action, outcome, detail FROM audit_log WHERE actor = 'console.manager' AND outcome = 'denied'").all() as {
      actor: string;
      action: string;
      outcome: string;
      detail: string;
    }[];
    expect(refusals).toHaveLength(3);
    for (const r of refusals) expect(JSON.parse(r.detail)).toEqual({ status: 403, refusal: 'csrf' });
    expect(refusals[0]!.action).toBe('auth.language');

    const me0 = await send('GET', `${V1}/auth/me`, { cookie });
    expect(((await me0.json()) as { language: unknown }).language).toBeNull(); // nothing changed

    const ok = await send('PATCH', `${V1}/auth/me`, { cookie, 'x-csrf-token': body.csrfToken }, { language: 'ja' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ username: 'console.manager', language: 'ja' });
    const changed = api.db().prepare("SELECT detail FROM audit_log WHERE actor = 'console.manager' AND action = 'auth.language' AND outcome = 'ok'").all() as {
      detail: string;
    }[];
    expect(changed.map((r) => JSON.parse(r.detail))).toEqual([{ from: null, to: 'ja' }]);
  });

  it('GET /auth/me gives the language, the site and (cookie sessions only) the CSRF token', async () => {
    const { cookie, body } = await consoleSignIn('console.auditor', 'auditor');
    const me = (await (await send('GET', `${V1}/auth/me`, { cookie })).json()) as Record<string, unknown>;
    expect(me).toMatchObject({ username: 'console.auditor', role: 'auditor', language: null, csrfToken: body.csrfToken, totpEnrolled: true });
    const site = me.site as { name: { en: string; ja?: string }; timezone: string };
    expect(site.timezone).toBe(api.controller.ctx.site.site.timezone);
    expect(typeof site.name.en).toBe('string');
    // The language round trip, and it is the account's: a bearer session of it sees it too.
    expect((await send('PATCH', `${V1}/auth/me`, { cookie, 'x-csrf-token': body.csrfToken }, { language: 'en' })).status).toBe(200);
    expect(((await (await send('GET', `${V1}/auth/me`, { cookie })).json()) as { language: string }).language).toBe('en');
    const viaBearer = await api.app.inject({ method: 'GET', url: `${V1}/auth/me`, headers: { authorization: `Bearer ${api.accounts.auditor.token}` } });
    expect(viaBearer.json()).not.toHaveProperty('csrfToken');
    expect(viaBearer.json().site.timezone).toBe(site.timezone);
    // An unknown language is refused.
    expect((await send('PATCH', `${V1}/auth/me`, { cookie, 'x-csrf-token': body.csrfToken }, { language: 'fr' })).status).toBe(400);
  });

  it('leaves bearer clients as they were: no CSRF header needed, a bearer header wins over a cookie', async () => {
    const res = await send('PATCH', `${V1}/auth/me`, { authorization: `Bearer ${api.accounts.guard.token}` }, { language: 'ja' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ username: 'test-guard', language: 'ja' });
    const { cookie } = await consoleSignIn('console.both', 'guard');
    const both = await send('PATCH', `${V1}/auth/me`, { cookie, authorization: `Bearer ${api.accounts.guard.token}` }, { language: 'en' });
    expect(both.status).toBe(200);
    expect(await both.json()).toMatchObject({ username: 'test-guard', language: 'en' });
  });

  it('accepts the cookie on the live stream (EventSource) and on snapshots (<img>)', async () => {
    const { cookie } = await consoleSignIn('console.watch', 'guard');
    const abort = new AbortController();
    const stream = await fetch(`${base}${V1}/stream`, { headers: { cookie }, signal: abort.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = stream.body!.getReader();
    let text = '';
    while (!text.includes('connected as')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('connected as console.watch (guard)');
    abort.abort();
    // Without the cookie the stream is refused as before.
    expect((await fetch(`${base}${V1}/stream`)).status).toBe(401);
    // A snapshot that does not exist: the cookie got the guard past sign-in to the 404.
    expect((await send('GET', `${V1}/snapshots/999999`, { cookie })).status).toBe(404);
    expect((await send('GET', `${V1}/snapshots/999999`, {})).status).toBe(401);
  });

  it('starts a TOTP enrolment with the QR code as SVG', async () => {
    const { cookie, body } = await consoleSignIn('console.enrol', 'guard');
    const res = await send('POST', `${V1}/auth/totp`, { cookie, 'x-csrf-token': body.csrfToken });
    expect(res.status).toBe(200);
    const enrol = (await res.json()) as { otpauthUri: string; qrSvg: string };
    expect(enrol.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(enrol.qrSvg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(enrol.qrSvg).not.toMatch(/<script|style=/i);
  });

  it('signs out: the cookie is cleared and no longer works', async () => {
    const { cookie, body } = await consoleSignIn('console.leave', 'guard');
    const out = await send('POST', `${V1}/auth/logout`, { cookie, 'x-csrf-token': body.csrfToken });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^tobira_session=;.*Expires=Thu, 01 Jan 1970/i);
    expect((await send('GET', `${V1}/auth/me`, { cookie })).status).toBe(401);
  });

  it('serves the console at / with its CSP, its assets, and index.html for the page paths; the API keeps its 404s', async () => {
    const root = await fetch(`${base}/`);
    expect(root.status).toBe(200);
    expect(await root.text()).toContain('tobira console fixture');
    expect(root.headers.get('content-type')).toMatch(/^text\/html/);
    expect(root.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toMatch(/default-src 'self'/);
    expect(CONSOLE_CSP).toMatch(/frame-ancestors 'none'/);
    expect(root.headers.get('x-content-type-options')).toBe('nosniff');
    expect(root.headers.get('referrer-policy')).toBe('no-referrer');
    expect(root.headers.get('cache-control')).toBe('no-cache');

    const asset = await fetch(`${base}/assets/main.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect((await fetch(`${base}/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${base}/assets/..%2f..%2fetc%2fpasswd`)).status).toBe(404);

    // A page path a browser asks for: the console; the same path asked as data: 404.
    const page = await fetch(`${base}/alarms`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('tobira console fixture');
    expect(page.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect((await fetch(`${base}/alarms`, { headers: { accept: 'application/json' } })).status).toBe(404);

    // The API, the docs, health and metrics are untouched.
    const apiMiss = await fetch(`${base}${V1}/nope`, { headers: { accept: 'text/html' } });
    expect(apiMiss.status).toBe(404);
    expect(apiMiss.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await fetch(`${base}/metrics/x`, { headers: { accept: 'text/html' } })).status).toBe(404);
    const health = await fetch(`${base}/healthz`);
    expect(health.headers.get('content-security-policy')).toBeNull();
    expect((await fetch(`${base}/docs/`, { headers: { accept: 'text/html' } })).headers.get('content-security-policy')).not.toBe(CONSOLE_CSP);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it('says the console is not built when dist/console is missing', async () => {
    const res = await fetch(`${bareBase}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('npm run build');
    expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
  });
});
