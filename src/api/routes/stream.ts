// The live stream (Server-Sent Events): access decisions and door events as they commit, and events
// as they are raised, each filtered by what the caller's role may see:
// - guard: every event (door, alarm, device, access, security, system: a guard is who answers a
//   refused login, a lost broker or a storage fault at night), and every entry-log record without
//   affiliation and purpose (who passed where, not what they work on);
// - manager and auditor: everything;
// - admin: system, security and device events only (no entry-log records).
// And the state of doors, zones and alarms as it changes, to the roles that see the events of their
// kind (door and alarm categories: guards, managers, auditors; an admin only the alarms of the
// system, security and device categories): `door` { doorId, state } (the `state` of GET /doors),
// `zone` { zoneId, state } (the zone's live fields, as in GET /zones), `alarm` (an alarm raised,
// acknowledged, cleared or escalated: { alarmId, type, state, at, by?, note?, cause?, level? }).
// These are state, not records: they carry no `id:` line, so they never move the resume cursor and
// are never replayed. A client that (re)connects reads the state again (GET /doors, /zones, /alarms)
// once the stream says `ready` (or `resync`), and applies the messages over it from then on.
//
// Authentication: `Authorization: Bearer <token>` as everywhere, or, on this route only,
// `?token=<token>`: a browser's EventSource cannot set headers. A token in a URL can end up in proxy
// and browser history: prefer the header where the client can set it. The console's EventSource
// sends its session cookie (same origin) and needs neither.
//
// An open stream keeps its session alive: at every heartbeat (a comment line every 15 s) the session
// is checked and its idle clock reset, so a console left watching at night is not signed out. The
// session's absolute lifetime still ends it (`end` with reason session-expired); the client renews
// with POST /auth/refresh and reconnects with its last event id, missing nothing. A refresh ends the
// session it came with: a stream still open on it ends with reason session-renewed (reconnect with
// the new token), not session-ended (sign in again), which an unattended console could not do.
//
// Resuming: every entry, raised, ready and resync message carries an id `e<seq>-v<id>`, the last
// entry-log seq and the last event id this stream has delivered (or skipped as not the role's)
// (door, zone and alarm state messages carry none: see above). A client reconnecting with it
// (`Last-Event-ID` header, or `?lastEventId=` when it must open a new EventSource) first gets
// everything committed after it, from the store, then the live stream: no gap and no duplicate,
// because the stream subscribes before it reads the store and drops anything at or below its cursor.
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { RaisedEvent } from '../../services/events.js';
import type { EntryRecord } from '../../store/entry-log.js';
import type { Principal } from '../../services/auth.js';
import { entryForRole } from '../../services/entries.js';
import { categoryOfType, visibleCategories } from '../../services/events.js';
import { ApiError, type Api, type ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { sessionCookieOf } from '../session-cookie.js';

/** A client that reads slower than events come is cut off rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Replay waits for the socket to drain above this, so a long replay is never cut off as "too slow". */
const REPLAY_HIGH_WATER = 256 * 1024;
/** At most this many records and events are replayed; further behind, the client must re-sync. */
export const REPLAY_LIMIT = 10_000;
const REPLAY_PAGE = 200;

/** Where a stream stands: the last entry-log seq and the last event id it has passed. */
export interface Cursor {
  entry: number;
  event: number;
}

export const cursorId = (c: Cursor) => `e${c.entry}-v${c.event}`;

export function parseCursor(id: string): Cursor | undefined {
  const m = /^e(\d{1,15})-v(\d{1,15})$/.exec(id.trim());
  return m ? { entry: Number(m[1]), event: Number(m[2]) } : undefined;
}

type Item = { kind: 'entry'; record: EntryRecord } | { kind: 'raised'; event: RaisedEvent };

export async function streamRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const open = new Set<() => void>();
  const { auth, entries, events, status } = ctx.services;
  const head = (): Cursor => ({ entry: entries.lastSeq(), event: events.lastId() });

  // Without this, closing the server would wait for every console to hang up.
  api.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });

  api.get(
    '/stream',
    {
      // Authenticated here rather than by the app's hook: it must also accept ?token=.
      config: { public: true },
      schema: {
        tags: ['events'],
        summary: 'Live decisions and events (Server-Sent Events, text/event-stream), filtered by role; resumable with Last-Event-ID',
        description:
          'Events: `entry` (an entry-log record, after it committed), `raised` (an event the controller raised), ' +
          '`resync` (the client was too far behind to replay: fetch GET /entries and /events, then carry on), and `end` with a `reason` ' +
          '(see below) before the server closes the stream. ' +
          'State as it changes, to the roles that see the events of its kind: `door` `{doorId, state}` (`state` as in GET /doors), ' +
          '`zone` `{zoneId, state}` (the live fields of the GET /zones item), `alarm` `{alarmId, type, state: raised|acknowledged|cleared|escalated, at, by?, note?, cause?, level?}`. ' +
          'These carry no id: they do not move the resume cursor and are not replayed; after every (re)connect, read the state again ' +
          '(GET /doors, /zones, /alarms) once `ready` (or `resync`) arrives, then apply the messages over it. `end` reasons: ' +
          'session-expired, session-renewed, session-ended, session-idle, too-slow, server-error, server-shutting-down. ' +
          'Every other message has an id `e<seq>-v<id>`; reconnect with the `Last-Event-ID` header (or `?lastEventId=`) to receive everything after it, ' +
          `at most ${REPLAY_LIMIT} items. A comment line every 15 s keeps proxies from closing it and keeps the session alive, up to its absolute lifetime. ` +
          "Authenticate with the Authorization header, the console's session cookie, or, for another browser EventSource, `?token=`.",
        querystring: z.object({
          token: z.string().min(1).max(200).optional().describe('the bearer token, for clients that cannot set headers (EventSource)'),
          lastEventId: z.string().max(64).optional().describe('resume after this id, for a new EventSource (the Last-Event-ID header wins)'),
        }),
        response: { 400: errorResponses[400], 401: errorResponses[401], 403: errorResponses[403] },
      },
    },
    async (req, reply) => {
      const header = req.headers.authorization;
      const token = header?.startsWith('Bearer ') ? header.slice(7) : (req.query.token ?? sessionCookieOf(req));
      const principal: Principal | undefined = auth.authenticate(token);
      if (!principal)
        throw new ApiError(
          401,
          token ? 'session ended or unknown; sign in again' : 'sign in first (Authorization: Bearer <token>, or ?token= for EventSource)',
        );
      if (principal.restricted) throw new ApiError(403, 'change your password first (POST /api/v1/auth/password)');
      req.principal = principal;
      const role = principal.account.role;
      const categories = visibleCategories[role];
      const lastEventHeader = req.headers['last-event-id'];
      const resumeFrom = (typeof lastEventHeader === 'string' && lastEventHeader) || req.query.lastEventId;
      const resume = resumeFrom ? parseCursor(resumeFrom) : undefined;
      if (resumeFrom && !resume) {
        throw new ApiError(400, 'Last-Event-ID is not an id this stream gave', [{ path: 'lastEventId', message: 'expected e<seq>-v<id>' }]);
      }

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
        if (res.writableLength > MAX_BUFFERED_BYTES) return end('too-slow', 'events were piling up faster than the client read them');
        res.write(text);
      };
      const send = (event: string, data: unknown, id?: string) => write(`event: ${event}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`);

      function end(reason?: string, message?: string): void {
        if (ended) return;
        if (reason && !res.writableEnded) res.write(`event: end\ndata: ${JSON.stringify({ reason, ...(message ? { message } : {}) })}\n\n`);
        ended = true;
        for (const off of unsubscribe.splice(0)) off();
        clearInterval(heartbeat);
        open.delete(closeForShutdown);
        if (!res.writableEnded) res.end();
      }
      const closeForShutdown = () => end('server-shutting-down', 'the server is shutting down; reconnect with the last event id');
      open.add(closeForShutdown);

      // Every heartbeat: the session as the auth hook would judge it, and, while it holds, its idle
      // clock reset (watching is activity). Its absolute lifetime is never extended.
      const sessionMessages = {
        'session-expired': 'the session reached its absolute lifetime; renew with POST /api/v1/auth/refresh and reconnect with the last event id',
        'session-ended': 'the session ended (signed out, or the account changed); sign in again',
        'session-renewed': 'the session was renewed (POST /api/v1/auth/refresh); reconnect with the new token and the last event id',
        'session-idle': 'the session was idle too long; sign in again',
      } as const;
      const heartbeat = setInterval(() => {
        // In a timer nothing above catches: a storage fault (an I/O error, a seed that no longer
        // opens) must end this stream, not the daemon.
        try {
          const state = auth.keepStreamAlive(principal.tokenHash, role);
          if (state !== 'alive') return end(state, sessionMessages[state]);
          write(`: heartbeat ${ctx.now().toISOString()}\n\n`);
        } catch (err) {
          req.log.error({ err }, 'stream heartbeat failed');
          end('server-error', 'the server could not check the session; reconnect with the last event id');
        }
      }, ctx.streamHeartbeatMs);
      heartbeat.unref();

      // Subscribe first, then read the store: whatever commits meanwhile is both queued and read,
      // and the cursor drops the second copy.
      const cursor: Cursor = head();
      let replaying = true;
      const pending: Item[] = [];
      const deliver = (item: Item): void => {
        if (item.kind === 'entry') {
          if (item.record.seq <= cursor.entry) return;
          cursor.entry = item.record.seq;
          const visible = entryForRole(item.record, role);
          if (visible) send('entry', visible, cursorId(cursor));
        } else {
          const e = item.event;
          // An event storage could not keep has no id: delivered live, never replayed.
          if (e.id !== null) {
            if (e.id <= cursor.event) return;
            cursor.event = e.id;
          }
          if ((categories as readonly string[]).includes(e.category)) send('raised', e, e.id !== null ? cursorId(cursor) : undefined);
        }
      };
      const take = (item: Item): void => {
        if (!replaying) deliver(item);
        else if (pending.length >= REPLAY_LIMIT) end('too-slow', 'too many events while replaying');
        else pending.push(item);
      };
      unsubscribe.push(
        status.on('entry', (record) => take({ kind: 'entry', record }), 'live-stream'),
        status.on('raised', (event) => take({ kind: 'raised', event }), 'live-stream'),
      );
      // State goes out at once, even during a replay: it has no place in the cursor's order, and the
      // client reads the state again after `ready` anyway. No id line: it must not move the cursor.
      const sees = (category: RaisedEvent['category']) => (categories as readonly string[]).includes(category);
      if (sees('door')) unsubscribe.push(status.on('door.changed', (c) => send('door', c), 'live-stream'));
      if (sees('alarm')) unsubscribe.push(status.on('zone.changed', (c) => send('zone', c), 'live-stream'));
      unsubscribe.push(
        status.on(
          'alarm.changed',
          (c) => {
            if (sees(categoryOfType(c.type))) send('alarm', c);
          },
          'live-stream',
        ),
      );
      res.on('close', () => end());
      res.on('error', () => end());
      write(`retry: 5000\n: connected as ${principal.account.username} (${role})\n\n`);

      try {
        if (resume) await replay(resume);
        else send('ready', { id: cursorId(cursor) }, cursorId(cursor));
      } catch (err) {
        req.log.error({ err }, 'stream replay failed');
        return end('server-error', 'could not replay; reconnect');
      }
      replaying = false;
      for (const item of pending.splice(0)) deliver(item);

      /** Everything after `from` that the role may see, oldest first, entries and events merged by time. */
      async function replay(from: Cursor): Promise<void> {
        const now = { ...cursor };
        if (from.entry > now.entry || from.event > now.event) {
          // Not an id of this gateway's logs (restored from a backup, or another gateway's).
          send('resync', { reason: 'unknown-cursor', from: cursorId(from), id: cursorId(now) }, cursorId(now));
          return;
        }
        const wantEntries = role !== 'admin';
        const behind = (wantEntries ? entries.countAfter(from.entry, REPLAY_LIMIT + 1) : 0) + events.countAfter(from.event, categories, REPLAY_LIMIT + 1);
        if (behind > REPLAY_LIMIT) {
          send('resync', { reason: 'too-far-behind', limit: REPLAY_LIMIT, from: cursorId(from), id: cursorId(now) }, cursorId(now));
          return;
        }
        // Replay up to the head read at subscription; what came since is queued (or read again and dropped).
        cursor.entry = from.entry;
        cursor.event = from.event;
        while (!ended) {
          const records = wantEntries && cursor.entry < now.entry ? entries.after(cursor.entry, REPLAY_PAGE).filter((r) => r.seq <= now.entry) : [];
          const raised = cursor.event < now.event ? events.after(cursor.event, categories, REPLAY_PAGE).filter((e) => e.id <= now.event) : [];
          if (!records.length && !raised.length) break;
          const moreEntries = records.length === REPLAY_PAGE;
          const moreEvents = raised.length === REPLAY_PAGE;
          let i = 0;
          let j = 0;
          for (;;) {
            const e = records[i];
            const v = raised[j];
            // A page that may continue bounds the merge: nothing past its last item is certain yet.
            const next = e && v ? (e.at <= v.at ? 'entry' : 'event') : e && !moreEvents ? 'entry' : v && !moreEntries ? 'event' : null;
            if (next === 'entry') {
              deliver({ kind: 'entry', record: e! });
              i++;
            } else if (next === 'event') {
              deliver({ kind: 'raised', event: v! as RaisedEvent });
              j++;
            } else break;
          }
          // Admins get no records: the entry cursor moves with the head so their ids stay current.
          if (!wantEntries) cursor.entry = now.entry;
          // Between pages the event loop is the doors' again (a long replay must not hold up a
          // decision), and a slow reader is waited for rather than cut off.
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (res.writableLength > REPLAY_HIGH_WATER)
            await new Promise<void>((resolve) => {
              // Whichever comes first removes the other: a long replay must not pile up listeners.
              const done = () => {
                res.off('drain', done);
                res.off('close', done);
                resolve();
              };
              res.once('drain', done);
              res.once('close', done);
            });
        }
        cursor.entry = Math.max(cursor.entry, now.entry);
        cursor.event = Math.max(cursor.event, now.event);
        // Caught up: say where the stream stands, even when nothing visible was replayed.
        send('ready', { id: cursorId(cursor) }, cursorId(cursor));
      }
    },
  );
}
