// Visits: a manager registers a visitor with a host, a purpose, the areas and a window; a manager
// or an auditor approves it (need to know); the visitor signs the pledge and checks in at the desk
// (the visitor's card works from then on, and only with an escort: the access policy's rule);
// checking out or cancelling ends the visit and revokes the card.
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { Role } from '../../store/accounts.js';
import { cardsOf, listVisits, setCardsStatus, visitById, visitStatus, type VisitRecord } from '../../store/queries.js';
import { assertMayApprove } from '../auth.js';
import { ApiError, audit, notFound, principalOf, type Api, type ApiContext } from '../context.js';
import { errorResponses, isoTime, numericIdParam, page, pageQuery } from '../schemas.js';

const MAX_VISIT_MS = 31 * 86_400_000;
/** A pledge signed "in the future" is a typo; a little clock skew between the desk and us is not. */
const PLEDGE_SKEW_MS = 5 * 60_000;

export const visitStatuses = ['upcoming', 'current', 'ended'] as const;
const stages = ['awaiting-approval', 'awaiting-pledge', 'ready', 'checked-in', 'checked-out', 'cancelled'] as const;

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
  createdBy: z.string(),
  createdAt: z.string(),
  card: z.object({ value: z.string(), status: z.enum(['active', 'suspended', 'revoked']) }).nullable()
    .describe('the visitor\'s card: suspended until check-in, revoked at check-out or cancellation'),
});
type VisitView = z.infer<typeof visitSchema>;

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
    else if (until - from > MAX_VISIT_MS) c.addIssue({ code: 'custom', path: ['validUntil'], message: 'a visit lasts at most 31 days (register access holders for longer)' });
    if (new Set(b.areas).size !== b.areas.length) c.addIssue({ code: 'custom', path: ['areas'], message: 'an area is listed twice' });
  });

const iso = (value: string) => new Date(Date.parse(value)).toISOString();

// --- the site's calendar day, for the date filter ------------------------------------------------

function zoneOffsetMs(t: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  }).formatToParts(new Date(t));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(t / 1000) * 1000;
}

/** The instant a local calendar date begins in a time zone (twice corrected, for a DST change that day). */
function localMidnight(y: number, m: number, d: number, timeZone: string): number {
  const guess = Date.UTC(y, m - 1, d);
  const first = guess - zoneOffsetMs(guess, timeZone);
  return guess - zoneOffsetMs(first, timeZone);
}

export function siteDay(date: string, timeZone: string): { from: string; to: string } {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return { from: new Date(localMidnight(y, m, d, timeZone)).toISOString(), to: new Date(localMidnight(y, m, d + 1, timeZone)).toISOString() };
}

export async function visitRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { store } = ctx;
  const db = store.db;
  const now = () => ctx.controller.ctx.now();
  const readers = ['manager', 'guard', 'auditor'] as const;
  const desk = ['guard', 'manager'] as const;

  function view(v: VisitRecord, role: Role): VisitView {
    const at = now();
    const status = visitStatus(v, at);
    const stage = v.cancelledAt ? 'cancelled' : v.checkedOutAt ? 'checked-out' : v.checkedInAt ? 'checked-in'
      : !v.approvedAt ? 'awaiting-approval' : !v.pledgeSignedAt ? 'awaiting-pledge' : 'ready';
    const card = cardsOf(db, v.visitorId)[0];
    return {
      id: v.id, visitor: { id: v.visitorId, name: v.visitorName, affiliation: v.visitorAffiliation },
      purpose: role === 'guard' ? null : v.purpose, host: { id: v.hostId, name: v.hostName }, areas: v.areas,
      validFrom: v.validFrom, validUntil: v.validUntil, status, stage,
      overstay: stage === 'checked-in' && Date.parse(v.validUntil) <= at.getTime(),
      approvedBy: v.approvedBy, approvedAt: v.approvedAt, pledgeSignedAt: v.pledgeSignedAt, checkedInAt: v.checkedInAt,
      checkedOutAt: v.checkedOutAt, cancelledAt: v.cancelledAt, createdBy: v.createdBy, createdAt: v.createdAt,
      card: card ? { value: card.value, status: card.status } : null,
    };
  }

  function load(id: number): VisitRecord {
    const v = visitById(db, id);
    if (!v) throw notFound('visit');
    return v;
  }

  function ensureOpen(v: VisitRecord): void {
    if (v.cancelledAt) throw new ApiError(409, 'the visit was cancelled');
    if (v.checkedOutAt) throw new ApiError(409, 'the visitor has checked out: the visit is over');
  }

  /** A card number already in use (by anyone, whatever its status: values are unique). */
  function ensureCardFree(value: string): void {
    if (store.people.findCredential('card', value)) throw new ApiError(409, 'this card is already registered to someone; issue another card');
  }

  const respond = (req: FastifyRequest, id: number) => view(load(id), principalOf(req).account.role);

  api.get('/visits', {
    config: { roles: readers },
    schema: {
      tags: ['visits'], summary: 'The visit register, newest window first',
      querystring: pageQuery.extend({
        status: z.enum(visitStatuses).optional(),
        date: z.iso.date().optional().describe('visits whose window overlaps this calendar day in the site\'s time zone'),
        hostId: z.string().max(100).optional(),
        visitorId: z.string().max(100).optional(),
        areaId: z.string().max(64).optional(),
      }),
      response: { 200: page(visitSchema), ...errorResponses },
    },
  }, async (req) => {
    const q = req.query;
    const { items, total } = listVisits(db, {
      status: q.status, hostId: q.hostId, visitorId: q.visitorId, areaId: q.areaId,
      overlaps: q.date ? siteDay(q.date, ctx.controller.ctx.site.site.timezone) : undefined,
    }, now().toISOString(), q);
    const role = principalOf(req).account.role;
    return { items: items.map((v) => view(v, role)), total, limit: q.limit, offset: q.offset };
  });

  api.get('/visits/:id', {
    config: { roles: readers },
    schema: { tags: ['visits'], summary: 'One visit', params: numericIdParam, response: { 200: visitSchema, ...errorResponses } },
  }, async (req) => respond(req, req.params.id));

  api.post('/visits', {
    config: { roles: ['manager'], action: 'visit.create' },
    schema: {
      tags: ['visits'], summary: 'Register a visit: creates the visitor (and their card, unusable until check-in)',
      body: createBody, response: { 201: visitSchema, ...errorResponses },
    },
  }, async (req, reply) => {
    const b = req.body;
    const by = principalOf(req).account.username;
    const details: { path: string; message: string }[] = [];
    const host = store.people.person(b.hostId);
    if (!host) details.push({ path: 'hostId', message: 'no such person' });
    else if (host.kind !== 'staff') details.push({ path: 'hostId', message: 'a visitor cannot host a visit' });
    else if (host.status !== 'active') details.push({ path: 'hostId', message: `the host is ${host.status}` });
    b.areas.forEach((a, i) => {
      if (!ctx.controller.ctx.index.areas.has(a)) details.push({ path: `areas.${i}`, message: `no area "${a}" on this site` });
    });
    if (Date.parse(b.validUntil) <= now().getTime()) details.push({ path: 'validUntil', message: 'already over' });
    if (details.length) throw new ApiError(400, 'invalid body', details);
    if (b.card) ensureCardFree(b.card);

    const id = db.transaction(() => {
      const visitor = store.people.addPerson({ kind: 'visitor', name: b.visitor.name, affiliation: b.visitor.affiliation });
      const visit = store.visits.add({
        visitorId: visitor.id, purpose: b.purpose, hostId: b.hostId, areas: b.areas, validFrom: iso(b.validFrom), validUntil: iso(b.validUntil), createdBy: by,
      });
      if (b.card) {
        const card = store.people.addCredential(visitor.id, 'card', b.card);
        store.people.setCredentialStatus(card.id, 'suspended');
      }
      audit(ctx, req, `visit:${visit.id}`, { visitorId: visitor.id, visitor: b.visitor.name, hostId: b.hostId, areas: b.areas, validFrom: visit.validFrom, validUntil: visit.validUntil, card: b.card !== undefined });
      return visit.id;
    })();
    return reply.code(201).send(respond(req, id));
  });

  api.post('/visits/:id/approve', {
    config: { roles: ['manager', 'auditor'], action: 'visit.approve' },
    schema: { tags: ['visits'], summary: 'Approve a visit (need to know): without it the visitor\'s card opens nothing', params: numericIdParam, response: { 200: visitSchema, ...errorResponses } },
  }, async (req) => {
    assertMayApprove(principalOf(req).account);
    const v = load(req.params.id);
    ensureOpen(v);
    if (v.approvedAt) throw new ApiError(409, `already approved by ${v.approvedBy}`);
    if (visitStatus(v, now()) === 'ended') throw new ApiError(409, 'the visit\'s window is over');
    db.transaction(() => {
      store.visits.approve(v.id, principalOf(req).account.username, now().toISOString());
      audit(ctx, req, `visit:${v.id}`);
    })();
    return respond(req, v.id);
  });

  api.post('/visits/:id/pledge', {
    config: { roles: desk, action: 'visit.pledge' },
    schema: {
      tags: ['visits'], summary: 'Record the visitor\'s signed confidentiality pledge', params: numericIdParam,
      body: z.strictObject({ signedAt: isoTime }), response: { 200: visitSchema, ...errorResponses },
    },
  }, async (req) => {
    const v = load(req.params.id);
    if (Date.parse(req.body.signedAt) > now().getTime() + PLEDGE_SKEW_MS) throw new ApiError(400, 'invalid body', [{ path: 'signedAt', message: 'in the future' }]);
    ensureOpen(v);
    if (v.pledgeSignedAt) throw new ApiError(409, `a pledge signed at ${v.pledgeSignedAt} is on record`);
    db.transaction(() => {
      store.visits.recordPledge(v.id, iso(req.body.signedAt));
      audit(ctx, req, `visit:${v.id}`, { signedAt: iso(req.body.signedAt) });
    })();
    return respond(req, v.id);
  });

  api.post('/visits/:id/check-in', {
    config: { roles: desk, action: 'visit.check-in' },
    schema: {
      tags: ['visits'], summary: 'Check the visitor in at the desk: their card starts working (approved and pledged visits only)', params: numericIdParam,
      body: z.strictObject({ card: cardValue.optional().describe('a card handed over now (replaces any earlier one)') }).nullish(),
      response: { 200: visitSchema, ...errorResponses },
    },
  }, async (req) => {
    const v = load(req.params.id);
    ensureOpen(v);
    if (v.checkedInAt) throw new ApiError(409, `already checked in at ${v.checkedInAt}`);
    if (!v.approvedAt) throw new ApiError(409, 'the visit is not approved yet');
    if (!v.pledgeSignedAt) throw new ApiError(409, 'the visitor has not signed the pledge');
    if (Date.parse(v.validUntil) <= now().getTime()) throw new ApiError(409, 'the visit\'s window is over');
    const card = req.body?.card;
    if (card) ensureCardFree(card);
    db.transaction(() => {
      const at = now().toISOString();
      store.visits.checkIn(v.id, at);
      if (card) {
        setCardsStatus(db, v.visitorId, ['active', 'suspended'], 'revoked');
        store.people.addCredential(v.visitorId, 'card', card);
      } else {
        setCardsStatus(db, v.visitorId, ['suspended'], 'active');
      }
      audit(ctx, req, `visit:${v.id}`, { card: card ? 'issued' : cardsOf(db, v.visitorId).length ? 'activated' : 'none' });
    })();
    return respond(req, v.id);
  });

  api.post('/visits/:id/check-out', {
    config: { roles: desk, action: 'visit.check-out' },
    schema: { tags: ['visits'], summary: 'Check the visitor out: the visit ends and the card is revoked', params: numericIdParam, response: { 200: visitSchema, ...errorResponses } },
  }, async (req) => {
    const v = load(req.params.id);
    ensureOpen(v);
    if (!v.checkedInAt) throw new ApiError(409, 'the visitor has not checked in (cancel the visit instead)');
    db.transaction(() => {
      store.visits.checkOut(v.id, now().toISOString());
      const revoked = setCardsStatus(db, v.visitorId, ['active', 'suspended'], 'revoked');
      audit(ctx, req, `visit:${v.id}`, { cardsRevoked: revoked });
    })();
    return respond(req, v.id);
  });

  api.post('/visits/:id/cancel', {
    config: { roles: ['manager'], action: 'visit.cancel' },
    schema: { tags: ['visits'], summary: 'Cancel a visit not checked in: it ends and the card is revoked', params: numericIdParam, response: { 200: visitSchema, ...errorResponses } },
  }, async (req) => {
    const v = load(req.params.id);
    ensureOpen(v);
    if (v.checkedInAt) throw new ApiError(409, 'the visitor is checked in: check them out instead');
    db.transaction(() => {
      store.visits.cancel(v.id, now().toISOString());
      const revoked = setCardsStatus(db, v.visitorId, ['active', 'suspended'], 'revoked');
      audit(ctx, req, `visit:${v.id}`, { cardsRevoked: revoked });
    })();
    return respond(req, v.id);
  });
}
