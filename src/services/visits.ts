// Visits: a manager registers a visitor with a host, a purpose, the areas and a window; a manager
// or an auditor approves it (need to know); the visitor signs the pledge and checks in at the desk
// (the visitor's card works from then on, and only with an escort: the access policy's rule);
// checking out or cancelling ends the visit and revokes the card. Each step and its audit record
// commit in one transaction.
import type { Controller } from '../controller/controller.js';
import type { CredentialStatus } from '../policy/vocabulary.js';
import { visitStatus, type VisitRecord, type VisitStatus } from '../store/visits.js';
import { assertMayApprove, type Actor } from './actor.js';
import { recordChange } from './audit.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';

export const MAX_VISIT_MS = 31 * 86_400_000;
/** A pledge signed "in the future" is a typo; a little clock skew between the desk and us is not. */
const PLEDGE_SKEW_MS = 5 * 60_000;

export const visitStatuses = ['upcoming', 'current', 'ended'] as const satisfies readonly VisitStatus[];
export const visitStages = ['awaiting-approval', 'awaiting-pledge', 'ready', 'checked-in', 'checked-out', 'cancelled'] as const;

export interface VisitView {
  id: number;
  visitor: { id: string; name: string; affiliation: string };
  /** Hidden (null) from guards: the desk needs to know who, not what for. */
  purpose: string | null;
  host: { id: string; name: string | null };
  areas: string[];
  validFrom: string;
  validUntil: string;
  status: VisitStatus;
  stage: (typeof visitStages)[number];
  overstay: boolean;
  approvedBy: string | null;
  approvedAt: string | null;
  pledgeSignedAt: string | null;
  checkedInAt: string | null;
  checkedOutAt: string | null;
  cancelledAt: string | null;
  /** When the visitor handed the badge back at the desk (null: not returned, or none issued). */
  badgeReturnedAt: string | null;
  createdBy: string;
  createdAt: string;
  card: { value: string; status: CredentialStatus } | null;
}

export interface NewVisit {
  visitor: { name: string; affiliation: string };
  purpose: string;
  hostId: string;
  areas: string[];
  /** ISO times. */
  validFrom: string;
  validUntil: string;
  /** The visitor card to issue; it works only once the visitor checks in. */
  card?: string;
}

export interface VisitQuery {
  status?: VisitStatus;
  /** Visits whose window overlaps this calendar day (YYYY-MM-DD) in the site's time zone. */
  date?: string;
  hostId?: string;
  visitorId?: string;
  areaId?: string;
  limit: number;
  offset: number;
}

const iso = (value: string) => new Date(Date.parse(value)).toISOString();

// --- the site's calendar day, for the date filter ------------------------------------------------

function zoneOffsetMs(t: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
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

export class VisitService {
  constructor(private readonly deps: ServiceDeps) {}

  private get controller(): Controller {
    return running(this.deps);
  }

  private now(): Date {
    return this.controller.ctx.now();
  }

  /** The visit register, newest window first. */
  list(actor: Pick<Actor, 'role'>, q: VisitQuery): { items: VisitView[]; total: number } {
    const { items, total } = this.deps.store.visits.list(
      {
        status: q.status,
        hostId: q.hostId,
        visitorId: q.visitorId,
        areaId: q.areaId,
        overlaps: q.date ? siteDay(q.date, this.controller.ctx.site.site.timezone) : undefined,
      },
      this.now().toISOString(),
      q,
    );
    return { items: items.map((v) => this.view(v, actor.role)), total };
  }

  get(actor: Pick<Actor, 'role'>, id: number): VisitView {
    return this.view(this.load(id), actor.role);
  }

  /** Registers a visit: creates the visitor (and their card, unusable until check-in). */
  create(actor: Actor, b: NewVisit): VisitView {
    const { store } = this.deps;
    const details: { path: string; message: string }[] = [];
    const host = store.people.person(b.hostId);
    if (!host) details.push({ path: 'hostId', message: 'no such person' });
    else if (host.kind !== 'staff') details.push({ path: 'hostId', message: 'a visitor cannot host a visit' });
    else if (host.status !== 'active') details.push({ path: 'hostId', message: `the host is ${host.status}` });
    b.areas.forEach((a, i) => {
      if (!this.controller.ctx.index.areas.has(a)) details.push({ path: `areas.${i}`, message: `no area "${a}" on this site` });
    });
    if (Date.parse(b.validUntil) <= this.now().getTime()) details.push({ path: 'validUntil', message: 'already over' });
    if (details.length) throw new ServiceError('invalid', 'invalid body', details);
    if (b.card) this.ensureCardFree(b.card);

    const id = store.transaction(() => {
      const visitor = store.people.addPerson({ kind: 'visitor', name: b.visitor.name, affiliation: b.visitor.affiliation });
      const visit = store.visits.add({
        visitorId: visitor.id,
        purpose: b.purpose,
        hostId: b.hostId,
        areas: b.areas,
        validFrom: iso(b.validFrom),
        validUntil: iso(b.validUntil),
        createdBy: actor.username,
      });
      if (b.card) {
        const card = store.people.addCredential(visitor.id, 'card', b.card);
        store.people.setCredentialStatus(card.id, 'suspended');
      }
      recordChange(store, actor, 'visit.create', `visit:${visit.id}`, {
        visitorId: visitor.id,
        visitor: b.visitor.name,
        hostId: b.hostId,
        areas: b.areas,
        validFrom: visit.validFrom,
        validUntil: visit.validUntil,
        card: b.card !== undefined,
      });
      return visit.id;
    });
    return this.get(actor, id);
  }

  /** Approves a visit (need to know): without it the visitor's card opens nothing. */
  approve(actor: Actor, id: number): VisitView {
    const { store } = this.deps;
    assertMayApprove(actor);
    const v = this.load(id);
    this.ensureOpen(v);
    if (v.approvedAt) throw new ServiceError('conflict', `already approved by ${v.approvedBy}`);
    if (visitStatus(v, this.now()) === 'ended') throw new ServiceError('conflict', "the visit's window is over");
    store.transaction(() => {
      store.visits.approve(v.id, actor.username, this.now().toISOString());
      recordChange(store, actor, 'visit.approve', `visit:${v.id}`);
    });
    return this.get(actor, v.id);
  }

  /** Records the visitor's signed confidentiality pledge (`signedAt`: an ISO time). */
  pledge(actor: Actor, id: number, signedAt: string): VisitView {
    const { store } = this.deps;
    const v = this.load(id);
    if (Date.parse(signedAt) > this.now().getTime() + PLEDGE_SKEW_MS)
      throw new ServiceError('invalid', 'invalid body', [{ path: 'signedAt', message: 'in the future' }]);
    this.ensureOpen(v);
    if (v.pledgeSignedAt) throw new ServiceError('conflict', `a pledge signed at ${v.pledgeSignedAt} is on record`);
    store.transaction(() => {
      store.visits.recordPledge(v.id, iso(signedAt));
      recordChange(store, actor, 'visit.pledge', `visit:${v.id}`, { signedAt: iso(signedAt) });
    });
    return this.get(actor, v.id);
  }

  /** Checks the visitor in at the desk: their card starts working; a card handed over now replaces any earlier one. */
  checkIn(actor: Actor, id: number, card?: string): VisitView {
    const { store } = this.deps;
    const v = this.load(id);
    this.ensureOpen(v);
    if (v.checkedInAt) throw new ServiceError('conflict', `already checked in at ${v.checkedInAt}`);
    if (!v.approvedAt) throw new ServiceError('conflict', 'the visit is not approved yet');
    if (!v.pledgeSignedAt) throw new ServiceError('conflict', 'the visitor has not signed the pledge');
    if (Date.parse(v.validUntil) <= this.now().getTime()) throw new ServiceError('conflict', "the visit's window is over");
    if (card) this.ensureCardFree(card);
    store.transaction(() => {
      store.visits.checkIn(v.id, this.now().toISOString());
      if (card) {
        store.visits.setCardsStatus(v.visitorId, ['active', 'suspended'], 'revoked');
        store.people.addCredential(v.visitorId, 'card', card);
      } else {
        store.visits.setCardsStatus(v.visitorId, ['suspended'], 'active');
      }
      recordChange(store, actor, 'visit.check-in', `visit:${v.id}`, {
        card: card ? 'issued' : store.visits.cardsOf(v.visitorId).length ? 'activated' : 'none',
      });
    });
    return this.get(actor, v.id);
  }

  /** Checks the visitor out: the visit ends and the card is revoked. */
  checkOut(actor: Actor, id: number): VisitView {
    const { store } = this.deps;
    const v = this.load(id);
    this.ensureOpen(v);
    if (!v.checkedInAt) throw new ServiceError('conflict', 'the visitor has not checked in (cancel the visit instead)');
    store.transaction(() => {
      store.visits.checkOut(v.id, this.now().toISOString());
      const revoked = store.visits.setCardsStatus(v.visitorId, ['active', 'suspended'], 'revoked');
      recordChange(store, actor, 'visit.check-out', `visit:${v.id}`, { cardsRevoked: revoked });
    });
    return this.get(actor, v.id);
  }

  /**
   * Hands the visitor a badge at the desk (a first one, or a replacement for one lost): any earlier
   * card of the visitor stops working; the new one works at once if they are checked in, else from
   * check-in on.
   */
  issueBadge(actor: Actor, id: number, card: string): VisitView {
    const { store } = this.deps;
    const v = this.load(id);
    this.ensureOpen(v);
    if (!v.checkedInAt && Date.parse(v.validUntil) <= this.now().getTime()) throw new ServiceError('conflict', "the visit's window is over");
    this.ensureCardFree(card);
    store.transaction(() => {
      const replaced = store.visits.setCardsStatus(v.visitorId, ['active', 'suspended'], 'revoked');
      const issued = store.people.addCredential(v.visitorId, 'card', card);
      if (!v.checkedInAt) store.people.setCredentialStatus(issued.id, 'suspended');
      store.visits.setBadgeReturned(v.id, null);
      recordChange(store, actor, 'visit.badge-issue', `visit:${v.id}`, { replaced, works: v.checkedInAt ? 'now' : 'from check-in' });
    });
    return this.get(actor, v.id);
  }

  /**
   * Records the badge handed back at the desk: the card stops working (if it still did). The visit
   * itself goes on until checked out; a badge kept at check-out is what this tells apart.
   */
  returnBadge(actor: Actor, id: number): VisitView {
    const { store } = this.deps;
    const v = this.load(id);
    if (!store.visits.cardsOf(v.visitorId).length) throw new ServiceError('conflict', 'no badge was issued for this visit');
    if (v.badgeReturnedAt) throw new ServiceError('conflict', `the badge was returned at ${v.badgeReturnedAt}`);
    store.transaction(() => {
      const revoked = store.visits.setCardsStatus(v.visitorId, ['active', 'suspended'], 'revoked');
      store.visits.setBadgeReturned(v.id, this.now().toISOString());
      recordChange(store, actor, 'visit.badge-return', `visit:${v.id}`, { cardsRevoked: revoked });
    });
    return this.get(actor, v.id);
  }

  /** Cancels a visit not checked in: it ends and the card is revoked. */
  cancel(actor: Actor, id: number): VisitView {
    const { store } = this.deps;
    const v = this.load(id);
    this.ensureOpen(v);
    if (v.checkedInAt) throw new ServiceError('conflict', 'the visitor is checked in: check them out instead');
    store.transaction(() => {
      store.visits.cancel(v.id, this.now().toISOString());
      const revoked = store.visits.setCardsStatus(v.visitorId, ['active', 'suspended'], 'revoked');
      recordChange(store, actor, 'visit.cancel', `visit:${v.id}`, { cardsRevoked: revoked });
    });
    return this.get(actor, v.id);
  }

  private view(v: VisitRecord, role: Actor['role']): VisitView {
    const at = this.now();
    const status = visitStatus(v, at);
    const stage = v.cancelledAt
      ? 'cancelled'
      : v.checkedOutAt
        ? 'checked-out'
        : v.checkedInAt
          ? 'checked-in'
          : !v.approvedAt
            ? 'awaiting-approval'
            : !v.pledgeSignedAt
              ? 'awaiting-pledge'
              : 'ready';
    const card = this.deps.store.visits.cardsOf(v.visitorId)[0];
    return {
      id: v.id,
      visitor: { id: v.visitorId, name: v.visitorName, affiliation: v.visitorAffiliation },
      purpose: role === 'guard' ? null : v.purpose,
      host: { id: v.hostId, name: v.hostName },
      areas: v.areas,
      validFrom: v.validFrom,
      validUntil: v.validUntil,
      status,
      stage,
      overstay: stage === 'checked-in' && Date.parse(v.validUntil) <= at.getTime(),
      approvedBy: v.approvedBy,
      approvedAt: v.approvedAt,
      pledgeSignedAt: v.pledgeSignedAt,
      checkedInAt: v.checkedInAt,
      checkedOutAt: v.checkedOutAt,
      cancelledAt: v.cancelledAt,
      badgeReturnedAt: v.badgeReturnedAt,
      createdBy: v.createdBy,
      createdAt: v.createdAt,
      card: card ? { value: card.value, status: card.status } : null,
    };
  }

  private load(id: number): VisitRecord {
    const v = this.deps.store.visits.record(id);
    if (!v) throw notFound('visit');
    return v;
  }

  private ensureOpen(v: VisitRecord): void {
    if (v.cancelledAt) throw new ServiceError('conflict', 'the visit was cancelled');
    if (v.checkedOutAt) throw new ServiceError('conflict', 'the visitor has checked out: the visit is over');
  }

  /** A card number already in use (by anyone, whatever its status: values are unique). */
  private ensureCardFree(value: string): void {
    if (this.deps.store.people.findCredential('card', value))
      throw new ServiceError('conflict', 'this card is already registered to someone; issue another card');
  }
}
