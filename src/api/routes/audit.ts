// The audit log, for auditors (and admins): query, export and verify.
import { z } from 'zod';
import { actorOf, type Api, type ApiContext, audited, sendLogExport } from '../context.js';
import { errorResponses, isoTime } from '../schemas.js';

const auditRecordSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.string().nullable(),
  role: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  outcome: z.string(),
  address: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
  prevHash: z.string(),
  hash: z.string(),
});

const filterQuery = z.object({
  actor: z.string().max(64).optional(),
  action: z.string().max(64).optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
});

export async function auditRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const readers = ['auditor', 'admin'] as const;

  api.get(
    '/audit',
    {
      config: { roles: readers },
      schema: {
        tags: ['audit'],
        summary: 'The audit log, newest first, paged by seq (before=nextBefore)',
        querystring: filterQuery.extend({
          before: z.coerce.number().int().positive().optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(50),
        }),
        response: { 200: z.object({ items: z.array(auditRecordSchema), nextBefore: z.number().int().nullable() }), ...errorResponses },
      },
    },
    async (req) => {
      const { records, nextBefore } = await ctx.services.auditLog.query(req.query);
      return { items: records, nextBefore };
    },
  );

  api.get(
    '/audit/export',
    {
      config: { roles: readers },
      schema: {
        tags: ['audit'],
        summary: 'Export the audit log, oldest first: CSV (UTF-8 with BOM, headers and words in English or Japanese) or JSON Lines with each record whole',
        description: 'The same filters as GET /audit. Each export is itself recorded in the audit log (audit.export) before the first byte.',
        querystring: filterQuery.extend({ format: z.enum(['csv', 'jsonl']), lang: z.enum(['en', 'ja']).default('en') }),
        response: { 200: z.unknown().describe('text/csv or application/jsonl, streamed'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { format, lang, actor, action, from, to } = req.query;
      const out = audited(req, ctx.services.auditLog.export(actorOf(req), { format, lang, filter: { actor, action, from, to } }));
      out.on('error', (err) => req.log.warn({ err }, 'audit-log export ended early'));
      return sendLogExport(reply, 'audit', format, out);
    },
  );

  api.get(
    '/audit/verify',
    {
      config: { roles: readers },
      schema: {
        tags: ['audit'],
        summary: "Walk the audit log's hash chain and check its signed checkpoints",
        response: {
          200: z.object({
            ok: z.boolean(),
            records: z.number().int(),
            checkpoints: z.number().int(),
            breakAt: z.object({ seq: z.number().int(), problem: z.string() }).optional(),
            publicKey: z.string().nullable(),
          }),
          ...errorResponses,
        },
      },
    },
    async () => ctx.services.auditLog.verify(),
  );
}
