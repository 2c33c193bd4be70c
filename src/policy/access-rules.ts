// Who may pass: pure functions over plain data. Each denial names the first rule that failed.
// Imports nothing of ours: the controller reads the facts from the store and hands them in.

import type { AreaMode, CredentialStatus, DenyReason, Factor, PersonKind, PersonStatus, ReasonCode } from './vocabulary.js';

export type { DenyReason, Factor, ReasonCode };

/** Reasons that mean "an expired or suspended credential was used" (an event of its own). */
export const invalidCredentialReasons: ReadonlySet<DenyReason> = new Set([
  'credential-revoked',
  'credential-suspended',
  'person-inactive',
  'grant-expired',
  'visit-expired',
]);

export interface CredentialFacts {
  status: CredentialStatus;
}

export interface PersonFacts {
  kind: PersonKind;
  status: PersonStatus;
  roles: readonly string[];
  /** The last completed training, ISO time, or null. */
  lastTrainingAt: string | null;
  /** A confidentiality pledge on file (not withdrawn), ISO time, or null. */
  pledgeSignedAt: string | null;
  /** Locked out after repeated wrong PINs until this ISO time, or null. */
  lockedOutUntil: string | null;
}

export interface GrantFacts {
  id: number;
  validFrom: string;
  validUntil: string | null;
  purpose: string;
  outOfHours: boolean;
}

export interface VisitFacts {
  id: number;
  purpose: string;
  areas: readonly string[];
  validFrom: string;
  validUntil: string;
  approvedAt: string | null;
  pledgeSignedAt: string | null;
  /** Cancelled or checked out: the visit is over. */
  endedAt: string | null;
}

export interface AreaFacts {
  id: string;
  mode: AreaMode;
  /** Roles that pass while locked down. */
  allowedRoles: readonly string[];
  /** Inside business hours now (no schedule: always). */
  open: boolean;
  antiPassback: 'off' | 'soft' | 'hard';
}

export interface PolicySettings {
  trainingValidityMonths: number;
}

export interface PassRequest {
  now: Date;
  direction: 'in' | 'out';
  credential?: CredentialFacts;
  person?: PersonFacts;
  area: AreaFacts;
  /** The person's unrevoked, approved grants for this area (staff). */
  grants: readonly GrantFacts[];
  /** The person's visits (visitors). */
  visits: readonly VisitFacts[];
  /** Whether the person is inside the area now (anti-passback), null when not tracked. */
  inside: boolean | null;
  settings: PolicySettings;
}

export type PassDecision =
  | {
      ok: true;
      purpose: string;
      grantId: number | null;
      visitId: number | null;
      /** A visitor passes only with an escorting access holder. */
      needsEscort: boolean;
      /** Soft anti-passback: allowed, but the violation is logged. */
      antiPassbackViolation: boolean;
    }
  | { ok: false; reason: DenyReason };

const deny = (reason: DenyReason): PassDecision => ({ ok: false, reason });

function within(now: number, from: string, until: string | null): 'before' | 'inside' | 'after' {
  const start = Date.parse(from);
  // An unparsable date never counts as valid: fail secure.
  if (Number.isNaN(start)) return 'after';
  if (now < start) return 'before';
  if (until !== null) {
    const end = Date.parse(until);
    if (Number.isNaN(end) || now >= end) return 'after';
  }
  return 'inside';
}

/** Months are calendar months: training on 2025-11-25 lapses on 2026-11-25 with a 12-month period. */
export function trainingLapsesAt(lastTrainingAt: string, months: number): Date {
  const d = new Date(lastTrainingAt);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
}

/** Whether a person may pass one door of one area in one direction (first factor identified them). */
export function decidePass(req: PassRequest): PassDecision {
  const { credential, person, area, now } = req;
  const t = now.getTime();
  if (!credential || !person) return deny('unknown-credential');
  if (credential.status === 'revoked') return deny('credential-revoked');
  if (credential.status !== 'active') return deny('credential-suspended');
  if (person.status !== 'active') return deny('person-inactive');

  // Leaving needs only a known, active credential: nobody is trapped inside because a grant lapsed,
  // a lockdown began or a PIN was mistyped.
  if (req.direction === 'out') {
    if (area.antiPassback !== 'off' && req.inside === false) {
      if (area.antiPassback === 'hard') return deny('anti-passback');
      return { ok: true, purpose: '', grantId: null, visitId: null, needsEscort: false, antiPassbackViolation: true };
    }
    return { ok: true, purpose: '', grantId: null, visitId: null, needsEscort: false, antiPassbackViolation: false };
  }

  if (person.lockedOutUntil && Date.parse(person.lockedOutUntil) > t) return deny('pin-locked-out');
  if (area.mode === 'lockdown' && !person.roles.some((r) => area.allowedRoles.includes(r))) return deny('area-locked-down');

  let purpose: string;
  let grantId: number | null = null;
  let visitId: number | null = null;
  if (person.kind === 'visitor') {
    const forArea = req.visits.filter((v) => v.areas.includes(area.id) && v.endedAt === null);
    if (forArea.length === 0) return deny('no-visit');
    const approved = forArea.filter((v) => v.approvedAt !== null);
    if (approved.length === 0) return deny('visit-not-approved');
    const current = approved.find((v) => within(t, v.validFrom, v.validUntil) === 'inside');
    if (!current) return deny(approved.some((v) => within(t, v.validFrom, v.validUntil) === 'before') ? 'visit-not-yet-valid' : 'visit-expired');
    if (!area.open) return deny('outside-hours');
    if (!current.pledgeSignedAt) return deny('no-pledge');
    purpose = current.purpose;
    visitId = current.id;
  } else {
    if (req.grants.length === 0) return deny('no-grant');
    const current = req.grants.filter((g) => within(t, g.validFrom, g.validUntil) === 'inside');
    if (current.length === 0) return deny(req.grants.some((g) => within(t, g.validFrom, g.validUntil) === 'before') ? 'grant-not-yet-valid' : 'grant-expired');
    // Outside business hours entrances stay locked; only grants marked for out-of-hours access pass.
    const usable = area.open ? current : current.filter((g) => g.outOfHours);
    if (usable.length === 0) return deny('outside-hours');
    if (!person.lastTrainingAt) return deny('no-training');
    if (trainingLapsesAt(person.lastTrainingAt, req.settings.trainingValidityMonths).getTime() <= t) return deny('training-lapsed');
    if (!person.pledgeSignedAt) return deny('no-pledge');
    purpose = usable[0]!.purpose;
    grantId = usable[0]!.id;
  }

  let antiPassbackViolation = false;
  if (area.antiPassback !== 'off' && req.inside === true) {
    if (area.antiPassback === 'hard') return deny('anti-passback');
    antiPassbackViolation = true;
  }
  return { ok: true, purpose, grantId, visitId, needsEscort: person.kind === 'visitor', antiPassbackViolation };
}

export interface EscortRequest {
  /** The host of the visit the visitor enters under; null when the visit cannot be found (fail secure). */
  hostId: string | null;
  /** The access holder who would escort. */
  escortId: string;
  /** The escort's own request to enter this area at this door, on fresh data. */
  escort: PassRequest;
}

export type EscortDecision =
  | { ok: true }
  | { ok: false; reason: 'escort-not-host' | 'escort-not-valid' /** The escort's own failing rule. */; escortReason: DenyReason | null };

/**
 * Whether an access holder may escort a visitor in, at the moment the visitor is decided: the visit's
 * host, still in good standing for the area (as if entering now). An escort who has left, lost the
 * grant or the card since going in escorts no one. Anti-passback is not asked of the escort: going in
 * just before the visitor is the point.
 */
export function decideEscort(req: EscortRequest): EscortDecision {
  // The host receives the visitor and answers for them (docs/access-policy.md, visitors and escorts).
  if (req.hostId === null || req.escortId !== req.hostId) return { ok: false, reason: 'escort-not-host', escortReason: null };
  const own = decidePass({ ...req.escort, direction: 'in', inside: null });
  if (!own.ok) return { ok: false, reason: 'escort-not-valid', escortReason: own.reason };
  // A visitor never escorts (a visit's host is staff; a changed record must not make it otherwise).
  if (own.needsEscort) return { ok: false, reason: 'escort-not-valid', escortReason: 'no-grant' };
  return { ok: true };
}
