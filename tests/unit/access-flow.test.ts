// The access flow's step function, in process: every flow the HIL policy-flows test drives through
// the daemon, with time driven by ticks, plus properties over random input sequences.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decideAgain,
  initialFlowState,
  nextDeadline,
  step,
  type CredentialRecord,
  type DecisionRecord,
  type Direction,
  type FlowEffect,
  type FlowEvent,
  type FlowFacts,
  type FlowInput,
  type FlowSettings,
  type FlowState,
  type PersonRecord,
  type Verification,
} from '../../src/policy/access-flow.js';
import { decidePass, type GrantFacts, type PassRequest, type VisitFacts } from '../../src/policy/access-rules.js';

const T0 = Date.parse('2026-11-25T01:00:00Z');
const CORRUPT = '(corrupt)';

/** People, credentials, grants and visits in memory, as the store would hand them to the flow. */
class World {
  now = T0;
  /** Bumped by every change: a commit submitted before a change decides again. */
  version = 0;
  people = new Map<string, PersonRecord & { trainedAt: string | null; pledgeAt: string | null }>();
  credentials: CredentialRecord[] = [];
  grants: (GrantFacts & { personId: string; revoked: boolean })[] = [];
  visits: (VisitFacts & { visitorId: string; hostId: string })[] = [];
  failures = new Map<string, number>();
  lockedUntil = new Map<string, string>();
  inside = new Set<string>();
  mode: 'normal' | 'lockdown' | 'emergency' = 'normal';
  private nextId = 1;

  constructor(private readonly settings: () => FlowSettings) {}

  staff(id: string, card: string, pin: string, duressPin?: string): void {
    this.people.set(id, {
      id,
      kind: 'staff',
      name: `Name ${id}`,
      affiliation: 'R&D',
      roles: [],
      status: 'active',
      trainedAt: '2026-04-01T00:00:00Z',
      pledgeAt: '2025-04-01T00:00:00Z',
    });
    this.credential(id, 'card', card);
    this.credential(id, 'pin', pin);
    if (duressPin) this.credential(id, 'pin', duressPin, 'duress');
    this.grants.push({
      id: this.nextId++,
      personId: id,
      validFrom: '2026-01-01T00:00:00Z',
      validUntil: null,
      purpose: 'battery project',
      outOfHours: false,
      revoked: false,
    });
  }

  visitor(id: string, card: string, pin: string, hostId: string): void {
    this.people.set(id, { id, kind: 'visitor', name: `Visitor ${id}`, affiliation: 'Audit Co.', roles: [], status: 'active', trainedAt: null, pledgeAt: null });
    this.credential(id, 'card', card);
    this.credential(id, 'pin', pin);
    this.visits.push({
      id: this.nextId++,
      visitorId: id,
      hostId,
      purpose: 'audit',
      areas: ['lab'],
      validFrom: '2026-11-25T00:00:00Z',
      validUntil: '2026-11-26T00:00:00Z',
      approvedAt: '2026-11-20T00:00:00Z',
      pledgeSignedAt: '2026-11-25T00:30:00Z',
      endedAt: null,
    });
  }

  credential(personId: string, kind: CredentialRecord['kind'], value: string, use: CredentialRecord['use'] = 'normal'): void {
    this.credentials.push({ id: this.nextId++, personId, kind, value, use, status: 'active' });
  }

  revokeGrants(personId: string): void {
    for (const g of this.grants) if (g.personId === personId) g.revoked = true;
    this.version++;
  }

  setLeft(personId: string): void {
    this.people.get(personId)!.status = 'left';
    this.revokeGrants(personId);
  }

  facts(): FlowFacts {
    return {
      now: this.now,
      credential: (kind, value) => this.credentials.find((c) => c.kind === kind && c.value === value),
      person: (id) => this.people.get(id),
      visitHost: (visitId) => this.visits.find((v) => v.id === visitId)?.hostId ?? null,
      request: (person, credential, direction): PassRequest => {
        const p = person && this.people.get(person.id);
        const s = this.settings();
        return {
          now: new Date(this.now),
          direction,
          credential,
          person: p && {
            kind: p.kind,
            status: p.status,
            roles: p.roles,
            lastTrainingAt: p.trainedAt,
            pledgeSignedAt: p.pledgeAt,
            lockedOutUntil: this.lockedUntil.get(p.id) ?? null,
          },
          area: { id: s.areaId, mode: this.mode, allowedRoles: [], open: true, antiPassback: s.antiPassback },
          grants: p?.kind === 'staff' ? this.grants.filter((g) => g.personId === p.id && !g.revoked) : [],
          visits: p?.kind === 'visitor' ? this.visits.filter((v) => v.visitorId === p.id) : [],
          inside: p && s.antiPassback !== 'off' ? this.inside.has(p.id) : null,
          settings: { trainingValidityMonths: 12 },
        };
      },
    };
  }

  /** The verifiers: cards by value; a PIN against the person's, a corrupt one a fault. */
  verify(factor: string, value: string, personId: string | null): Verification {
    if (personId === null) {
      const c = this.credentials.find((x) => x.kind === factor && x.value === value);
      return c ? { outcome: 'match', credential: c } : { outcome: 'unknown' };
    }
    const mine = this.credentials.filter((c) => c.personId === personId && c.kind === factor && c.status === 'active');
    const faults = mine.filter((c) => c.value === CORRUPT).map((c) => ({ credentialId: c.id, error: 'malformed hash' }));
    const match = mine.find((c) => c.value !== CORRUPT && c.value === value);
    if (match) return { outcome: 'match', credential: match, faults };
    return { outcome: mine.length > 0 && faults.length === mine.length ? 'fault' : 'mismatch', personId, faults };
  }

  /** What the store does for a wrong secret (people.pinFailure). */
  countFailure(personId: string, attempts: number, lockoutMs: number): string | null {
    const failures = (this.failures.get(personId) ?? 0) + 1;
    const lockedUntil = failures >= attempts ? new Date(this.now + lockoutMs).toISOString() : null;
    this.failures.set(personId, lockedUntil ? 0 : failures);
    if (lockedUntil) this.lockedUntil.set(personId, lockedUntil);
    return lockedUntil;
  }
}

type Logged = DecisionRecord & { seq: number };
interface Commit {
  op: number;
  records: DecisionRecord[];
  ring: boolean;
  occupancy: ('enter' | 'leave' | null)[];
  recheck: Extract<FlowEffect, { type: 'commit' }>['recheck'];
  version: number;
}

/**
 * A door run the way the controller runs it, synchronously: verifications and failure counts are
 * answered at once; commits wait for `flush` (the group commit), which decides again when the world
 * changed since they were submitted.
 */
class Door {
  state: FlowState = initialFlowState();
  readonly world: World;
  settings: FlowSettings = {
    doorId: 'lab-main',
    areaId: 'lab',
    factors: ['card', 'pin'],
    twoPerson: false,
    antiPassback: 'off',
    factorWindowMs: 20_000,
    escortWindowMs: 30_000,
    twoPersonWindowMs: 30_000,
    maxReadAgeMs: 3000,
    pinAttempts: 3,
  };
  /** Every effect, in order; each input the step saw. */
  readonly effects: FlowEffect[] = [];
  readonly steps: { before: FlowState; input: FlowInput; now: number; after: FlowState; effects: FlowEffect[] }[] = [];
  readonly log: Logged[] = [];
  readonly pending: Commit[] = [];
  /** Seqs committed per operation, for publish. */
  private committed = new Map<number, Logged[]>();
  failNextCommits = 0;
  /** Called with a grant's records as they commit (after any decision again), before occupancy moves. */
  beforeGrantCommit?: (records: DecisionRecord[]) => void;
  private seq = 0;
  private readSeq = 0;

  constructor(over: Partial<FlowSettings> = {}) {
    this.settings = { ...this.settings, ...over };
    this.world = new World(() => this.settings);
  }

  feed(input: FlowInput): void {
    const before = this.state;
    const { state, effects } = step(this.state, input, this.world.facts(), this.settings);
    this.state = state;
    this.steps.push({ before, input, now: this.world.now, after: state, effects });
    for (const e of effects) this.run(e);
  }

  private run(e: FlowEffect): void {
    this.effects.push(e);
    switch (e.type) {
      case 'verify':
        this.feed({ type: 'verified', op: e.op, result: this.world.verify(e.factor, e.value, e.personId) });
        return;
      case 'count-failure':
        this.feed({ type: 'failure-counted', op: e.op, lockedUntil: this.world.countFailure(e.personId, this.settings.pinAttempts, 300_000) });
        return;
      case 'clear-failures':
        this.world.failures.delete(e.personId);
        this.world.lockedUntil.delete(e.personId);
        return;
      case 'commit':
        this.pending.push({ op: e.op, records: e.records, ring: e.ring, occupancy: e.occupancy, recheck: e.recheck, version: this.world.version });
        return;
      case 'holder-left':
        this.feed({ type: 'holder-left', personId: e.personId });
        return;
      default:
        return;
    }
  }

  /** Commits what is pending (and what the answers submit), like the group commit's turn. */
  flush(): void {
    while (this.pending.length) {
      const c = this.pending.shift()!;
      if (this.failNextCommits > 0) {
        this.failNextCommits--;
        this.feed({ type: 'commit-failed', op: c.op });
        continue;
      }
      const refusal = c.version !== this.world.version && c.recheck ? decideAgain(c.recheck, this.world.facts()) : null;
      if (refusal) {
        this.feed({ type: 'decided-again', op: c.op, refusal });
        continue;
      }
      if (c.recheck) this.beforeGrantCommit?.(c.records);
      const first = this.seq + 1;
      const logged = c.records.map((r, i): Logged => {
        const next = (i + 1) % c.records.length;
        const linked = c.ring ? { linkedSeq: first + next, linkedPersonId: c.records[next]!.personId } : {};
        return { ...r, ...linked, seq: ++this.seq };
      });
      c.occupancy.forEach((o, i) => {
        if (o === 'enter') this.world.inside.add(c.records[i]!.personId!);
        if (o === 'leave') this.world.inside.delete(c.records[i]!.personId!);
      });
      this.log.push(...logged);
      this.committed.set(c.op, logged);
      this.feed({ type: 'committed', op: c.op, seqs: logged.map((r) => r.seq) });
    }
  }

  read(device: 'reader' | 'keypad' | 'exit', kind: string, value: string, occurredAt = this.world.now): void {
    const direction: Direction = device === 'exit' ? 'out' : 'in';
    this.feed({ type: 'read', kind, value, direction, source: { deviceId: `lab-${device}`, boot: 1, seq: ++this.readSeq, occurredAt } });
  }

  /** A person at the door: card at the reader, then the PIN at the keypad; committed. */
  cardAndPin(card: string, pin: string): void {
    this.read('reader', 'card', card);
    this.read('keypad', 'pin', pin);
    this.flush();
  }

  /** Time passes; the door's timer ticks at its deadline. */
  advance(ms: number): void {
    this.world.now += ms;
    this.feed({ type: 'tick' });
    this.flush();
  }

  get last(): Logged {
    return this.log.at(-1)!;
  }

  effectsSince(i: number): FlowEffect[] {
    return this.effects.slice(i);
  }

  raised(type?: string): FlowEvent[] {
    return this.effects.flatMap((e) => (e.type === 'raise' && (!type || e.event.type === type) ? [e.event] : []));
  }

  releases(): number[] {
    return this.effects.flatMap((e) => (e.type === 'release' ? [e.seq] : []));
  }

  indications(from = 0): string[] {
    return this.effectsSince(from).flatMap((e) => (e.type === 'indicate' ? [`${e.pattern}:${e.side}`] : []));
  }
}

/** The example site's lab: card + PIN; Sato (duress PIN 2581), Tanaka, a visitor hosted by Sato. */
function lab(over: Partial<FlowSettings> = {}): Door {
  const door = new Door(over);
  door.world.staff('sato', 'A0000001', '2580', '2581');
  door.world.staff('tanaka', 'A0000002', '1397');
  door.world.staff('suzuki', 'A0000004', '3690');
  door.world.visitor('jane', 'B0000001', '8642', 'sato');
  return door;
}

describe('the access flow, step by step', () => {
  it('card + PIN: the card asks for the PIN; the right PIN commits, then releases, then shows granted', () => {
    const door = lab();
    door.read('reader', 'card', 'A0000002');
    expect(door.indications()).toEqual(['pin-required:in']);
    expect(door.state.factor).toMatchObject({ phase: 'awaiting-factor', deadline: T0 + 20_000 });
    expect(nextDeadline(door.state)).toBe(T0 + 20_000);
    const mark = door.effects.length;
    door.read('keypad', 'pin', '1397');
    // Nothing is released before the commit answers.
    expect(door.releases()).toEqual([]);
    door.flush();
    expect(door.last).toMatchObject({
      decision: 'granted',
      reason: 'granted',
      personId: 'tanaka',
      factors: ['card', 'pin'],
      deviceId: 'lab-keypad',
      purpose: 'battery project',
    });
    const order = door
      .effectsSince(mark)
      .map((e) => e.type)
      .filter((t) => ['commit', 'release', 'publish', 'indicate'].includes(t));
    expect(order).toEqual(['commit', 'release', 'publish', 'indicate']);
    expect(door.releases()).toEqual([door.last.seq]);
    expect(door.state.factor).toEqual({ phase: 'none' });
    expect(nextDeadline(door.state)).toBeNull();
  });

  it('a wrong PIN is denied and counted; a PIN alone never opens', () => {
    const door = lab();
    door.cardAndPin('A0000002', '0000');
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'wrong-pin', personId: 'tanaka', factors: ['card', 'pin'] });
    expect(door.world.failures.get('tanaka')).toBe(1);
    expect(door.raised('access-denied')).toHaveLength(1);
    door.read('keypad', 'pin', '1397');
    door.flush();
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'second-factor-alone', personId: null, factors: ['pin'] });
    expect(door.releases()).toEqual([]);
  });

  it('an unknown card is denied with its number; a secret never reaches the log', () => {
    const door = lab();
    door.read('reader', 'card', 'DEADBEEF');
    door.flush();
    expect(door.last).toMatchObject({ reason: 'unknown-credential', personId: null, detail: { credential: { kind: 'card', value: 'DEADBEEF' } } });
    const pinFirst = lab({ factors: ['pin', 'otp'] });
    pinFirst.read('reader', 'pin', '12#2580');
    pinFirst.flush();
    expect(pinFirst.last).toMatchObject({ reason: 'unknown-credential', detail: { credential: { kind: 'pin', value: '(hidden)' } } });
  });

  it('a card with no PIN in time is denied second-factor-timeout at the tick past its deadline, and a PIN after it does not complete it', () => {
    const door = lab();
    door.read('reader', 'card', 'A0000002');
    door.advance(19_999);
    expect(door.log).toEqual([]);
    door.advance(1);
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'second-factor-timeout', personId: 'tanaka', factors: ['card'] });
    expect(door.indications().at(-1)).toBe('denied:in');

    // The timer is late: the PIN comes after the deadline, before any tick. It never completes the wait.
    door.read('reader', 'card', 'A0000002');
    door.world.now += 25_000;
    door.read('keypad', 'pin', '1397');
    door.flush();
    expect(door.log.slice(-2).map((r) => r.reason)).toEqual(['second-factor-timeout', 'second-factor-alone']);
    expect(door.releases()).toEqual([]);
  });

  it("a second card before the first person's PIN replaces the wait; the first is logged superseded, quietly", () => {
    const door = lab();
    door.read('reader', 'card', 'A0000002');
    const mark = door.effects.length;
    door.read('reader', 'card', 'A0000004');
    door.flush();
    expect(door.log.map((r) => [r.personId, r.reason])).toEqual([['tanaka', 'superseded']]);
    expect(door.indications(mark)).toEqual(['pin-required:in']);
    door.read('keypad', 'pin', '3690');
    door.flush();
    expect(door.last).toMatchObject({ decision: 'granted', personId: 'suzuki' });
  });

  it('three wrong PINs lock out with a pin-lockout alarm after the denial; then even the right PIN is refused at the card', () => {
    const door = lab();
    for (let i = 0; i < 3; i++) door.cardAndPin('A0000002', '9999');
    const types = door.raised().map((e) => e.type);
    expect(types.filter((t) => t === 'pin-lockout')).toHaveLength(1);
    expect(types.at(-1)).toBe('pin-lockout');
    expect(door.raised('pin-lockout')[0]).toMatchObject({ category: 'alarm', severity: 'alarm', detail: { personId: 'tanaka', attempts: 3 } });
    door.read('reader', 'card', 'A0000002');
    door.flush();
    expect(door.last).toMatchObject({ reason: 'pin-locked-out', personId: 'tanaka', factors: ['card'] });
    expect(door.indications().at(-1)).toBe('denied:in');
  });

  it('a duress PIN opens like any other, marked in the record, with a silent duress alarm after the release', () => {
    const door = lab();
    const mark = door.effects.length;
    door.cardAndPin('A0000001', '2581');
    expect(door.last).toMatchObject({ decision: 'granted', personId: 'sato', detail: { duress: true, grantId: expect.any(Number) } });
    const after = door.effectsSince(mark);
    const release = after.findIndex((e) => e.type === 'release');
    const alarm = after.findIndex((e) => e.type === 'raise' && e.event.type === 'duress');
    expect(release).toBeGreaterThanOrEqual(0);
    expect(alarm).toBeGreaterThan(release);
    expect(door.raised('duress')[0]).toMatchObject({ severity: 'alarm', detail: { seq: door.last.seq, personId: 'sato' } });
    expect(door.indications(mark)).toEqual(['pin-required:in', 'granted:in']);
  });

  it('a duress PIN that does not open still raises the duress alarm (the grant revoked before the commit)', () => {
    const door = lab();
    door.read('reader', 'card', 'A0000001');
    door.read('keypad', 'pin', '2581');
    door.world.revokeGrants('sato');
    door.flush();
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'no-grant', personId: 'sato' });
    expect(door.releases()).toEqual([]);
    expect(door.raised('duress')).toHaveLength(1);
  });

  it('a duress PIN from someone already waiting in the group is not dropped: the wait carries it, and its end raises the alarm', () => {
    const door = lab({ twoPerson: true });
    door.cardAndPin('A0000001', '2580');
    door.cardAndPin('A0000001', '2581');
    expect(door.raised('duress')).toEqual([]);
    door.advance(30_000);
    expect(door.last).toMatchObject({ reason: 'two-person-timeout', personId: 'sato' });
    expect(door.raised('duress')).toEqual([expect.objectContaining({ detail: { seq: door.last.seq, personId: 'sato', personName: 'Name sato' } })]);
  });

  it('two-person rule: one alone waits and is refused at the deadline; two different holders open together, linked round the ring, one release', () => {
    const door = lab({ twoPerson: true });
    door.cardAndPin('A0000001', '2580');
    expect(door.state.group).toMatchObject({ phase: 'gathering', deadline: T0 + 30_000 });
    expect(door.indications().at(-1)).toBe('pin-required:in');
    door.cardAndPin('A0000001', '2580');
    // The same person again does not count twice.
    expect(door.log).toEqual([]);
    door.advance(30_000);
    expect(door.log.map((r) => [r.personId, r.reason])).toEqual([['sato', 'two-person-timeout']]);

    door.cardAndPin('A0000001', '2580');
    door.cardAndPin('A0000004', '3690');
    const [a, b] = door.log.slice(-2);
    expect(a).toMatchObject({ decision: 'granted', personId: 'sato', linkedSeq: b!.seq, linkedPersonId: 'suzuki' });
    expect(b).toMatchObject({ decision: 'granted', personId: 'suzuki', linkedSeq: a!.seq, linkedPersonId: 'sato' });
    expect(door.releases()).toEqual([b!.seq]);
  });

  it("an escorted visitor: alone refused at the deadline; the host after the visitor: both enter, linked, with the visit's purpose", () => {
    const door = lab();
    door.cardAndPin('B0000001', '8642');
    expect(door.state.group).toMatchObject({ phase: 'gathering', deadline: T0 + 30_000 });
    door.advance(30_000);
    expect(door.last).toMatchObject({ reason: 'escort-timeout', personId: 'jane' });

    door.cardAndPin('B0000001', '8642');
    door.cardAndPin('A0000001', '2580');
    const [host, visitor] = door.log.slice(-2);
    expect(host).toMatchObject({ decision: 'granted', personId: 'sato', linkedPersonId: 'jane', linkedSeq: visitor!.seq });
    expect(visitor).toMatchObject({
      decision: 'granted',
      personId: 'jane',
      personName: 'Visitor jane',
      affiliation: 'Audit Co.',
      purpose: 'audit',
      linkedPersonId: 'sato',
    });
    expect(door.releases()).toEqual([visitor!.seq]);
    expect(door.state.group).toEqual({ phase: 'none' });
  });

  it("an escorted visitor after the host went in: granted, linked to the host's record, within the escort window only", () => {
    const door = lab();
    door.cardAndPin('A0000001', '2580');
    const host = door.last;
    door.cardAndPin('B0000001', '8642');
    expect(door.last).toMatchObject({ decision: 'granted', personId: 'jane', linkedSeq: host.seq, linkedPersonId: 'sato' });

    // Later than the window: the host's entry no longer counts; the visitor waits and is refused.
    door.world.now += 31_000;
    door.cardAndPin('B0000001', '8642');
    door.advance(30_000);
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'escort-timeout', personId: 'jane' });
  });

  it('only the host escorts: a colleague who goes in first or after is refused as escort-not-host, named', () => {
    const door = lab();
    door.cardAndPin('A0000002', '1397');
    door.cardAndPin('B0000001', '8642');
    expect(door.log.at(-1)).toMatchObject({ decision: 'granted', personId: 'tanaka' });
    door.advance(30_000);
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'escort-not-host', personId: 'jane', detail: { escort: { personId: 'tanaka' } } });

    door.world.now += 60_000;
    door.cardAndPin('B0000001', '8642');
    door.cardAndPin('A0000004', '3690');
    expect(door.last).toMatchObject({ decision: 'granted', personId: 'suzuki', linkedSeq: null });
    door.advance(30_000);
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'escort-not-host', personId: 'jane', detail: { escort: { personId: 'suzuki' } } });
  });

  it('a host who has left escorts no one: going in first (decided on fresh data) or coming after (refused, named)', () => {
    const door = lab();
    door.cardAndPin('A0000001', '2580');
    door.world.setLeft('sato');
    door.cardAndPin('B0000001', '8642');
    door.advance(30_000);
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'escort-not-valid', detail: { escort: { personId: 'sato', reason: 'person-inactive' } } });
    expect(door.releases()).toHaveLength(1);

    const later = lab();
    later.world.setLeft('sato');
    later.cardAndPin('B0000001', '8642');
    later.read('reader', 'card', 'A0000001');
    later.flush();
    expect(later.last).toMatchObject({ decision: 'denied', reason: 'person-inactive', personId: 'sato' });
    later.advance(30_000);
    expect(later.last).toMatchObject({
      decision: 'denied',
      reason: 'escort-not-valid',
      personId: 'jane',
      detail: { escort: { personId: 'sato', reason: 'person-inactive' } },
    });
    expect(later.releases()).toEqual([]);
  });

  it('a host who went out again escorts no one in', () => {
    const door = lab();
    door.cardAndPin('A0000001', '2580');
    door.read('exit', 'card', 'A0000001');
    door.flush();
    expect(door.last).toMatchObject({ decision: 'granted', direction: 'out', factors: ['card'] });
    expect(door.state.recentHolders).toEqual([]);
    door.cardAndPin('B0000001', '8642');
    door.advance(30_000);
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'escort-timeout', personId: 'jane' });
  });

  it('anti-passback: hard refuses a second entry without an exit; soft lets it pass with a warning', () => {
    const hard = lab({ antiPassback: 'hard' });
    hard.cardAndPin('A0000002', '1397');
    expect(hard.world.inside.has('tanaka')).toBe(true);
    // Refused at the card, before any PIN.
    hard.read('reader', 'card', 'A0000002');
    hard.flush();
    expect(hard.last).toMatchObject({ decision: 'denied', reason: 'anti-passback', factors: ['card'] });
    hard.read('exit', 'card', 'A0000002');
    hard.flush();
    expect(hard.last).toMatchObject({ decision: 'granted', direction: 'out' });
    expect(hard.world.inside.has('tanaka')).toBe(false);
    hard.read('exit', 'card', 'A0000002');
    hard.flush();
    expect(hard.last).toMatchObject({ decision: 'denied', reason: 'anti-passback', direction: 'out' });

    const soft = lab({ antiPassback: 'soft' });
    soft.cardAndPin('A0000002', '1397');
    soft.cardAndPin('A0000002', '1397');
    expect(soft.last).toMatchObject({ decision: 'granted', detail: { antiPassback: 'violation' } });
    expect(soft.raised('anti-passback-violation')).toEqual([expect.objectContaining({ detail: { seq: soft.last.seq, personId: 'tanaka', direction: 'in' } })]);
  });

  it('a stale read is denied before any lookup, with one rate-limited backlog warning and no access-denied event', () => {
    const door = lab();
    door.read('reader', 'card', 'A0000002', T0 - 3001);
    expect(door.effects.some((e) => e.type === 'verify')).toBe(false);
    door.flush();
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'stale-read', factors: ['card'] });
    const [backlog] = door.effects.filter((e) => e.type === 'raise');
    expect(backlog).toMatchObject({
      event: { type: 'decision-backlog', detail: { ageMs: 3001, maxReadAgeMs: 3000 } },
      limit: { key: 'decision-backlog', windowMs: 10_000 },
    });
    expect(door.raised('access-denied')).toEqual([]);
    // Exactly at the limit is not stale.
    door.read('reader', 'card', 'A0000002', T0 - 3000);
    expect(door.indications().at(-1)).toBe('pin-required:in');
  });

  it('decided again in the commit: a grant revoked between decision and commit does not open', () => {
    const door = lab({ factors: ['card'] });
    door.read('reader', 'card', 'A0000002');
    door.flush();
    expect(door.last).toMatchObject({ decision: 'granted' });
    door.read('reader', 'card', 'A0000002');
    door.world.revokeGrants('tanaka');
    door.flush();
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'no-grant', personId: 'tanaka' });
    expect(door.releases()).toHaveLength(1);
  });

  it("decided again in the commit: the visitor's escort revoked before the commit refuses the visitor, naming the escort", () => {
    const door = lab({ factors: ['card'] });
    door.read('reader', 'card', 'A0000001');
    door.flush();
    door.read('reader', 'card', 'B0000001');
    door.world.revokeGrants('sato');
    door.flush();
    expect(door.last).toMatchObject({
      decision: 'denied',
      reason: 'escort-not-valid',
      personId: 'jane',
      detail: { escort: { personId: 'sato', reason: 'no-grant' } },
    });
    expect(door.releases()).toHaveLength(1);
  });

  it('two-person rule: the first holder revoked while waiting does not open with the second (found by the property below)', () => {
    const door = lab({ twoPerson: true });
    door.cardAndPin('A0000001', '2580');
    door.world.revokeGrants('sato');
    door.cardAndPin('A0000004', '3690');
    expect(door.log.map((r) => [r.personId, r.decision, r.reason])).toEqual([
      ['sato', 'denied', 'no-grant'],
      ['suzuki', 'denied', 'cancelled'],
    ]);
    expect(door.releases()).toEqual([]);
  });

  it('decided again for a pair: the one refused is denied with the reason, the other cancelled quietly', () => {
    const door = lab({ twoPerson: true });
    door.cardAndPin('A0000001', '2580');
    door.read('reader', 'card', 'A0000004');
    door.read('keypad', 'pin', '3690');
    door.world.revokeGrants('suzuki');
    const mark = door.effects.length;
    door.flush();
    expect(door.log.slice(-2).map((r) => [r.personId, r.reason])).toEqual([
      ['sato', 'cancelled'],
      ['suzuki', 'no-grant'],
    ]);
    expect(door.releases()).toEqual([]);
    expect(door.indications(mark)).toEqual(['denied:in']);
  });

  it('a storage fault: nothing opens, the door shows denied', () => {
    const door = lab({ factors: ['card'] });
    door.failNextCommits = 1;
    door.read('reader', 'card', 'A0000002');
    door.flush();
    expect(door.log).toEqual([]);
    expect(door.releases()).toEqual([]);
    expect(door.indications()).toEqual(['denied:in']);
  });

  it('a cancel drops the waits, each person logged cancelled quietly', () => {
    const door = lab();
    door.cardAndPin('B0000001', '8642');
    door.read('reader', 'card', 'A0000002');
    const mark = door.effects.length;
    door.feed({ type: 'cancel' });
    door.flush();
    expect(door.log.map((r) => [r.personId, r.reason]).sort()).toEqual([
      ['jane', 'cancelled'],
      ['tanaka', 'cancelled'],
    ]);
    expect(door.indications(mark)).toEqual([]);
    expect(nextDeadline(door.state)).toBeNull();
  });

  it('a corrupt PIN hash is a credential-fault: denied, an event naming the credential, not counted toward the lockout', () => {
    const door = lab();
    const pin = door.world.credentials.find((c) => c.personId === 'tanaka' && c.kind === 'pin')!;
    pin.value = CORRUPT;
    for (let i = 0; i < 4; i++) door.cardAndPin('A0000002', '1397');
    expect(door.log.map((r) => r.reason)).toEqual(['credential-fault', 'credential-fault', 'credential-fault', 'credential-fault']);
    expect(door.raised('credential-fault')[0]).toMatchObject({
      category: 'system',
      severity: 'warning',
      detail: { credentialId: pin.id, personId: 'tanaka', factor: 'pin' },
    });
    expect(door.world.failures.get('tanaka')).toBeUndefined();
    expect(door.raised('pin-lockout')).toEqual([]);
    expect(door.effects.some((e) => e.type === 'count-failure')).toBe(false);
    expect(door.releases()).toEqual([]);
  });

  it('a corrupt duress PIN beside a good PIN: the good one opens, the fault is still said; wrong PINs still count', () => {
    const door = lab();
    door.world.credentials.find((c) => c.personId === 'sato' && c.use === 'duress')!.value = CORRUPT;
    door.cardAndPin('A0000001', '2580');
    expect(door.last).toMatchObject({ decision: 'granted', personId: 'sato' });
    expect(door.raised('credential-fault')).toHaveLength(1);
    door.cardAndPin('A0000001', '0000');
    expect(door.last).toMatchObject({ decision: 'denied', reason: 'wrong-pin' });
    expect(door.world.failures.get('sato')).toBe(1);
  });

  it('an answer for an operation the state does not hold does nothing', () => {
    const door = lab();
    const before = door.state;
    const { state, effects } = step(before, { type: 'committed', op: 99, seqs: [1] }, door.world.facts(), door.settings);
    expect(effects).toEqual([]);
    expect(state).toEqual(before);
  });
});

// Random sequences of what can happen at a card + PIN door with a visitor and two holders. As in the
// controller, a read waits for the commits before it (each door's queue); ticks, cancels and changes
// to the data (a revocation through the API) do not.
const action = fc.oneof(
  // People at the door most of the time; the rest now and then.
  { weight: 4, arbitrary: fc.record({ t: fc.constant('card' as const), card: fc.constantFrom('A0000001', 'A0000002', 'B0000001', 'DEADBEEF') }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('pin' as const), pin: fc.constantFrom('2580', '2581', '1397', '8642', '0000') }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('exit' as const), card: fc.constantFrom('A0000001', 'A0000002', 'B0000001') }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 40_000 }) }) },
  // The clock moves without a tick (a late timer): the next input must still see the deadline.
  { weight: 1, arbitrary: fc.record({ t: fc.constant('late' as const), ms: fc.integer({ min: 1, max: 40_000 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('revoke' as const), who: fc.constantFrom('sato', 'tanaka', 'jane') }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cancel' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('storage-fault' as const) }) },
);

type Action = { t: string; card?: string; pin?: string; ms?: number; who?: string };
const setup = fc.record({ twoPerson: fc.boolean(), antiPassback: fc.constantFrom('off' as const, 'soft' as const, 'hard' as const) });

function play(door: Door, actions: readonly Action[]): Door {
  for (const a of actions) {
    if (a.t === 'card' || a.t === 'pin' || a.t === 'exit') door.flush();
    switch (a.t) {
      case 'card':
        door.read('reader', 'card', a.card!);
        break;
      case 'pin':
        door.read('keypad', 'pin', a.pin!);
        break;
      case 'exit':
        door.read('exit', 'card', a.card!);
        break;
      case 'wait':
        door.advance(a.ms!);
        break;
      case 'late':
        door.world.now += a.ms!;
        break;
      case 'revoke':
        if (a.who === 'jane') door.world.setLeft('sato');
        else door.world.revokeGrants(a.who!);
        break;
      case 'cancel':
        door.feed({ type: 'cancel' });
        break;
      case 'storage-fault':
        door.failNextCommits = 1;
        break;
    }
  }
  door.flush();
  door.advance(100_000);
  return door;
}

describe('properties of the access flow over random input sequences', () => {
  it('no release without a committed grant whose every person passes the rules at the commit (a visitor only with the host)', () => {
    fc.assert(
      fc.property(setup, fc.array(action, { maxLength: 40 }), (settings, actions) => {
        const door = lab(settings);
        // Asked as each grant commits, on the data of that moment, before its occupancy moves.
        door.beforeGrantCommit = (records) => {
          for (const r of records) {
            const person = door.world.people.get(r.personId!)!;
            const credential = door.world.credentials.find((c) => c.personId === person.id && c.kind === 'card');
            const decision = decidePass(door.world.facts().request(person, credential, r.direction));
            expect(decision.ok, `${r.personId} ${r.direction} passes`).toBe(true);
            if (r.direction === 'in') expect(r.factors).toEqual(['card', 'pin']);
            if (person.kind === 'visitor' && r.direction === 'in') {
              // With the host: entering together, or linked to the host's own entry just before. The
              // host's standing is what counts, not anti-passback: a host who went in just before is
              // inside, and under hard anti-passback could not go in again (access-rules asks the same).
              expect(r.linkedPersonId).toBe('sato');
              const host = door.world.people.get('sato')!;
              const hostCard = door.world.credentials.find((c) => c.personId === 'sato' && c.kind === 'card');
              expect(decidePass({ ...door.world.facts().request(host, hostCard, 'in'), inside: null }).ok).toBe(true);
            }
          }
        };
        play(door, actions);
        for (const s of door.steps) {
          const releases = s.effects.filter((e) => e.type === 'release');
          if (!releases.length) continue;
          expect(s.input.type).toBe('committed');
          const seqs = s.input.type === 'committed' ? s.input.seqs : [];
          const records = door.log.filter((r) => seqs.includes(r.seq));
          expect(records.length).toBeGreaterThan(0);
          expect(records.every((r) => r.decision === 'granted')).toBe(true);
          expect(releases).toEqual([{ type: 'release', seq: Math.max(...seqs) }]);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a duress PIN always raises the duress alarm, whatever happens after; no duress alarm without one', () => {
    fc.assert(
      fc.property(setup, fc.array(action, { maxLength: 40 }), (settings, actions) => {
        const door = play(lab(settings), actions);
        const isDuress = (s: Door['steps'][number]) =>
          s.input.type === 'verified' && s.input.result.outcome === 'match' && s.input.result.credential.use === 'duress';
        door.steps.forEach((s, i) => {
          if (!isDuress(s)) return;
          const later = door.steps
            .slice(i)
            .flatMap((x) => x.effects)
            .filter((e) => e.type === 'raise' && e.event.type === 'duress');
          expect(later.length, 'a duress alarm after the duress PIN').toBeGreaterThan(0);
        });
        if (!door.steps.some(isDuress)) expect(door.raised('duress')).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });

  it('a deadline passed never grants: no one whose wait ended is let in by it', () => {
    fc.assert(
      fc.property(setup, fc.array(action, { maxLength: 40 }), (settings, actions) => {
        const door = play(lab(settings), actions);
        for (const s of door.steps) {
          // Whoever waited past their deadline when this input came is not among those it grants.
          const expired: (number | null)[] = [];
          if (s.before.factor.phase === 'awaiting-factor' && s.now >= s.before.factor.deadline) expired.push(s.before.factor.attempt.source.seq);
          if (s.before.group.phase === 'gathering' && s.now >= s.before.group.deadline) {
            for (const a of [...s.before.group.holders, ...s.before.group.visitors]) expired.push(a.source.seq);
          }
          if (!expired.length) continue;
          for (const e of s.effects) {
            if (e.type !== 'commit') continue;
            for (const r of e.records) if (r.decision === 'granted') expect(expired).not.toContain(r.deviceSeq);
          }
          // And the state waits for nothing already due.
          const next = nextDeadline(s.after);
          expect(next === null || next > s.now).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
