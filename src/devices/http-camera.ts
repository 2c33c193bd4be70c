// IP cameras reached by an HTTP snapshot URL (`transport: http`). The driver answers the `snapshot`
// command by fetching the picture and passing it in as a `snapshot` event, so the one reply matcher
// (command-replies.ts) checks and settles it like an MQTT camera's. Basic or digest auth (RFC 7616,
// MD5 or SHA-256, qop=auth), written here over Node's fetch so the whole exchange, challenge
// included, runs under one timeout. The login comes from the secrets file, never the site file.
import { createHash, randomBytes } from 'node:crypto';
import type { DeviceDriver, DeviceWiring, DriverListener } from './driver.js';
import type { Sent } from './commands.js';
import { MAX_SNAPSHOT_BYTES, type Command } from './protocol.js';

/** How an HTTP camera is reached (the site file's `http:` on a camera). */
export interface HttpCameraWiring {
  url: string;
  auth: 'none' | 'basic' | 'digest';
  /** The whole exchange (challenge, picture) must end within this. */
  timeoutMs: number;
}

export interface CameraLogin {
  username: string;
  password: string;
}

export interface HttpCameraOptions {
  devices: readonly DeviceWiring[];
  /** Logins by device id, from the secrets file (`cameras`). */
  logins: Readonly<Record<string, CameraLogin>>;
  now?: () => number;
}

export class HttpCameraDriver implements DeviceDriver {
  readonly transport = 'http' as const;
  private listener?: DriverListener;
  private readonly cameras = new Map<string, HttpCameraWiring>();
  private readonly inFlight = new Set<AbortController>();

  constructor(private readonly opts: HttpCameraOptions) {
    for (const d of opts.devices) if (d.http) this.cameras.set(d.id, d.http);
  }

  async start(listener: DriverListener): Promise<void> {
    this.listener = listener;
    // Asked only when a picture is wanted: a camera that then fails is a camera-fault, not a silence.
    for (const id of this.cameras.keys()) listener.status(id, { online: true });
  }

  async deliver(deviceId: string, command: Command): Promise<Sent> {
    const camera = this.cameras.get(deviceId);
    if (!camera) return { ok: false, error: `"${deviceId}" is not an HTTP camera` };
    if (command.command !== 'snapshot') return { ok: false, error: `an HTTP camera takes only snapshot, not ${command.command}` };
    const login = this.opts.logins[deviceId];
    if (camera.auth !== 'none' && !login) return { ok: false, error: `no login for camera "${deviceId}" in the secrets file (cameras.${deviceId})` };
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), camera.timeoutMs);
    this.inFlight.add(abort);
    try {
      const picture = await fetchSnapshot(camera, login, abort.signal);
      if (!picture.ok) return picture;
      const receivedAt = this.opts.now?.() ?? Date.now();
      this.listener?.event(
        deviceId,
        { type: 'snapshot', command: command.id, contentType: picture.contentType, data: picture.data.toString('base64') },
        receivedAt,
      );
      return { ok: true };
    } catch (err) {
      if (abort.signal.aborted) return { ok: false, error: `no picture within ${camera.timeoutMs} ms (HTTP timeout)` };
      return { ok: false, error: `HTTP snapshot failed: ${(err as Error).message}` };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(abort);
    }
  }

  async stop(): Promise<void> {
    for (const a of this.inFlight) a.abort();
  }
}

type Picture = { ok: true; contentType: 'image/jpeg' | 'image/png'; data: Buffer } | { ok: false; error: string };

async function fetchSnapshot(camera: HttpCameraWiring, login: CameraLogin | undefined, signal: AbortSignal): Promise<Picture> {
  const headers: Record<string, string> = { accept: 'image/jpeg, image/png' };
  if (camera.auth === 'basic' && login) headers.authorization = `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;
  let res = await fetch(camera.url, { headers, signal, redirect: 'error' });
  if (res.status === 401 && camera.auth === 'digest' && login) {
    const challenge = res.headers.get('www-authenticate');
    await res.body?.cancel();
    const answer = challenge ? digestAuthorization(challenge, login, 'GET', new URL(camera.url)) : undefined;
    if (!answer) return { ok: false, error: `HTTP 401 without a digest challenge we can answer (${challenge ?? 'none'})` };
    res = await fetch(camera.url, { headers: { ...headers, authorization: answer }, signal, redirect: 'error' });
  }
  if (!res.ok) {
    await res.body?.cancel();
    return { ok: false, error: `HTTP ${res.status}${res.status === 401 ? ' (login refused)' : ''}` };
  }
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'image/jpeg' && type !== 'image/png') {
    await res.body?.cancel();
    return { ok: false, error: `HTTP snapshot is ${type || 'untyped'}, not image/jpeg or image/png` };
  }
  const data = await readLimited(res, MAX_SNAPSHOT_BYTES);
  if (!data) return { ok: false, error: `HTTP snapshot larger than ${MAX_SNAPSHOT_BYTES} bytes` };
  return { ok: true, contentType: type, data };
}

/** The body, or undefined once it passes `max` bytes (a camera must not fill the gateway's memory). */
async function readLimited(res: Response, max: number): Promise<Buffer | undefined> {
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/** The parameters of a `Digest` challenge (one challenge; quoted or token values). */
export function parseDigestChallenge(header: string): Record<string, string> | undefined {
  const m = /^\s*Digest\s+(.*)$/is.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([a-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/gi;
  for (const p of m[1]!.matchAll(re)) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  return params.realm !== undefined && params.nonce !== undefined ? params : undefined;
}

/** The Authorization header answering a digest challenge (RFC 7616, qop=auth or none), or undefined. */
export function digestAuthorization(
  challenge: string,
  login: CameraLogin,
  method: string,
  url: URL,
  cnonce = randomBytes(8).toString('hex'),
): string | undefined {
  const c = parseDigestChallenge(challenge);
  if (!c) return undefined;
  const algorithm = (c.algorithm ?? 'MD5').toUpperCase();
  const hashName = algorithm === 'MD5' ? 'md5' : algorithm === 'SHA-256' ? 'sha256' : undefined;
  if (!hashName) return undefined;
  const h = (s: string) => createHash(hashName).update(s).digest('hex');
  const qops = c.qop?.split(',').map((q) => q.trim());
  if (qops && !qops.includes('auth')) return undefined;
  const uri = `${url.pathname}${url.search}`;
  const ha1 = h(`${login.username}:${c.realm}:${login.password}`);
  const ha2 = h(`${method}:${uri}`);
  const nc = '00000001';
  const response = qops ? h(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`) : h(`${ha1}:${c.nonce}:${ha2}`);
  const quote = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const parts = [
    `username=${quote(login.username)}`,
    `realm=${quote(c.realm!)}`,
    `nonce=${quote(c.nonce!)}`,
    `uri=${quote(uri)}`,
    `algorithm=${algorithm}`,
    `response=${quote(response)}`,
    ...(c.opaque !== undefined ? [`opaque=${quote(c.opaque)}`] : []),
    ...(qops ? ['qop=auth', `nc=${nc}`, `cnonce=${quote(cnonce)}`] : []),
  ];
  return `Digest ${parts.join(', ')}`;
}
