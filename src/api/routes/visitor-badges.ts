// The visitor desk's badges: hand a visitor a badge (a first one, or a replacement for one lost:
// the earlier card stops working), and record it handed back (the card stops working; a badge kept
// after check-out shows as not returned). Guards and managers at the desk; audited with the change.
import { z } from 'zod';
import { actorOf, audited, type Api, type ApiContext } from '../context.js';
import { errorResponses, numericIdParam } from '../schemas.js';
import { visitSchema } from './visits.js';

const desk = ['guard', 'manager'] as const;

export async function visitorBadgeRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { visits } = ctx.services;

  api.post(
    '/visits/:id/badge',
    {
      config: { roles: desk, action: 'visit.badge-issue' },
      schema: {
        tags: ['visits'],
        summary: 'Hand the visitor a badge: it works at once if they are checked in, else from check-in; any earlier card stops working',
        description:
          '409 once the visit is over (checked out, cancelled, or its window passed before check-in), or when the card is registered to someone already.',
        params: numericIdParam,
        body: z.strictObject({ card: z.string().trim().min(1).max(256).describe("the badge's card number") }),
        response: { 200: visitSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, visits.issueBadge(actorOf(req), req.params.id, req.body.card)),
  );

  api.post(
    '/visits/:id/badge/return',
    {
      config: { roles: desk, action: 'visit.badge-return' },
      schema: {
        tags: ['visits'],
        summary: 'Record the badge handed back: its card stops working (the visit goes on until checked out)',
        description: '409 when no badge was issued for the visit, or it was returned already.',
        params: numericIdParam,
        response: { 200: visitSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, visits.returnBadge(actorOf(req), req.params.id)),
  );
}
