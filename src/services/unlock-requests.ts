// Remote unlocks that must not weaken a door's rules. A door whose area asks for two factors or two
// people opens from the API only when a second account confirms: a manager, not the account that
// asked, within a window. Pending requests are kept in memory: a restart drops them (the door stays
// locked, and whoever asked asks again).
import { randomUUID } from 'node:crypto';
import type { Area } from '../site/schema.js';
import type { Actor } from './actor.js';

type Role = Actor['role'];

/** How long a request waits for its confirmation. */
export const REMOTE_UNLOCK_CONFIRM_MS = 120_000;
/** Who may confirm: managers. Admins run accounts and the site, not doors; guards are the ones who ask. */
export const CONFIRMING_ROLES = ['manager'] as const;
/** An expired or settled request is still known this long, so a late confirmation hears why it failed. */
const KEPT_AFTER_MS = 10 * 60_000;
/** A bound on what the book holds: guards asking again and again must not grow it without end. */
const MAX_KEPT = 1000;

/** The area asks more than one factor, or two people: one account alone does not stand for that. */
export function needsSecondAccount(area: Pick<Area, 'factors' | 'twoPerson'>): boolean {
  return area.twoPerson || area.factors.length > 1;
}

export interface UnlockRequest {
  id: string;
  doorId: string;
  /** The account that asked (its username). */
  requestedBy: string;
  role: Role;
  note: string | null;
  requestedAt: Date;
  expiresAt: Date;
  /** Null while pending. */
  settled: { how: 'confirmed' | 'cancelled'; by: string; at: Date } | null;
}

export type Lookup = { ok: true; request: UnlockRequest } | { ok: false; why: 'unknown' | 'expired' | 'settled'; request?: UnlockRequest };

export class UnlockRequests {
  private readonly book = new Map<string, UnlockRequest>();

  constructor(
    private readonly now: () => Date,
    private readonly windowMs = REMOTE_UNLOCK_CONFIRM_MS,
  ) {}

  /** The account's pending request for a door, if one is waiting: asking again does not start a new one. */
  pendingFor(doorId: string, requestedBy: string): UnlockRequest | undefined {
    const at = this.now().getTime();
    for (const r of this.book.values()) if (r.doorId === doorId && r.requestedBy === requestedBy && !r.settled && r.expiresAt.getTime() > at) return r;
    return undefined;
  }

  pending(): UnlockRequest[] {
    const at = this.now().getTime();
    return [...this.book.values()].filter((r) => !r.settled && r.expiresAt.getTime() > at);
  }

  open(r: { doorId: string; requestedBy: string; role: Role; note: string | null }): UnlockRequest {
    this.prune();
    const requestedAt = this.now();
    const request: UnlockRequest = { id: randomUUID(), ...r, requestedAt, expiresAt: new Date(requestedAt.getTime() + this.windowMs), settled: null };
    this.book.set(request.id, request);
    return request;
  }

  /** A request of this door that may still be confirmed or cancelled. */
  find(doorId: string, id: string): Lookup {
    const request = this.book.get(id);
    if (!request || request.doorId !== doorId) return { ok: false, why: 'unknown' };
    if (request.settled) return { ok: false, why: 'settled', request };
    if (request.expiresAt.getTime() <= this.now().getTime()) return { ok: false, why: 'expired', request };
    return { ok: true, request };
  }

  settle(request: UnlockRequest, how: 'confirmed' | 'cancelled', by: string): void {
    request.settled = { how, by, at: this.now() };
  }

  /** Cancels every request still pending for these doors (an area locked down): none may be confirmed after it. */
  cancelPendingFor(doorIds: ReadonlySet<string>, by: string): UnlockRequest[] {
    const cancelled = this.pending().filter((r) => doorIds.has(r.doorId));
    for (const r of cancelled) this.settle(r, 'cancelled', by);
    return cancelled;
  }

  /** Undoes a settle whose change did not commit (the entry log could not be written): it may be tried again. */
  reopen(request: UnlockRequest): void {
    request.settled = null;
  }

  private prune(): void {
    const horizon = this.now().getTime() - KEPT_AFTER_MS;
    for (const [id, r] of this.book) {
      const done = r.settled ? r.settled.at.getTime() : r.expiresAt.getTime();
      if (done < horizon) this.book.delete(id);
    }
    // Still too many: forget the oldest that are no longer pending (Map keeps insertion order).
    const at = this.now().getTime();
    for (const [id, r] of this.book) {
      if (this.book.size < MAX_KEPT) break;
      if (r.settled || r.expiresAt.getTime() <= at) this.book.delete(id);
    }
  }
}
