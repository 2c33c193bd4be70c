// The live stream stays up for a guard at night: an open stream keeps its session (up to its
// absolute lifetime), a refresh token renews it without a password or code, a reconnect with
// Last-Event-ID misses nothing and repeats nothing, and guards get the security and system alarms.
// Time is driven through the API's clock (a second app on the same controller), never waited out.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiPlugin } from '../../src/api/app.js';
import { REPLAY_LIMIT } from '../../src/api/routes/stream.js';
import { startApi, type TestAccount, type TestApi } from '../helpers/api.js';
import { waitFor } from '../helpers/ports.js';
import type { EventType } from '../../src/policy/vocabulary.js';
import { readSse } from '../helpers/sse.js';

const V1 = '/api/v1';
const MIN = 60_000;

type SseMessage = { event: string; id?: string; data: Record<string, unknown> };

describe('the live stream for a guard at night', () => {
  let api: TestApi;
  let app: FastifyInstance;
  let base: string;
  /** How far the second app's clock runs ahead of the real one. */
  let ahead = 0;
  let lastStream: import('node:http').ServerResponse | undefined;

  beforeAll(async () => {
    api = await startApi();
    // The same controller and database, with a clock the test moves and a fast heartbeat.
    app = Fastify();
    // The server side of the last stream opened, to count what it leaves on its socket.
    app.addHook('onRequest', async (req, reply) => {
      if (req.url.startsWith(`${V1}/stream`)) lastStream = reply.raw;
    });
    await app.register(apiPlugin, { controller: api.controller, now: () => new Date(Date.now() + ahead), streamHeartbeatMs: 50 });
    base = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  });
  afterAll(async () => {
    await app?.close();
    await api?.close();
  });

  async function open(token: string, opts: { lastEventId?: string; query?: string } = {}) {
    const abort = new AbortController();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (opts.lastEventId) headers['last-event-id'] = opts.lastEventId;
    const res = await fetch(`${base}${V1}/stream${opts.query ?? ''}`, { headers, signal: abort.signal });
    const messages: SseMessage[] = [];
    let heartbeats = 0;
    let closed = false;
    const reading = (async () => {
      await readSse(res.body, ({ raw, event, id, data }) => {
        if (raw.includes(': heartbeat')) heartbeats++;
        if (event && data) messages.push({ event, ...(id ? { id } : {}), data: JSON.parse(data) });
      });
      closed = true;
    })();
    return {
      res,
      messages,
      get heartbeats() {
        return heartbeats;
      },
      get closed() {
        return closed;
      },
      until: (pred: (m: SseMessage) => boolean, what: string, ms = 5000) => waitFor(() => messages.find(pred), ms, what),
      /** The id to resume from: the last one this stream gave. */
      lastId: () => [...messages].reverse().find((m) => m.id)?.id,
      close: async () => {
        abort.abort();
        await reading;
      },
    };
  }
  type Stream = Awaited<ReturnType<typeof open>>;
  const nextHeartbeat = async (s: Stream) => {
    const seen = s.heartbeats;
    await waitFor(() => s.heartbeats > seen + 1, 3000, 'a heartbeat after the clock moved');
  };
  const me = (token: string) => app.inject({ method: 'GET', url: `${V1}/auth/me`, headers: { authorization: `Bearer ${token}` } });
  const login = async (acct: TestAccount) => {
    const res = await api.app.inject({
      method: 'POST',
      url: `${V1}/auth/login`,
      payload: { username: acct.username, password: acct.password, ...(acct.totpSecret ? { totp: await api.code(acct.totpSecret, 1) } : {}) },
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { token: string; refreshToken: string; refreshExpiresAt: string };
  };
  const refresh = (refreshToken: string) => app.inject({ method: 'POST', url: `${V1}/auth/refresh`, payload: { refreshToken } });
  const raise = (type: EventType, category: 'alarm' | 'system' | 'security' = 'alarm', severity: 'info' | 'warning' | 'alarm' = 'alarm') =>
    api.controller.ctx.alarms.raise({ category, type, severity, source: 'test' }).id!;

  it('an open stream keeps its session alive past the idle time', async () => {
    ahead = 0;
    const guard = await api.signIn('night.guard', 'guard');
    const s = await open(guard.token);
    try {
      expect(s.res.status).toBe(200);
      await s.until((m) => m.event === 'ready', 'ready');
      // 40 minutes on the API's clock, in steps shorter than the 15-minute idle time.
      for (let i = 0; i < 4; i++) {
        ahead += 10 * MIN;
        await nextHeartbeat(s);
      }
      expect(s.closed).toBe(false);
      expect(s.messages.filter((m) => m.event === 'end')).toEqual([]);
      expect((await me(guard.token)).statusCode).toBe(200);
      // A forced door an hour into the night still reaches the guard.
      const forced = raise('door-forced');
      await s.until((m) => m.event === 'raised' && m.data.id === forced, 'the alarm, 40 minutes in');
    } finally {
      await s.close();
      ahead = 0;
    }
  });

  it('the absolute lifetime still ends it, with an end event saying why; a refresh renews it without a password or code', async () => {
    ahead = 0;
    const acct = await api.signIn('night.guard2', 'guard');
    const first = await login(acct);
    expect(first.refreshToken).toEqual(expect.any(String));
    const s = await open(first.token);
    try {
      await s.until((m) => m.event === 'ready', 'ready');
      ahead += 13 * 60 * MIN; // past sessionMaxHours (12)
      const end = await s.until((m) => m.event === 'end', 'the end event');
      expect(end.data).toMatchObject({ reason: 'session-expired' });
      await waitFor(() => s.closed, 2000, 'the stream closed');
    } finally {
      await s.close();
    }
    expect((await me(first.token)).statusCode).toBe(401);

    // Unattended renewal: the refresh token alone, no password, no code.
    const renewed = await refresh(first.refreshToken);
    expect(renewed.statusCode, renewed.body).toBe(200);
    const r = renewed.json();
    expect(r).toMatchObject({ token: expect.any(String), refreshToken: expect.any(String), account: { username: 'night.guard2' } });
    expect(r.refreshToken).not.toBe(first.refreshToken);
    expect(Date.parse(r.expiresAt)).toBeLessThanOrEqual(Date.parse(first.refreshExpiresAt));
    expect((await me(r.token)).statusCode).toBe(200);
    const again = await open(r.token);
    try {
      expect(again.res.status).toBe(200);
    } finally {
      await again.close();
    }

    // Each refresh token works once. Used again it was copied: the whole login's sessions end.
    const reused = await refresh(first.refreshToken);
    expect(reused.statusCode).toBe(401);
    expect(reused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await me(r.token)).statusCode).toBe(401);
    expect((await refresh(r.refreshToken)).statusCode).toBe(401);
    expect(api.controller.ctx.store.events.recent(5, 'refresh-token-reused')).toHaveLength(1);
    const audit = (await api.call('auditor', 'GET', `${V1}/audit?action=auth.refresh&limit=10`)).json().items as { outcome: string; actor: string }[];
    expect(audit.filter((a) => a.actor === 'night.guard2').map((a) => a.outcome)).toEqual(expect.arrayContaining(['ok', 'reused']));
    ahead = 0;
  });

  it('a refresh token ends with logout, and with a role change', async () => {
    ahead = 0;
    const a = await login(await api.signIn('night.guard3', 'guard'));
    expect((await app.inject({ method: 'POST', url: `${V1}/auth/logout`, headers: { authorization: `Bearer ${a.token}` } })).statusCode).toBe(204);
    expect((await refresh(a.refreshToken)).statusCode).toBe(401);

    const b = await login(await api.signIn('night.guard4', 'guard'));
    const id = (await me(b.token)).json().id;
    expect((await api.call('admin', 'PATCH', `${V1}/accounts/${id}`, { role: 'auditor' })).statusCode).toBe(200);
    expect((await refresh(b.refreshToken)).statusCode).toBe(401);
    expect((await refresh('not-a-token')).statusCode).toBe(401);
  });

  it('a refresh ends the old session: a stream open on it ends with session-renewed, and reconnects with the new token', async () => {
    ahead = 0;
    const first = await login(await api.signIn('night.guard5', 'guard'));
    const s = await open(first.token);
    try {
      await s.until((m) => m.event === 'ready', 'ready');
      const renewed = await refresh(first.refreshToken);
      expect(renewed.statusCode, renewed.body).toBe(200);
      const end = await s.until((m) => m.event === 'end', 'the end event');
      // Not "session-ended, sign in again": an unattended console cannot; it has the new token.
      expect(end.data).toMatchObject({ reason: 'session-renewed', message: expect.stringMatching(/reconnect with the new token/) });
      const again = await open(renewed.json().token, { lastEventId: s.lastId()! });
      try {
        expect(again.res.status).toBe(200);
        await again.until((m) => m.event === 'ready', 'ready after the reconnect');
      } finally {
        await again.close();
      }
    } finally {
      await s.close();
    }
  });

  it('a storage fault at a heartbeat ends the stream with server-error; the daemon carries on', async () => {
    ahead = 0;
    const acct = await api.signIn('night.guard6', 'guard');
    const s = await open(acct.token);
    const db = api.db();
    const sealed = (db.prepare('SELECT totp_secret AS s FROM accounts WHERE username = ?').get(acct.username) as { s: string }).s;
    try {
      await s.until((m) => m.event === 'ready', 'ready');
      // The account's seed no longer opens: reading the account at the next heartbeat throws.
      db.prepare('UPDATE accounts SET totp_secret = ? WHERE username = ?').run('sealed:v1:broken', acct.username);
      const end = await s.until((m) => m.event === 'end', 'the end event');
      expect(end.data).toMatchObject({ reason: 'server-error' });
      await waitFor(() => s.closed, 2000, 'the stream closed');
    } finally {
      db.prepare('UPDATE accounts SET totp_secret = ? WHERE username = ?').run(sealed, acct.username);
      await s.close();
    }
    expect((await me(api.accounts.guard.token)).statusCode).toBe(200);
  });

  it('a slow reader of a long replay: each wait for the socket to drain leaves no listener behind', async () => {
    ahead = 0;
    const s = await open(api.accounts.auditor.token);
    await s.until((m) => m.event === 'ready', 'ready');
    const resumeAt = s.lastId()!;
    await s.close();
    const store = api.controller.ctx.store;
    const at = new Date().toISOString();
    const filler = 'x'.repeat(2500);
    store.transaction(() => {
      for (let i = 0; i < 3000; i++) store.entryLog.append({ at, kind: 'door', doorId: 'bulk-slow', reason: 'rex', detail: { i, filler } });
    });
    // A raw request whose reader stops after every 256 KiB for a moment: the server's socket buffer
    // fills, and the replay waits for it to drain, page after page.
    const { request } = await import('node:http');
    let closeListeners = -1;
    const entries = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}${V1}/stream`, { headers: { authorization: `Bearer ${api.accounts.auditor.token}`, 'last-event-id': resumeAt } }, (res) => {
        let n = 0;
        let text = '';
        let sincePause = 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          for (let cut = text.indexOf('\n\n'); cut >= 0; cut = text.indexOf('\n\n')) {
            const block = text.slice(0, cut);
            text = text.slice(cut + 2);
            if (block.startsWith('event: entry')) n++;
            if (block.startsWith('event: ready') || block.startsWith('event: end')) {
              closeListeners = lastStream!.listenerCount('close');
              req.destroy();
              return resolve(n);
            }
          }
          sincePause += chunk.length;
          if (sincePause > 256 * 1024) {
            sincePause = 0;
            res.pause();
            setTimeout(() => res.resume(), 20);
          }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    expect(entries).toBeGreaterThanOrEqual(3000);
    // The stream's own listener only, however many times the replay waited.
    expect(closeListeners).toBe(1);
  }, 30_000);

  it('a reconnect with Last-Event-ID receives exactly what was raised and committed meanwhile, then carries on live', async () => {
    ahead = 0;
    const manager = api.accounts.manager.token;
    const s = await open(manager);
    const before = raise('intrusion');
    await s.until((m) => m.event === 'raised' && m.data.id === before, 'an event before the disconnect');
    const resumeAt = s.lastId()!;
    expect(resumeAt).toMatch(/^e\d+-v\d+$/);
    await s.close();

    // While nobody listens: events and entry-log records.
    const log = api.controller.ctx.store.entryLog;
    const missedEvents = [raise('door-forced'), raise('broker-lost', 'system'), raise('tamper')];
    const missedEntries = [1, 2, 3].map(
      (i) => log.append({ at: new Date().toISOString(), kind: 'door', doorId: 'lab-main', reason: 'rex', detail: { test: i } }).seq,
    );
    // Only what this test raised and wrote (the controller may raise its own meanwhile).
    const ours = (m: SseMessage) => m.event === 'raised' && m.data.source === 'test';
    const oursEntry = (m: SseMessage) => m.event === 'entry' && (m.data.detail as { test?: unknown } | undefined)?.test !== undefined;

    const again = await open(manager, { lastEventId: resumeAt });
    try {
      const ready = await again.until((m) => m.event === 'ready', 'caught up');
      const live = raise('door-held-open');
      await again.until((m) => m.event === 'raised' && m.data.id === live, 'the live event after the replay');
      const replayed = again.messages.slice(0, again.messages.indexOf(ready));
      expect(replayed.filter(ours).map((m) => m.data.id)).toEqual(missedEvents);
      expect(replayed.filter(oursEntry).map((m) => m.data.seq)).toEqual(missedEntries);
      expect(replayed.some((m) => m.event === 'raised' && m.data.id === before)).toBe(false);
      // Every id unique, and each cursor at or past the one before.
      const ids = again.messages.filter((m) => m.event === 'entry' || m.event === 'raised').map((m) => m.id!);
      expect(new Set(ids).size).toBe(ids.length);
      const cursors = ids.map((id) => /^e(\d+)-v(\d+)$/.exec(id)!.slice(1).map(Number) as [number, number]);
      cursors.slice(1).forEach(([e, v], i) => {
        expect(e >= cursors[i]![0] && v >= cursors[i]![1]).toBe(true);
      });
      expect(again.messages.filter((m) => m.event === 'raised' && m.data.id === live)).toHaveLength(1);

      // The same through ?lastEventId= (a new EventSource cannot set the header), as a guard.
      const guard = await open(api.accounts.guard.token, { query: `?lastEventId=${encodeURIComponent(resumeAt)}` });
      try {
        await guard.until((m) => m.event === 'ready', 'the guard caught up');
        expect(
          guard.messages
            .filter(ours)
            .map((m) => m.data.id)
            .slice(0, 3),
        ).toEqual(missedEvents);
        const entries = guard.messages.filter(oursEntry);
        expect(entries.map((m) => m.data.seq)).toEqual(missedEntries);
        expect(entries.every((m) => m.data.affiliation === null && m.data.purpose === null)).toBe(true);
      } finally {
        await guard.close();
      }
    } finally {
      await again.close();
    }
    expect((await fetch(`${base}${V1}/stream`, { headers: { authorization: `Bearer ${manager}`, 'last-event-id': 'yesterday' } })).status).toBe(400);
  });

  it('events raised while the reconnect replays arrive once each, in order', async () => {
    const manager = api.accounts.manager.token;
    const s = await open(manager);
    const first = raise('intrusion');
    await s.until((m) => m.event === 'raised' && m.data.id === first, 'the first event');
    const resumeAt = s.lastId()!;
    await s.close();
    const raised: number[] = [];
    for (let i = 0; i < 300; i++) raised.push(raise('motion', 'alarm', 'info'));
    // Keep raising while the new stream subscribes, reads the store and catches up.
    let raising = true;
    const pump = (async () => {
      while (raising) {
        raised.push(raise('motion', 'alarm', 'info'));
        await new Promise((r) => setImmediate(r));
      }
    })();
    const again = await open(manager, { lastEventId: resumeAt });
    try {
      await again.until((m) => m.event === 'ready', 'caught up');
      await new Promise((r) => setTimeout(r, 50));
      raising = false;
      await pump;
      const last = raised[raised.length - 1];
      await again.until((m) => m.event === 'raised' && m.data.id === last, 'the last one raised');
      const got = again.messages.filter((m) => m.event === 'raised' && m.data.source === 'test').map((m) => m.data.id as number);
      expect(got).toEqual(raised);
    } finally {
      await again.close();
    }
  });

  it(`a client more than ${REPLAY_LIMIT} items behind is told to re-sync, then carries on live`, async () => {
    const s = await open(api.accounts.auditor.token);
    await s.until((m) => m.event === 'ready', 'ready');
    const resumeAt = s.lastId()!;
    await s.close();
    const store = api.controller.ctx.store;
    const at = new Date().toISOString();
    store.transaction(() => {
      for (let i = 0; i <= REPLAY_LIMIT; i++) store.entryLog.append({ at, kind: 'door', doorId: 'bulk', reason: 'rex', detail: { i } });
    });
    const again = await open(api.accounts.auditor.token, { lastEventId: resumeAt });
    try {
      const resync = await again.until((m) => m.event === 'resync', 'the re-sync');
      expect(resync.data).toMatchObject({ reason: 'too-far-behind', limit: REPLAY_LIMIT });
      expect(again.messages.filter((m) => m.event === 'entry')).toEqual([]);
      const live = raise('intrusion');
      await again.until((m) => m.event === 'raised' && m.data.id === live, 'live after the re-sync');
    } finally {
      await again.close();
    }
  });

  it('a guard sees the alarms that need a person: a lockout, a lost broker, a storage fault (stream and GET /events)', async () => {
    ahead = 0;
    const s = await open(api.accounts.guard.token);
    try {
      await s.until((m) => m.event === 'ready', 'ready');
      const victim = await api.signIn('locked.out', 'manager');
      for (let i = 0; i < 5; i++) {
        const res = await api.app.inject({
          method: 'POST',
          url: `${V1}/auth/login`,
          payload: { username: victim.username, password: 'wrong password entirely 1', totp: '000000' },
        });
        expect(res.statusCode).toBe(401);
      }
      const locked = await s.until((m) => m.event === 'raised' && m.data.type === 'account-locked', 'the lockout for the guard');
      expect(locked.data).toMatchObject({ category: 'security', severity: 'alarm', source: 'locked.out' });
      await s.until((m) => m.event === 'raised' && m.data.type === 'login-refused', 'a refused login for the guard');
      const brokerLost = raise('broker-lost', 'system');
      const storage = raise('storage-fault', 'system');
      await s.until((m) => m.event === 'raised' && m.data.id === brokerLost, 'broker-lost for the guard');
      await s.until((m) => m.event === 'raised' && m.data.id === storage, 'storage-fault for the guard');
      const listed = (await api.call('guard', 'GET', `${V1}/events?open=true&limit=1000`)).json().items.map((e: { id: number }) => e.id);
      expect(listed).toEqual(expect.arrayContaining([brokerLost, storage, locked.data.id]));
    } finally {
      await s.close();
    }
  });
});
