// Access decisions: pure functions over plain data. Each denial names the first rule that failed.
// Imports nothing of ours: the controller hands in what it read from the store.

export type ReasonCode =
  | 'granted'
  | 'unknown-credential'
  | 'credential-suspended'
  | 'credential-revoked'
  | 'person-inactive'
  | 'no-grant'
  | 'grant-not-yet-valid'
  | 'grant-expired'
  | 'unknown-door';

export interface CredentialFacts {
  status: 'active' | 'suspended' | 'revoked';
}
export interface PersonFacts {
  status: 'active' | 'suspended' | 'left';
}
export interface GrantFacts {
  id: number;
  validFrom: string;
  validUntil: string | null;
  purpose: string;
}

export interface AccessRequest {
  now: Date;
  credential?: CredentialFacts;
  person?: PersonFacts;
  /** Unrevoked grants of this person for the door's area. */
  grants: GrantFacts[];
}

export type AccessDecision =
  | { granted: true; reason: 'granted'; grant: GrantFacts }
  | { granted: false; reason: Exclude<ReasonCode, 'granted'> };

export function decideAccess(req: AccessRequest): AccessDecision {
  if (!req.credential || !req.person) return { granted: false, reason: 'unknown-credential' };
  if (req.credential.status === 'revoked') return { granted: false, reason: 'credential-revoked' };
  if (req.credential.status !== 'active') return { granted: false, reason: 'credential-suspended' };
  if (req.person.status !== 'active') return { granted: false, reason: 'person-inactive' };
  if (req.grants.length === 0) return { granted: false, reason: 'no-grant' };
  const now = req.now.getTime();
  const current = req.grants.find((g) => Date.parse(g.validFrom) <= now && (g.validUntil === null || now < Date.parse(g.validUntil)));
  if (current) return { granted: true, reason: 'granted', grant: current };
  // Say why the nearest grant does not count: an early start reads differently from an expiry.
  const future = req.grants.some((g) => Date.parse(g.validFrom) > now);
  return { granted: false, reason: future ? 'grant-not-yet-valid' : 'grant-expired' };
}
