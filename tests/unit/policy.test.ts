import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideEscort,
  decidePass,
  trainingLapsesAt,
  type GrantFacts,
  type PassRequest,
  type PersonFacts,
  type VisitFacts,
} from '../../src/policy/access-rules.js';

const now = new Date('2026-11-25T10:00:00+09:00');
const grant = (over: Partial<GrantFacts> = {}): GrantFacts => ({
  id: 1,
  validFrom: '2026-01-01T00:00:00Z',
  validUntil: null,
  purpose: 'battery project',
  outOfHours: false,
  ...over,
});
const staff = (over: Partial<PersonFacts> = {}): PersonFacts => ({
  kind: 'staff',
  status: 'active',
  roles: [],
  lastTrainingAt: '2026-04-01T00:00:00Z',
  pledgeSignedAt: '2025-04-01T00:00:00Z',
  lockedOutUntil: null,
  ...over,
});
const visit = (over: Partial<VisitFacts> = {}): VisitFacts => ({
  id: 9,
  purpose: 'equipment audit',
  areas: ['lab'],
  validFrom: '2026-11-25T00:00:00Z',
  validUntil: '2026-11-26T00:00:00Z',
  approvedAt: '2026-11-20T00:00:00Z',
  pledgeSignedAt: '2026-11-25T00:30:00Z',
  endedAt: null,
  ...over,
});
const base = (over: Partial<PassRequest> = {}): PassRequest => ({
  now,
  direction: 'in',
  credential: { status: 'active' },
  person: staff(),
  area: { id: 'lab', mode: 'normal', allowedRoles: [], open: true, antiPassback: 'off' },
  grants: [grant()],
  visits: [],
  inside: null,
  settings: { trainingValidityMonths: 12 },
  ...over,
});
const reason = (req: PassRequest) => {
  const d = decidePass(req);
  return d.ok ? 'granted' : d.reason;
};

describe('access policy: each rule and reason code', () => {
  it('grants an access holder who meets every rule, naming the grant and its purpose', () => {
    expect(decidePass(base())).toEqual({ ok: true, purpose: 'battery project', grantId: 1, visitId: null, needsEscort: false, antiPassbackViolation: false });
  });

  it.each([
    ['unknown-credential', base({ credential: undefined, person: undefined })],
    ['credential-revoked', base({ credential: { status: 'revoked' } })],
    ['credential-suspended', base({ credential: { status: 'suspended' } })],
    ['person-inactive', base({ person: staff({ status: 'suspended' }) })],
    ['person-inactive', base({ person: staff({ status: 'left' }) })],
    ['pin-locked-out', base({ person: staff({ lockedOutUntil: '2026-11-25T01:05:00Z' }) })],
    ['area-locked-down', base({ area: { id: 'lab', mode: 'lockdown', allowedRoles: ['security'], open: true, antiPassback: 'off' } })],
    ['no-grant', base({ grants: [] })],
    ['grant-not-yet-valid', base({ grants: [grant({ validFrom: '2026-12-01T00:00:00Z' })] })],
    ['grant-expired', base({ grants: [grant({ validUntil: '2026-11-25T00:59:59Z' })] })],
    ['grant-expired', base({ grants: [grant({ validFrom: 'garbage' })] })],
    ['outside-hours', base({ area: { id: 'lab', mode: 'normal', allowedRoles: [], open: false, antiPassback: 'off' } })],
    ['no-training', base({ person: staff({ lastTrainingAt: null }) })],
    ['training-lapsed', base({ person: staff({ lastTrainingAt: '2025-11-25T01:00:00Z' }) })],
    ['no-pledge', base({ person: staff({ pledgeSignedAt: null }) })],
    ['anti-passback', base({ area: { id: 'lab', mode: 'normal', allowedRoles: [], open: true, antiPassback: 'hard' }, inside: true })],
  ])('denies with %s', (code, req) => {
    expect(reason(req)).toBe(code);
  });

  it('names the first rule that failed when several do', () => {
    expect(reason(base({ credential: { status: 'suspended' }, grants: [], person: staff({ pledgeSignedAt: null }) }))).toBe('credential-suspended');
    expect(reason(base({ grants: [], person: staff({ lastTrainingAt: null }) }))).toBe('no-grant');
  });

  it('an expired lockout no longer blocks', () => {
    expect(reason(base({ person: staff({ lockedOutUntil: '2026-11-25T00:59:00Z' }) }))).toBe('granted');
  });

  it('treats grant validity as [from, until)', () => {
    expect(reason(base({ grants: [grant({ validUntil: now.toISOString() })] }))).toBe('grant-expired');
    expect(reason(base({ grants: [grant({ validFrom: now.toISOString() })] }))).toBe('granted');
  });

  it('outside business hours only out-of-hours grants pass, and their purpose is the one logged', () => {
    const closed = { id: 'lab', mode: 'normal' as const, allowedRoles: [], open: false, antiPassback: 'off' as const };
    const d = decidePass(base({ area: closed, grants: [grant({ id: 1 }), grant({ id: 2, outOfHours: true, purpose: 'night test run' })] }));
    expect(d).toMatchObject({ ok: true, grantId: 2, purpose: 'night test run' });
  });

  it('training lapses after the configured number of calendar months', () => {
    expect(trainingLapsesAt('2025-11-25T01:00:00Z', 12).toISOString()).toBe('2026-11-25T01:00:00.000Z');
    expect(reason(base({ person: staff({ lastTrainingAt: '2025-11-25T01:00:01Z' }) }))).toBe('granted');
    expect(reason(base({ person: staff({ lastTrainingAt: '2026-06-01T00:00:00Z' }), settings: { trainingValidityMonths: 3 } }))).toBe('training-lapsed');
  });

  it('lockdown lets the listed roles through', () => {
    const area = { id: 'lab', mode: 'lockdown' as const, allowedRoles: ['security'], open: true, antiPassback: 'off' as const };
    expect(reason(base({ area, person: staff({ roles: ['security'] }) }))).toBe('granted');
  });

  it('leaving needs only a known, active credential: a lapsed grant or training never traps anyone inside', () => {
    expect(reason(base({ direction: 'out', grants: [], person: staff({ lastTrainingAt: null, pledgeSignedAt: null }) }))).toBe('granted');
    expect(reason(base({ direction: 'out', credential: { status: 'revoked' } }))).toBe('credential-revoked');
    // Nor does a lockdown or a PIN lockout.
    expect(reason(base({ direction: 'out', person: staff({ lockedOutUntil: '2099-01-01T00:00:00Z' }) }))).toBe('granted');
    expect(reason(base({ direction: 'out', area: { id: 'lab', mode: 'lockdown', allowedRoles: [], open: true, antiPassback: 'off' } }))).toBe('granted');
  });

  it('anti-passback: hard denies re-entry and exit without entry; soft allows and flags', () => {
    const area = (antiPassback: 'soft' | 'hard') => ({ id: 'lab', mode: 'normal' as const, allowedRoles: [], open: true, antiPassback });
    expect(reason(base({ area: area('hard'), inside: false }))).toBe('granted');
    expect(reason(base({ area: area('hard'), direction: 'out', inside: false }))).toBe('anti-passback');
    expect(reason(base({ area: area('hard'), direction: 'out', inside: true }))).toBe('granted');
    expect(decidePass(base({ area: area('soft'), inside: true }))).toMatchObject({ ok: true, antiPassbackViolation: true });
  });

  describe('visitors', () => {
    const visitor = staff({ kind: 'visitor', lastTrainingAt: null, pledgeSignedAt: null });
    it('pass only approved, in the window, with a pledge, and always need an escort', () => {
      expect(decidePass(base({ person: visitor, grants: [], visits: [visit()] }))).toEqual({
        ok: true,
        purpose: 'equipment audit',
        grantId: null,
        visitId: 9,
        needsEscort: true,
        antiPassbackViolation: false,
      });
    });
    it.each([
      ['no-visit', [] as VisitFacts[]],
      ['no-visit', [visit({ areas: ['vault'] })]],
      ['no-visit', [visit({ endedAt: '2026-11-25T00:50:00Z' })]],
      ['visit-not-approved', [visit({ approvedAt: null })]],
      ['visit-not-yet-valid', [visit({ validFrom: '2026-11-26T00:00:00Z', validUntil: '2026-11-27T00:00:00Z' })]],
      ['visit-expired', [visit({ validFrom: '2026-11-24T00:00:00Z', validUntil: '2026-11-25T00:00:00Z' })]],
      ['no-pledge', [visit({ pledgeSignedAt: null })]],
    ])('are denied with %s', (code, visits) => {
      expect(reason(base({ person: visitor, grants: [], visits }))).toBe(code);
    });
    it('are denied outside business hours', () => {
      expect(
        reason(base({ person: visitor, visits: [visit()], area: { id: 'lab', mode: 'normal', allowedRoles: [], open: false, antiPassback: 'off' } })),
      ).toBe('outside-hours');
    });
  });

  describe('escorts', () => {
    const escort = (over: Partial<PassRequest> = {}, hostId: string | null = 'host-1', escortId = 'host-1') =>
      decideEscort({ hostId, escortId, escort: base(over) });
    it("the visit's host in good standing escorts", () => {
      expect(escort()).toEqual({ ok: true });
    });
    it('anyone else does not, whatever their standing; nor does anyone when the visit is not found', () => {
      expect(escort({}, 'host-1', 'colleague')).toEqual({ ok: false, reason: 'escort-not-host', escortReason: null });
      expect(escort({}, null, 'host-1')).toEqual({ ok: false, reason: 'escort-not-host', escortReason: null });
    });
    it.each([
      ['person-inactive', { person: staff({ status: 'left' }) }],
      ['person-inactive', { person: staff({ status: 'suspended' }) }],
      ['no-grant', { grants: [] }],
      ['grant-expired', { grants: [grant({ validUntil: '2026-11-25T00:00:00Z' })] }],
      ['credential-revoked', { credential: { status: 'revoked' as const } }],
      ['unknown-credential', { credential: undefined }],
      ['training-lapsed', { person: staff({ lastTrainingAt: '2025-11-25T00:00:00Z' }) }],
      ['no-pledge', { person: staff({ pledgeSignedAt: null }) }],
      ['pin-locked-out', { person: staff({ lockedOutUntil: '2026-11-25T02:00:00Z' }) }],
      ['area-locked-down', { area: { id: 'lab', mode: 'lockdown' as const, allowedRoles: ['security'], open: true, antiPassback: 'off' as const } }],
    ])('a host who no longer passes escorts no one (%s)', (code, over) => {
      expect(escort(over)).toEqual({ ok: false, reason: 'escort-not-valid', escortReason: code });
    });
    it('anti-passback is not asked of an escort who just went in; an exit request is never what is judged', () => {
      const hard = { id: 'lab', mode: 'normal' as const, allowedRoles: [], open: true, antiPassback: 'hard' as const };
      expect(escort({ area: hard, inside: true })).toEqual({ ok: true });
      expect(escort({ direction: 'out', grants: [] })).toMatchObject({ ok: false, reason: 'escort-not-valid', escortReason: 'no-grant' });
    });
    it('a visitor never escorts, even named as host', () => {
      const visitor = staff({ kind: 'visitor', lastTrainingAt: null, pledgeSignedAt: null });
      expect(escort({ person: visitor, grants: [], visits: [visit()] })).toMatchObject({ ok: false, reason: 'escort-not-valid' });
    });
  });
});

describe('access policy properties', () => {
  const iso = fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
  const grantArb = fc.record({
    id: fc.nat(),
    validFrom: fc.oneof(iso, fc.constant('garbage')),
    validUntil: fc.option(iso),
    purpose: fc.string(),
    outOfHours: fc.boolean(),
  });
  const personArb = fc.record({
    kind: fc.constantFrom('staff' as const, 'visitor' as const),
    status: fc.constantFrom('active' as const, 'suspended' as const, 'left' as const),
    roles: fc.array(fc.constantFrom('security', 'manager', 'x')),
    lastTrainingAt: fc.option(iso),
    pledgeSignedAt: fc.option(iso),
    lockedOutUntil: fc.option(iso),
  });
  const visitArb = fc.record({
    id: fc.nat(),
    purpose: fc.string(),
    areas: fc.array(fc.constantFrom('lab', 'vault')),
    validFrom: iso,
    validUntil: iso,
    approvedAt: fc.option(iso),
    pledgeSignedAt: fc.option(iso),
    endedAt: fc.option(iso),
  });
  const requestArb = fc.record({
    now: fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }),
    direction: fc.constant('in' as const),
    credential: fc.option(fc.record({ status: fc.constantFrom('active' as const, 'suspended' as const, 'revoked' as const) }), { nil: undefined }),
    person: fc.option(personArb, { nil: undefined }),
    area: fc.record({
      id: fc.constant('lab'),
      mode: fc.constantFrom('normal' as const, 'lockdown' as const, 'emergency' as const),
      allowedRoles: fc.array(fc.constantFrom('security', 'manager')),
      open: fc.boolean(),
      antiPassback: fc.constantFrom('off' as const, 'soft' as const, 'hard' as const),
    }),
    grants: fc.array(grantArb, { maxLength: 4 }),
    visits: fc.array(visitArb, { maxLength: 3 }),
    inside: fc.option(fc.boolean()),
    settings: fc.record({ trainingValidityMonths: fc.integer({ min: 1, max: 24 }) }),
  });

  const current = (g: GrantFacts, t: number) => Date.parse(g.validFrom) <= t && (g.validUntil === null || t < Date.parse(g.validUntil));

  it('never lets an access holder in without a grant that is valid now (and usable at this hour)', () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        const d = decidePass(req);
        if (!d.ok || req.person?.kind !== 'staff') return true;
        const t = req.now.getTime();
        const usable = req.grants.filter((g) => current(g, t) && (req.area.open || g.outOfHours));
        return usable.some((g) => g.id === d.grantId) && req.credential?.status === 'active' && req.person.status === 'active';
      }),
      { numRuns: 20_000 },
    );
  });

  it('never lets a visitor in without an approved, current visit for the area, and never without an escort', () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        const d = decidePass(req);
        if (!d.ok || req.person?.kind !== 'visitor') return true;
        const t = req.now.getTime();
        const v = req.visits.find((x) => x.id === d.visitId);
        return (
          d.needsEscort &&
          v !== undefined &&
          v.approvedAt !== null &&
          v.pledgeSignedAt !== null &&
          v.endedAt === null &&
          v.areas.includes(req.area.id) &&
          Date.parse(v.validFrom) <= t &&
          t < Date.parse(v.validUntil)
        );
      }),
      { numRuns: 20_000 },
    );
  });

  it("never lets anyone but the visit's host escort, nor a host who would not be let in now", () => {
    fc.assert(
      fc.property(requestArb, fc.constantFrom('host-1', 'other'), fc.option(fc.constantFrom('host-1', 'other')), (req, escortId, hostId) => {
        const d = decideEscort({ hostId, escortId, escort: req });
        if (!d.ok) return true;
        const own = decidePass({ ...req, inside: null });
        return escortId === hostId && own.ok && !own.needsEscort && req.person?.kind === 'staff' && req.person.status === 'active';
      }),
      { numRuns: 20_000 },
    );
  });

  it('never grants an unknown, suspended or revoked credential, an inactive person, or anyone locked out', () => {
    fc.assert(
      fc.property(requestArb, (req) => {
        const d = decidePass(req);
        if (!d.ok) return true;
        const p = req.person!;
        return req.credential?.status === 'active' && p.status === 'active' && !(p.lockedOutUntil && Date.parse(p.lockedOutUntil) > req.now.getTime());
      }),
      { numRuns: 20_000 },
    );
  });
});
