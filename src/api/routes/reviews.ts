// Periodic review of access rights: grants past their review-by date come up here, oldest due first.
// A manager confirms one (it stays, with the next review date) or ends it (it is revoked at once).
import { z } from 'zod';
import { Registers } from '../../store/registers.js';
import { ApiError, audit, notFound, principalOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, page, pageQuery } from '../schemas.js';
import { grantSchema, grantView, invalidField, timeInput, toIso } from './grants.js';

export async function reviewRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const registers = new Registers(ctx.store.db);
  const now = () => ctx.controller.ctx.now();

  api.get('/reviews', {
    config: { roles: ['manager', 'auditor'] },
    schema: {
      tags: ['reviews'], summary: 'Grants due for review (past their review-by date, not revoked), oldest due first',
      querystring: pageQuery.extend({ areaId: z.string().min(1).max(64).optional() }),
      response: { 200: page(grantSchema), ...errorResponses },
    },
  }, async (req) => {
    const { limit, offset, areaId } = req.query;
    const { items, total } = registers.grants({ limit, offset, areaId, reviewDue: true, now: now().toISOString() });
    return { items: items.map(grantView), total, limit, offset };
  });

  api.post('/reviews/:grantId', {
    config: { roles: ['manager'], action: 'review.decide' },
    schema: {
      tags: ['reviews'], summary: 'Review a grant: confirm (with the next review date) or end it (revoked at once)',
      params: z.object({ grantId: z.coerce.number().int().positive() }),
      body: z.strictObject({ decision: z.enum(['confirm', 'end']), nextReviewBy: timeInput.optional(), note: z.string().max(500).optional() }),
      response: { 200: grantSchema, ...errorResponses },
    },
  }, async (req) => {
    const by = principalOf(req).account.username;
    const grant = registers.grant(req.params.grantId);
    if (!grant) throw notFound('grant');
    if (grant.status === 'revoked') throw new ApiError(409, 'the grant is revoked already');
    const at = now().toISOString();
    const note = req.body.note ?? null;
    let nextReviewBy: string | null = null;
    if (req.body.decision === 'confirm') {
      if (!req.body.nextReviewBy) throw invalidField('nextReviewBy', 'required to confirm: when is the grant reviewed next?');
      nextReviewBy = toIso(req.body.nextReviewBy);
      if (nextReviewBy <= at) throw invalidField('nextReviewBy', 'must be in the future');
    }
    const after = ctx.store.db.transaction(() => {
      if (req.body.decision === 'confirm') {
        if (!registers.confirmReview(grant.id, by, at, nextReviewBy!)) throw new ApiError(409, 'the grant is revoked already');
        audit(ctx, req, `grant:${grant.id}`, { personId: grant.personId, areaId: grant.areaId, previousReviewBy: grant.reviewBy, nextReviewBy, note }, 'review.confirm');
      } else {
        if (!ctx.store.people.revokeGrant(grant.id, by)) throw new ApiError(409, 'the grant is revoked already');
        registers.markReviewed(grant.id, by, at);
        audit(ctx, req, `grant:${grant.id}`, { personId: grant.personId, areaId: grant.areaId, reviewBy: grant.reviewBy, revoked: true, note }, 'review.end');
      }
      return registers.grant(grant.id)!;
    })();
    return grantView(after);
  });
}
