// The access flow at one door as data and a pure step: identify the person by the first factor,
// collect the further factors, the escort (a visitor's host) or the second person, then commit the
// decision and only then release the door.
//
//   step(state, input, facts, settings) → { state, effects }
//
// The controller holds each door's state, feeds it inputs (a read, a verification's result, the
// outcome of a commit, a tick of time) and carries out the effects (verify a factor, count a wrong
// secret, commit records, release, indicate, raise events). Deadlines are timestamps in the state:
// nothing here waits or keeps a timer; a tick past a deadline ends the wait. Every input first ends
// the waits whose deadline has passed, so a late factor never completes one.
//
// `facts` reads the world (the store, through the controller) and nothing else: the step is a pure
// function of its arguments and the facts it reads. Operations the controller carries out are
// numbered in the state; an answer for a number the state does not hold does nothing.
import { decideEscort, decidePass, invalidCredentialReasons, type PassDecision, type PassRequest } from './access-rules.js';
import {
  EVENT_TYPES,
  FACTORS,
  isOneOf,
  type CredentialStatus,
  type CredentialUse,
  type DenyReason,
  type EventCategory,
  type EventType,
  type Factor,
  type PersonKind,
  type PersonStatus,
  type ReasonCode,
  type Severity,
} from './vocabulary.js';

export type { Factor } from './vocabulary.js';
export type Direction = 'in' | 'out';

/**
 * What each factor is to the flow: a secret is never written to the log (not even as an unknown
 * credential), and what a wrong one is called (a card is never wrong, only unknown).
 */
export const factorTraits: Readonly<Record<Factor, { secret: boolean; wrong: DenyReason }>> = {
  card: { secret: false, wrong: 'unknown-credential' },
  pin: { secret: true, wrong: 'wrong-pin' },
  otp: { secret: true, wrong: 'wrong-otp' },
  bio: { secret: false, wrong: 'wrong-bio' },
};

const isFactor = (kind: string): kind is Factor => isOneOf(FACTORS, kind);

/** Where a read came from. */
export interface ReadSource {
  deviceId: string;
  boot: number | null;
  seq: number | null;
  /** When the read happened, controller clock, ms. */
  occurredAt: number;
}

export interface PersonRecord {
  id: string;
  kind: PersonKind;
  name: string;
  affiliation: string;
  roles: readonly string[];
  status: PersonStatus;
}

export interface CredentialRecord {
  id: number;
  personId: string;
  kind: Factor;
  value: string;
  use: CredentialUse;
  status: CredentialStatus;
}

/** The world as the flow reads it, fresh at each call (a revocation applies to the very next step). */
export interface FlowFacts {
  /** The controller clock, ms. */
  readonly now: number;
  /** A credential by its kind and value (a card number, a stored PIN hash). */
  credential(kind: Factor, value: string): CredentialRecord | undefined;
  person(id: string): PersonRecord | undefined;
  /** What the rules need to decide this person's request at this door now. */
  request(person: PersonRecord | undefined, credential: CredentialRecord | undefined, direction: Direction): PassRequest;
  /** The host of a visit; null when the visit cannot be found (fail secure). */
  visitHost(visitId: number): string | null;
}

export interface FlowSettings {
  doorId: string;
  areaId: string;
  /** The area's factors, in the order they are presented. */
  factors: readonly Factor[];
  twoPerson: boolean;
  antiPassback: 'off' | 'soft' | 'hard';
  factorWindowMs: number;
  escortWindowMs: number;
  twoPersonWindowMs: number;
  maxReadAgeMs: number;
  /** For the lockout alarm's detail. */
  pinAttempts: number;
}

type PassOk = Extract<PassDecision, { ok: true }>;

/** One person's way through the factors; `person` once the first factor identified them. */
export interface Attempt {
  direction: Direction;
  source: ReadSource;
  /** Presented so far, in order. */
  factors: Factor[];
  person?: PersonRecord;
  /** The first factor's credential: what the decision is taken again on. */
  credential?: CredentialRecord;
  duress: boolean;
}

type Identified = Attempt & { person: PersonRecord; credential: CredentialRecord };

/** A person who has presented every factor the area asks for. */
export interface Authenticated extends Identified {
  decision: PassOk;
}

/** An access holder who could escort a visitor: who, and the credential their standing is decided on again. */
export interface Escort {
  personId: string;
  credential: CredentialRecord;
}

export interface RecentHolder extends Escort {
  seq: number;
  at: number;
}

/** Why a waiting visitor's would-be escort did not count: said when the wait ends. */
export interface EscortRefusal {
  reason: 'escort-not-host' | 'escort-not-valid';
  escortId: string;
  escortReason: DenyReason | null;
}

/** Waiting for the next factor of one person. Kept apart from the group: an escort's own card and PIN must not cancel the visitor who waits for them. */
export type FactorWait = { phase: 'none' } | { phase: 'awaiting-factor'; attempt: Identified; deadline: number };

/**
 * People fully authenticated who wait for others: visitors for an escort, access holders for a second
 * holder (two-person areas). The door opens when enough holders are there; each visitor goes in with
 * them only if their host is among them, the others wait on until the deadline.
 */
export type GroupWait =
  | { phase: 'none' }
  | { phase: 'gathering'; holders: Authenticated[]; visitors: Authenticated[]; refused: Readonly<Record<string, EscortRefusal>>; deadline: number };

/** A denial to be logged; `quiet`: the log only (a cancelled or replaced wait), no indication or event. */
export interface Denial {
  direction: Direction;
  source: ReadSource;
  factors: Factor[];
  reason: DenyReason;
  person?: PersonRecord;
  /** An unknown credential as tried: a card number is kept, a secret is not. */
  tried?: { kind: Factor; value: string };
  detail?: Record<string, unknown>;
  quiet?: boolean;
  duress?: boolean;
  /** Set when this wrong secret locked the person out. */
  lockedUntil?: string | null;
}

/** Operations the controller carries out for the flow, answered by their number. */
export type Operation =
  | { kind: 'identify'; attempt: Attempt; tried: { kind: Factor; value: string } }
  | { kind: 'verify'; attempt: Identified }
  | { kind: 'count-failure'; denial: Denial }
  | { kind: 'commit-grant'; people: Authenticated[]; linkTo: (Escort & { seq: number }) | null }
  | { kind: 'commit-denial'; denial: Denial };

export interface FlowState {
  factor: FactorWait;
  group: GroupWait;
  /** Access holders who entered here lately, for a visitor who follows them in (newest first, at most 5). */
  recentHolders: RecentHolder[];
  nextOp: number;
  ops: Readonly<Record<number, Operation>>;
}

export const initialFlowState = (): FlowState => ({ factor: { phase: 'none' }, group: { phase: 'none' }, recentHolders: [], nextOp: 1, ops: {} });

/** A credential that could not be checked: a malformed PIN hash, a sealed seed that does not open. */
export interface CredentialFault {
  credentialId: number;
  error: string;
}

/** A verifier's answer. */
export type Verification = (
  | { outcome: 'match'; credential: CredentialRecord }
  /** Nothing known by that value (identification only). */
  | { outcome: 'unknown' }
  /** The person is known; the secret is not theirs: counts toward the lockout. */
  | { outcome: 'mismatch'; personId: string }
  /** None of the person's credentials of that kind could be checked: a fault, not a wrong secret. */
  | { outcome: 'fault'; personId: string }
) & { faults?: CredentialFault[] };

export type FlowInput =
  | { type: 'read'; kind: string; value: string; direction: Direction; source: ReadSource }
  | { type: 'verified'; op: number; result: Verification }
  | { type: 'failure-counted'; op: number; lockedUntil: string | null }
  | { type: 'committed'; op: number; seqs: number[] }
  /** The commit decided again on changed data and refused `who` (an index into the committed people). */
  | { type: 'decided-again'; op: number; refusal: Refusal }
  /** Storage failed: nothing was committed. */
  | { type: 'commit-failed'; op: number }
  | { type: 'tick' }
  /** Whatever the door waited for is dropped (lockdown, emergency, reload). */
  | { type: 'cancel' }
  /** An access holder went out of the area (at any of its doors): they escort no one in. */
  | { type: 'holder-left'; personId: string };

/** One decision-log record, as the flow writes it (the log adds seq and hashes). */
export interface DecisionRecord {
  at: string;
  kind: 'decision';
  doorId: string;
  areaId: string;
  direction: Direction;
  personId: string | null;
  personName: string | null;
  affiliation: string | null;
  purpose: string | null;
  factors: Factor[];
  decision: 'granted' | 'denied';
  reason: ReasonCode;
  deviceId: string;
  deviceBoot: number | null;
  deviceSeq: number | null;
  linkedSeq: number | null;
  linkedPersonId: string | null;
  detail: Record<string, unknown> | null;
}

export interface FlowEvent {
  category: EventCategory;
  type: EventType;
  severity: Severity;
  source: string;
  detail: Record<string, unknown>;
}

/** What the commit must check again when the data changed since the decision. */
export interface Recheck {
  people: Authenticated[];
  linkTo: (Escort & { seq: number }) | null;
}

export type FlowEffect =
  /** Check a factor: identify who presents `value` (personId null) or check it is this person's. */
  | { type: 'verify'; op: number; factor: Factor; value: string; personId: string | null }
  /** A wrong secret: count it toward the person's lockout (kept in the store). */
  | { type: 'count-failure'; op: number; personId: string }
  | { type: 'clear-failures'; personId: string }
  /**
   * Append the records in one transaction; `ring`: each names the next, round the ring. `occupancy`:
   * per record, who is inside the area now (anti-passback). `recheck`: decide again if anything was
   * written since (see decideAgain).
   */
  | { type: 'commit'; op: number; records: DecisionRecord[]; ring: boolean; occupancy: ('enter' | 'leave' | null)[]; recheck: Recheck | null }
  | { type: 'release'; seq: number }
  /** Put the records committed by `op` on the bus. */
  | { type: 'publish'; op: number }
  | { type: 'indicate'; pattern: 'granted' | 'denied' | 'pin-required'; side: Direction }
  /** `limit`: at most one per key per window (a backlog must not flood the events). */
  | { type: 'raise'; event: FlowEvent; limit?: { key: string; windowMs: number } }
  /** Tell every door of the area that this holder went out. */
  | { type: 'holder-left'; personId: string };

export interface Step {
  state: FlowState;
  effects: FlowEffect[];
}

/** The refusal of a decision taken again in the commit: `who` indexes the people of the commit. */
export interface Refusal {
  who: number;
  reason: DenyReason;
  detail?: Record<string, unknown>;
}

/** A holder refused for one of these does not pass the area's rules: as a host, they escort no one. */
const STANDING_REASONS: ReadonlySet<DenyReason> = new Set([
  'credential-revoked',
  'credential-suspended',
  'person-inactive',
  'pin-locked-out',
  'area-locked-down',
  'no-grant',
  'grant-not-yet-valid',
  'grant-expired',
  'outside-hours',
  'no-training',
  'training-lapsed',
  'no-pledge',
]);

/** How many recent holders a door remembers. */
const RECENT_HOLDERS = 5;

export function step(state: FlowState, input: FlowInput, facts: FlowFacts, settings: FlowSettings): Step {
  const flow = new Flow(state, facts, settings);
  flow.expire();
  flow.handle(input);
  return { state: flow.state, effects: flow.effects };
}

/** The earliest deadline the state waits for (ms), or null: when the controller should tick. */
export function nextDeadline(state: FlowState): number | null {
  const ds = [state.factor.phase === 'awaiting-factor' ? state.factor.deadline : null, state.group.phase === 'gathering' ? state.group.deadline : null].filter(
    (d): d is number => d !== null,
  );
  return ds.length ? Math.min(...ds) : null;
}

/**
 * Decides a grant again inside its commit, on what the store holds now (a grant revoked, a person set
 * to left, a lockdown since the decision): the first person refused, or null when all still pass.
 */
export function decideAgain(recheck: Recheck, facts: FlowFacts): Refusal | null {
  const { people, linkTo } = recheck;
  for (const [who, a] of people.entries()) {
    const credential = facts.credential(a.credential.kind, a.credential.value);
    const again = decidePass(facts.request(facts.person(a.person.id), credential, a.direction));
    if (!again.ok) return { who, reason: again.reason };
  }
  // A visitor's escort too: the one who went first, or the host among those entering now.
  const escorts: Escort[] = linkTo ? [linkTo] : people.filter((p) => !p.decision.needsEscort).map(escortOf);
  for (const [who, v] of people.entries()) {
    if (!v.decision.needsEscort) continue;
    const found = findEscort(v, escorts, facts);
    if (!('escort' in found)) return { who, reason: found.refusal?.reason ?? 'escort-not-valid', detail: escortDetail(found.refusal) };
  }
  return null;
}

const escortOf = (a: Authenticated): Escort => ({ personId: a.person.id, credential: a.credential });

/** A visitor's denial names the escort who did not count and the escort's own failing rule. */
function escortDetail(r: EscortRefusal | null | undefined): Record<string, unknown> | undefined {
  return r ? { escort: { personId: r.escortId, ...(r.escortReason ? { reason: r.escortReason } : {}) } } : undefined;
}

/**
 * Whether one access holder may escort a visitor now: the visit's host, and still in good standing
 * for this area on fresh data (not left, grant not revoked, card not revoked, training and pledge).
 */
function escortDecision(visitor: Authenticated, escort: Escort, facts: FlowFacts) {
  const hostId = visitor.decision.visitId !== null ? facts.visitHost(visitor.decision.visitId) : null;
  const found = facts.credential(escort.credential.kind, escort.credential.value);
  const credential = found && found.personId === escort.personId ? found : undefined;
  const person = facts.person(escort.personId);
  return decideEscort({ hostId, escortId: escort.personId, escort: facts.request(person, credential, 'in') });
}

/** The first of `escorts` who may escort the visitor, or the refusal that says most (the host's own, before anyone else's). */
function findEscort(visitor: Authenticated, escorts: readonly Escort[], facts: FlowFacts): { escort: Escort } | { refusal: EscortRefusal | null } {
  let refusal: EscortRefusal | null = null;
  for (const escort of escorts) {
    const d = escortDecision(visitor, escort, facts);
    if (d.ok) return { escort };
    if (!refusal || d.reason === 'escort-not-valid') refusal = { reason: d.reason, escortId: escort.personId, escortReason: d.escortReason };
  }
  return { refusal };
}

function grantDetail(a: Authenticated): Record<string, unknown> | null {
  const detail: Record<string, unknown> = {};
  if (a.decision.grantId !== null) detail.grantId = a.decision.grantId;
  if (a.decision.visitId !== null) detail.visitId = a.decision.visitId;
  if (a.duress) detail.duress = true;
  if (a.decision.antiPassbackViolation) detail.antiPassback = 'violation';
  return Object.keys(detail).length ? detail : null;
}

/** One step's work: a copy of the state it replaces piece by piece (the input state is never changed), and the effects in order. */
class Flow {
  readonly state: FlowState & { ops: Record<number, Operation> };
  readonly effects: FlowEffect[] = [];

  constructor(
    state: FlowState,
    private readonly facts: FlowFacts,
    private readonly settings: FlowSettings,
  ) {
    this.state = { ...state, ops: { ...state.ops } };
  }

  private get now(): number {
    return this.facts.now;
  }

  handle(input: FlowInput): void {
    switch (input.type) {
      case 'read':
        this.read(input.kind, input.value, input.direction, input.source);
        return;
      case 'verified':
        this.verified(input.op, input.result);
        return;
      case 'failure-counted': {
        const op = this.take(input.op, 'count-failure');
        if (op) this.deny({ ...op.denial, lockedUntil: input.lockedUntil });
        return;
      }
      case 'committed':
        this.committed(input.op, input.seqs);
        return;
      case 'decided-again':
        this.decidedAgain(input.op, input.refusal);
        return;
      case 'commit-failed':
        this.commitFailed(input.op);
        return;
      case 'tick':
        return;
      case 'cancel':
        this.cancel();
        return;
      case 'holder-left':
        this.state.recentHolders = this.state.recentHolders.filter((h) => h.personId !== input.personId);
        return;
    }
  }

  /** Ends the waits whose deadline has passed, each person in them logged as denied. */
  expire(): void {
    const { factor, group } = this.state;
    if (factor.phase === 'awaiting-factor' && this.now >= factor.deadline) {
      this.state.factor = { phase: 'none' };
      const a = factor.attempt;
      this.deny({ direction: a.direction, source: a.source, factors: a.factors, reason: 'second-factor-timeout', person: a.person, duress: a.duress });
    }
    if (group.phase === 'gathering' && this.now >= group.deadline) {
      this.state.group = { phase: 'none' };
      for (const a of group.holders) this.deny({ ...this.denialOf(a), reason: 'two-person-timeout' });
      for (const a of group.visitors) {
        // An escort who came but did not count is named; otherwise no one came in time.
        const refusal = group.refused[a.person.id];
        this.deny({ ...this.denialOf(a), reason: refusal?.reason ?? 'escort-timeout', detail: escortDetail(refusal) });
      }
    }
  }

  private cancel(): void {
    const { factor, group } = this.state;
    this.state.factor = { phase: 'none' };
    this.state.group = { phase: 'none' };
    if (factor.phase === 'awaiting-factor') this.deny({ ...this.denialOf(factor.attempt), reason: 'cancelled', quiet: true });
    if (group.phase === 'gathering') {
      for (const a of [...group.holders, ...group.visitors]) this.deny({ ...this.denialOf(a), reason: 'cancelled', quiet: true });
    }
  }

  private denialOf(a: Attempt): Omit<Denial, 'reason'> {
    return { direction: a.direction, source: a.source, factors: a.factors, person: a.person, duress: a.duress };
  }

  private read(kind: string, value: string, direction: Direction, source: ReadSource): void {
    // Leaving takes one factor: double locking guards the way in.
    const factors = direction === 'out' ? this.settings.factors.slice(0, 1) : this.settings.factors;
    // Behind a backlog the person may have gone: a late unlock opens the door for whoever is there.
    // Denied before anything else (no lookup, no PIN attempt counted); they can read again.
    if (this.now - source.occurredAt > this.settings.maxReadAgeMs) {
      this.deny({ direction, source, factors: [kind as Factor], reason: 'stale-read' });
      return;
    }
    if (!isFactor(kind) || !factors.includes(kind)) {
      this.deny({ direction, source, factors: [kind as Factor], reason: 'factor-not-accepted' });
      return;
    }
    const factor = this.state.factor;
    if (kind !== factors[0]) {
      // A later factor: it completes the wait of the person before, if it is the one they owe.
      if (factor.phase === 'awaiting-factor' && kind === factors[factor.attempt.factors.length]) {
        this.state.factor = { phase: 'none' };
        const attempt: Identified = { ...factor.attempt, source, factors: [...factor.attempt.factors, kind] };
        const op = this.begin({ kind: 'verify', attempt });
        this.effects.push({ type: 'verify', op, factor: kind, value, personId: attempt.person.id });
        return;
      }
      // A second factor alone never opens.
      this.deny({ direction, source, factors: [kind], reason: 'second-factor-alone' });
      return;
    }
    const op = this.begin({
      kind: 'identify',
      attempt: { direction, source, factors: [kind], duress: false },
      tried: { kind, value: factorTraits[kind].secret ? '(hidden)' : value },
    });
    this.effects.push({ type: 'verify', op, factor: kind, value, personId: null });
  }

  private verified(opId: number, result: Verification): void {
    const op = this.state.ops[opId];
    if (!op || (op.kind !== 'identify' && op.kind !== 'verify')) return;
    delete this.state.ops[opId];
    const factor = op.attempt.factors.at(-1)!;
    // A credential that cannot be checked is a fault to repair, not a wrong secret: said, never counted.
    const personId = result.outcome === 'match' ? result.credential.personId : result.outcome === 'unknown' ? null : result.personId;
    for (const f of result.faults ?? []) {
      this.raise('credential-fault', { credentialId: f.credentialId, factor, personId, error: f.error });
    }
    if (op.kind === 'identify') {
      this.identified(op.attempt, op.tried, result);
      return;
    }
    const a = op.attempt;
    if (result.outcome === 'fault') {
      this.deny({ ...this.denialOf(a), reason: 'credential-fault' });
      return;
    }
    if (result.outcome !== 'match') {
      this.wrongSecret({ ...this.denialOf(a), reason: factorTraits[factor].wrong });
      return;
    }
    this.effects.push({ type: 'clear-failures', personId: a.person.id });
    const duress = a.duress || result.credential.use === 'duress';
    // Decide again on fresh data: a grant revoked between the card and the PIN must not open. The
    // failures this success clears (above) no longer lock the person out.
    const credential = this.facts.credential(a.credential.kind, a.credential.value);
    const fresh = credential ? this.facts.person(credential.personId) : undefined;
    const req = this.facts.request(fresh, credential, a.direction);
    const decision = decidePass(req.person ? { ...req, person: { ...req.person, lockedOutUntil: null } } : req);
    if (!decision.ok) {
      this.deny({ ...this.denialOf(a), reason: decision.reason, duress });
      return;
    }
    this.proceed({ ...a, person: fresh!, credential: credential!, duress }, decision);
  }

  private identified(attempt: Attempt, tried: { kind: Factor; value: string }, result: Verification): void {
    const denial = { direction: attempt.direction, source: attempt.source, factors: attempt.factors };
    if (result.outcome === 'unknown') {
      this.deny({ ...denial, reason: 'unknown-credential', tried });
      return;
    }
    if (result.outcome !== 'match') {
      const person = this.facts.person(result.personId);
      if (result.outcome === 'fault') {
        this.deny({ ...denial, reason: 'credential-fault', person });
        return;
      }
      if (!person) {
        this.deny({ ...denial, reason: 'unknown-credential', tried });
        return;
      }
      this.wrongSecret({ ...denial, reason: factorTraits[tried.kind].wrong, person });
      return;
    }
    const credential = result.credential;
    const person = this.facts.person(credential.personId);
    const duress = credential.use === 'duress';
    const decision = decidePass(this.facts.request(person, credential, attempt.direction));
    if (!decision.ok) {
      this.deny({ ...denial, reason: decision.reason, person, duress });
      return;
    }
    this.proceed({ ...attempt, person: person!, credential, duress }, decision);
  }

  /** Identified and decided: wait for the next factor the area asks for, or go on as authenticated. */
  private proceed(a: Identified, decision: PassOk): void {
    const factors = a.direction === 'out' ? this.settings.factors.slice(0, 1) : this.settings.factors;
    if (a.factors.length < factors.length) {
      const replaced = this.state.factor;
      // Someone else's read before the first person's next factor: theirs is logged, not lost.
      if (replaced.phase === 'awaiting-factor') this.deny({ ...this.denialOf(replaced.attempt), reason: 'superseded', quiet: true });
      this.state.factor = { phase: 'awaiting-factor', attempt: a, deadline: this.now + this.settings.factorWindowMs };
      this.indicate('pin-required', 'in');
      return;
    }
    this.authenticated({ ...a, decision });
  }

  private authenticated(a: Authenticated): void {
    const { settings } = this;
    if (a.direction === 'out') {
      this.grant([a], null);
      return;
    }
    const holdersNeeded = settings.twoPerson ? 2 : 1;
    let refusal: EscortRefusal | null = null;
    if (a.decision.needsEscort && holdersNeeded === 1) {
      // The escort may already have gone in at this door, just before the visitor: only the visit's
      // host, and only if still in good standing now (someone set to `left` a moment ago escorts no one).
      const recent = this.state.recentHolders.filter((h) => this.now - h.at <= settings.escortWindowMs);
      const found = findEscort(a, recent, this.facts);
      if ('escort' in found) {
        const h = recent.find((x) => x.personId === found.escort.personId)!;
        this.grant([a], { seq: h.seq, personId: h.personId, credential: h.credential });
        return;
      }
      // Not yet: the host may still come after; why the ones here did not count is kept for the end.
      refusal = found.refusal;
    } else if (!a.decision.needsEscort && holdersNeeded === 1 && this.state.group.phase === 'none') {
      this.grant([a], null);
      return;
    }
    const group =
      this.state.group.phase === 'gathering'
        ? this.state.group
        : {
            phase: 'gathering' as const,
            holders: [],
            visitors: [],
            refused: {},
            deadline: this.now + (a.decision.needsEscort ? settings.escortWindowMs : settings.twoPersonWindowMs),
          };
    let { holders, visitors } = group;
    const refused = { ...group.refused };
    // The same person again does not count twice; a duress PIN the second time is carried by the wait.
    const join = (list: Authenticated[]): Authenticated[] => {
      const same = list.find((x) => x.person.id === a.person.id);
      if (!same) return [...list, a];
      return a.duress && !same.duress ? list.map((x) => (x === same ? { ...x, duress: true } : x)) : list;
    };
    if (a.decision.needsEscort) visitors = join(visitors);
    else holders = join(holders);
    if (refusal) refused[a.person.id] = refusal;
    if (holders.length < holdersNeeded) {
      this.state.group = { ...group, holders, visitors, refused };
      this.indicate('pin-required', 'in');
      return;
    }
    // Enough holders: each waiting visitor goes in with them only if their host is one of them.
    const escorts = holders.map(escortOf);
    const going = [...holders];
    const waiting: Authenticated[] = [];
    for (const v of visitors) {
      const found = findEscort(v, escorts, this.facts);
      if ('escort' in found) going.push(v);
      else {
        waiting.push(v);
        if (found.refusal) refused[v.person.id] = found.refusal;
      }
    }
    // The others wait on for their host until their deadline (the same one).
    this.state.group = waiting.length === 0 ? { phase: 'none' } : { ...group, holders: [], visitors: waiting, refused };
    this.grant(going, null);
  }

  /**
   * Commits one record per person (a group names each other, round the ring), with occupancy; the
   * door is released only when the commit answers. `linkTo`: the escort who went first.
   */
  private grant(people: Authenticated[], linkTo: (Escort & { seq: number }) | null): void {
    const { settings } = this;
    // A group's earlier members were decided when they came: a revocation since then must count now,
    // not only if it lands between this decision and its commit.
    const refusal = people.length > 1 ? decideAgain({ people, linkTo }, this.facts) : null;
    if (refusal) {
      this.refuse(people, refusal);
      return;
    }
    const at = new Date(this.now).toISOString();
    const op = this.begin({ kind: 'commit-grant', people, linkTo });
    const records = people.map(
      (a): DecisionRecord => ({
        at,
        kind: 'decision',
        doorId: settings.doorId,
        areaId: settings.areaId,
        direction: a.direction,
        personId: a.person.id,
        personName: a.person.name,
        affiliation: a.person.affiliation,
        purpose: a.decision.purpose,
        factors: a.factors,
        decision: 'granted',
        reason: 'granted',
        deviceId: a.source.deviceId,
        deviceBoot: a.source.boot,
        deviceSeq: a.source.seq,
        linkedSeq: people.length > 1 ? null : (linkTo?.seq ?? null),
        linkedPersonId: people.length > 1 ? null : (linkTo?.personId ?? null),
        detail: grantDetail(a),
      }),
    );
    const occupancy = people.map((a) => (settings.antiPassback === 'off' ? null : a.direction === 'in' ? ('enter' as const) : ('leave' as const)));
    this.effects.push({ type: 'commit', op, records, ring: people.length > 1, occupancy, recheck: { people, linkTo } });
  }

  /** A wrong secret counts toward the lockout first; the denial follows with whether it locked out. */
  private wrongSecret(d: Denial): void {
    const op = this.begin({ kind: 'count-failure', denial: d });
    this.effects.push({ type: 'count-failure', op, personId: d.person!.id });
  }

  private deny(d: Denial): void {
    if (d.person && d.direction === 'in' && STANDING_REASONS.has(d.reason)) this.hostRefused(d.person.id, d.reason);
    const op = this.begin({ kind: 'commit-denial', denial: d });
    const record: DecisionRecord = {
      at: new Date(this.now).toISOString(),
      kind: 'decision',
      doorId: this.settings.doorId,
      areaId: this.settings.areaId,
      direction: d.direction,
      personId: d.person?.id ?? null,
      personName: d.person?.name ?? null,
      affiliation: d.person?.affiliation ?? null,
      purpose: null,
      factors: d.factors,
      decision: 'denied',
      reason: d.reason,
      deviceId: d.source.deviceId,
      deviceBoot: d.source.boot,
      deviceSeq: d.source.seq,
      linkedSeq: null,
      linkedPersonId: null,
      // An unknown card's number is kept so a guard can see what was tried; secrets (PIN, OTP) never are.
      detail: d.tried ? { credential: d.tried } : (d.detail ?? null),
    };
    this.effects.push({ type: 'commit', op, records: [record], ring: false, occupancy: [null], recheck: null });
  }

  /** A visitor's host came to the door while the visitor waits, and was refused: the visitor is told why when the wait ends. */
  private hostRefused(personId: string, reason: DenyReason): void {
    const group = this.state.group;
    if (group.phase !== 'gathering') return;
    const refused = { ...group.refused };
    for (const v of group.visitors) {
      if (v.decision.visitId !== null && this.facts.visitHost(v.decision.visitId) === personId) {
        refused[v.person.id] = { reason: 'escort-not-valid', escortId: personId, escortReason: reason };
      }
    }
    this.state.group = { ...group, refused };
  }

  private committed(opId: number, seqs: number[]): void {
    const op = this.state.ops[opId];
    if (!op || (op.kind !== 'commit-grant' && op.kind !== 'commit-denial')) return;
    delete this.state.ops[opId];
    if (op.kind === 'commit-denial') {
      this.denied(opId, op.denial, seqs[0] ?? null);
      return;
    }
    const { people } = op;
    // Committed: the unlock goes first, the publishing of the records after it.
    this.effects.push({ type: 'release', seq: seqs.at(-1)! });
    this.effects.push({ type: 'publish', op: opId });
    // A duress grant looks like any other at the door: the alarm is silent.
    this.indicate('granted', people[0]!.direction);
    people.forEach((a, i) => {
      const seq = seqs[i]!;
      if (a.direction === 'in' && !a.decision.needsEscort) {
        this.state.recentHolders = [{ ...escortOf(a), seq, at: this.now }, ...this.state.recentHolders.filter((h) => h.personId !== a.person.id)].slice(
          0,
          RECENT_HOLDERS,
        );
      } else if (a.direction === 'out') {
        // A host who has gone out again escorts no one in: forgotten at every door of the area.
        this.effects.push({ type: 'holder-left', personId: a.person.id });
      }
      if (a.duress) this.duress(a.person, seq);
      if (a.decision.antiPassbackViolation) {
        this.raise('anti-passback-violation', { seq, personId: a.person.id, direction: a.direction });
      }
    });
  }

  /** A denial is in the log: shown at the door and raised, unless quiet. */
  private denied(opId: number, d: Denial, seq: number | null): void {
    this.effects.push({ type: 'publish', op: opId });
    if (!d.quiet) {
      this.indicate('denied', d.direction);
      if (d.reason === 'stale-read') {
        // One event for a backlog, not one per read: a flood of events would deepen it.
        this.raise(
          'decision-backlog',
          { seq, ageMs: this.now - d.source.occurredAt, maxReadAgeMs: this.settings.maxReadAgeMs, device: d.source.deviceId },
          { key: 'decision-backlog', windowMs: 10_000 },
        );
      } else {
        const detail = { seq, reason: d.reason, personId: d.person?.id ?? null, device: d.source.deviceId };
        this.raise('access-denied', detail);
        if (invalidCredentialReasons.has(d.reason)) this.raise('invalid-credential-used', detail);
      }
    }
    this.afterDenial(d, seq);
  }

  /** Said whether or not the denial reached the log: a lockout, and a duress PIN that did not open. */
  private afterDenial(d: Denial, seq: number | null): void {
    if (d.lockedUntil && d.person) {
      this.raise('pin-lockout', { personId: d.person.id, personName: d.person.name, attempts: this.settings.pinAttempts, lockedUntil: d.lockedUntil });
    }
    if (d.duress && d.person) this.duress(d.person, seq);
  }

  /** The person is under duress, whatever the door does: a silent alarm. */
  private duress(person: PersonRecord, seq: number | null): void {
    this.raise('duress', { seq, personId: person.id, personName: person.name });
  }

  private decidedAgain(opId: number, refusal: Refusal): void {
    const op = this.take(opId, 'commit-grant');
    if (op) this.refuse(op.people, refusal);
  }

  /** The one refused is denied with the reason; anyone entering with them is cancelled. */
  private refuse(people: Authenticated[], refusal: Refusal): void {
    people.forEach((a, i) => {
      const refused = i === refusal.who;
      this.deny({ ...this.denialOf(a), reason: refused ? refusal.reason : 'cancelled', detail: refused ? refusal.detail : undefined, quiet: !refused });
    });
  }

  /** Nothing committed, so nothing opens: the door shows denied (the controller reports the fault). */
  private commitFailed(opId: number): void {
    const op = this.state.ops[opId];
    if (!op || (op.kind !== 'commit-grant' && op.kind !== 'commit-denial')) return;
    delete this.state.ops[opId];
    this.indicate('denied', 'in');
    if (op.kind === 'commit-denial') {
      this.afterDenial(op.denial, null);
      return;
    }
    for (const a of op.people) if (a.duress) this.duress(a.person, null);
  }

  private take<K extends Operation['kind']>(opId: number, kind: K): Extract<Operation, { kind: K }> | undefined {
    const op = this.state.ops[opId];
    if (!op || op.kind !== kind) return undefined;
    delete this.state.ops[opId];
    return op as Extract<Operation, { kind: K }>;
  }

  private begin(op: Operation): number {
    const id = this.state.nextOp;
    this.state.nextOp = id + 1;
    this.state.ops[id] = op;
    return id;
  }

  private indicate(pattern: 'granted' | 'denied' | 'pin-required', side: Direction): void {
    this.effects.push({ type: 'indicate', pattern, side });
  }

  private raise(type: EventType, detail: Record<string, unknown>, limit?: { key: string; windowMs: number }): void {
    const { category, severity } = EVENT_TYPES[type];
    this.effects.push({ type: 'raise', event: { category, type, severity, source: this.settings.doorId, detail }, ...(limit ? { limit } : {}) });
  }
}
