import { describe, expect, it } from 'vitest';
import { decideAccess, type GrantFacts } from '../../src/policy/access.js';

const now = new Date('2026-11-25T10:00:00+09:00');
const grant = (over: Partial<GrantFacts> = {}): GrantFacts => ({ id: 1, validFrom: '2026-01-01T00:00:00Z', validUntil: null, purpose: 'p', ...over });
const active = { status: 'active' as const };

describe('access decision (card path)', () => {
  it('grants an active person with an active credential and a current grant, naming the grant', () => {
    const d = decideAccess({ now, credential: active, person: active, grants: [grant({ id: 7 })] });
    expect(d).toEqual({ granted: true, reason: 'granted', grant: grant({ id: 7 }) });
  });

  it.each([
    ['unknown-credential', { credential: undefined, person: undefined, grants: [grant()] }],
    ['credential-revoked', { credential: { status: 'revoked' as const }, person: active, grants: [grant()] }],
    ['credential-suspended', { credential: { status: 'suspended' as const }, person: active, grants: [grant()] }],
    ['person-inactive', { credential: active, person: { status: 'left' as const }, grants: [grant()] }],
    ['person-inactive', { credential: active, person: { status: 'suspended' as const }, grants: [grant()] }],
    ['no-grant', { credential: active, person: active, grants: [] }],
    ['grant-not-yet-valid', { credential: active, person: active, grants: [grant({ validFrom: '2026-12-01T00:00:00Z' })] }],
    ['grant-expired', { credential: active, person: active, grants: [grant({ validUntil: '2026-11-25T00:59:59Z' })] }],
    ['grant-expired', { credential: active, person: active, grants: [grant({ validFrom: 'not a date' })] }],
  ])('denies with %s', (reason, req) => {
    expect(decideAccess({ now, ...req })).toEqual({ granted: false, reason });
  });

  it('treats validUntil as exclusive and validFrom as inclusive', () => {
    expect(decideAccess({ now, credential: active, person: active, grants: [grant({ validUntil: now.toISOString() })] }).granted).toBe(false);
    expect(decideAccess({ now, credential: active, person: active, grants: [grant({ validFrom: now.toISOString() })] }).granted).toBe(true);
  });

  it('uses any one current grant among expired and future ones', () => {
    const grants = [grant({ id: 1, validUntil: '2026-01-02T00:00:00Z' }), grant({ id: 2 }), grant({ id: 3, validFrom: '2027-01-01T00:00:00Z' })];
    const d = decideAccess({ now, credential: active, person: active, grants });
    expect(d.granted && d.grant.id).toBe(2);
  });
});
