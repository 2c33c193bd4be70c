// Periodic review of access rights: grants past their review-by date come up here, oldest due first.
// A manager confirms one (it stays, with the next review date) or ends it (it is revoked at once).
import { z } from 'zod';
import { actorOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, page, pageQuery } from '../schemas.js';
import { grantSchema, timeInput } from './grants.js';

export async function reviewRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { grants } = ctx.services;

  api.get(
    '/reviews',
    {
      config: { roles: ['manager', 'auditor'] },
      schema: {
        tags: ['reviews'],
        summary: 'Grants due for review (past their review-by date, not revoked), oldest due first',
        querystring: pageQuery.extend({ areaId: z.string().min(1).max(64).optional() }),
        response: { 200: page(grantSchema), ...errorResponses },
      },
    },
    async (req) => {
      const { limit, offset, areaId } = req.query;
      const { items, total } = grants.dueForReview({ limit, offset, areaId });
      return { items, total, limit, offset };
    },
  );

  api.post(
    '/reviews/:grantId',
    {
      config: { roles: ['manager'], action: 'review.decide' },
      schema: {
        tags: ['reviews'],
        summary: 'Review a grant: confirm (with the next review date) or end it (revoked at once)',
        params: z.object({ grantId: z.coerce.number().int().positive() }),
        body: z.strictObject({ decision: z.enum(['confirm', 'end']), nextReviewBy: timeInput.optional(), note: z.string().max(500).optional() }),
        response: { 200: grantSchema, ...errorResponses },
      },
    },
    async (req) => {
      const after = grants.review(actorOf(req), req.params.grantId, req.body);
      req.audited = true;
      return after;
    },
  );
}
