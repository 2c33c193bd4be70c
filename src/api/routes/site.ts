// The site as it stands: areas (rules, mode, who is inside), doors (live state), devices (online or
// not), the events the controller raised, and the commands guards and managers give: unlock a
// door once (confirmed by a second account where the door's area asks two factors or two people),
// unlock it in an emergency with a reason, lock it, lock an area down, release it for an emergency,
// back to normal; acknowledge an alarm. Every command is audited inside the transaction of the change
// it makes, and every remote unlock raises an event guards see.
import { z } from 'zod';
import { labelText, deviceKinds, type Area, type Door, type Label } from '../../site/schema.js';
import type { DoorRole } from '../../controller/site-index.js';
import type { Role } from '../../store/accounts.js';
import { ackEvent, eventById, queryEvents, type EventRecord } from '../../store/queries.js';
import { ApiError, audit, notFound, principalOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, idParam, isoTime, numericIdParam, page, pageQuery } from '../schemas.js';
import { eventCategories, visibleCategories } from './stream.js';
import { CONFIRMING_ROLES, needsSecondAccount, REMOTE_UNLOCK_CONFIRM_MS, UnlockRequests, type UnlockRequest } from '../remote-unlock.js';

const names = z.object({ en: z.string(), ja: z.string() });
const namesOf = (l: Label | undefined, fallback: string) => (l === undefined ? { en: fallback, ja: fallback } : { en: labelText(l, 'en'), ja: labelText(l, 'ja') });

const modeSchema = z.object({
  mode: z.enum(['normal', 'lockdown', 'emergency']),
  allowedRoles: z.array(z.string()).describe('people roles that still pass while locked down'),
  changedAt: z.string().nullable(),
  changedBy: z.string().nullable(),
});

export const areaSchema = z.object({
  id: z.string(),
  name: names,
  parent: z.string().nullable(),
  schedule: z.string().nullable(),
  rules: z.object({
    factors: z.array(z.enum(['card', 'pin', 'otp', 'bio'])),
    twoPerson: z.boolean(),
    antiPassback: z.enum(['off', 'soft', 'hard']),
    lockdownRoles: z.array(z.string()),
  }),
  mode: modeSchema,
  occupancy: z.object({
    count: z.number().int(),
    people: z.array(z.object({ personId: z.string(), name: z.string().nullable(), since: z.string() })),
  }).nullable().describe('who is inside, where anti-passback tracks it (null where it does not)'),
});

const doorStateSchema = z.object({
  lock: z.enum(['locked', 'unlocked', 'unknown']),
  open: z.boolean().nullable().describe('null: no contact, or not reported yet'),
  unlockedBy: z.enum(['grant', 'rex', 'emergency', 'command']).nullable(),
  alarm: z.enum(['forced', 'held']).nullable(),
  emergency: z.boolean(),
});

export const doorSchema = z.object({
  id: z.string(),
  name: names,
  area: z.string(),
  failMode: z.enum(['secure', 'safe']),
  unlockMs: z.number().int(),
  heldOpenMs: z.number().int(),
  devices: z.object({
    entryReader: z.string().nullable(), keypad: z.string().nullable(), exitReader: z.string().nullable(),
    lock: z.string(), contact: z.string().nullable(), rex: z.string().nullable(),
  }),
  state: doorStateSchema,
});

const deviceStatuses = ['online', 'offline', 'unknown'] as const;
export const deviceSchema = z.object({
  id: z.string(),
  kind: z.enum(deviceKinds),
  name: names.nullable(),
  transport: z.enum(['mqtt', 'gpio']),
  status: z.enum(deviceStatuses).describe('unknown: not heard from since the controller started'),
  lastSeen: z.string().nullable(),
  firmware: z.string().nullable(),
  doors: z.array(z.object({ doorId: z.string(), role: z.string() })),
});

export const eventSchema = z.object({
  id: z.number().int(),
  at: z.string(),
  category: z.string(),
  type: z.string(),
  severity: z.enum(['info', 'warning', 'alarm']),
  source: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
  ackedAt: z.string().nullable(),
  ackedBy: z.string().nullable(),
  ackNote: z.string().nullable(),
});

const everyone = ['admin', 'manager', 'guard', 'auditor'] as const;
const operators = ['guard', 'manager'] as const;
const optionalNote = z.strictObject({ note: z.string().trim().min(1).max(500).optional() }).nullish();
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const iso = (value: string) => new Date(Date.parse(value)).toISOString();

function paged<T>(all: T[], q: { limit: number; offset: number }) {
  return { items: all.slice(q.offset, q.offset + q.limit), total: all.length, limit: q.limit, offset: q.offset };
}

export async function siteRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { controller, store } = ctx;
  const site = () => controller.ctx.site;
  const db = store.db;

  function areaView(a: Area): z.infer<typeof areaSchema> {
    const mode = store.areas.mode(a.id);
    const occupants = a.antiPassback === 'off' ? null : store.areas.occupants(a.id);
    return {
      id: a.id, name: namesOf(a.name, a.id), parent: a.parent ?? null, schedule: a.schedule ?? null,
      rules: { factors: a.factors, twoPerson: a.twoPerson, antiPassback: a.antiPassback, lockdownRoles: a.lockdownRoles },
      mode: { mode: mode.mode, allowedRoles: mode.allowedRoles, changedAt: mode.changedAt, changedBy: mode.changedBy },
      occupancy: occupants && {
        count: occupants.length,
        people: occupants.map((o) => ({ personId: o.personId, name: store.people.person(o.personId)?.name ?? null, since: o.enteredAt })),
      },
    };
  }

  function doorView(d: Door): z.infer<typeof doorSchema> {
    const s = controller.doors.state(d.id);
    return {
      id: d.id, name: namesOf(d.name, d.id), area: d.area, failMode: d.failMode, unlockMs: d.unlockMs, heldOpenMs: d.heldOpenMs,
      devices: {
        entryReader: d.entryReader ?? null, keypad: d.keypad ?? null, exitReader: d.exitReader ?? null,
        lock: d.lock, contact: d.contact ?? null, rex: d.rex ?? null,
      },
      state: s
        ? { lock: s.lock, open: s.open, unlockedBy: s.unlockedBy?.kind ?? null, alarm: s.alarm, emergency: s.emergency }
        : { lock: 'unknown', open: null, unlockedBy: null, alarm: null, emergency: false },
    };
  }

  function deviceViews(): z.infer<typeof deviceSchema>[] {
    const health = controller.supervision.devices();
    return site().devices.map((d) => {
      const h = health.get(d.id);
      const roles: { door: Door; role: DoorRole }[] = controller.ctx.index.rolesOf(d.id);
      return {
        id: d.id, kind: d.kind, name: d.name === undefined ? null : namesOf(d.name, d.id), transport: d.transport,
        status: h?.online === true ? 'online' : h?.online === false ? 'offline' : 'unknown',
        lastSeen: h?.lastSeen ? new Date(h.lastSeen).toISOString() : null,
        firmware: h?.firmware ?? null,
        doors: roles.map((r) => ({ doorId: r.door.id, role: r.role })),
      };
    });
  }

  const findArea = (id: string) => {
    const a = controller.ctx.index.areas.get(id);
    if (!a) throw notFound('area');
    return a;
  };
  const findDoor = (id: string) => {
    const d = controller.ctx.index.doors.get(id);
    if (!d) throw notFound('door');
    return d;
  };

  // --- areas, doors, devices ---------------------------------------------------------------------

  api.get('/areas', {
    config: { roles: everyone },
    schema: {
      tags: ['site'], summary: 'Areas: rules, mode, and who is inside where anti-passback tracks it',
      querystring: pageQuery.extend({ parent: z.string().max(64).optional(), mode: z.enum(['normal', 'lockdown', 'emergency']).optional() }),
      response: { 200: page(areaSchema), ...errorResponses },
    },
  }, async (req) => {
    const q = req.query;
    const all = site().areas.filter((a) => q.parent === undefined || a.parent === q.parent).map(areaView).filter((a) => !q.mode || a.mode.mode === q.mode);
    return paged(all, q);
  });

  api.get('/areas/:id', {
    config: { roles: everyone },
    schema: { tags: ['site'], summary: 'One area', params: idParam, response: { 200: areaSchema, ...errorResponses } },
  }, async (req) => areaView(findArea(req.params.id)));

  api.get('/doors', {
    config: { roles: everyone },
    schema: {
      tags: ['site'], summary: 'Doors and their live state (lock, contact, alarms, emergency release)',
      querystring: pageQuery.extend({ area: z.string().max(64).optional(), alarm: bool.optional().describe('true: only doors forced or held open now') }),
      response: { 200: page(doorSchema), ...errorResponses },
    },
  }, async (req) => {
    const q = req.query;
    const all = site().doors.filter((d) => !q.area || d.area === q.area).map(doorView)
      .filter((d) => q.alarm === undefined || (d.state.alarm !== null) === q.alarm);
    return paged(all, q);
  });

  api.get('/doors/:id', {
    config: { roles: everyone },
    schema: { tags: ['site'], summary: 'One door', params: idParam, response: { 200: doorSchema, ...errorResponses } },
  }, async (req) => doorView(findDoor(req.params.id)));

  api.get('/devices', {
    config: { roles: everyone },
    schema: {
      tags: ['site'], summary: 'Devices: online, offline or unknown, firmware, where they serve',
      querystring: pageQuery.extend({
        kind: z.enum(deviceKinds).optional(), status: z.enum(deviceStatuses).optional(), transport: z.enum(['mqtt', 'gpio']).optional(),
      }),
      response: { 200: page(deviceSchema), ...errorResponses },
    },
  }, async (req) => {
    const q = req.query;
    return paged(deviceViews().filter((d) => (!q.kind || d.kind === q.kind) && (!q.status || d.status === q.status) && (!q.transport || d.transport === q.transport)), q);
  });

  // --- door commands -----------------------------------------------------------------------------

  /**
   * Writes the audit record and the door's entry-log record in one transaction, then opens the door
   * for its unlock time: nothing opens unless both committed. logDoorEvent never throws (it raises
   * storage-fault): a record that did not land shows as an unchanged head, and nothing opens.
   */
  function logThenRelease(req: Parameters<typeof audit>[1], door: Door, o: {
    reason: string; detail: Record<string, unknown>; audit: Record<string, unknown>; by: string; action?: string;
  }): number {
    const log = store.entryLog;
    let seq: number;
    try {
      seq = db.transaction(() => {
        const next = log.nextSeq;
        audit(ctx, req, `door:${door.id}`, { seq: next, ...o.audit }, o.action);
        controller.doors.logDoorEvent(door.id, o.reason, null, null, o.detail);
        if (log.count !== next) throw new ApiError(503, 'the entry log cannot be written: the door stays locked');
        return next;
      })();
    } catch (err) {
      // A failure at the outer commit (disk full in WAL mode) rolls back a record the log's head already counted.
      log.resync();
      if (err instanceof ApiError) throw err;
      controller.ctx.counters.storageFaults++;
      throw new ApiError(503, 'the entry log cannot be written: the door stays locked');
    }
    controller.doors.release(door.id, { kind: 'command', by: o.by });
    return seq;
  }

  const unlockRequests = new UnlockRequests(() => controller.ctx.now());
  const unlockRequestSchema = z.object({
    id: z.string(),
    door: z.string(),
    requestedBy: z.string(),
    role: z.string(),
    note: z.string().nullable(),
    requestedAt: z.string(),
    expiresAt: z.string().describe('a manager other than the one who asked must confirm before this'),
  });
  const requestView = (r: UnlockRequest): z.infer<typeof unlockRequestSchema> => ({
    id: r.id, door: r.doorId, requestedBy: r.requestedBy, role: r.role, note: r.note,
    requestedAt: r.requestedAt.toISOString(), expiresAt: r.expiresAt.toISOString(),
  });
  const requestParams = z.object({ id: idParam.shape.id, requestId: z.string().uuid() });
  const emergencyRefusal = () => new ApiError(409, 'the door is released for an emergency');

  /**
   * A remote unlock (asked or confirmed) does not open a door of an area locked down: keeping doors
   * shut is what the lockdown is for. An emergency unlock still does: a life-safety override, already an alarm.
   */
  function refuseWhileLockedDown(door: Door): void {
    const mode = store.areas.mode(door.area);
    if (mode.mode !== 'lockdown') return;
    const since = mode.changedAt ? ` since ${mode.changedAt}${mode.changedBy ? ` by ${mode.changedBy}` : ''}` : '';
    throw new ApiError(409, `the area is locked down: ${door.area}${since}; no remote unlock until it is back to normal (POST /areas/${door.area}/normal)`);
  }

  /** A request of the door that may still be settled; 404, or 409 saying why it may not. */
  function pendingRequest(doorId: string, requestId: string): UnlockRequest {
    const found = unlockRequests.find(doorId, requestId);
    if (found.ok) return found.request;
    if (found.why === 'unknown') throw notFound('unlock request');
    if (found.why === 'expired') throw new ApiError(409, `the request expired at ${found.request!.expiresAt.toISOString()}: the door stays locked; ask again`);
    throw new ApiError(409, `the request was ${found.request!.settled!.how} already by ${found.request!.settled!.by}`);
  }

  api.post('/doors/:id/unlock', {
    config: { roles: operators, action: 'door.unlock' },
    schema: {
      tags: ['site'],
      summary: 'Unlock a door once (for its unlock time); where its area asks two factors or two people, only ask to',
      description: 'A door whose area needs one factor and one person unlocks at once: logged in the entry log (remote-unlock) '
        + 'before the lock opens, and a remote-unlock event raised (200). A door whose area needs two factors or two people '
        + `does not open: a request is made (202) that another account, a manager, confirms within ${REMOTE_UNLOCK_CONFIRM_MS / 1000} s `
        + '(POST /doors/{id}/unlock-requests/{requestId}/confirm). Requests are kept in memory: a restart drops them. '
        + '409 while the door\'s area is locked down (a lockdown also cancels the requests waiting for its doors).',
      params: idParam, body: optionalNote,
      response: {
        200: z.object({ seq: z.number().int(), door: doorSchema }),
        202: z.object({ request: unlockRequestSchema }),
        ...errorResponses,
      },
    },
  }, async (req, reply) => {
    const door = findDoor(req.params.id);
    const { account } = principalOf(req);
    if (controller.doors.state(door.id)?.emergency) throw emergencyRefusal();
    refuseWhileLockedDown(door);
    const note = req.body?.note ?? null;
    const who = { account: account.username, role: account.role, ...(note ? { note } : {}) };
    if (needsSecondAccount(findArea(door.area))) {
      // Asking again while one's own request waits answers that request (its window is not extended).
      const waiting = unlockRequests.pendingFor(door.id, account.id);
      if (waiting) {
        db.transaction(() => audit(ctx, req, `door:${door.id}`, { request: waiting.id, pending: true, again: true }))();
        return reply.code(202).send({ request: requestView(waiting) });
      }
      const request = unlockRequests.open({ doorId: door.id, accountId: account.id, requestedBy: account.username, role: account.role, note });
      try {
        db.transaction(() => audit(ctx, req, `door:${door.id}`, { request: request.id, pending: true, expiresAt: request.expiresAt.toISOString(), ...(note ? { note } : {}) }))();
      } catch (err) {
        unlockRequests.settle(request, 'cancelled', 'storage');
        throw err;
      }
      controller.ctx.alarms.raise({
        category: 'door', type: 'remote-unlock-requested', severity: 'warning', source: door.id,
        detail: { request: request.id, ...who, expiresAt: request.expiresAt.toISOString() },
      });
      return reply.code(202).send({ request: requestView(request) });
    }
    const seq = logThenRelease(req, door, { reason: 'remote-unlock', detail: who, audit: note ? { note } : {}, by: `api:${account.username}` });
    controller.ctx.alarms.raise({ category: 'door', type: 'remote-unlock', severity: 'info', source: door.id, detail: { seq, ...who } });
    return reply.code(200).send({ seq, door: doorView(door) });
  });

  api.get('/unlock-requests', {
    config: { roles: operators },
    schema: {
      tags: ['site'], summary: 'Remote unlocks waiting for a second account\'s confirmation',
      querystring: z.object({ door: z.string().max(100).optional() }),
      response: { 200: z.object({ items: z.array(unlockRequestSchema) }), ...errorResponses },
    },
  }, async (req) => ({ items: unlockRequests.pending().filter((r) => !req.query.door || r.doorId === req.query.door).map(requestView) }));

  api.post('/doors/:id/unlock-requests/:requestId/confirm', {
    config: { roles: CONFIRMING_ROLES, action: 'door.unlock-confirm' },
    schema: {
      tags: ['site'],
      summary: 'Confirm another account\'s remote unlock: the door opens once, logged in the entry log (remote-unlock, both accounts) first',
      description: `A manager other than the one who asked, within ${REMOTE_UNLOCK_CONFIRM_MS / 1000} s of the request. 403 for the account that asked; 409 once expired, confirmed or cancelled, or while the door's area is locked down.`,
      params: requestParams, body: optionalNote,
      response: { 200: z.object({ seq: z.number().int(), door: doorSchema }), ...errorResponses },
    },
  }, async (req) => {
    const door = findDoor(req.params.id);
    const { account } = principalOf(req);
    const request = pendingRequest(door.id, req.params.requestId);
    if (request.accountId === account.id) throw new ApiError(403, 'the account that asked may not confirm its own remote unlock: another manager must');
    if (controller.doors.state(door.id)?.emergency) throw emergencyRefusal();
    refuseWhileLockedDown(door);
    const note = req.body?.note ?? null;
    const detail = {
      account: request.requestedBy, role: request.role, ...(request.note ? { note: request.note } : {}),
      confirmedBy: account.username, confirmedByRole: account.role, ...(note ? { confirmNote: note } : {}), request: request.id,
    };
    // Settled before the commit: a second confirmation racing this one finds it taken.
    unlockRequests.settle(request, 'confirmed', account.username);
    let seq: number;
    try {
      seq = logThenRelease(req, door, {
        reason: 'remote-unlock', detail, audit: { request: request.id, requestedBy: request.requestedBy, ...(note ? { note } : {}) },
        by: `api:${request.requestedBy}+${account.username}`,
      });
    } catch (err) {
      unlockRequests.reopen(request);
      throw err;
    }
    controller.ctx.alarms.raise({ category: 'door', type: 'remote-unlock', severity: 'info', source: door.id, detail: { seq, ...detail } });
    return { seq, door: doorView(door) };
  });

  api.post('/doors/:id/unlock-requests/:requestId/cancel', {
    config: { roles: operators, action: 'door.unlock-cancel' },
    schema: {
      tags: ['site'], summary: 'Withdraw a remote unlock waiting for confirmation (the account that asked), or turn it down (a manager)',
      params: requestParams, body: optionalNote, response: { 200: z.object({ request: unlockRequestSchema }), ...errorResponses },
    },
  }, async (req) => {
    const door = findDoor(req.params.id);
    const { account } = principalOf(req);
    const request = pendingRequest(door.id, req.params.requestId);
    if (request.accountId !== account.id && account.role !== 'manager') throw new ApiError(403, 'a guard may withdraw only their own request');
    const note = req.body?.note ?? null;
    db.transaction(() => audit(ctx, req, `door:${door.id}`, { request: request.id, requestedBy: request.requestedBy, ...(note ? { note } : {}) }))();
    unlockRequests.settle(request, 'cancelled', account.username);
    return { request: requestView(request) };
  });

  api.post('/doors/:id/emergency-unlock', {
    config: { roles: operators, action: 'door.emergency-unlock' },
    schema: {
      tags: ['site'],
      summary: 'Emergency unlock: one account opens any door once, with a reason; logged (emergency-unlock) first, and an alarm is raised',
      description: 'For when the second account a remote unlock needs cannot be had in time (someone hurt inside the vault). '
        + 'The reason is required (at least 10 characters), goes into the entry log and the audit log, and the emergency-unlock '
        + 'alarm stays open until acknowledged. Not the area emergency release (POST /areas/{id}/release), which holds fail-safe doors open.',
      params: idParam,
      body: z.strictObject({ reason: z.string().trim().min(10, 'say why, in at least 10 characters').max(500) }),
      response: { 200: z.object({ seq: z.number().int(), door: doorSchema }), ...errorResponses },
    },
  }, async (req) => {
    const door = findDoor(req.params.id);
    const { account } = principalOf(req);
    if (controller.doors.state(door.id)?.emergency) throw emergencyRefusal();
    const { reason } = req.body;
    const detail = { account: account.username, role: account.role, reason };
    const seq = logThenRelease(req, door, { reason: 'emergency-unlock', detail, audit: { reason }, by: `api:${account.username} (emergency)` });
    controller.ctx.alarms.raise({ category: 'alarm', type: 'emergency-unlock', severity: 'alarm', source: door.id, detail: { seq, ...detail } });
    return { seq, door: doorView(door) };
  });

  api.post('/doors/:id/lock', {
    config: { roles: operators, action: 'door.lock' },
    schema: {
      tags: ['site'], summary: 'Lock a door now (ends an unlock early); waits for the lock to acknowledge',
      params: idParam, body: optionalNote, response: { 200: doorSchema, ...errorResponses },
    },
  }, async (req) => {
    const door = findDoor(req.params.id);
    if (controller.doors.state(door.id)?.emergency) throw new ApiError(409, 'the door is released for an emergency: end it first (POST /areas/{id}/normal)');
    db.transaction(() => audit(ctx, req, `door:${door.id}`, req.body?.note ? { note: req.body.note } : null))();
    await controller.doors.lockNow(door.id);
    return doorView(door);
  });

  // --- area modes --------------------------------------------------------------------------------

  /** Changes a mode with its audit record in one transaction (Areas.setMode writes the entry log inside it). */
  function setMode(req: Parameters<typeof audit>[1], areaId: string, mode: 'normal' | 'lockdown' | 'emergency', roles?: string[], extra?: Record<string, unknown>): void {
    const { account } = principalOf(req);
    const previous = store.areas.mode(areaId).mode;
    db.transaction(() => {
      audit(ctx, req, `area:${areaId}`, { previous, mode, ...(roles ? { allowedRoles: roles } : {}), ...extra });
      // Last in the transaction: it writes the entry log and acts on the doors.
      const applied = controller.areas.setMode(areaId, mode, { by: `api:${account.username}`, ...(roles ? { roles } : {}) });
      if (!applied) throw new ApiError(503, 'the entry log cannot be written: the mode did not change');
    })();
  }

  const modeResponse = { 200: areaSchema, ...errorResponses };

  api.post('/areas/:id/lockdown', {
    config: { roles: operators, action: 'area.lockdown' },
    schema: {
      tags: ['site'], summary: 'Lock an area down: its doors lock and only the listed people roles pass (default: the area\'s lockdownRoles)',
      params: idParam,
      body: z.strictObject({ roles: z.array(z.string().trim().min(1).max(64)).max(20).optional().describe('people roles that still pass') }).nullish(),
      response: modeResponse,
    },
  }, async (req) => {
    const area = findArea(req.params.id);
    if (store.areas.mode(area.id).mode === 'emergency') throw new ApiError(409, 'the area is released for an emergency: end it first (POST /areas/{id}/normal)');
    // Remote unlocks waiting for a confirmation end with the lockdown: one asked before it must not open a door after it.
    const doorIds = new Set(site().doors.filter((d) => d.area === area.id).map((d) => d.id));
    const waiting = unlockRequests.pending().filter((r) => doorIds.has(r.doorId)).map((r) => r.id);
    setMode(req, area.id, 'lockdown', req.body?.roles, waiting.length ? { cancelledRequests: waiting } : undefined);
    unlockRequests.cancelPendingFor(doorIds, `the lockdown of ${area.id} (${principalOf(req).account.username})`);
    return areaView(area);
  });

  api.post('/areas/:id/release', {
    config: { roles: operators, action: 'area.emergency-release' },
    schema: {
      tags: ['site'], summary: 'Emergency release by command: the fail-safe doors of the area (and the areas inside it) unlock until normal',
      params: idParam, response: modeResponse,
    },
  }, async (req) => {
    const area = findArea(req.params.id);
    if (store.areas.mode(area.id).mode === 'emergency') throw new ApiError(409, 'the area is already released');
    setMode(req, area.id, 'emergency');
    return areaView(area);
  });

  api.post('/areas/:id/normal', {
    config: { roles: operators, action: 'area.normal' },
    schema: { tags: ['site'], summary: 'End a lockdown or an emergency release', params: idParam, response: modeResponse },
  }, async (req) => {
    const area = findArea(req.params.id);
    if (store.areas.mode(area.id).mode === 'normal') throw new ApiError(409, 'the area is in normal mode already');
    setMode(req, area.id, 'normal');
    return areaView(area);
  });

  // --- events ------------------------------------------------------------------------------------

  const visible = (role: Role, e: Pick<EventRecord, 'category'>) => (visibleCategories[role] as readonly string[]).includes(e.category);

  api.get('/events', {
    config: { roles: everyone },
    schema: {
      tags: ['events'], summary: 'Events the controller raised, newest first, paged by id (before=nextBefore); each role sees its categories',
      description: 'guard, manager and auditor: all (a guard answers refused logins, a lost broker, a storage fault); admin: system, security, device.',
      querystring: z.object({
        type: z.string().max(64).optional(),
        category: z.enum(eventCategories).optional(),
        severity: z.enum(['info', 'warning', 'alarm']).optional(),
        source: z.string().max(100).optional(),
        open: bool.optional().describe('true: only alarms nobody has acknowledged'),
        from: isoTime.optional(),
        to: isoTime.optional(),
        before: z.coerce.number().int().positive().optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(50),
      }),
      response: { 200: z.object({ items: z.array(eventSchema), nextBefore: z.number().int().nullable() }), ...errorResponses },
    },
  }, async (req) => {
    const q = req.query;
    const role = principalOf(req).account.role;
    const categories = visibleCategories[role].filter((c) => !q.category || c === q.category);
    return queryEvents(db, {
      type: q.type, categories, severity: q.severity, source: q.source, open: q.open === true,
      from: q.from ? iso(q.from) : undefined, to: q.to ? iso(q.to) : undefined, before: q.before, limit: q.limit,
    });
  });

  api.post('/events/:id/ack', {
    config: { roles: operators, action: 'event.ack' },
    schema: {
      tags: ['events'], summary: 'Acknowledge an event (an alarm stays open until acknowledged): records who, when and a note',
      description: 'An emergency-unlock alarm is acknowledged by another account than the one that unlocked (403 for that one).',
      params: numericIdParam, body: optionalNote, response: { 200: eventSchema, ...errorResponses },
    },
  }, async (req) => {
    const { account } = principalOf(req);
    const event = eventById(db, req.params.id);
    if (!event || !visible(account.role, event)) throw notFound('event');
    // The alarm is what holds one account opening a door alone to account: someone else must see it and close it.
    if (event.type === 'emergency-unlock' && event.detail?.account === account.username) throw new ApiError(403, 'you may not acknowledge an alarm you raised yourself: another guard or a manager must');
    if (event.ackedAt) throw new ApiError(409, `acknowledged already by ${event.ackedBy} at ${event.ackedAt}`);
    const note = req.body?.note ?? null;
    db.transaction(() => {
      if (!ackEvent(db, event.id, account.username, controller.ctx.now().toISOString(), note)) throw new ApiError(409, 'acknowledged already');
      audit(ctx, req, `event:${event.id}`, { type: event.type, severity: event.severity, ...(note ? { note } : {}) });
    })();
    return eventById(db, event.id)!;
  });
}
