// Grants: a person's right to enter one area, for a purpose (need-to-know), within a window. With
// four-eyes on, a new grant stays pending (it opens nothing) until a different manager or an auditor
// approves it. A revocation applies to the very next card read: the door flow reads SQLite each time.
import { z } from 'zod';
import { GRANT_STATUSES } from '../../policy/vocabulary.js';
import type { Grant } from '../../store/grants.js';
import { actorOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, isoTime, numericIdParam, page, pageQuery } from '../schemas.js';

/** A point in time as ISO 8601 with an offset, or a plain date (midnight UTC). */
export const timeInput = z.union([isoTime, z.iso.date()]);

export const grantSchema = z.object({
  id: z.number().int(),
  personId: z.string(),
  personName: z.string(),
  areaId: z.string(),
  validFrom: z.string(),
  validUntil: z.string().nullable(),
  purpose: z.string(),
  outOfHours: z.boolean(),
  reviewBy: z.string().nullable(),
  status: z.enum([...GRANT_STATUSES, 'revoked']),
  grantedBy: z.string(),
  grantedAt: z.string(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  reviewedAt: z.string().nullable(),
  reviewedBy: z.string().nullable(),
}) satisfies z.ZodType<Grant>;

export async function grantRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { grants } = ctx.services;
  const readers = ['manager', 'auditor'] as const;
  const managers = ['manager'] as const;

  api.get(
    '/grants',
    {
      config: { roles: readers },
      schema: {
        tags: ['grants'],
        summary: 'List grants (filter by person, area, state; reviewDue=true: past their review-by date)',
        querystring: pageQuery.extend({
          personId: z.string().min(1).max(100).optional(),
          areaId: z.string().min(1).max(64).optional(),
          status: z.enum([...GRANT_STATUSES, 'revoked']).optional(),
          reviewDue: z.enum(['true', 'false']).optional(),
        }),
        response: { 200: page(grantSchema), ...errorResponses },
      },
    },
    async (req) => {
      const { limit, offset } = req.query;
      const { items, total } = grants.list({ ...req.query, reviewDue: req.query.reviewDue === 'true' });
      return { items, total, limit, offset };
    },
  );

  api.get(
    '/grants/:id',
    {
      config: { roles: readers },
      schema: { tags: ['grants'], summary: 'One grant', params: numericIdParam, response: { 200: grantSchema, ...errorResponses } },
    },
    async (req) => {
      return grants.get(req.params.id);
    },
  );

  api.post(
    '/grants',
    {
      config: { roles: managers, action: 'grant.create' },
      schema: {
        tags: ['grants'],
        summary: 'Grant a person access to an area, for a stated purpose; pending until approved when four-eyes is on',
        body: z.strictObject({
          personId: z.string().min(1).max(100),
          areaId: z.string().min(1).max(64),
          validFrom: timeInput.optional(),
          validUntil: timeInput.optional(),
          purpose: z.string().trim().min(1, 'state the need-to-know purpose').max(500),
          outOfHours: z.boolean().optional(),
          reviewBy: timeInput.optional(),
        }),
        response: { 201: grantSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const grant = grants.create(actorOf(req), req.body);
      req.audited = true;
      return reply.code(201).send(grant);
    },
  );

  api.post(
    '/grants/:id/approve',
    {
      config: { roles: ['manager', 'auditor'], action: 'grant.approve' },
      schema: {
        tags: ['grants'],
        summary: 'Approve a pending grant (four-eyes): a different manager than its creator, or an auditor',
        params: numericIdParam,
        response: { 200: grantSchema, ...errorResponses },
      },
    },
    async (req) => {
      const approved = grants.approve(actorOf(req), req.params.id);
      req.audited = true;
      return approved;
    },
  );

  api.post(
    '/grants/:id/revoke',
    {
      config: { roles: managers, action: 'grant.revoke' },
      schema: {
        tags: ['grants'],
        summary: "Revoke a grant: the very next read at the area's doors is refused",
        params: numericIdParam,
        body: z.strictObject({ reason: z.string().max(500).optional() }).nullish(),
        response: { 200: grantSchema, ...errorResponses },
      },
    },
    async (req) => {
      const revoked = grants.revoke(actorOf(req), req.params.id, req.body?.reason ?? null);
      req.audited = true;
      return revoked;
    },
  );
}
