// The access flow at each door, run: the decisions are the pure step of src/policy/access-flow.ts;
// this holds each door's state, feeds the step its inputs (reads, verifications, commit outcomes,
// ticks at the state's deadlines) and carries out its effects (the verifiers, the group commit, the
// release, the indications and the events).
import { verify as verifyTotp } from 'otplib';
import {
  decideAgain,
  initialFlowState,
  nextDeadline,
  step,
  type CredentialFault,
  type FlowEffect,
  type FlowFacts,
  type FlowInput,
  type FlowSettings,
  type FlowState,
  type Refusal,
  type Verification,
} from '../policy/access-flow.js';
import { isWithinSchedule } from '../policy/schedule.js';
import { directionOf, EVENT_TYPES, type Factor } from '../policy/vocabulary.js';
import type { Door } from '../site/schema.js';
import type { EntryRecord } from '../store/entry-log.js';
import { checkPin } from '../store/pin.js';
import type { Context, Extension } from './context.js';
import type { Doors } from './doors.js';
import type { GroupCommit } from '../store/group-commit.js';

interface DoorFlow {
  door: Door;
  state: FlowState;
  /** Reads at one door are handled one at a time, each until its decision is committed (a PIN check awaits a hash). */
  queue: Promise<void>;
  /** One timer per door, for the earliest deadline its state waits for. */
  timer: { at: number; handle: NodeJS.Timeout } | null;
  /** Records committed, by the flow's operation, until the flow publishes them. */
  committed: Map<number, EntryRecord[]>;
  /** Reads in `queue` not yet decided (the one being decided included): bounded, see `arrived`. */
  waiting: number;
}

/** A credential read as the door's queue takes it. */
type ReadInput = Extract<FlowInput, { type: 'read' }>;

/** At most one controller-busy event per window: a flood of events would deepen the overload. */
const BUSY_EVENT_WINDOW_MS = 10_000;

/**
 * Checks one factor: who presents a value (the first factor: a card looked up, a PIN typed as
 * "staff number#PIN"), or whether a value is this person's (a later factor).
 */
interface Verifier {
  identify(value: string): Promise<Verification>;
  verify(personId: string, value: string): Promise<Verification>;
}

const OTP_STEP_SECONDS = 30;

export class Access implements Extension {
  readonly name = 'access';
  private readonly flows = new Map<string, DoorFlow>();
  private off?: () => void;
  /** Decisions of one event-loop turn commit together; each door still waits for its own. */
  readonly commits: GroupCommit;
  /** One entry per factor: a new factor (a safe's dial or key) is a new entry here and nothing else. */
  private readonly verifiers: Record<Factor, Verifier>;
  /**
   * Backpressure: reads waiting at all doors now, the most there were, and reads refused on arrival
   * (controller-busy) since the start, for /metrics.
   */
  readonly backlog = { waiting: 0, peak: 0, refused: 0 };

  constructor(
    private readonly ctx: Context,
    private readonly doors: Doors,
  ) {
    this.commits = ctx.store.groupCommit(() => ctx.store.entryLog.resync());
    for (const door of ctx.site.doors) {
      this.flows.set(door.id, { door, state: initialFlowState(), queue: Promise.resolve(), timer: null, committed: new Map(), waiting: 0 });
    }
    this.verifiers = {
      card: { identify: this.byValue('card'), verify: this.held('card') },
      bio: { identify: this.byValue('bio'), verify: this.held('bio') },
      pin: {
        identify: async (value) => {
          // A PIN as first factor is typed as "staff number#PIN": a salted hash cannot be looked up by value.
          const match = /^(\d{1,9})#(\d{4,12})$/.exec(value);
          const person = match ? this.ctx.store.people.personByNumber(Number(match[1])) : undefined;
          return person ? this.matchPin(person.id, match![2]!) : { outcome: 'unknown' };
        },
        verify: (personId, pin) => this.matchPin(personId, pin),
      },
      otp: { identify: this.byValue('otp'), verify: (personId, code) => this.matchOtp(personId, code) },
    };
  }

  start(): void {
    this.off = this.ctx.bus.on(
      'device.event',
      ({ deviceId, event, occurredAt }) => {
        if (event.type !== 'credential') return;
        for (const { door, role } of this.ctx.index.rolesOf(deviceId)) {
          const direction = directionOf(role);
          if (!direction) continue;
          const flow = this.flows.get(door.id)!;
          const source = { deviceId, boot: event.boot ?? null, seq: event.seq ?? null, occurredAt };
          const read: ReadInput = { type: 'read', kind: event.credential.kind, value: event.credential.value, direction, source };
          this.arrived(flow, read);
        }
      },
      this.name,
    );
  }

  /**
   * A read joins its door's queue, unless too many already wait there or at all doors together: then
   * it is refused at once. Whatever cannot be decided in time is refused quickly, never queued
   * without bound (memory, and reads that would only go stale in the queue).
   */
  private arrived(flow: DoorFlow, read: ReadInput): void {
    const { maxReadsWaitingPerDoor, maxReadsWaiting } = this.ctx.site.policy;
    const { backlog } = this;
    if (flow.waiting >= maxReadsWaitingPerDoor || backlog.waiting >= maxReadsWaiting) {
      this.refuse(flow, read);
      return;
    }
    flow.waiting++;
    if (++backlog.waiting > backlog.peak) backlog.peak = backlog.waiting;
    const done = () => {
      flow.waiting--;
      backlog.waiting--;
    };
    flow.queue = flow.queue
      .then(() => this.feed(flow, read))
      .then(done, (err: unknown) => {
        done();
        this.failed(flow, err);
      });
  }

  /**
   * Refuses a read without deciding it (no lookup, no PIN attempt counted, the door's state
   * untouched): a denial record in the next group commit, the reader shows denied, one event per
   * window. Fail secure: nothing here can open; if the commit fails the door stays locked all the same.
   */
  private refuse(flow: DoorFlow, read: ReadInput): void {
    const { store, counters } = this.ctx;
    const { door } = flow;
    const { source } = read;
    this.backlog.refused++;
    const waiting = { door: flow.waiting, total: this.backlog.waiting };
    const record = {
      at: this.ctx.now().toISOString(),
      kind: 'decision' as const,
      doorId: door.id,
      areaId: door.area,
      direction: read.direction,
      personId: null,
      personName: null,
      affiliation: null,
      purpose: null,
      factors: [read.kind as Factor],
      decision: 'denied' as const,
      reason: 'controller-busy' as const,
      deviceId: source.deviceId,
      deviceBoot: source.boot,
      deviceSeq: source.seq,
      linkedSeq: null,
      linkedPersonId: null,
      detail: { waiting },
    };
    this.commits
      .submit(() => {
        const r = store.entryLog.append(record);
        store.sequences.persist(source.deviceId);
        return r;
      })
      .then(
        (r) => {
          counters.denied++;
          this.ctx.bus.emit('entry', r);
          return r.seq;
        },
        (err: unknown) => {
          store.entryLog.resync();
          this.ctx.storageFaults.report(err, { source: door.id, during: 'access decision', detail: { device: source.deviceId } });
          return null;
        },
      )
      .then((seq) => {
        this.run(flow, { type: 'indicate', pattern: 'denied', side: read.direction });
        const { policy } = this.ctx.site;
        this.ctx.alarms.raiseLimited('controller-busy', BUSY_EVENT_WINDOW_MS, {
          ...EVENT_TYPES['controller-busy'],
          type: 'controller-busy',
          source: door.id,
          detail: { seq, device: source.deviceId, waiting, maxReadsWaitingPerDoor: policy.maxReadsWaitingPerDoor, maxReadsWaiting: policy.maxReadsWaiting },
        });
      })
      .catch((err: unknown) => this.failed(flow, err));
  }

  stop(): void {
    this.off?.();
    for (const flow of this.flows.values()) {
      if (flow.timer) clearTimeout(flow.timer.handle);
      flow.timer = null;
    }
    // Whatever was decided is committed and on disk before the database closes.
    this.commits.close();
  }

  /** The site file was reloaded: areas' rules may have changed; anything half-done starts over. */
  reload(): void {
    for (const flow of this.flows.values()) this.input(flow, { type: 'cancel' });
  }

  /** A PIN checked exactly as the doors check one (each of the person's PIN hashes): a safe's keypad asks this. */
  verifyPin(personId: string, pin: string): Promise<Verification> {
    return this.verifiers.pin.verify(personId, pin);
  }

  /** Cancels what a door was waiting for (lockdown, emergency, reload): each person in it logged as cancelled. */
  cancelPending(doorId: string): void {
    const flow = this.flows.get(doorId);
    if (flow) this.input(flow, { type: 'cancel' });
  }

  /** An input outside the door's queue (a tick, a cancel): applied now, its follow-ups not waited for. */
  private input(flow: DoorFlow, input: FlowInput): void {
    try {
      this.feed(flow, input).catch((err: unknown) => this.failed(flow, err));
    } catch (err) {
      this.failed(flow, err);
    }
  }

  private failed(flow: DoorFlow, err: unknown): void {
    this.ctx.log.error({ err, door: flow.door.id }, 'access flow failed; the door stays locked');
  }

  /**
   * One step of the door's flow: the new state is taken at once, then the effects run in order. The
   * promise settles when every answer the effects bring back (verifications, commits) has been fed.
   */
  private feed(flow: DoorFlow, input: FlowInput): Promise<void> {
    const { state, effects } = step(flow.state, input, this.facts(flow), this.settings(flow));
    flow.state = state;
    this.schedule(flow);
    const answers: Promise<void>[] = [];
    for (const e of effects) {
      const answer = this.run(flow, e);
      if (answer) answers.push(answer);
    }
    return answers.length === 0 ? Promise.resolve() : answers.length === 1 ? answers[0]! : Promise.all(answers).then(() => undefined);
  }

  private run(flow: DoorFlow, e: FlowEffect): Promise<void> | undefined {
    const { store, counters } = this.ctx;
    switch (e.type) {
      case 'verify': {
        const verifier = this.verifiers[e.factor];
        const result = e.personId === null ? verifier.identify(e.value) : verifier.verify(e.personId, e.value);
        return result.then((r) => this.feed(flow, { type: 'verified', op: e.op, result: r }));
      }
      case 'count-failure': {
        const { policy } = this.ctx.site;
        let lockedUntil: string | null = null;
        try {
          lockedUntil = store.people.pinFailure(e.personId, policy.pinAttempts, policy.pinLockoutSeconds * 1000, this.ctx.now()).lockedUntil;
        } catch (err) {
          this.ctx.log.error({ err }, 'could not count a wrong PIN');
        }
        return this.feed(flow, { type: 'failure-counted', op: e.op, lockedUntil });
      }
      case 'clear-failures':
        store.people.clearPinFailures(e.personId);
        return undefined;
      case 'commit':
        return this.commit(flow, e);
      case 'release':
        this.doors.release(flow.door.id, { kind: 'grant', seq: e.seq });
        return undefined;
      case 'publish': {
        const records = flow.committed.get(e.op) ?? [];
        flow.committed.delete(e.op);
        for (const r of records) {
          if (r.decision === 'granted') counters.granted++;
          else counters.denied++;
          this.ctx.bus.emit('entry', r);
        }
        return undefined;
      }
      case 'indicate': {
        // Shown on the side of the door where the person stands.
        const { door } = flow;
        const devices = e.side === 'out' ? [door.exitReader] : [door.entryReader, door.keypad];
        for (const id of new Set(devices.filter((x): x is string => x !== undefined))) {
          void this.ctx.devices.send(id, { command: 'indicate', pattern: e.pattern });
        }
        return undefined;
      }
      case 'raise':
        if (e.limit) this.ctx.alarms.raiseLimited(e.limit.key, e.limit.windowMs, e.event);
        else this.ctx.alarms.raise(e.event);
        return undefined;
      case 'holder-left':
        for (const other of this.flows.values()) {
          if (other.door.area === flow.door.area) this.input(other, { type: 'holder-left', personId: e.personId });
        }
        return undefined;
    }
  }

  /**
   * Appends the records in the next group commit; if anything was written since the decision (a
   * revocation through the API, a lockdown), the flow's grant is decided again on what is there now,
   * in the same transaction, so a grant revoked a moment ago never opens.
   */
  private commit(flow: DoorFlow, e: Extract<FlowEffect, { type: 'commit' }>): Promise<void> {
    const { store } = this.ctx;
    const written = this.commits.submit((changed) => {
      if (changed && e.recheck) {
        const refusal = decideAgain(e.recheck, this.facts(flow));
        if (refusal) throw new DecidedAgain(refusal);
      }
      const first = store.entryLog.nextSeq;
      return e.records.map((r, i) => {
        // Entering together: each record names the next, round the ring, so every one is reachable.
        const next = (i + 1) % e.records.length;
        const ring = e.ring ? { linkedSeq: first + next, linkedPersonId: e.records[next]!.personId } : {};
        const record = store.entryLog.append({ ...r, ...ring });
        const occupancy = e.occupancy[i];
        if (occupancy === 'enter') store.areas.enter(r.areaId, r.personId!, r.at);
        else if (occupancy === 'leave') store.areas.leave(r.areaId, r.personId!);
        store.sequences.persist(r.deviceId);
        return record;
      });
    });
    return written.then(
      (records) => {
        flow.committed.set(e.op, records);
        try {
          return this.feed(flow, { type: 'committed', op: e.op, seqs: records.map((r) => r.seq) });
        } finally {
          // Published (or not wanted) by now: the step runs its effects synchronously.
          flow.committed.delete(e.op);
        }
      },
      (err: unknown) => {
        if (err instanceof DecidedAgain) return this.feed(flow, { type: 'decided-again', op: e.op, refusal: err.refusal });
        // Nothing committed, so nothing opens: fail secure, say so, stay up.
        store.entryLog.resync();
        this.ctx.storageFaults.report(err, { source: flow.door.id, during: 'access decision', detail: { device: e.records[0]!.deviceId } });
        return this.feed(flow, { type: 'commit-failed', op: e.op });
      },
    );
  }

  /** Ticks the door at the earliest deadline its state waits for (a tick before it changes nothing and sets the timer again). */
  private schedule(flow: DoorFlow): void {
    const at = nextDeadline(flow.state);
    if (flow.timer?.at === at) return;
    if (flow.timer) clearTimeout(flow.timer.handle);
    flow.timer = null;
    if (at === null) return;
    const handle = setTimeout(
      () => {
        flow.timer = null;
        this.input(flow, { type: 'tick' });
      },
      Math.max(1, at - this.ctx.now().getTime()),
    );
    flow.timer = { at, handle };
  }

  private settings(flow: DoorFlow): FlowSettings {
    const { policy } = this.ctx.site;
    const area = this.ctx.index.areas.get(flow.door.area)!;
    return {
      doorId: flow.door.id,
      areaId: area.id,
      factors: area.factors,
      twoPerson: area.twoPerson,
      antiPassback: area.antiPassback,
      factorWindowMs: policy.factorWindowSeconds * 1000,
      escortWindowMs: policy.escortWindowSeconds * 1000,
      twoPersonWindowMs: policy.twoPersonWindowSeconds * 1000,
      maxReadAgeMs: policy.maxReadAgeMs,
      pinAttempts: policy.pinAttempts,
    };
  }

  /** The store as the flow reads it: fresh at every call, so a revocation applies to the very next step. */
  private facts(flow: DoorFlow): FlowFacts {
    const { store, site } = this.ctx;
    const now = this.ctx.now();
    const area = this.ctx.index.areas.get(flow.door.area)!;
    return {
      now: now.getTime(),
      credential: (kind, value) => store.credentials.find(kind, value),
      person: (id) => store.people.person(id),
      visitHost: (visitId) => store.visits.get(visitId)?.hostId ?? null,
      request: (person, credential, direction) => {
        const mode = store.areas.mode(area.id);
        const schedule = area.schedule ? site.schedules.find((s) => s.id === area.schedule) : undefined;
        return {
          now,
          direction,
          credential,
          person: person && { kind: person.kind, status: person.status, roles: person.roles, ...store.people.standing(person.id) },
          area: {
            id: area.id,
            mode: mode.mode,
            allowedRoles: mode.mode === 'lockdown' ? mode.allowedRoles : [],
            open: schedule ? isWithinSchedule(schedule, now, site.site.timezone) : true,
            antiPassback: area.antiPassback,
          },
          grants: person && person.kind === 'staff' ? store.people.grants(person.id, area.id) : [],
          visits: person && person.kind === 'visitor' ? store.visits.visitsOf(person.id).map((v) => ({ ...v, endedAt: v.cancelledAt ?? v.checkedOutAt })) : [],
          inside: person && area.antiPassback !== 'off' ? store.areas.isInside(area.id, person.id) : null,
          settings: site.policy,
        };
      },
    };
  }

  /** The first factor of a kind looked up by its value (a card number, a biometric template id). */
  private byValue(kind: Factor): (value: string) => Promise<Verification> {
    return async (value) => {
      const credential = this.ctx.store.credentials.find(kind, value);
      return credential ? { outcome: 'match', credential } : { outcome: 'unknown' };
    };
  }

  /** A later factor that is one of the person's active credentials of that kind, as read. */
  private held(kind: Factor): (personId: string, value: string) => Promise<Verification> {
    return async (personId, value) => {
      const credential = this.ctx.store.credentials.activeOf(personId, kind).find((c) => c.value === value);
      return credential ? { outcome: 'match', credential } : { outcome: 'mismatch', personId };
    };
  }

  /** Against each of the person's PIN hashes (the normal and the duress PIN); a malformed hash is a fault. */
  private async matchPin(personId: string, pin: string): Promise<Verification> {
    const credentials = this.ctx.store.credentials.activeOf(personId, 'pin');
    const faults: CredentialFault[] = [];
    for (const credential of credentials) {
      try {
        if (await checkPin(credential.value, pin)) return { outcome: 'match', credential, faults };
      } catch (err) {
        faults.push({ credentialId: credential.id, error: (err as Error).message });
      }
    }
    return { outcome: unchecked(credentials.length, faults), personId, faults };
  }

  /** TOTP, one step either side for clock drift; a code already used cannot open again. A seed that does not open is a fault. */
  private async matchOtp(personId: string, code: string): Promise<Verification> {
    if (!/^\d{6}$/.test(code)) return { outcome: 'mismatch', personId };
    const { credentials } = this.ctx.store;
    const now = this.ctx.now().getTime();
    const seeds = credentials.otpSeedsOf(personId);
    const faults: CredentialFault[] = [];
    for (const s of seeds) {
      if ('error' in s) {
        faults.push({ credentialId: s.credential.id, error: s.error });
        continue;
      }
      let result: Awaited<ReturnType<typeof verifyTotp>>;
      try {
        result = await verifyTotp({ secret: s.seed, token: code, epoch: Math.floor(now / 1000), epochTolerance: OTP_STEP_SECONDS });
      } catch (err) {
        faults.push({ credentialId: s.credential.id, error: (err as Error).message });
        continue;
      }
      if (!result.valid) continue;
      const delta = 'delta' in result && typeof result.delta === 'number' ? result.delta : 0;
      const otpStep = Math.floor(now / 1000 / OTP_STEP_SECONDS) + delta;
      return credentials.useOtpStep(s.credential.id, otpStep)
        ? { outcome: 'match', credential: s.credential, faults }
        : { outcome: 'mismatch', personId, faults };
    }
    return { outcome: unchecked(seeds.length, faults), personId, faults };
  }
}

/** No match: a wrong secret, unless none of the person's credentials could be checked at all (then a fault, not counted). */
function unchecked(credentials: number, faults: CredentialFault[]): 'mismatch' | 'fault' {
  return credentials > 0 && faults.length === credentials ? 'fault' : 'mismatch';
}

/** A grant that no longer holds when its transaction runs: rolls the transaction back. */
class DecidedAgain extends Error {
  constructor(readonly refusal: Refusal) {
    super(`decided again before the commit: ${refusal.reason}`);
  }
}
