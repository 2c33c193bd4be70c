// The live stream (Server-Sent Events): access decisions and door events as they commit, and events
// as they are raised, each filtered by what the caller's role may see:
// - guard: door, alarm, device and access events, and every entry-log record without affiliation
//   and purpose (who passed where, not what they work on);
// - manager and auditor: everything;
// - admin: system, security and device events only (no entry-log records).
//
// Authentication: `Authorization: Bearer <token>` as everywhere, or, on this route only,
// `?token=<token>`: a browser's EventSource cannot set headers. A token in a URL can end up in proxy
// and browser history: prefer the header where the client can set it. The stream ends when the
// session ends (logout, role change, disabled account, idle or absolute lifetime): it is checked
// at every heartbeat (a comment line every 15 s) and the stream itself does not count as activity.
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { RaisedEvent } from '../../controller/bus.js';
import type { Role } from '../../store/accounts.js';
import type { EntryRecord } from '../../store/entry-log.js';
import type { Principal } from '../auth.js';
import { ApiError, type Api, type ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';

export const HEARTBEAT_MS = 15_000;
/** A client that reads slower than events come is cut off rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export const eventCategories = ['access', 'door', 'alarm', 'device', 'security', 'system'] as const satisfies readonly RaisedEvent['category'][];

/** The event categories each role may see (the stream and GET /events alike). */
export const visibleCategories: Record<Role, readonly RaisedEvent['category'][]> = {
  guard: ['door', 'alarm', 'device', 'access'],
  manager: eventCategories,
  auditor: eventCategories,
  admin: ['system', 'security', 'device'],
};

/** An entry-log record as a role may see it: null when it may not; guards without affiliation and purpose. */
export function entryForRole(r: EntryRecord, role: Role): EntryRecord | null {
  if (role === 'admin') return null;
  if (role === 'guard') return { ...r, affiliation: null, purpose: null };
  return r;
}

export async function streamRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const open = new Set<() => void>();

  // Without this, closing the server would wait for every console to hang up.
  api.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  api.get('/stream', {
    // Authenticated here rather than by the app's hook: it must also accept ?token=.
    config: { public: true },
    schema: {
      tags: ['events'],
      summary: 'Live decisions and events (Server-Sent Events, text/event-stream), filtered by role',
      description: 'Events: `entry` (an entry-log record, after it committed) and `raised` (an event the controller raised); `end` before the server closes the stream. ' +
        'A comment line every 15 s keeps proxies from closing it. Authenticate with the Authorization header or, for a browser EventSource, `?token=`. ' +
        'The stream ends with the session.',
      querystring: z.object({ token: z.string().min(1).max(200).optional().describe('the bearer token, for clients that cannot set headers (EventSource)') }),
      response: { 401: errorResponses[401], 403: errorResponses[403] },
    },
  }, async (req, reply) => {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : req.query.token;
    const principal: Principal | undefined = ctx.auth.authenticate(token);
    if (!principal) throw new ApiError(401, token ? 'session ended or unknown; sign in again' : 'sign in first (Authorization: Bearer <token>, or ?token= for EventSource)');
    if (principal.restricted) throw new ApiError(403, 'change your password first (POST /api/v1/auth/password)');
    req.principal = principal;
    const role = principal.account.role;
    const categories = new Set<string>(visibleCategories[role]);

    reply.hijack();
    const res: ServerResponse = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx: do not buffer
    });
    res.flushHeaders();

    let ended = false;
    const unsubscribe: (() => void)[] = [];
    const write = (text: string) => {
      if (ended) return;
      if (res.writableLength > MAX_BUFFERED_BYTES) return end('too slow: events were piling up');
      res.write(text);
    };
    const send = (event: string, data: unknown, id?: string) => write(`event: ${event}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
    const { bus } = ctx.controller.ctx;

    function end(reason?: string): void {
      if (ended) return;
      if (reason && !res.writableEnded) res.write(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
      ended = true;
      for (const off of unsubscribe.splice(0)) off();
      clearInterval(heartbeat);
      open.delete(closeForShutdown);
      if (!res.writableEnded) res.end();
    }
    const closeForShutdown = () => end('server shutting down');
    open.add(closeForShutdown);

    // The session as the auth hook would judge it, without touching it.
    const sessionAlive = (): boolean => {
      const session = ctx.auth.accounts.session(principal.tokenHash);
      if (!session) return false;
      const t = Date.now();
      const idleMs = ctx.controller.ctx.site.api.sessionIdleMinutes * 60_000;
      if (Date.parse(session.expiresAt) <= t || t - Date.parse(session.lastSeenAt) > idleMs) return false;
      const account = ctx.auth.accounts.byId(session.accountId);
      return !!account && account.status === 'active' && account.role === role;
    };
    const heartbeat = setInterval(() => {
      if (!sessionAlive()) return end('session ended');
      write(`: heartbeat ${new Date().toISOString()}\n\n`);
    }, HEARTBEAT_MS);
    heartbeat.unref();

    unsubscribe.push(
      bus.on('entry', (record) => {
        const visible = entryForRole(record, role);
        if (visible) send('entry', visible, `entry-${record.seq}`);
      }),
      bus.on('raised', (event) => {
        if (categories.has(event.category)) send('raised', event, event.id !== null ? `event-${event.id}` : undefined);
      }),
    );
    res.on('close', () => end());
    res.on('error', () => end());
    write(`retry: 5000\n: connected as ${principal.account.username} (${role})\n\n`);
  });
}
