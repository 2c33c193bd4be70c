// Never in clear on the network: the real daemon listening beyond loopback serves HTTPS with a
// certificate of the gateway's own CA (the device links' CA), its session cookie is Secure, and
// /metrics needs its token there; plain HTTP beyond loopback only with --insecure-http, which warns
// and keeps a standing security alarm. The decision and the certificate are tested on their own too.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiTransport, isLoopbackHost } from '../../src/api/transport.js';
import { insecureHttp } from '../../src/cli/options.js';
import { API_TLS_FILES, ensureApiTls, ensureDeviceTls, TLS_FILES } from '../../src/devices/tls.js';
import { CLI, events, prepareData, startDaemon, type Daemon } from '../helpers/daemon.js';

describe('how the API is served', () => {
  it('is plain HTTP only on loopback, HTTPS beyond it unless --insecure-http', () => {
    for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'fd00::2', 'gateway.local']) expect(isLoopbackHost(host)).toBe(false);

    const t = (host: string, operatorCertificate = false, insecure = false) => apiTransport({ host, operatorCertificate, insecureHttp: insecure });
    expect(t('127.0.0.1')).toEqual({ scheme: 'http', certificate: null, beyondLoopback: false, insecure: false });
    expect(t('127.0.0.1', false, true)).toEqual({ scheme: 'http', certificate: null, beyondLoopback: false, insecure: false });
    expect(t('127.0.0.1', true)).toEqual({ scheme: 'https', certificate: 'operator', beyondLoopback: false, insecure: false });
    expect(t('0.0.0.0')).toEqual({ scheme: 'https', certificate: 'gateway-ca', beyondLoopback: true, insecure: false });
    expect(t('192.0.2.10', true)).toEqual({ scheme: 'https', certificate: 'operator', beyondLoopback: true, insecure: false });
    expect(t('0.0.0.0', false, true)).toEqual({ scheme: 'http', certificate: null, beyondLoopback: true, insecure: true });

    expect(insecureHttp(undefined, {})).toBe(false);
    expect(insecureHttp(true, {})).toBe(true);
    expect(insecureHttp(undefined, { TOBIRA_INSECURE_HTTP: '1' })).toBe(true);
    expect(insecureHttp(undefined, { TOBIRA_INSECURE_HTTP: '0' })).toBe(false);
  });

  it("issues the API's certificate from the device links' CA, naming the listen address, this host and loopback", () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-api-tls-'));
    const device = ensureDeviceTls(dir, '127.0.0.1');
    const api = ensureApiTls(dir, '192.0.2.77');
    expect(api.caFile).toBe(join(dir, TLS_FILES.caCert));
    expect(api.ca).toBe(device.ca);
    expect(api.certFile).toBe(join(dir, API_TLS_FILES.cert));
    expect(statSync(join(dir, API_TLS_FILES.key)).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(api.cert);
    const ca = new X509Certificate(api.ca);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    for (const ip of ['192.0.2.77', '127.0.0.1', '::1']) expect(cert.checkIP(ip)).toBe(ip);
    for (const name of ['localhost', hostname()]) expect(cert.checkHost(name)).toBe(name);
    expect(cert.checkIP('192.0.2.78')).toBeUndefined();
    // Kept while it covers the names; issued again for another address, by the same CA.
    expect(ensureApiTls(dir, '192.0.2.77').cert).toBe(api.cert);
    const moved = ensureApiTls(dir, '192.0.2.78');
    expect(moved.cert).not.toBe(api.cert);
    expect(new X509Certificate(moved.cert).checkIP('192.0.2.78')).toBe('192.0.2.78');
    expect(readFileSync(join(dir, TLS_FILES.caCert), 'utf8')).toBe(device.ca);
    // The broker's certificate is its own, untouched.
    expect(readFileSync(join(dir, TLS_FILES.serverCert), 'utf8')).toBe(device.cert);
  });
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request over HTTPS trusting only the given CA (the daemon's). */
function httpsCall(url: string, ca: string, opts: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = request(
      url,
      {
        method: opts.method ?? 'GET',
        ca,
        headers: { ...(payload ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** An address of this machine beyond loopback, if it has one. */
function lanAddress(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  return undefined;
}

describe('the daemon listening beyond loopback', () => {
  let daemon: Daemon;
  let port: number;
  let admin: { username: string; password: string; totpSecret: string };

  beforeAll(async () => {
    // The first admin, made with `tobira admin create` before the daemon starts.
    const { dataDir, siteFile } = prepareData();
    const out = execFileSync(process.execPath, [CLI, 'admin', 'create', 'first.admin', '--data', dataDir, '--site', siteFile], { encoding: 'utf8' });
    admin = {
      username: 'first.admin',
      password: /one-time password: (\S+)/.exec(out)![1]!,
      totpSecret: new URL(/otpauth:\/\/\S+/.exec(out)![0]).searchParams.get('secret')!,
    };
    daemon = await startDaemon({ broker: { kind: 'embedded' }, dataDir, extraArgs: ['--api-host', '0.0.0.0'] });
    port = Number(new URL(daemon.apiUrl).port);
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it("serves HTTPS by default with a certificate of the gateway's own CA", async () => {
    expect(daemon.output()).toMatch(/"api":"https:\/\/0\.0\.0\.0:\d+"/);
    const health = await httpsCall(`https://127.0.0.1:${port}/healthz`, daemon.ca);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body).security).toEqual([]);
    // Reached by its network address too, when the machine has one: the certificate names it.
    const lan = lanAddress();
    if (lan) expect((await httpsCall(`https://${lan}:${port}/healthz`, daemon.ca)).status).toBe(200);
    // Nothing in clear: a plain HTTP request gets no answer.
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    // And a client that does not trust the gateway's CA is refused in the handshake.
    await expect(httpsCall(`https://127.0.0.1:${port}/healthz`, ensureDeviceTls(mkdtempSync(join(tmpdir(), 'tobira-other-ca-'))).ca)).rejects.toThrow();
  });

  it('sets the console session cookie Secure under HTTPS', async () => {
    const res = await httpsCall(`https://127.0.0.1:${port}/api/v1/auth/login`, daemon.ca, {
      method: 'POST',
      body: { username: admin.username, password: admin.password, totp: await generate({ secret: admin.totpSecret }), session: 'cookie' },
    });
    expect(res.status).toBe(200);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^tobira_session=/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(JSON.parse(res.body)).toMatchObject({ mustChangePassword: true, account: { username: admin.username } });
  });

  it('asks /metrics for its token', async () => {
    const token = daemon.secrets.metrics!;
    expect(token.length).toBeGreaterThanOrEqual(16);
    const none = await httpsCall(`https://127.0.0.1:${port}/metrics`, daemon.ca);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect((await httpsCall(`https://127.0.0.1:${port}/metrics`, daemon.ca, { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
    const ok = await httpsCall(`https://127.0.0.1:${port}/metrics`, daemon.ca, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('tobira_decisions_total');
    // `tobira devices --secrets` shows it to the installer.
    const printed = execFileSync(process.execPath, [CLI, 'devices', '--secrets', '--data', daemon.dataDir, '--site', daemon.siteFile], { encoding: 'utf8' });
    expect(printed).toContain(`Authorization: Bearer ${token}`);
  });
});

describe('plain HTTP beyond loopback, as asked', () => {
  let daemon: Daemon;
  beforeAll(async () => {
    daemon = await startDaemon({ broker: { kind: 'embedded' }, extraArgs: ['--api-host', '0.0.0.0', '--insecure-http'] });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('warns at start and keeps a standing security alarm; /metrics still needs its token', async () => {
    const port = Number(new URL(daemon.apiUrl).port);
    expect(daemon.output()).toMatch(/"level":40[^\n]*served over plain HTTP beyond this machine, as asked/);
    const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { security: { type: string; detail: { url: string } }[] };
    expect(health.security).toEqual([expect.objectContaining({ type: 'api-plain-http', detail: { url: `http://0.0.0.0:${port}` } })]);
    expect(events(daemon, 'api-plain-http')).toEqual([expect.objectContaining({ category: 'security', severity: 'alarm', source: 'api' })]);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${daemon.secrets.metrics}` } })).status).toBe(200);
  });
});
