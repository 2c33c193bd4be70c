// Alarms (pinned API, issue 11): the list by state, kind and time; one alarm with its history;
// acknowledge {note}; clear {cause, note} (409 while the cause persists: a door still held open);
// the figures (count by kind and cause, median and p90 response time). Guards and managers answer
// alarms; every role reads the categories it may see; each change is in the audit log.
import { z } from 'zod';
import { ALARM_STATES, ALARM_TYPES, CLEAR_CAUSES } from '../../policy/vocabulary.js';
import { actorOf, audited, type Api, type ApiContext } from '../context.js';
import { errorResponses, isoTime, numericIdParam, severitySchema } from '../schemas.js';

const everyone = ['admin', 'manager', 'guard', 'auditor'] as const;
const operators = ['guard', 'manager'] as const;
const iso = (value: string) => new Date(Date.parse(value)).toISOString();

export const alarmSchema = z.object({
  id: z.number().int().describe("the event's id"),
  at: z.string().describe('raised'),
  category: z.string(),
  type: z.string().describe('the kind of alarm (an event type the registry marks alarm)'),
  severity: severitySchema,
  source: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
  state: z.enum(['active', 'acknowledged', 'cleared']),
  level: z.number().int().describe('escalation level: 0 until it first escalated'),
  ackedAt: z.string().nullable(),
  ackedBy: z.string().nullable(),
  ackNote: z.string().nullable(),
  clearedAt: z.string().nullable(),
  clearedBy: z.string().nullable(),
  cause: z.enum(CLEAR_CAUSES).nullable(),
  clearNote: z.string().nullable(),
  responseMs: z.number().int().nullable().describe('raised to acknowledged'),
  clearMs: z.number().int().nullable().describe('raised to cleared'),
});

const historySchema = z.object({
  at: z.string(),
  state: z.enum(ALARM_STATES),
  by: z.string().nullable(),
  note: z.string().nullable(),
  cause: z.string().nullable(),
  level: z.number().int().nullable(),
});
const snapshotSchema = z.object({ id: z.number().int(), camera: z.string(), sha256: z.string(), takenAt: z.string() });
const alarmWithHistory = alarmSchema.extend({
  history: z.array(historySchema),
  snapshots: z.array(snapshotSchema).describe('pictures the covering cameras took: GET /snapshots/{id}'),
});

const timing = z.object({ count: z.number().int(), median: z.number().nullable(), p90: z.number().nullable() });
const statsSchema = z.object({
  from: z.string().nullable(),
  to: z.string().nullable(),
  total: z.number().int(),
  byKind: z.record(z.string(), z.number().int()),
  byCause: z.record(z.string(), z.number().int()),
  responseSeconds: timing.describe('raised to acknowledged'),
  clearSeconds: timing.describe('raised to cleared'),
});

export async function alarmRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { alarms } = ctx.services;

  api.get(
    '/alarms',
    {
      config: { roles: everyone },
      schema: {
        tags: ['alarms'],
        summary: 'Alarms newest first, paged by id (before=nextBefore)',
        description: 'state: active (nobody acknowledged it), acknowledged (not cleared), cleared. kind: the alarm type.',
        querystring: z.object({
          state: z.enum(['active', 'acknowledged', 'cleared']).optional(),
          kind: z.enum(ALARM_TYPES as [string, ...string[]]).optional(),
          from: isoTime.optional(),
          to: isoTime.optional(),
          before: z.coerce.number().int().positive().optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(50),
        }),
        response: { 200: z.object({ items: z.array(alarmSchema), nextBefore: z.number().int().nullable() }), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      return alarms.list(actorOf(req), {
        state: q.state,
        kind: q.kind,
        from: q.from ? iso(q.from) : undefined,
        to: q.to ? iso(q.to) : undefined,
        before: q.before,
        limit: q.limit,
      });
    },
  );

  api.get(
    '/alarms/stats',
    {
      config: { roles: everyone },
      schema: {
        tags: ['alarms'],
        summary: 'Alarms raised in [from, to): count by kind and by cause, median and p90 response time and time to clear (seconds)',
        querystring: z.object({ from: isoTime.optional(), to: isoTime.optional() }),
        response: { 200: statsSchema, ...errorResponses },
      },
    },
    async (req) => alarms.stats(actorOf(req), req.query.from ? iso(req.query.from) : undefined, req.query.to ? iso(req.query.to) : undefined),
  );

  api.get(
    '/alarms/:id',
    {
      config: { roles: everyone },
      schema: { tags: ['alarms'], summary: 'One alarm with its history', params: numericIdParam, response: { 200: alarmWithHistory, ...errorResponses } },
    },
    async (req) => alarms.get(actorOf(req), req.params.id),
  );

  api.post(
    '/alarms/:id/ack',
    {
      config: { roles: operators, action: 'alarm.ack' },
      schema: {
        tags: ['alarms'],
        summary: 'Acknowledge an alarm: who, when and a note; its escalation stops',
        params: numericIdParam,
        body: z.strictObject({ note: z.string().trim().min(1).max(500).optional() }).nullish(),
        response: { 200: alarmWithHistory, ...errorResponses },
      },
    },
    async (req) => audited(req, alarms.acknowledge(actorOf(req), req.params.id, req.body?.note ?? null)),
  );

  api.post(
    '/alarms/:id/clear',
    {
      config: { roles: operators, action: 'alarm.clear' },
      schema: {
        tags: ['alarms'],
        summary: 'Clear an alarm with its cause and a note (acknowledges it too if nobody had)',
        description: '409 while the cause persists (a door still held open or forced, a device still offline): resolve it first.',
        params: numericIdParam,
        body: z.strictObject({ cause: z.enum(CLEAR_CAUSES), note: z.string().trim().min(1).max(500).optional() }),
        response: { 200: alarmWithHistory, ...errorResponses },
      },
    },
    async (req) => audited(req, alarms.clear(actorOf(req), req.params.id, req.body.cause, req.body.note ?? null)),
  );
}
