// Grants: a person's right to enter one area, for a purpose (need-to-know), within a window. With
// four-eyes on (the site file's api.fourEyes), a new grant stays pending (it opens nothing) until a
// second person approves it: a different manager than its creator, or an auditor with a second
// factor. A revocation applies to the very next card read. Reviews confirm a grant past its
// review-by date (with the next date) or end it.
import type { Grant, GrantFilter } from '../store/grants.js';
import { assertMayApprove, type Actor } from './actor.js';
import { recordChange } from './audit.js';
import { invalidField, siteOf, toIso } from './common.js';
import { notFound, ServiceError } from './errors.js';
import { accessChanged } from './dial-locks.js';
import type { ServiceDeps } from './index.js';

export interface NewGrantRequest {
  personId: string;
  areaId: string;
  /** ISO 8601 time or date; now when absent. */
  validFrom?: string;
  /** ISO 8601 time or date; open-ended when absent. */
  validUntil?: string;
  /** The need-to-know purpose. */
  purpose: string;
  outOfHours?: boolean;
  reviewBy?: string;
}

export interface ReviewDecision {
  decision: 'confirm' | 'end';
  /** Required to confirm: when the grant is reviewed next. */
  nextReviewBy?: string;
  note?: string;
}

export class GrantService {
  constructor(private readonly deps: ServiceDeps) {}

  private get store() {
    return this.deps.store;
  }

  private now(): string {
    return this.deps.now().toISOString();
  }

  get(id: number): Grant {
    const grant = this.store.grants.get(id);
    if (!grant) throw notFound('grant');
    return grant;
  }

  list(f: Omit<GrantFilter, 'now'>): { items: Grant[]; total: number } {
    return this.store.grants.list({ ...f, now: this.now() });
  }

  /** Grants past their review-by date, not revoked, oldest due first. */
  dueForReview(f: { limit: number; offset: number; areaId?: string }): { items: Grant[]; total: number } {
    return this.store.grants.list({ ...f, reviewDue: true, now: this.now() });
  }

  /** Whether a grant made now starts pending (four-eyes) or in force. */
  needsApproval(): boolean {
    return siteOf(this.deps).api.fourEyes;
  }

  /** Grants a staff member access to an area (`grant.create`); pending until approved when four-eyes is on. */
  create(actor: Actor, g: NewGrantRequest): Grant {
    const site = siteOf(this.deps);
    // A grant names an area, or a safe (its holders: docs/safes.md); the site file keeps their ids apart.
    const area = site.areas.find((a) => a.id === g.areaId) ?? site.safes.find((s) => s.id === g.areaId);
    if (!area)
      throw invalidField('areaId', `no area or safe "${g.areaId}" in the site file (areas: ${[...site.areas, ...site.safes].map((a) => a.id).join(', ')})`);
    const person = this.store.people.person(g.personId);
    if (!person) throw invalidField('personId', 'no such person');
    if (person.kind !== 'staff') throw invalidField('personId', 'a visitor is let in by a visit, not a grant');
    if (person.status === 'left') throw new ServiceError('conflict', 'the person has left');
    const purpose = g.purpose.trim();
    if (!purpose) throw invalidField('purpose', 'state the need-to-know purpose');
    const now = this.now();
    const validFrom = g.validFrom ? toIso(g.validFrom) : now;
    const validUntil = g.validUntil ? toIso(g.validUntil) : null;
    if (validUntil !== null && validUntil <= validFrom) throw invalidField('validUntil', 'must be after validFrom');
    if (validUntil !== null && validUntil <= now) throw invalidField('validUntil', 'is in the past');
    const status = site.api.fourEyes ? 'pending' : 'active';
    return this.store.transaction(() => {
      const created = this.store.grants.add({
        personId: person.id,
        areaId: area.id,
        validFrom,
        validUntil,
        purpose,
        outOfHours: g.outOfHours ?? false,
        reviewBy: g.reviewBy ? toIso(g.reviewBy) : null,
        status,
        grantedBy: actor.username,
      });
      recordChange(this.store, actor, 'grant.create', `grant:${created.id}`, {
        personId: person.id,
        personName: person.name,
        areaId: area.id,
        purpose,
        validFrom,
        validUntil,
        outOfHours: created.outOfHours,
        status: created.status,
      });
      return this.store.grants.get(created.id)!;
    });
  }

  /** Approves a pending grant (`grant.approve`): never by its creator, never without a second factor. */
  approve(actor: Actor, id: number): Grant {
    assertMayApprove(actor);
    const grant = this.get(id);
    if (grant.status === 'revoked') throw new ServiceError('conflict', 'the grant is revoked');
    if (grant.status === 'active') throw new ServiceError('conflict', 'the grant is active already');
    if (grant.grantedBy.toLowerCase() === actor.username.toLowerCase())
      throw new ServiceError('conflict', 'the grant needs a second person: its creator cannot approve it');
    return this.store.transaction(() => {
      if (!this.store.grants.approve(grant.id, actor.username, this.now())) throw new ServiceError('conflict', 'the grant is no longer pending');
      recordChange(this.store, actor, 'grant.approve', `grant:${grant.id}`, { personId: grant.personId, areaId: grant.areaId, grantedBy: grant.grantedBy });
      return this.store.grants.get(grant.id)!;
    });
  }

  /** Revokes a grant (`grant.revoke`): the very next read at the area's doors is refused. */
  revoke(actor: Actor, id: number, reason: string | null = null): Grant {
    const grant = this.get(id);
    if (grant.status === 'revoked') throw new ServiceError('conflict', 'the grant is revoked already');
    const revoked = this.store.transaction(() => {
      if (!this.store.grants.revoke(grant.id, actor.username)) throw new ServiceError('conflict', 'the grant is revoked already');
      recordChange(this.store, actor, 'grant.revoke', `grant:${grant.id}`, { personId: grant.personId, areaId: grant.areaId, was: grant.status, reason });
      return this.store.grants.get(grant.id)!;
    });
    accessChanged(this.deps, grant.personId);
    return revoked;
  }

  /** Reviews a grant: confirm (`review.confirm`, with the next review date) or end it (`review.end`, revoked at once). */
  review(actor: Actor, id: number, r: ReviewDecision): Grant {
    const grant = this.get(id);
    if (grant.status === 'revoked') throw new ServiceError('conflict', 'the grant is revoked already');
    const at = this.now();
    const note = r.note ?? null;
    let nextReviewBy: string | null = null;
    if (r.decision === 'confirm') {
      if (!r.nextReviewBy) throw invalidField('nextReviewBy', 'required to confirm: when is the grant reviewed next?');
      nextReviewBy = toIso(r.nextReviewBy);
      if (nextReviewBy <= at) throw invalidField('nextReviewBy', 'must be in the future');
    }
    const reviewed = this.store.transaction(() => {
      if (r.decision === 'confirm') {
        if (!this.store.grants.confirmReview(grant.id, actor.username, at, nextReviewBy!)) throw new ServiceError('conflict', 'the grant is revoked already');
        recordChange(this.store, actor, 'review.confirm', `grant:${grant.id}`, {
          personId: grant.personId,
          areaId: grant.areaId,
          previousReviewBy: grant.reviewBy,
          nextReviewBy,
          note,
        });
      } else {
        if (!this.store.grants.revoke(grant.id, actor.username)) throw new ServiceError('conflict', 'the grant is revoked already');
        this.store.grants.markReviewed(grant.id, actor.username, at);
        recordChange(this.store, actor, 'review.end', `grant:${grant.id}`, {
          personId: grant.personId,
          areaId: grant.areaId,
          reviewBy: grant.reviewBy,
          revoked: true,
          note,
        });
      }
      return this.store.grants.get(grant.id)!;
    });
    if (r.decision !== 'confirm') accessChanged(this.deps, grant.personId);
    return reviewed;
  }
}
