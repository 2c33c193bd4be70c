// Keys and master keys (src/services/keys.ts): the inventory as JSON or CSV (ja/en headers),
// managers add keys, guards (and managers) record loans and returns, auditors read.
import { z } from 'zod';
import { KEY_OPENS_KINDS, MASTER_KEY_REASONS } from '../../policy/vocabulary.js';
import type { KeyView } from '../../services/keys.js';
import { actorOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, idParam, isoTime } from '../schemas.js';
import { timeInput } from './grants.js';

const opensSchema = z.object({ kind: z.enum(KEY_OPENS_KINDS), id: z.string().min(1).max(64) });

const loanSchema = z.object({
  id: z.number().int(),
  keyId: z.string(),
  personId: z.string(),
  personName: z.string().nullable(),
  lentAt: isoTime,
  lentBy: z.string(),
  dueBackAt: isoTime,
  reason: z.enum(MASTER_KEY_REASONS).nullable().describe("a master key's reason; null for an ordinary key"),
  note: z.string(),
  returnedAt: isoTime.nullable(),
  returnedBy: z.string().nullable(),
  overdueAt: isoTime.nullable().describe('when its overdue event was raised'),
  overdue: z.boolean().describe('out past its due-back time, or returned after it'),
});

export const keySchema = z.object({
  id: z.string().describe('the tag stamped on the key'),
  name: z.string(),
  master: z.boolean(),
  opens: z.array(opensSchema),
  location: z.string(),
  note: z.string(),
  addedAt: isoTime,
  addedBy: z.string(),
  loan: loanSchema.nullable().describe('the loan it is out on; null when it is in'),
  loans: z.array(loanSchema).describe('its last loans, newest first'),
}) satisfies z.ZodType<KeyView>;

const readers = ['admin', 'manager', 'guard', 'auditor'] as const;
const lenders = ['manager', 'guard'] as const;

export async function keyRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { keys } = ctx.services;

  api.get(
    '/keys',
    {
      config: { roles: [...readers] },
      schema: {
        tags: ['ledger'],
        summary: 'Keys and master keys with their loans: JSON, or CSV (UTF-8 with BOM, one row per loan; lang=ja for Japanese headers)',
        querystring: z.object({ format: z.enum(['json', 'csv']).default('json'), lang: z.enum(['en', 'ja']).default('en') }),
        response: { 200: z.object({ items: z.array(keySchema) }).describe('JSON; with format=csv the body is text/csv'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { keys: items, csv } = keys.export(actorOf(req), req.query.format, req.query.lang);
      req.audited = true;
      if (csv === undefined) return { items };
      return (
        reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="keys-${new Date().toISOString().slice(0, 10)}.csv"`)
          // A string with a non-JSON content type goes out as is (the JSON serializer does not run).
          .send(csv as never)
      );
    },
  );

  api.post(
    '/keys',
    {
      config: { roles: ['manager'], action: 'key.add' },
      schema: {
        tags: ['ledger'],
        summary: 'Add a key or a master key to the inventory, with what it opens (areas or safes of the site file)',
        body: z.strictObject({
          id: z.string().trim().min(1).max(64),
          name: z.string().trim().min(1).max(200),
          master: z.boolean().optional(),
          opens: z.array(opensSchema).min(1).max(100),
          location: z.string().max(200).optional(),
          note: z.string().max(500).optional(),
        }),
        response: { 201: keySchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const key = keys.add(actorOf(req), req.body);
      req.audited = true;
      return reply.code(201).send(key);
    },
  );

  api.post(
    '/keys/:id/loans',
    {
      config: { roles: [...lenders], action: 'key.lend' },
      schema: {
        tags: ['ledger'],
        summary:
          'Lend a key to an access holder of what it opens (409 with the reason otherwise), due back by a time; a master key needs a reason (disaster, emergency) and raises master-key-used',
        params: idParam,
        body: z.strictObject({
          personId: z.string().min(1).max(100),
          dueBackAt: timeInput,
          reason: z.enum(MASTER_KEY_REASONS).optional(),
          note: z.string().max(500).optional(),
        }),
        response: { 201: keySchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const key = keys.lend(actorOf(req), req.params.id, req.body);
      req.audited = true;
      return reply.code(201).send(key);
    },
  );

  api.post(
    '/keys/:id/return',
    {
      config: { roles: [...lenders], action: 'key.return' },
      schema: {
        tags: ['ledger'],
        summary: 'Record that a key came back',
        params: idParam,
        body: z.strictObject({ note: z.string().max(500).optional() }).optional(),
        response: { 200: keySchema, ...errorResponses },
      },
    },
    async (req) => {
      const key = keys.recordReturn(actorOf(req), req.params.id, req.body?.note);
      req.audited = true;
      return key;
    },
  );
}
