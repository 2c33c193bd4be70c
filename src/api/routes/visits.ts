// Visits: a manager registers a visitor with a host, a purpose, the areas and a window; a manager
// or an auditor approves it (need to know); the visitor signs the pledge and checks in at the desk
// (the visitor's card works from then on, and only with an escort: the access policy's rule);
// checking out or cancelling ends the visit and revokes the card.
import { z } from 'zod';
import { MAX_VISIT_MS, visitStages as stages, visitStatuses } from '../../services/visits.js';
import { actorOf, audited, type Api, type ApiContext } from '../context.js';
import { credentialStatusSchema, errorResponses, isoTime, numericIdParam, page, pageQuery } from '../schemas.js';

export const visitSchema = z.object({
  id: z.number().int(),
  visitor: z.object({ id: z.string(), name: z.string(), affiliation: z.string() }),
  /** Hidden (null) from guards: the desk needs to know who, not what for. */
  purpose: z.string().nullable(),
  host: z.object({ id: z.string(), name: z.string().nullable() }),
  areas: z.array(z.string()),
  validFrom: z.string(),
  validUntil: z.string(),
  status: z.enum(visitStatuses).describe('upcoming, current (inside its window, or checked in and not out) or ended'),
  stage: z.enum(stages).describe('the next step: approval, pledge, check-in; or where it ended'),
  overstay: z.boolean().describe('checked in, not out, and the window is over'),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  pledgeSignedAt: z.string().nullable(),
  checkedInAt: z.string().nullable(),
  checkedOutAt: z.string().nullable(),
  cancelledAt: z.string().nullable(),
  badgeReturnedAt: z.string().nullable().describe('when the visitor handed the badge back at the desk (POST /visits/{id}/badge/return)'),
  createdBy: z.string(),
  createdAt: z.string(),
  card: z
    .object({ value: z.string(), status: credentialStatusSchema })
    .nullable()
    .describe("the visitor's card: suspended until check-in, revoked at check-out or cancellation"),
});

const areaIds = z.array(z.string().min(1).max(64)).min(1).max(50);
const cardValue = z.string().trim().min(1).max(256);

const createBody = z
  .strictObject({
    visitor: z.strictObject({ name: z.string().trim().min(1).max(200), affiliation: z.string().trim().min(1).max(200) }),
    purpose: z.string().trim().min(1).max(500),
    hostId: z.string().min(1).max(100).describe('the staff member who receives and escorts the visitor: only the host escorts them through a door'),
    areas: areaIds,
    validFrom: isoTime,
    validUntil: isoTime,
    card: cardValue.optional().describe('the visitor card to issue; it works only once the visitor checks in'),
  })
  .superRefine((b, c) => {
    const from = Date.parse(b.validFrom);
    const until = Date.parse(b.validUntil);
    if (until <= from) c.addIssue({ code: 'custom', path: ['validUntil'], message: 'must be after validFrom' });
    else if (until - from > MAX_VISIT_MS)
      c.addIssue({ code: 'custom', path: ['validUntil'], message: 'a visit lasts at most 31 days (register access holders for longer)' });
    if (new Set(b.areas).size !== b.areas.length) c.addIssue({ code: 'custom', path: ['areas'], message: 'an area is listed twice' });
  });

export async function visitRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { visits } = ctx.services;
  const readers = ['manager', 'guard', 'auditor'] as const;
  const desk = ['guard', 'manager'] as const;

  api.get(
    '/visits',
    {
      config: { roles: readers },
      schema: {
        tags: ['visits'],
        summary: 'The visit register, newest window first',
        querystring: pageQuery.extend({
          status: z.enum(visitStatuses).optional(),
          date: z.iso.date().optional().describe("visits whose window overlaps this calendar day in the site's time zone"),
          hostId: z.string().max(100).optional(),
          visitorId: z.string().max(100).optional(),
          areaId: z.string().max(64).optional(),
        }),
        response: { 200: page(visitSchema), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const { items, total } = visits.list(actorOf(req), q);
      return { items, total, limit: q.limit, offset: q.offset };
    },
  );

  api.get(
    '/visits/:id',
    {
      config: { roles: readers },
      schema: { tags: ['visits'], summary: 'One visit', params: numericIdParam, response: { 200: visitSchema, ...errorResponses } },
    },
    async (req) => visits.get(actorOf(req), req.params.id),
  );

  api.post(
    '/visits',
    {
      config: { roles: ['manager'], action: 'visit.create' },
      schema: {
        tags: ['visits'],
        summary: 'Register a visit: creates the visitor (and their card, unusable until check-in)',
        body: createBody,
        response: { 201: visitSchema, ...errorResponses },
      },
    },
    async (req, reply) => reply.code(201).send(audited(req, visits.create(actorOf(req), req.body))),
  );

  api.post(
    '/visits/:id/approve',
    {
      config: { roles: ['manager', 'auditor'], action: 'visit.approve' },
      schema: {
        tags: ['visits'],
        summary: "Approve a visit (need to know): without it the visitor's card opens nothing",
        params: numericIdParam,
        response: { 200: visitSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, visits.approve(actorOf(req), req.params.id)),
  );

  api.post(
    '/visits/:id/pledge',
    {
      config: { roles: desk, action: 'visit.pledge' },
      schema: {
        tags: ['visits'],
        summary: "Record the visitor's signed confidentiality pledge",
        params: numericIdParam,
        body: z.strictObject({ signedAt: isoTime }),
        response: { 200: visitSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, visits.pledge(actorOf(req), req.params.id, req.body.signedAt)),
  );

  api.post(
    '/visits/:id/check-in',
    {
      config: { roles: desk, action: 'visit.check-in' },
      schema: {
        tags: ['visits'],
        summary: 'Check the visitor in at the desk: their card starts working (approved and pledged visits only)',
        params: numericIdParam,
        body: z.strictObject({ card: cardValue.optional().describe('a card handed over now (replaces any earlier one)') }).nullish(),
        response: { 200: visitSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, visits.checkIn(actorOf(req), req.params.id, req.body?.card)),
  );

  api.post(
    '/visits/:id/check-out',
    {
      config: { roles: desk, action: 'visit.check-out' },
      schema: {
        tags: ['visits'],
        summary: 'Check the visitor out: the visit ends and the card is revoked',
        params: numericIdParam,
        response: { 200: visitSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, visits.checkOut(actorOf(req), req.params.id)),
  );

  api.post(
    '/visits/:id/cancel',
    {
      config: { roles: ['manager'], action: 'visit.cancel' },
      schema: {
        tags: ['visits'],
        summary: 'Cancel a visit not checked in: it ends and the card is revoked',
        params: numericIdParam,
        response: { 200: visitSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, visits.cancel(actorOf(req), req.params.id)),
  );
}
