// Who holds access to a safe: pure, over plain data the caller reads from the store. A holder of a
// safe is a staff member in good standing with a grant in force for the safe itself, or for the area
// it stands in when the safe says `holders: area`. The safe's machine (safe.ts), the dial-code
// holders' ledger and key loans all ask this one question, so they cannot disagree.
import { trainingLapsesAt } from './access-rules.js';
import type { DenyReason, PersonKind, PersonStatus } from './vocabulary.js';

/** Whose grants make a holder: grants for the safe's own id, or for its area. */
export const SAFE_HOLDER_SCOPES = ['safe', 'area'] as const;
export type SafeHolderScope = (typeof SAFE_HOLDER_SCOPES)[number];

/** What of a safe the question needs (the site file's safe satisfies it). */
export interface SafeScope {
  id: string;
  area: string;
  holders: SafeHolderScope;
}

export interface HolderPerson {
  id: string;
  kind: PersonKind;
  status: PersonStatus;
  /** The last completed training, ISO time, or null. */
  lastTrainingAt: string | null;
  /** A confidentiality pledge on file, ISO time, or null. */
  pledgeSignedAt: string | null;
}

export interface HolderGrant {
  id: number;
  personId: string;
  /** The area (or safe) id the grant names. */
  areaId: string;
  validFrom: string;
  validUntil: string | null;
  purpose: string;
}

/**
 * The facts: any number of people and their approved, unrevoked grants (one person's, or everyone's
 * for a sweep). Grants of other scopes are ignored.
 */
export interface SafeHolderFacts {
  now: Date;
  trainingValidityMonths: number;
  people: readonly HolderPerson[];
  grants: readonly HolderGrant[];
}

export type SafeHolderDecision = { ok: true; grantId: number; purpose: string } | { ok: false; reason: DenyReason };

/** The grant scope (area id as grants name it) whose grants make holders of this safe. */
export function safeGrantScope(safe: SafeScope): string {
  return safe.holders === 'area' ? safe.area : safe.id;
}

function inForce(now: number, g: HolderGrant): 'before' | 'inside' | 'after' {
  const from = Date.parse(g.validFrom);
  // An unparsable date never counts as valid: fail secure.
  if (Number.isNaN(from)) return 'after';
  if (now < from) return 'before';
  if (g.validUntil !== null) {
    const until = Date.parse(g.validUntil);
    if (Number.isNaN(until) || now >= until) return 'after';
  }
  return 'inside';
}

/** Whether one person holds access to the safe now, and if not the first rule that failed. */
export function safeHolderDecision(personId: string, safe: SafeScope, facts: SafeHolderFacts): SafeHolderDecision {
  const person = facts.people.find((p) => p.id === personId);
  if (!person) return { ok: false, reason: 'unknown-credential' };
  if (person.status !== 'active') return { ok: false, reason: 'person-inactive' };
  // Visitors are never holders: they may be escorted into an area, never handed a safe's code or key.
  if (person.kind !== 'staff') return { ok: false, reason: 'no-grant' };
  const scope = safeGrantScope(safe);
  const grants = facts.grants.filter((g) => g.personId === personId && g.areaId === scope);
  if (grants.length === 0) return { ok: false, reason: 'no-grant' };
  const t = facts.now.getTime();
  const current = grants.find((g) => inForce(t, g) === 'inside');
  if (!current) return { ok: false, reason: grants.some((g) => inForce(t, g) === 'before') ? 'grant-not-yet-valid' : 'grant-expired' };
  if (!person.lastTrainingAt) return { ok: false, reason: 'no-training' };
  if (trainingLapsesAt(person.lastTrainingAt, facts.trainingValidityMonths).getTime() <= t) return { ok: false, reason: 'training-lapsed' };
  if (!person.pledgeSignedAt) return { ok: false, reason: 'no-pledge' };
  return { ok: true, grantId: current.id, purpose: current.purpose };
}

export function isSafeHolder(personId: string, safe: SafeScope, facts: SafeHolderFacts): boolean {
  return safeHolderDecision(personId, safe, facts).ok;
}

/** Every holder of the safe among the people in the facts, by id (sorted). */
export function safeHolders(safe: SafeScope, facts: SafeHolderFacts): string[] {
  return facts.people
    .filter((p) => isSafeHolder(p.id, safe, facts))
    .map((p) => p.id)
    .sort();
}
