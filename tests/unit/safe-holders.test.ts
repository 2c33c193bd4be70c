// Who holds a safe: a staff member in good standing with a grant in force for the safe (or its area
// when the safe says so). Every way of losing access makes a person no holder.
import { describe, expect, it } from 'vitest';
import { isSafeHolder, safeHolderDecision, safeHolders, type HolderGrant, type HolderPerson, type SafeHolderFacts } from '../../src/policy/safe-holders.js';

const now = new Date('2026-06-01T03:00:00Z');
const safe = { id: 'doc-safe', area: 'vault', holders: 'safe' as const };
const person = (id: string, over: Partial<HolderPerson> = {}): HolderPerson => ({
  id,
  kind: 'staff',
  status: 'active',
  lastTrainingAt: '2026-01-10T00:00:00Z',
  pledgeSignedAt: '2025-04-01T00:00:00Z',
  ...over,
});
let grantIds = 0;
const grant = (personId: string, areaId: string, over: Partial<HolderGrant> = {}): HolderGrant => ({
  id: ++grantIds,
  personId,
  areaId,
  validFrom: '2026-01-01T00:00:00Z',
  validUntil: null,
  purpose: 'archive',
  ...over,
});
const facts = (people: HolderPerson[], grants: HolderGrant[]): SafeHolderFacts => ({ now, trainingValidityMonths: 12, people, grants });

describe('safe holders', () => {
  it('a grant for the safe makes a holder; a grant for its area only when the safe says holders: area', () => {
    const f = facts([person('a'), person('b')], [grant('a', 'doc-safe', { purpose: 'contracts' }), grant('b', 'vault')]);
    expect(safeHolderDecision('a', safe, f)).toMatchObject({ ok: true, purpose: 'contracts' });
    expect(safeHolderDecision('b', safe, f)).toEqual({ ok: false, reason: 'no-grant' });
    expect(safeHolders(safe, f)).toEqual(['a']);
    expect(safeHolders({ ...safe, holders: 'area' }, f)).toEqual(['b']);
  });

  it('losing access in any way makes no holder, with the first rule that failed', () => {
    const g = (id: string, over: Partial<HolderGrant> = {}) => grant(id, 'doc-safe', over);
    const cases: [HolderPerson, HolderGrant[], string][] = [
      [person('left', { status: 'left' }), [g('left')], 'person-inactive'],
      [person('susp', { status: 'suspended' }), [g('susp')], 'person-inactive'],
      [person('visitor', { kind: 'visitor' }), [g('visitor')], 'no-grant'],
      [person('ended'), [g('ended', { validUntil: '2026-05-31T00:00:00Z' })], 'grant-expired'],
      [person('later'), [g('later', { validFrom: '2026-07-01T00:00:00Z' })], 'grant-not-yet-valid'],
      [person('bad-date'), [g('bad-date', { validFrom: 'soon' })], 'grant-expired'],
      [person('untrained', { lastTrainingAt: null }), [g('untrained')], 'no-training'],
      [person('lapsed', { lastTrainingAt: '2025-06-01T03:00:00Z' }), [g('lapsed')], 'training-lapsed'],
      [person('nopledge', { pledgeSignedAt: null }), [g('nopledge')], 'no-pledge'],
    ];
    for (const [p, grants, reason] of cases) {
      const f = facts([p], grants);
      expect(safeHolderDecision(p.id, safe, f), p.id).toEqual({ ok: false, reason });
      expect(isSafeHolder(p.id, safe, f)).toBe(false);
    }
    expect(safeHolderDecision('nobody', safe, facts([], []))).toEqual({ ok: false, reason: 'unknown-credential' });
  });

  it("another person's grant makes no one a holder", () => {
    expect(isSafeHolder('a', safe, facts([person('a'), person('b')], [grant('b', 'doc-safe')]))).toBe(false);
  });
});
