// The OpenAPI document is valid OpenAPI 3, and the API works over a real socket against the real
// daemon process, from the first admin created on the command line to a signed-in session.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startDaemon, type Daemon } from '../helpers/daemon.js';
import { startApi, type TestApi } from '../helpers/api.js';

describe('OpenAPI document', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => api?.close());

  it('validates as OpenAPI 3 and describes the resources', async () => {
    const res = await api.call(null, 'GET', '/api/v1/openapi.json');
    expect(res.statusCode).toBe(200);
    const spec = res.json();
    const result = await new Validator().validate(spec);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/v1/auth/login', '/api/v1/accounts', '/api/v1/audit']));
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/docs/' });
    expect([200, 302]).toContain(res.statusCode);
  });
});

describe('over a real socket, against the daemon process', () => {
  let daemon: Daemon;
  beforeAll(async () => {
    daemon = await startDaemon({ broker: { kind: 'embedded' } });
  });
  afterAll(async () => daemon?.stop());

  it('the first admin from `tobira admin create` signs in with the one-time password and TOTP, and must change the password', async () => {
    const out = execFileSync(
      process.execPath,
      [CLI, 'admin', 'create', 'root-admin', '--name', 'Root Admin', '--data', daemon.dataDir, '--site', daemon.siteFile],
      { encoding: 'utf8' },
    );
    const password = /one-time password: (\S+)/.exec(out)![1]!;
    const secret = new URL(/(otpauth:\/\/\S+)/.exec(out)![1]!).searchParams.get('secret')!;
    const post = (url: string, body: unknown, token?: string) =>
      fetch(`${daemon.apiUrl}${url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    const noCode = await post('/api/v1/auth/login', { username: 'root-admin', password });
    expect(noCode.status).toBe(401);
    const login = await post('/api/v1/auth/login', { username: 'root-admin', password, totp: await generate({ secret }) });
    expect(login.status).toBe(200);
    const { token, mustChangePassword } = (await login.json()) as { token: string; mustChangePassword: boolean };
    expect(mustChangePassword).toBe(true);
    const blocked = await fetch(`${daemon.apiUrl}/api/v1/accounts`, { headers: { authorization: `Bearer ${token}` } });
    expect(blocked.status).toBe(403);
    expect((await post('/api/v1/auth/password', { currentPassword: password, newPassword: 'quiet-lantern-58-river' }, token)).status).toBe(204);
    const accounts = await fetch(`${daemon.apiUrl}/api/v1/accounts`, { headers: { authorization: `Bearer ${token}` } });
    expect(accounts.status).toBe(200);
    expect(((await accounts.json()) as { items: { username: string }[] }).items.map((a) => a.username)).toEqual(['root-admin']);
    // A second `admin create` is refused: accounts come through the API now.
    expect(() =>
      execFileSync(process.execPath, [CLI, 'admin', 'create', 'another', '--data', daemon.dataDir, '--site', daemon.siteFile], { stdio: 'pipe' }),
    ).toThrow();
    const verify = execFileSync(process.execPath, [CLI, 'log', 'verify', '--audit', '--data', daemon.dataDir], { encoding: 'utf8' });
    expect(verify).toMatch(/audit log OK/);
  });

  it('answers health without a session and never leaks internals', async () => {
    const health = await fetch(`${daemon.apiUrl}/healthz`);
    expect(health.status).toBe(200);
    const bad = await fetch(`${daemon.apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).not.toMatch(/node_modules|at .*\(/);
  });
});

describe('HTTPS', () => {
  it('serves the API over TLS when a certificate and key are given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'pipe' },
    );
    const daemon = await startDaemon({ broker: { kind: 'embedded' }, extraArgs: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')] });
    try {
      expect(daemon.apiUrl).toMatch(/^https:/);
      const { status, cert } = await new Promise<{ status: number; cert: string }>((resolve, reject) => {
        const req = httpsGet(`${daemon.apiUrl}/healthz`, { ca: readFileSync(join(dir, 'cert.pem')) }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, cert: String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.CN ?? '') });
        });
        req.on('error', reject);
      });
      expect(status).toBe(200);
      expect(cert).toBe('127.0.0.1');
      expect(daemon.output()).not.toMatch(/without TLS/);
    } finally {
      await daemon.stop();
    }
  });
});
