// Dial locks and reminders: each lock's rotation state, recording a rotation, a leak report, the code
// holders' ledger; every reminder of every kind. Managers change, auditors read. A body carrying a
// dial code is refused before it is validated, so the refusal names the code and not a stray field.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { refuseDialCode } from '../../services/dial-locks.js';
import { actorOf, audited, type Api, type ApiContext } from '../context.js';
import { errorResponses, idParam, isoTime } from '../schemas.js';

const readers = ['admin', 'manager', 'auditor'] as const;
// Admins run accounts, not ledgers: as for people and grants, only managers change these (admins read).
const managers = ['manager'] as const;
const names = z.object({ en: z.string(), ja: z.string() });

export const dialLockSchema = z.object({
  id: z.string().describe("the safe's or the door's id"),
  kind: z.enum(['safe', 'door']).describe('what the dial locks: a safe, or a restricted-area door'),
  safe: z.string().optional().describe("the safe's id (kind safe)"),
  door: z.string().optional().describe("the door's id (kind door)"),
  name: names,
  area: z.string(),
  location: z.string(),
  custodian: z.string().describe('staff number, as the site file names it'),
  delegates: z.array(z.string()),
  rotationMonths: z.number().int(),
  remindDays: z.array(z.number().int()),
  lastRotatedAt: isoTime.nullable(),
  lastRotatedBy: z.string().nullable(),
  dueAt: isoTime,
  dueReasons: z.array(z.string()).describe('interval, installed, moved, custodian-changed, delegate-changed, holder-lost-access, leak-reported'),
  overdue: z.boolean(),
  holders: z.number().int().describe('how many code holders the ledger lists'),
});
const holderSchema = z.object({ personId: z.string(), name: z.string().nullable(), addedAt: isoTime, addedBy: z.string() });
export const reminderSchema = z.object({
  kind: z.string().describe('dial-rotation, key-loan, …'),
  subject: z.string().describe('<resource>:<id>'),
  name: names.optional(),
  dueAt: isoTime,
  overdue: z.boolean(),
  reasons: z.array(z.string()),
  detail: z.record(z.string(), z.unknown()).optional(),
});

/** Before validation: a code in the body is refused with its own clear error. */
const noDialCode = async (req: FastifyRequest) => refuseDialCode(req.body);
const text = z.string().trim().min(1).max(500);

export async function dialLockRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { dialLocks, reminders } = ctx.services;

  api.get(
    '/dial-locks',
    {
      config: { roles: readers },
      schema: {
        tags: ['safes'],
        summary: 'Dial locks: when each code last changed, when it is due and why (never the code)',
        response: { 200: z.object({ items: z.array(dialLockSchema) }), ...errorResponses },
      },
    },
    async () => ({ items: dialLocks.list() }),
  );

  api.get(
    '/dial-locks/:id',
    {
      config: { roles: readers },
      schema: { tags: ['safes'], summary: 'One dial lock', params: idParam, response: { 200: dialLockSchema, ...errorResponses } },
    },
    async (req) => dialLocks.get(req.params.id),
  );

  api.post(
    '/dial-locks/:id/rotations',
    {
      config: { roles: managers, action: 'dial-lock.rotate' },
      preValidation: noDialCode,
      schema: {
        tags: ['safes'],
        summary: 'Record that the dial code changed: when, by whom, why. A body carrying a code is refused (400)',
        params: idParam,
        body: z.object({ rotatedAt: isoTime, by: text, reason: text }),
        response: { 200: dialLockSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, dialLocks.rotate(actorOf(req), req.params.id, req.body)),
  );

  api.post(
    '/dial-locks/:id/leak-reports',
    {
      config: { roles: managers, action: 'dial-lock.leak-report' },
      preValidation: noDialCode,
      schema: {
        tags: ['safes'],
        summary: 'Report that the code may have leaked: the rotation is due at once',
        params: idParam,
        body: z.object({ note: text }),
        response: { 200: dialLockSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, dialLocks.reportLeak(actorOf(req), req.params.id, req.body)),
  );

  api.get(
    '/dial-locks/:id/holders',
    {
      config: { roles: readers },
      schema: {
        tags: ['safes'],
        summary: 'Code holders: who knows the dial code; JSON, or CSV (UTF-8 with BOM; lang=ja for Japanese headers)',
        params: idParam,
        querystring: z.object({ format: z.enum(['json', 'csv']).default('json'), lang: z.enum(['en', 'ja']).default('en') }),
        response: { 200: z.object({ items: z.array(holderSchema) }).describe('JSON; with format=csv the body is text/csv'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { holders, csv } = dialLocks.exportHolders(actorOf(req), req.params.id, req.query.format, req.query.lang);
      if (csv === undefined) return audited(req, { items: holders });
      req.audited = true;
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="code-holders-${req.params.id}.csv"`)
        .send(csv as never);
    },
  );

  api.post(
    '/dial-locks/:id/holders',
    {
      config: { roles: managers, action: 'dial-lock.holder-add' },
      preValidation: noDialCode,
      schema: {
        tags: ['safes'],
        summary: "Add a code holder: only an access holder of the safe, or of a door's area (409 with the reason otherwise)",
        params: idParam,
        body: z.object({ personId: z.string().min(1).max(100) }),
        response: { 201: holderSchema, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(audited(req, dialLocks.addHolder(actorOf(req), req.params.id, req.body))),
  );

  api.delete(
    '/dial-locks/:id/holders/:personId',
    {
      config: { roles: managers, action: 'dial-lock.holder-remove' },
      schema: {
        tags: ['safes'],
        summary: 'Take a code holder off: they still know the code, so the rotation is due at once',
        params: idParam.extend({ personId: z.string().min(1).max(100) }),
        response: { 200: dialLockSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, dialLocks.removeHolder(actorOf(req), req.params.id, req.params.personId)),
  );

  api.get(
    '/reminders',
    {
      config: { roles: ['admin', 'manager', 'guard', 'auditor'] },
      schema: {
        tags: ['safes'],
        summary: 'Every reminder due soon or overdue, of every kind (dial-code rotations, key loans, …), soonest first',
        response: { 200: z.object({ items: z.array(reminderSchema) }), ...errorResponses },
      },
    },
    async () => ({ items: reminders.list() }),
  );
}
