// The register of access holders (管理台帳, built in src/services/ledger.ts): JSON, or CSV for a
// spreadsheet (UTF-8 with BOM so Excel reads Japanese; lang=ja for Japanese headers and words).
import { z } from 'zod';
import { GRANT_STATUSES, PERSON_STATUSES } from '../../policy/vocabulary.js';
import type { Holder, Ledger, LedgerGrant } from '../../services/ledger.js';
import { actorOf, type Api, type ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { pledgeStandingSchema, trainingStandingSchema } from './people.js';

const ledgerGrantSchema = z.object({
  id: z.number().int(),
  area: z.object({ id: z.string(), en: z.string(), ja: z.string(), inSite: z.boolean() }),
  grantedAt: z.string(),
  grantedBy: z.string(),
  validFrom: z.string(),
  validUntil: z.string().nullable(),
  purpose: z.string(),
  outOfHours: z.boolean(),
  reviewBy: z.string().nullable(),
  approval: z.object({ status: z.enum(GRANT_STATUSES), approvedBy: z.string().nullable(), approvedAt: z.string().nullable() }),
}) satisfies z.ZodType<LedgerGrant>;

const holderSchema = z.object({
  personId: z.string(),
  number: z.number().int().nullable(),
  name: z.string(),
  title: z.string(),
  affiliation: z.string(),
  status: z.enum(PERSON_STATUSES),
  training: trainingStandingSchema,
  pledge: pledgeStandingSchema,
  grants: z.array(ledgerGrantSchema),
}) satisfies z.ZodType<Holder>;

const ledgerSchema = z.object({
  generatedAt: z.string(),
  site: z.string(),
  trainingValidityMonths: z.number().int(),
  holders: z.array(holderSchema),
}) satisfies z.ZodType<Ledger>;

export async function ledgerRoutes(api: Api, ctx: ApiContext): Promise<void> {
  api.get(
    '/ledger',
    {
      config: { roles: ['auditor', 'manager'] },
      schema: {
        tags: ['ledger'],
        summary: 'The register of access holders (管理台帳): JSON, or CSV (UTF-8 with BOM, one row per grant; lang=ja for Japanese headers)',
        querystring: z.object({ format: z.enum(['json', 'csv']).default('json'), lang: z.enum(['en', 'ja']).default('en') }),
        response: { 200: ledgerSchema.describe('JSON; with format=csv the body is text/csv'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { ledger, csv } = ctx.services.ledger.export(actorOf(req), req.query.format, req.query.lang);
      req.audited = true;
      if (csv === undefined) return ledger;
      const stamp = ledger.generatedAt.slice(0, 10);
      return (
        reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="access-holders-${stamp}.csv"`)
          // A string with a non-JSON content type goes out as is (the JSON serializer does not run).
          .send(csv as never)
      );
    },
  );
}
