// The site as it stands: areas (rules, mode, who is inside), doors (live state), devices (online or
// not), the events the controller raised, and the commands guards and managers give: unlock a
// door once (confirmed by a second account where the door's area asks two factors or two people),
// unlock it in an emergency with a reason, lock it, lock an area down, release it for an emergency,
// back to normal; acknowledge an alarm. Every command is audited inside the transaction of the change
// it makes, and every remote unlock raises an event guards see.
import { z } from 'zod';
import { deviceStatuses } from '../../services/devices.js';
import { eventCategories } from '../../services/events.js';
import { CONFIRMING_ROLES, REMOTE_UNLOCK_CONFIRM_MS, type UnlockRequest } from '../../services/unlock-requests.js';
import { actorOf, audited, type Api, type ApiContext } from '../context.js';
import {
  areaModeSchema,
  credentialKindSchema,
  deviceKindSchema,
  errorResponses,
  idParam,
  isoTime,
  numericIdParam,
  page,
  pageQuery,
  severitySchema,
  transportSchema,
} from '../schemas.js';

const names = z.object({ en: z.string(), ja: z.string() });

const modeSchema = z.object({
  mode: areaModeSchema,
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
    factors: z.array(credentialKindSchema),
    twoPerson: z.boolean(),
    antiPassback: z.enum(['off', 'soft', 'hard']),
    lockdownRoles: z.array(z.string()),
  }),
  mode: modeSchema,
  occupancy: z
    .object({
      count: z.number().int(),
      people: z.array(z.object({ personId: z.string(), name: z.string().nullable(), since: z.string() })),
    })
    .nullable()
    .describe('who is inside, where anti-passback tracks it (null where it does not)'),
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
    entryReader: z.string().nullable(),
    keypad: z.string().nullable(),
    exitReader: z.string().nullable(),
    lock: z.string(),
    contact: z.string().nullable(),
    rex: z.string().nullable(),
  }),
  state: doorStateSchema,
});

export const deviceSchema = z.object({
  id: z.string(),
  kind: deviceKindSchema,
  name: names.nullable(),
  transport: transportSchema,
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
  severity: severitySchema,
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
  id: r.id,
  door: r.doorId,
  requestedBy: r.requestedBy,
  role: r.role,
  note: r.note,
  requestedAt: r.requestedAt.toISOString(),
  expiresAt: r.expiresAt.toISOString(),
});
const requestParams = z.object({ id: idParam.shape.id, requestId: z.string().uuid() });

export async function siteRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { doors, areas, devices, events } = ctx.services;

  // --- areas, doors, devices ---------------------------------------------------------------------

  api.get(
    '/areas',
    {
      config: { roles: everyone },
      schema: {
        tags: ['site'],
        summary: 'Areas: rules, mode, and who is inside where anti-passback tracks it',
        querystring: pageQuery.extend({ parent: z.string().max(64).optional(), mode: areaModeSchema.optional() }),
        response: { 200: page(areaSchema), ...errorResponses },
      },
    },
    async (req) => paged(areas.list({ parent: req.query.parent, mode: req.query.mode }), req.query),
  );

  api.get(
    '/areas/:id',
    {
      config: { roles: everyone },
      schema: { tags: ['site'], summary: 'One area', params: idParam, response: { 200: areaSchema, ...errorResponses } },
    },
    async (req) => areas.get(req.params.id),
  );

  api.get(
    '/doors',
    {
      config: { roles: everyone },
      schema: {
        tags: ['site'],
        summary: 'Doors and their live state (lock, contact, alarms, emergency release)',
        querystring: pageQuery.extend({ area: z.string().max(64).optional(), alarm: bool.optional().describe('true: only doors forced or held open now') }),
        response: { 200: page(doorSchema), ...errorResponses },
      },
    },
    async (req) => paged(doors.list({ area: req.query.area, alarm: req.query.alarm }), req.query),
  );

  api.get(
    '/doors/:id',
    {
      config: { roles: everyone },
      schema: { tags: ['site'], summary: 'One door', params: idParam, response: { 200: doorSchema, ...errorResponses } },
    },
    async (req) => doors.get(req.params.id),
  );

  api.get(
    '/devices',
    {
      config: { roles: everyone },
      schema: {
        tags: ['site'],
        summary: 'Devices: online, offline or unknown, firmware, where they serve',
        querystring: pageQuery.extend({
          kind: deviceKindSchema.optional(),
          status: z.enum(deviceStatuses).optional(),
          transport: transportSchema.optional(),
        }),
        response: { 200: page(deviceSchema), ...errorResponses },
      },
    },
    async (req) => paged(devices.list({ kind: req.query.kind, status: req.query.status, transport: req.query.transport }), req.query),
  );

  // --- door commands -----------------------------------------------------------------------------

  api.post(
    '/doors/:id/unlock',
    {
      config: { roles: operators, action: 'door.unlock' },
      schema: {
        tags: ['site'],
        summary: 'Unlock a door once (for its unlock time); where its area asks two factors or two people, only ask to',
        description:
          'A door whose area needs one factor and one person unlocks at once: logged in the entry log (remote-unlock) ' +
          'before the lock opens, and a remote-unlock event raised (200). A door whose area needs two factors or two people ' +
          `does not open: a request is made (202) that another account, a manager, confirms within ${REMOTE_UNLOCK_CONFIRM_MS / 1000} s ` +
          '(POST /doors/{id}/unlock-requests/{requestId}/confirm). Requests are kept in memory: a restart drops them. ' +
          "409 while the door's area is locked down (a lockdown also cancels the requests waiting for its doors).",
        params: idParam,
        body: optionalNote,
        response: {
          200: z.object({ seq: z.number().int(), door: doorSchema }),
          202: z.object({ request: unlockRequestSchema }),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const outcome = audited(req, doors.unlock(actorOf(req), req.params.id, req.body?.note ?? null));
      if (!outcome.opened) return reply.code(202).send({ request: requestView(outcome.request) });
      return reply.code(200).send({ seq: outcome.seq, door: outcome.door });
    },
  );

  api.get(
    '/unlock-requests',
    {
      config: { roles: operators },
      schema: {
        tags: ['site'],
        summary: "Remote unlocks waiting for a second account's confirmation",
        querystring: z.object({ door: z.string().max(100).optional() }),
        response: { 200: z.object({ items: z.array(unlockRequestSchema) }), ...errorResponses },
      },
    },
    async (req) => ({ items: doors.pendingRequests(req.query.door).map(requestView) }),
  );

  api.post(
    '/doors/:id/unlock-requests/:requestId/confirm',
    {
      config: { roles: CONFIRMING_ROLES, action: 'door.unlock-confirm' },
      schema: {
        tags: ['site'],
        summary: "Confirm another account's remote unlock: the door opens once, logged in the entry log (remote-unlock, both accounts) first",
        description: `A manager other than the one who asked, within ${REMOTE_UNLOCK_CONFIRM_MS / 1000} s of the request. 403 for the account that asked; 409 once expired, confirmed or cancelled, or while the door's area is locked down.`,
        params: requestParams,
        body: optionalNote,
        response: { 200: z.object({ seq: z.number().int(), door: doorSchema }), ...errorResponses },
      },
    },
    async (req) => audited(req, doors.confirm(actorOf(req), req.params.id, req.params.requestId, req.body?.note ?? null)),
  );

  api.post(
    '/doors/:id/unlock-requests/:requestId/cancel',
    {
      config: { roles: operators, action: 'door.unlock-cancel' },
      schema: {
        tags: ['site'],
        summary: 'Withdraw a remote unlock waiting for confirmation (the account that asked), or turn it down (a manager)',
        params: requestParams,
        body: optionalNote,
        response: { 200: z.object({ request: unlockRequestSchema }), ...errorResponses },
      },
    },
    async (req) => ({ request: requestView(audited(req, doors.cancel(actorOf(req), req.params.id, req.params.requestId, req.body?.note ?? null))) }),
  );

  api.post(
    '/doors/:id/emergency-unlock',
    {
      config: { roles: operators, action: 'door.emergency-unlock' },
      schema: {
        tags: ['site'],
        summary: 'Emergency unlock: one account opens any door once, with a reason; logged (emergency-unlock) first, and an alarm is raised',
        description:
          'For when the second account a remote unlock needs cannot be had in time (someone hurt inside the vault). ' +
          'The reason is required (at least 10 characters), goes into the entry log and the audit log, and the emergency-unlock ' +
          'alarm stays open until acknowledged. Not the area emergency release (POST /areas/{id}/release), which holds fail-safe doors open.',
        params: idParam,
        body: z.strictObject({ reason: z.string().trim().min(10, 'say why, in at least 10 characters').max(500) }),
        response: { 200: z.object({ seq: z.number().int(), door: doorSchema }), ...errorResponses },
      },
    },
    async (req) => audited(req, doors.emergencyUnlock(actorOf(req), req.params.id, req.body.reason)),
  );

  api.post(
    '/doors/:id/lock',
    {
      config: { roles: operators, action: 'door.lock' },
      schema: {
        tags: ['site'],
        summary: 'Lock a door now (ends an unlock early); waits for the lock to acknowledge',
        params: idParam,
        body: optionalNote,
        response: { 200: doorSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, await doors.lock(actorOf(req), req.params.id, req.body?.note ?? null)),
  );

  // --- area modes --------------------------------------------------------------------------------

  const modeResponse = { 200: areaSchema, ...errorResponses };

  api.post(
    '/areas/:id/lockdown',
    {
      config: { roles: operators, action: 'area.lockdown' },
      schema: {
        tags: ['site'],
        summary: "Lock an area down: its doors lock and only the listed people roles pass (default: the area's lockdownRoles)",
        params: idParam,
        body: z.strictObject({ roles: z.array(z.string().trim().min(1).max(64)).max(20).optional().describe('people roles that still pass') }).nullish(),
        response: modeResponse,
      },
    },
    async (req) => audited(req, areas.lockdown(actorOf(req), req.params.id, req.body?.roles)),
  );

  api.post(
    '/areas/:id/release',
    {
      config: { roles: operators, action: 'area.emergency-release' },
      schema: {
        tags: ['site'],
        summary: 'Emergency release by command: the fail-safe doors of the area (and the areas inside it) unlock until normal',
        params: idParam,
        response: modeResponse,
      },
    },
    async (req) => audited(req, areas.release(actorOf(req), req.params.id)),
  );

  api.post(
    '/areas/:id/normal',
    {
      config: { roles: operators, action: 'area.normal' },
      schema: { tags: ['site'], summary: 'End a lockdown or an emergency release', params: idParam, response: modeResponse },
    },
    async (req) => audited(req, areas.normal(actorOf(req), req.params.id)),
  );

  // --- events ------------------------------------------------------------------------------------

  api.get(
    '/events',
    {
      config: { roles: everyone },
      schema: {
        tags: ['events'],
        summary: 'Events the controller raised, newest first, paged by id (before=nextBefore); each role sees its categories',
        description: 'guard, manager and auditor: all (a guard answers refused logins, a lost broker, a storage fault); admin: system, security, device.',
        querystring: z.object({
          type: z.string().max(64).optional(),
          category: z.enum(eventCategories).optional(),
          severity: severitySchema.optional(),
          source: z.string().max(100).optional(),
          open: bool.optional().describe('true: only alarms nobody has acknowledged'),
          from: isoTime.optional(),
          to: isoTime.optional(),
          before: z.coerce.number().int().positive().optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(50),
        }),
        response: { 200: z.object({ items: z.array(eventSchema), nextBefore: z.number().int().nullable() }), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      return events.list(actorOf(req), {
        type: q.type,
        category: q.category,
        severity: q.severity,
        source: q.source,
        open: q.open === true,
        from: q.from ? iso(q.from) : undefined,
        to: q.to ? iso(q.to) : undefined,
        before: q.before,
        limit: q.limit,
      });
    },
  );

  api.post(
    '/events/:id/ack',
    {
      config: { roles: operators, action: 'event.ack' },
      schema: {
        tags: ['events'],
        summary: 'Acknowledge an event (an alarm stays open until acknowledged): records who, when and a note',
        description: 'An emergency-unlock alarm is acknowledged by another account than the one that unlocked (403 for that one).',
        params: numericIdParam,
        body: optionalNote,
        response: { 200: eventSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, events.acknowledge(actorOf(req), req.params.id, req.body?.note ?? null)),
  );
}
