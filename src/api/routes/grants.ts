// Grants: a person's right to enter one area, for a purpose (need-to-know), within a window. With
// four-eyes on, a new grant stays pending (it opens nothing) until a different manager or an auditor
// approves it. A revocation applies to the very next card read: the door flow reads SQLite each time.
import { z } from 'zod';
import { Registers, type GrantRecord } from '../../store/registers.js';
import { assertMayApprove } from '../auth.js';
import { ApiError, audit, notFound, principalOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, isoTime, numericIdParam, page, pageQuery } from '../schemas.js';

/** A point in time as ISO 8601 with an offset, or a plain date (midnight UTC). */
export const timeInput = z.union([isoTime, z.iso.date()]);

/** Stored times are UTC ISO strings, so they sort and compare as text. */
export const toIso = (s: string): string => new Date(s).toISOString();

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
  status: z.enum(['pending', 'active', 'revoked']),
  grantedBy: z.string(),
  grantedAt: z.string(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  reviewedAt: z.string().nullable(),
  reviewedBy: z.string().nullable(),
});

export const grantView = (g: GrantRecord): z.infer<typeof grantSchema> => ({ ...g });

export const invalidField = (path: string, message: string) => new ApiError(400, 'invalid body', [{ path, message }]);

export async function grantRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const registers = new Registers(ctx.store.db);
  const readers = ['manager', 'auditor'] as const;
  const managers = ['manager'] as const;
  const now = () => ctx.controller.ctx.now();

  api.get('/grants', {
    config: { roles: readers },
    schema: {
      tags: ['grants'], summary: 'List grants (filter by person, area, state; reviewDue=true: past their review-by date)',
      querystring: pageQuery.extend({
        personId: z.string().min(1).max(100).optional(),
        areaId: z.string().min(1).max(64).optional(),
        status: z.enum(['pending', 'active', 'revoked']).optional(),
        reviewDue: z.enum(['true', 'false']).optional(),
      }),
      response: { 200: page(grantSchema), ...errorResponses },
    },
  }, async (req) => {
    const { limit, offset } = req.query;
    const { items, total } = registers.grants({ ...req.query, reviewDue: req.query.reviewDue === 'true', now: now().toISOString() });
    return { items: items.map(grantView), total, limit, offset };
  });

  api.get('/grants/:id', {
    config: { roles: readers },
    schema: { tags: ['grants'], summary: 'One grant', params: numericIdParam, response: { 200: grantSchema, ...errorResponses } },
  }, async (req) => {
    const grant = registers.grant(req.params.id);
    if (!grant) throw notFound('grant');
    return grantView(grant);
  });

  api.post('/grants', {
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
  }, async (req, reply) => {
    const by = principalOf(req).account.username;
    const { site } = ctx.controller.ctx;
    const body = req.body;
    const area = site.areas.find((a) => a.id === body.areaId);
    if (!area) throw invalidField('areaId', `no area "${body.areaId}" in the site file (areas: ${site.areas.map((a) => a.id).join(', ')})`);
    const person = ctx.store.people.person(body.personId);
    if (!person) throw invalidField('personId', 'no such person');
    if (person.kind !== 'staff') throw invalidField('personId', 'a visitor is let in by a visit, not a grant');
    if (person.status === 'left') throw new ApiError(409, 'the person has left');
    const validFrom = body.validFrom ? toIso(body.validFrom) : now().toISOString();
    const validUntil = body.validUntil ? toIso(body.validUntil) : null;
    if (validUntil !== null && validUntil <= validFrom) throw invalidField('validUntil', 'must be after validFrom');
    if (validUntil !== null && validUntil <= now().toISOString()) throw invalidField('validUntil', 'is in the past');
    const fourEyes = site.api.fourEyes;
    const grant = ctx.store.db.transaction(() => {
      const created = ctx.store.people.addGrant({
        personId: person.id, areaId: area.id, validFrom, validUntil, purpose: body.purpose, outOfHours: body.outOfHours ?? false,
        reviewBy: body.reviewBy ? toIso(body.reviewBy) : null, status: fourEyes ? 'pending' : 'active', grantedBy: by,
      });
      audit(ctx, req, `grant:${created.id}`, {
        personId: person.id, personName: person.name, areaId: area.id, purpose: body.purpose, validFrom, validUntil,
        outOfHours: created.outOfHours, status: created.status,
      });
      return registers.grant(created.id)!;
    })();
    return reply.code(201).send(grantView(grant));
  });

  api.post('/grants/:id/approve', {
    config: { roles: ['manager', 'auditor'], action: 'grant.approve' },
    schema: {
      tags: ['grants'], summary: 'Approve a pending grant (four-eyes): a different manager than its creator, or an auditor',
      params: numericIdParam, response: { 200: grantSchema, ...errorResponses },
    },
  }, async (req) => {
    assertMayApprove(principalOf(req).account);
    const by = principalOf(req).account.username;
    const grant = registers.grant(req.params.id);
    if (!grant) throw notFound('grant');
    if (grant.status === 'revoked') throw new ApiError(409, 'the grant is revoked');
    if (grant.status === 'active') throw new ApiError(409, 'the grant is active already');
    if (grant.grantedBy.toLowerCase() === by.toLowerCase()) throw new ApiError(409, 'the grant needs a second person: its creator cannot approve it');
    const approved = ctx.store.db.transaction(() => {
      if (!registers.approveGrant(grant.id, by, now().toISOString())) throw new ApiError(409, 'the grant is no longer pending');
      audit(ctx, req, `grant:${grant.id}`, { personId: grant.personId, areaId: grant.areaId, grantedBy: grant.grantedBy });
      return registers.grant(grant.id)!;
    })();
    return grantView(approved);
  });

  api.post('/grants/:id/revoke', {
    config: { roles: managers, action: 'grant.revoke' },
    schema: {
      tags: ['grants'], summary: 'Revoke a grant: the very next read at the area\'s doors is refused',
      params: numericIdParam,
      body: z.strictObject({ reason: z.string().max(500).optional() }).nullish(),
      response: { 200: grantSchema, ...errorResponses },
    },
  }, async (req) => {
    const by = principalOf(req).account.username;
    const grant = registers.grant(req.params.id);
    if (!grant) throw notFound('grant');
    if (grant.status === 'revoked') throw new ApiError(409, 'the grant is revoked already');
    const revoked = ctx.store.db.transaction(() => {
      if (!ctx.store.people.revokeGrant(grant.id, by)) throw new ApiError(409, 'the grant is revoked already');
      audit(ctx, req, `grant:${grant.id}`, { personId: grant.personId, areaId: grant.areaId, was: grant.status, reason: req.body?.reason ?? null });
      return registers.grant(grant.id)!;
    })();
    return grantView(revoked);
  });
}
