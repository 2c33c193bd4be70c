// Safes: runs policy/safe.ts for each safe of the site file. A holder of the safe (policy/safe-holders.ts,
// on fresh data from the store) who is granted entry through a door of its area, or whose card or
// biometric is read at the safe's own reader, opens the window; the dial and key switches and the
// door contact feed the machine. Openings and closings go in the entry log as safe records (the
// record's doorId is the safe's id); unauthorised openings, a safe left open and an approach out of
// hours are alarms. One timer per safe, for the machine's earliest deadline.
// A PIN typed at the safe's keypad cannot say who typed it: it opens the keypad lock only when it is
// the PIN of a holder who already authenticated for this safe within the window (latest first),
// checked by the doors' own verifier; a wrong one is an event and counts toward that holder's lockout.
import type { Verification } from '../policy/access-flow.js';
import { isWithinSchedule } from '../policy/schedule.js';
import { type SafeScope, safeGrantScope, safeHolderDecision, type SafeHolderFacts } from '../policy/safe-holders.js';
import {
  initialSafe,
  locksOpen,
  nextSafeDeadline,
  safeStep,
  type AuthSource,
  type SafeEffect,
  type SafeInput,
  type SafePhase,
  type SafeSettings,
  type SafeState,
} from '../policy/safe.js';
import { type DenyReason, EVENT_TYPES, type SafeLock } from '../policy/vocabulary.js';
import type { SafeConfig } from '../site/safes.js';
import type { SiteFile } from '../site/schema.js';
import type { EntryRecord } from '../store/entry-log.js';
import type { Store } from '../store/index.js';
import type { Context, Extension } from './context.js';

const APPROACH_INPUTS = new Set(['motion', 'beam']);

interface Runner {
  safe: SafeConfig;
  settings: SafeSettings;
  state: SafeState;
  timer?: NodeJS.Timeout;
  since: string;
  /** PINs typed at the keypad are checked one at a time, in the order typed (each awaits a hash). */
  pins: Promise<void>;
}

/** The doors' PIN check (controller/door-access.ts): the safe's keypad uses it, never a second one. */
export type PinVerifier = (personId: string, pin: string) => Promise<Verification>;

/** Why a PIN at a safe's keypad opened nothing (`safe-pin-refused`): nobody to check it against, or a deny reason. */
type PinRefusal = 'no-holder' | DenyReason;

export interface SafeView {
  id: string;
  area: string;
  locks: SafeLock[];
  state: SafePhase;
  since: string;
  contactOpen: boolean;
  locksOpen: SafeLock[];
  /** Who opened it, while an authorised opening lasts. */
  openedBy: string | null;
}

function settingsOf(safe: SafeConfig): SafeSettings {
  return { locks: safe.locks, authWindowMs: safe.authWindowSeconds * 1000, heldOpenMs: safe.heldOpenMs };
}

/** What the holder rule needs about one person, read fresh from the store. */
export function holderFactsOf(store: Store, personId: string, safe: SafeScope, now: Date, trainingValidityMonths: number): SafeHolderFacts {
  const person = store.people.person(personId);
  if (!person) return { now, trainingValidityMonths, people: [], grants: [] };
  const standing = store.people.standing(personId);
  const scope = safeGrantScope(safe);
  return {
    now,
    trainingValidityMonths,
    people: [{ id: person.id, kind: person.kind, status: person.status, lastTrainingAt: standing.lastTrainingAt, pledgeSignedAt: standing.pledgeSignedAt }],
    grants: store.people.grants(personId, scope).map((g) => ({
      id: g.id,
      personId: g.personId,
      areaId: g.areaId,
      validFrom: g.validFrom,
      validUntil: g.validUntil,
      purpose: g.purpose,
    })),
  };
}

export class Safes implements Extension {
  readonly name = 'safes';
  private readonly runners = new Map<string, Runner>();
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly ctx: Context,
    private readonly verifyPin: PinVerifier,
  ) {}

  start(): void {
    for (const safe of this.ctx.site.safes) this.add(safe);
    const { bus } = this.ctx;
    this.offs.push(
      bus.on(
        'device.event',
        ({ deviceId, event, occurredAt }) => {
          for (const r of this.runners.values()) {
            const { safe } = r;
            if (event.type === 'input') {
              if (deviceId === safe.sensors.contact && event.input === 'contact') this.feed(r, { on: 'contact', open: event.active, at: occurredAt });
              else if (deviceId === safe.sensors.dial && event.input === 'dial')
                this.feed(r, { on: 'switch', lock: 'dial', open: event.active, at: occurredAt });
              else if (deviceId === safe.sensors.key && event.input === 'key') this.feed(r, { on: 'switch', lock: 'key', open: event.active, at: occurredAt });
              else if (deviceId === safe.approach && APPROACH_INPUTS.has(event.input) && event.active) {
                this.feed(r, { on: 'approach', inHours: this.inHours(safe.area, new Date(occurredAt)), at: occurredAt });
              }
            } else if (event.type === 'credential' && deviceId === safe.reader && (event.credential.kind === 'card' || event.credential.kind === 'bio')) {
              const credential = this.ctx.store.people.findCredential(event.credential.kind, event.credential.value);
              if (credential?.status === 'active') this.authenticate(r, credential.personId, 'reader', occurredAt);
              else this.ctx.log.info({ safe: safe.id, device: deviceId }, 'unknown or inactive credential at a safe reader');
            } else if (event.type === 'credential' && deviceId === safe.keypad && event.credential.kind === 'pin') {
              const pin = event.credential.value;
              r.pins = r.pins
                .then(() => this.keypadPin(r, pin, occurredAt))
                .catch((err: unknown) => this.ctx.log.error({ err, safe: safe.id }, 'safe keypad PIN check failed; the keypad lock stays shut'));
            }
          }
        },
        this.name,
      ),
      bus.on('entry', (record) => this.onEntry(record), this.name),
    );
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    for (const r of this.runners.values()) clearTimeout(r.timer);
    this.runners.clear();
  }

  /** A safe still in the file keeps its state (an opening in progress stays one); new ones start closed. */
  reload(site: SiteFile): void {
    const ids = new Set(site.safes.map((s) => s.id));
    for (const [id, r] of this.runners) {
      if (!ids.has(id)) {
        clearTimeout(r.timer);
        this.runners.delete(id);
      }
    }
    for (const safe of site.safes) {
      const r = this.runners.get(safe.id);
      if (!r) this.add(safe);
      else {
        r.safe = safe;
        r.settings = settingsOf(safe);
        this.schedule(r);
      }
    }
  }

  list(): SafeView[] {
    return [...this.runners.values()].map((r) => this.view(r));
  }

  get(safeId: string): SafeView | undefined {
    const r = this.runners.get(safeId);
    return r && this.view(r);
  }

  private add(safe: SafeConfig): void {
    this.runners.set(safe.id, { safe, settings: settingsOf(safe), state: initialSafe(), since: this.ctx.now().toISOString(), pins: Promise.resolve() });
  }

  private inHours(areaId: string, at: Date): boolean {
    const area = this.ctx.index.areas.get(areaId);
    const schedule = area?.schedule ? this.ctx.site.schedules.find((s) => s.id === area.schedule) : undefined;
    return schedule ? isWithinSchedule(schedule, at, this.ctx.site.site.timezone) : true;
  }

  /** A granted entry into the safe's area counts as an authentication at the area's door. */
  private onEntry(record: EntryRecord): void {
    if (record.kind !== 'decision' || record.decision !== 'granted' || record.direction !== 'in' || !record.personId || !record.areaId) return;
    for (const r of this.runners.values()) {
      if (r.safe.area === record.areaId) this.authenticate(r, record.personId, 'door', this.ctx.now().getTime());
    }
  }

  /** Only a holder of the safe, on fresh data, opens the window; anyone else is logged and ignored. Returns the refusal, if any. */
  private authenticate(r: Runner, personId: string, source: AuthSource, at: number): DenyReason | null {
    const now = this.ctx.now();
    const facts = holderFactsOf(this.ctx.store, personId, r.safe, now, this.ctx.site.policy.trainingValidityMonths);
    const holder = safeHolderDecision(personId, r.safe, facts);
    if (!holder.ok) {
      this.ctx.log.info({ safe: r.safe.id, personId, source, reason: holder.reason }, 'authenticated, but not a holder of the safe');
      return holder.reason;
    }
    this.feed(r, { on: 'authenticated', auth: { personId, grantId: holder.grantId, purpose: holder.purpose, source, at } });
    return null;
  }

  /**
   * A PIN at the safe's keypad: tried against the PIN of each holder who authenticated for this safe
   * (at a door of its area or at its reader) within the window, latest first. A match is the keypad
   * lock's authentication, fed to the machine only now; no match opens nothing, is an event, and
   * counts as a wrong PIN for the latest of them (the one most likely at the keypad).
   */
  private async keypadPin(r: Runner, pin: string, at: number): Promise<void> {
    const { store, site } = this.ctx;
    const live = r.state.auths.filter((a) => (a.source === 'door' || a.source === 'reader') && at - a.at <= r.settings.authWindowMs);
    const candidates: string[] = [];
    for (const a of [...live].reverse()) if (!candidates.includes(a.personId)) candidates.push(a.personId);
    if (candidates.length === 0) {
      this.refusePin(r, 'no-holder', null);
      return;
    }
    // Locked out for wrong PINs (here or at a door): their PIN opens nothing until the lockout ends.
    const lockedOut = (personId: string) => {
      const until = store.people.standing(personId).lockedOutUntil;
      return until !== null && Date.parse(until) > this.ctx.now().getTime();
    };
    let faultOnly = true;
    for (const personId of candidates) {
      const result = await this.verifyPin(personId, pin);
      for (const f of result.faults ?? []) {
        this.raise(r, 'credential-fault', { credentialId: f.credentialId, factor: 'pin', personId, error: f.error });
      }
      if (result.outcome !== 'fault') faultOnly = false;
      if (result.outcome !== 'match') continue;
      if (lockedOut(personId)) {
        this.refusePin(r, 'pin-locked-out', personId);
        return;
      }
      store.people.clearPinFailures(personId);
      const refusal = this.authenticate(r, personId, 'keypad', at);
      if (refusal) {
        // A holder a moment ago, not now (a grant revoked since the door): the PIN opens nothing.
        this.refusePin(r, refusal, personId);
        return;
      }
      this.indicate(r, 'granted');
      // A duress PIN opens as the PIN does; the alarm is silent, as at the doors.
      if (result.credential.use === 'duress') {
        this.raise(r, 'duress', { seq: null, personId, personName: store.people.person(personId)?.name ?? null, safe: r.safe.id });
      }
      return;
    }
    // Unreadable hashes are a fault to repair, not a wrong PIN: said (above), never counted.
    if (faultOnly) {
      this.refusePin(r, 'credential-fault', candidates[0]!);
      return;
    }
    // Counted for the latest holder not already locked out: the one most likely at the keypad.
    const personId = candidates.find((c) => !lockedOut(c)) ?? null;
    let lockedUntil: string | null = null;
    if (personId !== null) {
      try {
        lockedUntil = store.people.pinFailure(personId, site.policy.pinAttempts, site.policy.pinLockoutSeconds * 1000, this.ctx.now()).lockedUntil;
      } catch (err) {
        this.ctx.log.error({ err, safe: r.safe.id }, 'could not count a wrong PIN');
      }
    }
    this.refusePin(r, 'wrong-pin', personId ?? candidates[0]!, lockedUntil);
    if (personId !== null && lockedUntil) {
      const person = store.people.person(personId);
      this.raise(r, 'pin-lockout', { personId, personName: person?.name ?? null, attempts: site.policy.pinAttempts, lockedUntil, safe: r.safe.id });
    }
  }

  private refusePin(r: Runner, reason: PinRefusal, personId: string | null, lockedUntil: string | null = null): void {
    this.indicate(r, 'denied');
    this.raise(r, 'safe-pin-refused', { safeId: r.safe.id, areaId: r.safe.area, device: r.safe.keypad ?? null, reason, personId, lockedUntil });
  }

  private raise(r: Runner, type: 'safe-pin-refused' | 'pin-lockout' | 'duress' | 'credential-fault', detail: Record<string, unknown>): void {
    this.ctx.alarms.raise({ ...EVENT_TYPES[type], type, source: r.safe.id, detail });
  }

  private indicate(r: Runner, pattern: 'granted' | 'denied'): void {
    if (r.safe.keypad) void this.ctx.devices.send(r.safe.keypad, { command: 'indicate', pattern });
  }

  private feed(r: Runner, input: SafeInput): void {
    const was = r.state.phase;
    const out = safeStep(r.state, input, r.settings);
    r.state = out.state;
    if (r.state.phase !== was) r.since = this.ctx.now().toISOString();
    for (const e of out.effects) this.apply(r, e);
    this.schedule(r);
  }

  private schedule(r: Runner): void {
    clearTimeout(r.timer);
    r.timer = undefined;
    const due = nextSafeDeadline(r.state, r.settings);
    if (due === null) return;
    r.timer = setTimeout(() => this.feed(r, { on: 'tick', at: Math.max(due, this.ctx.now().getTime()) }), Math.max(0, due - this.ctx.now().getTime()));
    r.timer.unref();
  }

  private apply(r: Runner, e: SafeEffect): void {
    const { safe } = r;
    switch (e.do) {
      case 'log-opening': {
        const person = this.ctx.store.people.person(e.auth.personId);
        this.log(safe, 'safe-opened', {
          personId: e.auth.personId,
          personName: person?.name ?? null,
          affiliation: person?.affiliation ?? null,
          purpose: e.auth.purpose,
          detail: { safe: safe.id, locks: e.locks, grantId: e.auth.grantId, authenticatedAt: new Date(e.auth.at).toISOString(), source: e.auth.source },
        });
        return;
      }
      case 'log-closing':
        this.log(safe, 'safe-closed', {
          detail: { safe: safe.id, authorised: e.authorised, openedAt: e.openedAt === null ? null : new Date(e.openedAt).toISOString() },
        });
        return;
      case 'raise': {
        const detail = { safeId: safe.id, areaId: safe.area, ...e.detail };
        if (e.type === 'safe-opened-unauthorised') this.log(safe, 'safe-opened-unauthorised', { detail: { safe: safe.id, ...e.detail } });
        this.ctx.alarms.raise({ ...EVENT_TYPES[e.type], type: e.type, source: safe.id, detail });
        return;
      }
    }
  }

  /** Safe records go in the entry log with the doors' (never throws: a failed write is reported). */
  private log(
    safe: SafeConfig,
    reason: 'safe-opened' | 'safe-opened-unauthorised' | 'safe-closed',
    fields: { personId?: string; personName?: string | null; affiliation?: string | null; purpose?: string; detail: Record<string, unknown> },
  ): void {
    const { store } = this.ctx;
    try {
      const record = store.transaction(() =>
        store.entryLog.append({
          at: this.ctx.now().toISOString(),
          kind: 'door',
          doorId: safe.id,
          areaId: safe.area,
          reason,
          deviceId: safe.sensors.contact,
          ...fields,
        }),
      );
      this.ctx.bus.emit('entry', record);
    } catch (err) {
      store.entryLog.resync();
      this.ctx.storageFaults.report(err, { source: safe.id, during: reason });
    }
  }

  private view(r: Runner): SafeView {
    return {
      id: r.safe.id,
      area: r.safe.area,
      locks: [...r.safe.locks],
      state: r.state.phase,
      since: r.since,
      contactOpen: r.state.contactOpen,
      locksOpen: locksOpen(r.state, r.settings, this.ctx.now().getTime()),
      openedBy: r.state.openedBy?.personId ?? null,
    };
  }
}
