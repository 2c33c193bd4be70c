// The access flow at each door: identify the person, ask the policy, collect the second factor, the
// escort or the second person, then log the decision (committed) before the door is released.
import { verify as verifyTotp } from 'otplib';
import { decideEscort, decidePass, invalidCredentialReasons, type DenyReason, type EscortDecision, type Factor, type PassDecision, type PassRequest } from '../policy/access-rules.js';
import { isWithinSchedule } from '../policy/schedule.js';
import type { CredentialEvent } from '../devices/protocol.js';
import type { Area, Door } from '../site/schema.js';
import type { EntryRecord } from '../store/entry-log.js';
import type { Credential, Person } from '../store/people.js';
import { verifyPin } from '../store/pin.js';
import type { Context, Extension } from './context.js';
import type { Doors } from './doors.js';
import type { GroupCommit } from '../store/group-commit.js';

type Direction = 'in' | 'out';
type PassOk = Extract<PassDecision, { ok: true }>;

/** Where a credential came from. */
interface Source {
  deviceId: string;
  boot: number | null;
  seq: number | null;
  /** When the read happened, controller clock (the bus' occurredAt). */
  occurredAt: number;
}

/** A person who has presented every factor the area asks for. */
interface Authenticated {
  person: Person;
  /** The first factor's credential: what the decision is taken again on if the data changed before the commit. */
  credential: Credential;
  decision: PassOk;
  factors: Factor[];
  direction: Direction;
  source: Source;
  duress: boolean;
}

/** A person who presented the first factor and owes the second. */
interface PendingFactor { person: Person; credential: Credential; first: Factor; direction: Direction; source: Source; duress: boolean; timer: NodeJS.Timeout }
/** An access holder who could escort a visitor: who, and the credential their standing is decided on again. */
interface Escort { personId: string; credential: Credential }
/** Why a waiting visitor's would-be escort did not count: said when the wait ends, instead of a bare timeout. */
interface EscortRefusal { reason: 'escort-not-host' | 'escort-not-valid'; escortId: string; escortReason: DenyReason | null }
/**
 * People fully authenticated who wait for others: visitors for an escort, access holders for a
 * second holder (two-person areas). The door opens when enough holders are there; each visitor goes
 * in with them only if their host is among them, the others wait on until the window ends.
 */
interface PendingGroup { holders: Authenticated[]; visitors: Authenticated[]; refused: Map<string, EscortRefusal>; timer: NodeJS.Timeout }

interface DoorFlow {
  door: Door;
  area: Area;
  /** Kept apart: the escort's own card and PIN must not cancel the visitor who waits for them. */
  factor: PendingFactor | null;
  group: PendingGroup | null;
  /** Access holders who entered here lately, for a visitor who follows them in. */
  recentHolders: (Escort & { seq: number; at: number })[];
  /** Events at one door are handled one at a time: a PIN check awaits a hash. */
  queue: Promise<void>;
}

const OTP_STEP_SECONDS = 30;
/** A holder refused for one of these does not pass the area's rules: as a host, they escort no one. */
const STANDING_REASONS: ReadonlySet<DenyReason> = new Set([
  'credential-revoked', 'credential-suspended', 'person-inactive', 'pin-locked-out', 'area-locked-down', 'no-grant',
  'grant-not-yet-valid', 'grant-expired', 'outside-hours', 'no-training', 'training-lapsed', 'no-pledge',
]);

export class Access implements Extension {
  readonly name = 'access';
  private readonly flows = new Map<string, DoorFlow>();
  private off?: () => void;
  /** Decisions of one event-loop turn commit together; each door still waits for its own. */
  readonly commits: GroupCommit;

  constructor(
    private readonly ctx: Context,
    private readonly doors: Doors,
  ) {
    this.commits = ctx.store.groupCommit(() => ctx.store.entryLog.resync());
    for (const door of ctx.site.doors) {
      this.flows.set(door.id, { door, area: ctx.index.areas.get(door.area)!, factor: null, group: null, recentHolders: [], queue: Promise.resolve() });
    }
  }

  start(): void {
    this.off = this.ctx.bus.on('device.event', ({ deviceId, event, occurredAt }) => {
      if (event.type !== 'credential') return;
      for (const { door, role } of this.ctx.index.rolesOf(deviceId)) {
        if (role !== 'entryReader' && role !== 'keypad' && role !== 'exitReader') continue;
        const flow = this.flows.get(door.id)!;
        const source = { deviceId, boot: event.boot ?? null, seq: event.seq ?? null, occurredAt };
        const direction: Direction = role === 'exitReader' ? 'out' : 'in';
        flow.queue = flow.queue
          .then(() => this.onCredential(flow, event.credential, direction, source))
          .catch((err: Error) => this.ctx.log.error({ err, door: door.id }, 'access flow failed; the door stays locked'));
      }
    });
  }

  stop(): void {
    this.off?.();
    for (const flow of this.flows.values()) {
      this.clearFactor(flow);
      this.clearGroup(flow);
    }
    // Whatever was decided is committed and on disk before the database closes.
    this.commits.close();
  }

  /** The site file was reloaded: areas' rules may have changed; anything half-done starts over. */
  reloadSite(): void {
    for (const flow of this.flows.values()) {
      this.cancel(flow);
      flow.area = this.ctx.index.areas.get(flow.door.area)!;
    }
  }

  /** Cancels what a door was waiting for (lockdown, emergency, reload). */
  cancelPending(doorId: string): void {
    const flow = this.flows.get(doorId);
    if (flow) this.cancel(flow);
  }

  /** Whatever the door waited for is dropped, and each person in it is logged as cancelled. */
  private cancel(flow: DoorFlow): void {
    const { factor, group } = flow;
    this.clearFactor(flow);
    this.clearGroup(flow);
    if (factor) void this.deny(flow, { direction: factor.direction, source: factor.source, factors: [factor.first], reason: 'cancelled', person: factor.person }, { quiet: true });
    for (const a of [...(group?.holders ?? []), ...(group?.visitors ?? [])]) {
      void this.deny(flow, { direction: a.direction, source: a.source, factors: a.factors, reason: 'cancelled', person: a.person }, { quiet: true });
    }
  }

  private async onCredential(flow: DoorFlow, credential: CredentialEvent['credential'], direction: Direction, source: Source): Promise<void> {
    // Leaving takes one factor: double locking guards the way in.
    const factors = direction === 'out' ? [flow.area.factors[0]!] : (flow.area.factors as Factor[]);
    const kind = credential.kind as Factor;
    // Behind a backlog the person may have gone: a late unlock opens the door for whoever is there.
    // Denied before anything else (no lookup, no PIN attempt counted); they can read again.
    if (this.ctx.now().getTime() - source.occurredAt > this.ctx.site.policy.maxReadAgeMs) {
      return this.deny(flow, { direction, source, factors: [kind], reason: 'stale-read' });
    }
    if (factors.length === 2 && kind === factors[1] && direction === 'in') {
      if (flow.factor) return this.secondFactor(flow, flow.factor, kind, credential.value, source);
      // A second factor alone never opens.
      if (kind !== factors[0]) return this.deny(flow, { direction, source, factors: [kind], reason: 'second-factor-alone' });
    }
    if (kind !== factors[0]) return this.deny(flow, { direction, source, factors: [kind], reason: 'factor-not-accepted' });
    return this.firstFactor(flow, kind, credential.value, direction, source, factors);
  }

  private async firstFactor(flow: DoorFlow, kind: Factor, value: string, direction: Direction, source: Source, factors: Factor[]): Promise<void> {
    const { people } = this.ctx.store;
    let credential: Credential | undefined;
    let person: Person | undefined;
    let duress = false;
    if (kind === 'pin') {
      // A PIN as first factor is typed as "staff number#PIN": a salted hash cannot be looked up by value.
      const match = /^(\d{1,9})#(\d{4,12})$/.exec(value);
      person = match ? people.personByNumber(Number(match[1])) : undefined;
      if (person && match) {
        const found = await this.matchPin(person.id, match[2]!);
        if (!found) return this.wrongSecret(flow, person, 'wrong-pin', direction, source, [kind]);
        credential = found.credential;
        duress = found.credential.use === 'duress';
      }
    } else {
      credential = people.findCredential(kind, value);
      person = credential ? people.person(credential.personId) : undefined;
    }
    const decision = this.decide(flow, credential, person, direction);
    if (!decision.ok) return this.deny(flow, { direction, source, factors: [kind], reason: decision.reason, person, credentialValue: credential ? undefined : { kind, value } });
    if (factors.length === 2) {
      const replaced = flow.factor;
      this.clearFactor(flow);
      // Someone else's read before the first person's second factor: theirs is logged, not lost.
      if (replaced) void this.deny(flow, { direction: replaced.direction, source: replaced.source, factors: [replaced.first], reason: 'superseded', person: replaced.person }, { quiet: true });
      const timer = setTimeout(() => this.expireFactor(flow), this.ctx.site.policy.factorWindowSeconds * 1000);
      flow.factor = { person: person!, credential: credential!, first: kind, direction, source, duress, timer };
      this.indicate(flow, 'pin-required');
      return;
    }
    return this.authenticated(flow, { person: person!, credential: credential!, decision, factors: [kind], direction, source, duress });
  }

  private async secondFactor(flow: DoorFlow, pending: PendingFactor, kind: Factor, value: string, source: Source): Promise<void> {
    this.clearFactor(flow);
    const { people } = this.ctx.store;
    const person = pending.person;
    let duress = pending.duress;
    if (kind === 'pin') {
      const found = await this.matchPin(person.id, value);
      if (!found) return this.wrongSecret(flow, person, 'wrong-pin', pending.direction, source, [pending.first, kind]);
      duress ||= found.credential.use === 'duress';
    } else if (kind === 'otp') {
      if (!(await this.matchOtp(person.id, value))) return this.wrongSecret(flow, person, 'wrong-otp', pending.direction, source, [pending.first, kind]);
    } else if (kind === 'bio') {
      if (!people.credentialsOf(person.id, 'bio').some((c) => c.value === value)) {
        return this.wrongSecret(flow, person, 'wrong-bio', pending.direction, source, [pending.first, kind]);
      }
    }
    people.clearPinFailures(person.id);
    // Decide again on fresh data: a grant revoked between the card and the PIN must not open.
    const credential = people.findCredential(pending.credential.kind, pending.credential.value);
    const fresh = credential ? people.person(credential.personId) : undefined;
    const decision = this.decide(flow, credential, fresh, pending.direction);
    if (!decision.ok) return this.deny(flow, { direction: pending.direction, source, factors: [pending.first, kind], reason: decision.reason, person });
    return this.authenticated(flow, { person: fresh!, credential: credential!, decision, factors: [pending.first, kind], direction: pending.direction, source, duress });
  }

  private decide(flow: DoorFlow, credential: Credential | undefined, person: Person | undefined, direction: Direction): PassDecision {
    return decidePass(this.passRequest(flow, credential, person, direction));
  }

  /** The facts of one person's request at this door, read fresh from the store. */
  private passRequest(flow: DoorFlow, credential: Credential | undefined, person: Person | undefined, direction: Direction): PassRequest {
    const { store, site } = this.ctx;
    const now = this.ctx.now();
    const area = flow.area;
    const mode = store.areas.mode(area.id);
    const schedule = area.schedule ? site.schedules.find((s) => s.id === area.schedule) : undefined;
    return {
      now, direction, credential,
      person: person && { kind: person.kind, status: person.status, roles: person.roles, ...store.people.standing(person.id) },
      area: {
        id: area.id, mode: mode.mode, allowedRoles: mode.mode === 'lockdown' ? mode.allowedRoles : [],
        open: schedule ? isWithinSchedule(schedule, now, site.site.timezone) : true, antiPassback: area.antiPassback,
      },
      grants: person && person.kind === 'staff' ? store.people.grants(person.id, area.id) : [],
      visits: person && person.kind === 'visitor'
        ? store.visits.visitsOf(person.id).map((v) => ({ ...v, endedAt: v.cancelledAt ?? v.checkedOutAt }))
        : [],
      inside: person && area.antiPassback !== 'off' ? store.areas.isInside(area.id, person.id) : null,
      settings: site.policy,
    };
  }

  /**
   * Whether one access holder may escort a visitor now: the visit's host, and still in good standing
   * for this area on fresh data (not left, grant not revoked, card not revoked, training and pledge).
   */
  private escortDecision(flow: DoorFlow, visitor: Authenticated, escort: Escort): EscortDecision {
    const { people, visits } = this.ctx.store;
    const visit = visitor.decision.visitId !== null ? visits.get(visitor.decision.visitId) : undefined;
    const found = people.findCredential(escort.credential.kind, escort.credential.value);
    const credential = found && found.personId === escort.personId ? found : undefined;
    const person = people.person(escort.personId);
    return decideEscort({ hostId: visit?.hostId ?? null, escortId: escort.personId, escort: this.passRequest(flow, credential, person, 'in') });
  }

  /** A visitor's host came to the door while the visitor waits, and was refused: the visitor is told why when the wait ends. */
  private hostRefused(flow: DoorFlow, personId: string, reason: DenyReason): void {
    for (const v of flow.group?.visitors ?? []) {
      const visit = v.decision.visitId !== null ? this.ctx.store.visits.get(v.decision.visitId) : undefined;
      if (visit?.hostId === personId) flow.group!.refused.set(v.person.id, { reason: 'escort-not-valid', escortId: personId, escortReason: reason });
    }
  }

  /** The first of `escorts` who may escort the visitor, or the refusal that says most (the host's own, before anyone else's). */
  private findEscort(flow: DoorFlow, visitor: Authenticated, escorts: readonly Escort[]): { escort: Escort } | { refusal: EscortRefusal | null } {
    let refusal: EscortRefusal | null = null;
    for (const escort of escorts) {
      const d = this.escortDecision(flow, visitor, escort);
      if (d.ok) return { escort };
      if (!refusal || d.reason === 'escort-not-valid') refusal = { reason: d.reason, escortId: escort.personId, escortReason: d.escortReason };
    }
    return { refusal };
  }

  private async authenticated(flow: DoorFlow, a: Authenticated): Promise<void> {
    const { policy } = this.ctx.site;
    const now = this.ctx.now().getTime();
    if (a.direction === 'out') return this.grant(flow, [a]);
    const holdersNeeded = flow.area.twoPerson ? 2 : 1;
    let refusal: EscortRefusal | null = null;
    if (a.decision.needsEscort && holdersNeeded === 1) {
      // The escort may already have gone in at this door, just before the visitor: only the visit's
      // host, and only if still in good standing now (someone set to `left` a moment ago escorts no one).
      const recent = flow.recentHolders.filter((h) => now - h.at <= policy.escortWindowSeconds * 1000);
      const found = this.findEscort(flow, a, recent);
      if ('escort' in found) {
        const h = recent.find((x) => x.personId === found.escort.personId)!;
        return this.grant(flow, [a], { seq: h.seq, personId: h.personId, credential: h.credential });
      }
      // Not yet: the host may still come after; why the ones here did not count is kept for the end.
      refusal = found.refusal;
    } else if (!a.decision.needsEscort && holdersNeeded === 1 && !flow.group) {
      return this.grant(flow, [a]);
    }
    if (!flow.group) {
      const windowMs = (a.decision.needsEscort ? policy.escortWindowSeconds : policy.twoPersonWindowSeconds) * 1000;
      flow.group = { holders: [], visitors: [], refused: new Map(), timer: setTimeout(() => this.expireGroup(flow), windowMs) };
    }
    const group = flow.group;
    const list = a.decision.needsEscort ? group.visitors : group.holders;
    // The same person again does not count twice.
    if (!list.some((x) => x.person.id === a.person.id)) list.push(a);
    if (refusal) group.refused.set(a.person.id, refusal);
    if (group.holders.length < holdersNeeded) return this.indicate(flow, 'pin-required');
    // Enough holders: each waiting visitor goes in with them only if their host is one of them.
    const escorts = group.holders.map((h) => ({ personId: h.person.id, credential: h.credential }));
    const going = [...group.holders];
    const waiting: Authenticated[] = [];
    for (const v of group.visitors) {
      const found = this.findEscort(flow, v, escorts);
      if ('escort' in found) going.push(v);
      else {
        waiting.push(v);
        if (found.refusal) group.refused.set(v.person.id, found.refusal);
      }
    }
    if (waiting.length === 0) this.clearGroup(flow);
    else {
      // The others wait on for their host until their window ends (the same timer).
      group.holders = [];
      group.visitors = waiting;
    }
    return this.grant(flow, going);
  }

  /**
   * Commits one record per person (a pair names each other), updates occupancy, and only then
   * releases the door. `linkTo`: an earlier record this one links to (the escort who went first).
   */
  private async grant(flow: DoorFlow, people: Authenticated[], linkTo?: Escort & { seq: number }): Promise<void> {
    const { store, counters } = this.ctx;
    const at = this.ctx.now().toISOString();
    let records: EntryRecord[];
    try {
      records = await this.commits.submit((changed) => {
        // Something was written since this was decided (a revocation through the API, a lockdown):
        // decided again on what is there now, so a grant revoked a moment ago never opens.
        if (changed) {
          for (const a of people) {
            const again = this.decide(flow, a.credential, store.people.person(a.person.id), a.direction);
            if (!again.ok) throw new DecidedAgain(a, again.reason);
          }
          // A visitor's escort too: the one who went first, or the host among those entering now.
          const escorts: Escort[] = linkTo ? [linkTo] : people.filter((p) => !p.decision.needsEscort).map((p) => ({ personId: p.person.id, credential: p.credential }));
          for (const v of people) {
            if (!v.decision.needsEscort) continue;
            const found = this.findEscort(flow, v, escorts);
            if (!('escort' in found)) throw new DecidedAgain(v, found.refusal?.reason ?? 'escort-not-valid', escortDetail(found.refusal));
          }
        }
        const first = store.entryLog.nextSeq;
        return people.map((a, i) => {
          // Entering together: each record names the next, round the ring, so every one is reachable.
          const next = (i + 1) % people.length;
          const other = people.length > 1 ? { seq: first + next, personId: people[next]!.person.id } : linkTo;
          const record = store.entryLog.append({
            at, kind: 'decision', doorId: flow.door.id, areaId: flow.area.id, direction: a.direction,
            personId: a.person.id, personName: a.person.name, affiliation: a.person.affiliation, purpose: a.decision.purpose,
            factors: a.factors, decision: 'granted', reason: 'granted', deviceId: a.source.deviceId, deviceBoot: a.source.boot,
            deviceSeq: a.source.seq, linkedSeq: other?.seq ?? null, linkedPersonId: other?.personId ?? null,
            detail: grantDetail(a),
          });
          if (flow.area.antiPassback !== 'off') {
            if (a.direction === 'in') store.areas.enter(flow.area.id, a.person.id, at);
            else store.areas.leave(flow.area.id, a.person.id);
          }
          store.sequences.persist(a.source.deviceId);
          return record;
        });
      });
    } catch (err) {
      if (err instanceof DecidedAgain) {
        // The one refused now is denied with the reason; anyone entering with them is cancelled.
        for (const a of people) {
          void this.deny(flow, { direction: a.direction, source: a.source, factors: a.factors, reason: a === err.who ? err.reason : 'cancelled', person: a.person, detail: a === err.who ? err.detail : undefined }, { quiet: a !== err.who });
        }
        return;
      }
      return this.storageFault(flow, err as Error, people[0]!.source.deviceId);
    }
    counters.granted += records.length;
    // Committed: the unlock goes first, the publishing of the records after it.
    this.doors.release(flow.door.id, { kind: 'grant', seq: records.at(-1)!.seq });
    for (const r of records) this.ctx.bus.emit('entry', r);
    // A duress grant looks like any other at the door: the alarm is silent.
    this.indicate(flow, 'granted', people[0]!.direction);
    const now = this.ctx.now().getTime();
    people.forEach((a, i) => {
      const record = records[i]!;
      if (a.direction === 'in' && !a.decision.needsEscort) {
        flow.recentHolders = [{ personId: a.person.id, credential: a.credential, seq: record.seq, at: now }, ...flow.recentHolders.filter((h) => h.personId !== a.person.id)].slice(0, 5);
      } else if (a.direction === 'out') {
        // A host who has gone out again escorts no one in: forgotten at every door of the area.
        for (const other of this.flows.values()) {
          if (other.area.id === flow.area.id) other.recentHolders = other.recentHolders.filter((h) => h.personId !== a.person.id);
        }
      }
      if (a.duress) {
        this.ctx.alarms.raise({ category: 'alarm', type: 'duress', severity: 'alarm', source: flow.door.id, detail: { seq: record.seq, personId: a.person.id, personName: a.person.name } });
      }
      if (a.decision.antiPassbackViolation) {
        this.ctx.alarms.raise({ category: 'access', type: 'anti-passback-violation', severity: 'warning', source: flow.door.id, detail: { seq: record.seq, personId: a.person.id, direction: a.direction } });
      }
    });
  }

  /** Logs a denial; `quiet`: log only (a cancelled or replaced wait), no indication or event. */
  private async deny(
    flow: DoorFlow,
    d: { direction: Direction; source: Source; factors: Factor[]; reason: DenyReason; person?: Person; credentialValue?: { kind: Factor; value: string }; detail?: Record<string, unknown> },
    opts: { quiet?: boolean } = {},
  ): Promise<void> {
    const { store, counters } = this.ctx;
    if (d.person && d.direction === 'in' && STANDING_REASONS.has(d.reason)) this.hostRefused(flow, d.person.id, d.reason);
    let record: EntryRecord;
    try {
      record = await this.commits.submit(() => {
        const r = store.entryLog.append({
          at: this.ctx.now().toISOString(), kind: 'decision', doorId: flow.door.id, areaId: flow.area.id, direction: d.direction,
          personId: d.person?.id ?? null, personName: d.person?.name ?? null, affiliation: d.person?.affiliation ?? null,
          factors: d.factors, decision: 'denied', reason: d.reason, deviceId: d.source.deviceId, deviceBoot: d.source.boot, deviceSeq: d.source.seq,
          // An unknown card's number is kept so a guard can see what was tried; secrets (PIN, OTP) never are.
          detail: d.credentialValue ? { credential: { kind: d.credentialValue.kind, value: d.credentialValue.kind === 'card' || d.credentialValue.kind === 'bio' ? d.credentialValue.value : '(hidden)' } } : d.detail ?? null,
        });
        store.sequences.persist(d.source.deviceId);
        return r;
      });
    } catch (err) {
      return this.storageFault(flow, err as Error, d.source.deviceId);
    }
    counters.denied++;
    this.ctx.bus.emit('entry', record);
    if (opts.quiet) return;
    this.indicate(flow, 'denied', d.direction);
    if (d.reason === 'stale-read') {
      // One event for a backlog, not one per read: a flood of events would deepen it.
      const ageMs = this.ctx.now().getTime() - d.source.occurredAt;
      this.ctx.alarms.raiseLimited('decision-backlog', 10_000, {
        category: 'system', type: 'decision-backlog', severity: 'warning', source: flow.door.id,
        detail: { seq: record.seq, ageMs, maxReadAgeMs: this.ctx.site.policy.maxReadAgeMs, device: d.source.deviceId },
      });
      return;
    }
    const detail = { seq: record.seq, reason: d.reason, personId: d.person?.id ?? null, device: d.source.deviceId };
    this.ctx.alarms.raise({ category: 'access', type: 'access-denied', severity: 'warning', source: flow.door.id, detail });
    if (invalidCredentialReasons.has(d.reason)) {
      this.ctx.alarms.raise({ category: 'access', type: 'invalid-credential-used', severity: 'warning', source: flow.door.id, detail });
    }
  }

  /** A wrong PIN (or OTP, or biometric) counts towards the lockout; the last allowed one locks out. */
  private async wrongSecret(flow: DoorFlow, person: Person, reason: 'wrong-pin' | 'wrong-otp' | 'wrong-bio', direction: Direction, source: Source, factors: Factor[]): Promise<void> {
    const { policy } = this.ctx.site;
    let lock: { failures: number; lockedUntil: string | null } | undefined;
    try {
      lock = this.ctx.store.people.pinFailure(person.id, policy.pinAttempts, policy.pinLockoutSeconds * 1000, this.ctx.now());
    } catch (err) {
      this.ctx.log.error({ err }, 'could not count a wrong PIN');
    }
    await this.deny(flow, { direction, source, factors, reason, person });
    if (lock?.lockedUntil) {
      this.ctx.alarms.raise({
        category: 'alarm', type: 'pin-lockout', severity: 'alarm', source: flow.door.id,
        detail: { personId: person.id, personName: person.name, attempts: policy.pinAttempts, lockedUntil: lock.lockedUntil },
      });
    }
  }

  private async matchPin(personId: string, pin: string): Promise<{ credential: Credential } | undefined> {
    for (const credential of this.ctx.store.people.credentialsOf(personId, 'pin')) {
      if (await verifyPin(credential.value, pin)) return { credential };
    }
    return undefined;
  }

  /** TOTP, one step either side for clock drift; a code already used cannot open again. */
  private async matchOtp(personId: string, code: string): Promise<boolean> {
    if (!/^\d{6}$/.test(code)) return false;
    const now = this.ctx.now().getTime();
    for (const credential of this.ctx.store.people.credentialsOf(personId, 'otp')) {
      try {
        const result = await verifyTotp({ secret: credential.value, token: code, epoch: Math.floor(now / 1000), epochTolerance: OTP_STEP_SECONDS });
        if (!result.valid) continue;
        const delta = 'delta' in result && typeof result.delta === 'number' ? result.delta : 0;
        const step = Math.floor(now / 1000 / OTP_STEP_SECONDS) + delta;
        return this.ctx.store.people.useOtpStep(credential.id, step);
      } catch {
        continue;
      }
    }
    return false;
  }

  /** The time for the second factor ran out: logged as a denial. */
  private expireFactor(flow: DoorFlow): void {
    const pending = flow.factor;
    if (!pending) return;
    flow.factor = null;
    void this.deny(flow, { direction: pending.direction, source: pending.source, factors: [pending.first], reason: 'second-factor-timeout', person: pending.person });
  }

  /** The escort or the second person did not come in time: each one waiting is logged as denied. */
  private expireGroup(flow: DoorFlow): void {
    const group = flow.group;
    if (!group) return;
    flow.group = null;
    for (const a of group.holders) void this.deny(flow, { direction: a.direction, source: a.source, factors: a.factors, reason: 'two-person-timeout', person: a.person });
    for (const a of group.visitors) {
      // An escort who came but did not count is named; otherwise no one came in time.
      const refusal = group.refused.get(a.person.id);
      void this.deny(flow, { direction: a.direction, source: a.source, factors: a.factors, reason: refusal?.reason ?? 'escort-timeout', person: a.person, detail: escortDetail(refusal ?? null) });
    }
  }

  private clearFactor(flow: DoorFlow): void {
    if (flow.factor) clearTimeout(flow.factor.timer);
    flow.factor = null;
  }

  private clearGroup(flow: DoorFlow): void {
    if (flow.group) clearTimeout(flow.group.timer);
    flow.group = null;
  }

  /** Shows the outcome on the side of the door where the person stands. */
  private indicate(flow: DoorFlow, pattern: 'granted' | 'denied' | 'pin-required', direction: Direction = 'in'): void {
    const devices = direction === 'out' ? [flow.door.exitReader] : [flow.door.entryReader, flow.door.keypad];
    for (const id of new Set(devices.filter((x): x is string => x !== undefined))) {
      void this.ctx.devices.send(id, { command: 'indicate', pattern });
    }
  }

  private storageFault(flow: DoorFlow, err: Error, deviceId: string): void {
    // Nothing committed, so nothing opens: fail secure, say so, stay up.
    this.ctx.store.entryLog.resync();
    this.ctx.counters.storageFaults++;
    this.ctx.alarms.raiseLimited('storage-fault', 10_000, {
      category: 'system', type: 'storage-fault', severity: 'alarm', source: flow.door.id, detail: { error: err.message, during: 'access decision', device: deviceId },
    });
    this.indicate(flow, 'denied');
  }
}

/** A grant that no longer holds when its transaction runs. */
class DecidedAgain extends Error {
  constructor(readonly who: Authenticated, readonly reason: DenyReason, readonly detail?: Record<string, unknown>) {
    super(`decided again before the commit: ${reason}`);
  }
}

/** A visitor's denial names the escort who did not count and the escort's own failing rule. */
function escortDetail(r: EscortRefusal | null): Record<string, unknown> | undefined {
  return r ? { escort: { personId: r.escortId, ...(r.escortReason ? { reason: r.escortReason } : {}) } } : undefined;
}

function grantDetail(a: Authenticated): Record<string, unknown> | null {
  const detail: Record<string, unknown> = {};
  if (a.decision.grantId !== null) detail.grantId = a.decision.grantId;
  if (a.decision.visitId !== null) detail.visitId = a.decision.visitId;
  if (a.duress) detail.duress = true;
  if (a.decision.antiPassbackViolation) detail.antiPassback = 'violation';
  return Object.keys(detail).length ? detail : null;
}
