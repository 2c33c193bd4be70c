// The audit log, for auditors (and admins): query and verify.
import { z } from 'zod';
import type { Api, ApiContext } from '../context.js';
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

export async function auditRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const readers = ['auditor', 'admin'] as const;

  api.get(
    '/audit',
    {
      config: { roles: readers },
      schema: {
        tags: ['audit'],
        summary: 'The audit log, newest first, paged by seq (before=nextBefore)',
        querystring: z.object({
          actor: z.string().max(64).optional(),
          action: z.string().max(64).optional(),
          from: isoTime.optional(),
          to: isoTime.optional(),
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
