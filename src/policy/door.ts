// A door as a pure state machine: plain data in, plain data out. The controller keeps each door's
// state, feeds it what happens (a release, the contact, REX, an emergency, the lock's answers, the
// time) and carries out the effects (lock commands, entry-log records, alarms). Deadlines are data:
// the controller sets one timer for the earliest (`nextDeadline`) and feeds a tick when it is due, so
// tests drive time by passing ticks. Anything with a lock, a contact and a release is a door here
// (safes reuse it). Imports nothing of ours outside src/policy.
import type { DoorRecordReason, EventType } from './vocabulary.js';

/** The longest unlock a lock accepts; an emergency release is renewed before it runs out. */
export const EMERGENCY_UNLOCK_MS = 3_600_000;
export const EMERGENCY_RENEW_MS = 50 * 60_000;
/** One lock-fault alarm per lock per window: an overloaded loop must not feed itself with alarms. */
export const LOCK_FAULT_WINDOW_MS = 10_000;

/** Why a lock is released: a grant committed to the entry log (its seq), an exit button, an operator. */
export type Release = { kind: 'grant'; seq: number } | { kind: 'rex' } | { kind: 'command'; by: string };

/** What the machine needs to know of the door it runs (the site file's door and policy). */
export interface DoorSettings {
  /** The lock's device id: lock-fault alarms name it. */
  lock: string;
  unlockMs: number;
  heldOpenMs: number;
  /** `safe`: released in an emergency; `secure` (vaults, safes) stays locked. */
  failMode: 'safe' | 'secure';
  /** How long an unlock command stays valid once sent; 0: no expiry. */
  unlockTtlMs: number;
}

/** What the contact last reported; unknown until it reports (a door without one stays unknown). */
export type Contact = 'open' | 'closed' | 'unknown';
type NotOpen = Exclude<Contact, 'open'>;

/** The lock as the controller knows it. A lock command in flight shows what was known before it. */
export type LockState =
  | { is: 'unknown' }
  | { is: 'unlocking' }
  | { is: 'unlocked' }
  | { is: 'locking'; from: ShownLock }
  | { is: 'locked' }
  | { is: 'fault'; error: string };
export type ShownLock = 'locked' | 'unlocked' | 'unknown';

/** A release in force while the door is open: `until` is null once its unlock time ran out (the door relocks on close). */
export interface OpenRelease {
  by: Release;
  until: number | null;
  /** Whether the door opened since this release (a grant not used is reported). */
  opened: boolean;
}

/** When an open door becomes held open, and the contact that reported the opening. */
export interface HeldWatch {
  at: number;
  device: string;
}

export type DoorPhase =
  /** No release in force; the door is closed (or its contact has not reported). */
  | { is: 'secured'; contact: NotOpen }
  /** Unlocked for a release until `until`; not opened yet. */
  | { is: 'released'; by: Release; until: number; contact: NotOpen }
  /** Opened under a release (or left open when an emergency ended); held open at `held.at`. */
  | { is: 'open-authorised'; release: OpenRelease | null; held: HeldWatch | null }
  /** Open past its held-open time. */
  | { is: 'held-open'; release: OpenRelease | null }
  /** Opened with no release behind it; held open at `held.at`. */
  | { is: 'forced'; release: OpenRelease | null; held: HeldWatch | null }
  /** Released for evacuation (fail-safe doors only) until it ends: no alarms, no other commands. */
  | { is: 'emergency'; renewAt: number; contact: Contact };

export interface DoorMachine {
  phase: DoorPhase;
  lock: LockState;
  /** The lock's link: a lock coming online is driven to rest (or released again in an emergency). */
  online: boolean;
  /** The number of the last lock command sent: only an answer to it decides the lock's state. */
  attempt: number;
}

/** What a lock command was sent for; its answer carries it back. */
export type SentFor =
  | { for: 'release'; by: Release }
  | { for: 'emergency' }
  | { for: 'relock' }
  | { for: 'rest'; why: 'start' | 'lock came online' | 'shutdown' };

export type LockCommand = { command: 'unlock'; durationMs: number; expiresAt?: number } | { command: 'lock' };
export type LockResult = { ok: true } | { ok: false; error: string; unconfirmed?: true };

/** Every input carries the time it happened (ms since the epoch). */
export type DoorInput =
  | { on: 'start'; at: number }
  | { on: 'shutdown'; at: number }
  | { on: 'release'; by: Release; at: number }
  | { on: 'rex'; device: string; at: number }
  | { on: 'contact'; open: boolean; device: string; at: number }
  | { on: 'emergency'; active: boolean; at: number }
  | { on: 'lock-now'; at: number }
  | { on: 'lock-link'; online: boolean; at: number }
  | { on: 'answer'; attempt: number; sent: SentFor; result: LockResult; at: number }
  | { on: 'tick'; at: number };

export type DoorEffect =
  | { do: 'send'; attempt: number; command: LockCommand; sent: SentFor }
  /** A door event for the entry log. */
  | { do: 'record'; reason: DoorRecordReason; device: string | null; direction: 'in' | 'out' | null; detail: Record<string, unknown> | null }
  /** An event (category and severity are the registry's); `limit`: at most one per key per window. */
  | { do: 'raise'; type: EventType; detail: Record<string, unknown> | null; limit?: { key: string; windowMs: number } }
  /** Whatever the door's access flow is waiting for (a second factor, a second person) is dropped. */
  | { do: 'cancel-pending' }
  /** A line for the operator's log, not an event. */
  | { do: 'note'; level: 'debug' | 'info' | 'warn'; msg: string; detail: Record<string, unknown> }
  /** The earliest deadline changed: feed a tick at `at` (null: none). */
  | { do: 'wake'; at: number | null };

export interface DoorStep {
  state: DoorMachine;
  effects: DoorEffect[];
}

export function initialDoor(): DoorMachine {
  return { phase: { is: 'secured', contact: 'unknown' }, lock: { is: 'unknown' }, online: false, attempt: 0 };
}

export function doorStep(state: DoorMachine, input: DoorInput, settings: DoorSettings): DoorStep {
  const effects: DoorEffect[] = [];
  const next = apply(state, input, settings, effects);
  const before = nextDeadline(state);
  const after = nextDeadline(next);
  if (before !== after) effects.push({ do: 'wake', at: after });
  return { state: next, effects };
}

/** The earliest moment something happens without input: an unlock time ends, a door is held open, an emergency release is renewed. */
export function nextDeadline(state: DoorMachine): number | null {
  const due = deadlines(state.phase);
  return due.length === 0 ? null : Math.min(...due.map((d) => d.at));
}

export function contactOf(phase: DoorPhase): Contact {
  return phase.is === 'secured' || phase.is === 'released' || phase.is === 'emergency' ? phase.contact : 'open';
}

export function shownLock(lock: LockState): ShownLock {
  switch (lock.is) {
    case 'unlocking':
    case 'unlocked':
      return 'unlocked';
    case 'locked':
      return 'locked';
    case 'locking':
      return lock.from;
    default:
      return 'unknown';
  }
}

/** The door as the API shows it (and as it was kept before it became a state machine). */
export interface DoorView {
  lock: ShownLock;
  open: boolean | null;
  unlockedBy: Release | { kind: 'emergency' } | null;
  openedSinceUnlock: boolean;
  alarm: 'forced' | 'held' | null;
  emergency: boolean;
}

export function doorView(state: DoorMachine): DoorView {
  const { phase } = state;
  const contact = contactOf(phase);
  const release = phase.is === 'open-authorised' || phase.is === 'held-open' || phase.is === 'forced' ? phase.release : null;
  return {
    lock: shownLock(state.lock),
    open: contact === 'unknown' ? null : contact === 'open',
    unlockedBy: phase.is === 'released' ? phase.by : phase.is === 'emergency' ? { kind: 'emergency' } : (release?.by ?? null),
    openedSinceUnlock: release?.opened ?? false,
    alarm: phase.is === 'forced' ? 'forced' : phase.is === 'held-open' ? 'held' : null,
    emergency: phase.is === 'emergency',
  };
}

type Deadline = { at: number; what: 'unlock-time' | 'held-open' | 'renew' };

function deadlines(phase: DoorPhase): Deadline[] {
  const due: Deadline[] = [];
  switch (phase.is) {
    case 'released':
      due.push({ at: phase.until, what: 'unlock-time' });
      break;
    case 'open-authorised':
    case 'held-open':
    case 'forced':
      if (phase.release?.until != null) due.push({ at: phase.release.until, what: 'unlock-time' });
      if (phase.is !== 'held-open' && phase.held) due.push({ at: phase.held.at, what: 'held-open' });
      break;
    case 'emergency':
      due.push({ at: phase.renewAt, what: 'renew' });
      break;
  }
  return due;
}

function apply(s: DoorMachine, input: DoorInput, settings: DoorSettings, out: DoorEffect[]): DoorMachine {
  const { at } = input;
  const inEmergency = s.phase.is === 'emergency';
  switch (input.on) {
    case 'start':
      // An emergency that began before the start keeps its release.
      return inEmergency ? s : toRest(s, 'start', settings, at, out);

    case 'shutdown': {
      // The controller leaves every lock locked; hardware takes over an emergency from here.
      const phase: DoorPhase =
        s.phase.is !== 'emergency'
          ? s.phase
          : s.phase.contact === 'open'
            ? { is: 'open-authorised', release: null, held: null }
            : { is: 'secured', contact: s.phase.contact };
      return toRest({ ...s, phase }, 'shutdown', settings, at, out);
    }

    case 'release':
      return inEmergency ? s : release(s, input.by, settings, at, out);

    case 'rex':
      // An exit from inside: it opens even when the log cannot be written.
      if (inEmergency) return s;
      out.push({ do: 'record', reason: 'rex', device: input.device, direction: 'out', detail: null });
      return release(s, { kind: 'rex' }, settings, at, out);

    case 'contact':
      return input.open ? opened(s, input.device, settings, at, out) : closed(s, settings, at, out);

    case 'emergency':
      if (input.active) {
        // Whatever the door waited for is moot once the area is evacuated, fail-secure doors included.
        out.push({ do: 'cancel-pending' });
        if (settings.failMode !== 'safe' || inEmergency) return s;
        const phase: DoorPhase = { is: 'emergency', renewAt: at + EMERGENCY_RENEW_MS, contact: contactOf(s.phase) };
        return send({ ...s, phase }, { for: 'emergency' }, settings, at, out);
      }
      if (s.phase.is !== 'emergency') return s;
      if (s.phase.contact === 'open') return { ...s, phase: { is: 'open-authorised', release: null, held: null } };
      return send({ ...s, phase: { is: 'secured', contact: s.phase.contact } }, { for: 'relock' }, settings, at, out);

    case 'lock-now':
      return inEmergency ? s : relock(s, settings, at, out);

    case 'lock-link':
      if (!input.online) return s.online ? { ...s, online: false } : s;
      // Only on the transition: a heartbeat (online again) must not cut an unlock short.
      if (s.online) return s;
      if (s.phase.is === 'emergency') {
        return send({ ...s, online: true, phase: { ...s.phase, renewAt: at + EMERGENCY_RENEW_MS } }, { for: 'emergency' }, settings, at, out);
      }
      return toRest({ ...s, online: true }, 'lock came online', settings, at, out);

    case 'answer':
      return answered(s, input.attempt, input.sent, input.result, settings, at, out);

    case 'tick': {
      let next = s;
      for (;;) {
        const due = deadlines(next.phase).sort((a, b) => a.at - b.at)[0];
        if (!due || due.at > at) return next;
        next = fire(next, due.what, settings, at, out);
      }
    }
  }
}

/** Sends a lock command: it becomes the one whose answer counts. */
function send(s: DoorMachine, sent: SentFor, settings: DoorSettings, at: number, out: DoorEffect[]): DoorMachine {
  const attempt = s.attempt + 1;
  let command: LockCommand;
  let lock: LockState;
  if (sent.for === 'release') {
    // Valid for a short while only: behind a backlog, an unlock that reaches the lock after the person
    // has gone would open the door for whoever is standing there. The lock refuses it once expired.
    command =
      settings.unlockTtlMs > 0
        ? { command: 'unlock', durationMs: settings.unlockMs, expiresAt: at + settings.unlockTtlMs }
        : { command: 'unlock', durationMs: settings.unlockMs };
    lock = { is: 'unlocking' };
  } else if (sent.for === 'emergency') {
    // Never expires: life safety, and a late emergency release is still wanted.
    command = { command: 'unlock', durationMs: EMERGENCY_UNLOCK_MS };
    lock = { is: 'unlocking' };
  } else {
    command = { command: 'lock' };
    lock = { is: 'locking', from: shownLock(s.lock) };
  }
  out.push({ do: 'send', attempt, command, sent });
  return { ...s, attempt, lock };
}

/** Unlocks for the unlock time; an open door stays in its phase (an alarm is not cleared by a release). */
function release(s: DoorMachine, by: Release, settings: DoorSettings, at: number, out: DoorEffect[]): DoorMachine {
  const until = at + settings.unlockMs;
  const p = s.phase;
  const phase: DoorPhase =
    p.is === 'secured' || p.is === 'released'
      ? { is: 'released', by, until, contact: p.contact }
      : p.is === 'emergency'
        ? p
        : { ...p, release: { by, until, opened: false } };
  return send({ ...s, phase }, { for: 'release', by }, settings, at, out);
}

/** The phase with no release in force (the held-open watch kept). */
function unreleased(phase: DoorPhase): DoorPhase {
  if (phase.is === 'released') return { is: 'secured', contact: phase.contact };
  if (phase.is === 'open-authorised' || phase.is === 'held-open' || phase.is === 'forced') return { ...phase, release: null };
  return phase;
}

/** Ends any release and locks (a guard's command, the door closing, the unlock time running out). */
function relock(s: DoorMachine, settings: DoorSettings, at: number, out: DoorEffect[]): DoorMachine {
  return send({ ...s, phase: unreleased(s.phase) }, { for: 'relock' }, settings, at, out);
}

/** The resting state, locked (fail-safe doors differ only in what the hardware does without power); no watch left running. */
function toRest(s: DoorMachine, why: 'start' | 'lock came online' | 'shutdown', settings: DoorSettings, at: number, out: DoorEffect[]): DoorMachine {
  let phase = unreleased(s.phase);
  if (phase.is === 'open-authorised' || phase.is === 'forced') phase = { ...phase, held: null };
  return send({ ...s, phase }, { for: 'rest', why }, settings, at, out);
}

function opened(s: DoorMachine, device: string, settings: DoorSettings, at: number, out: DoorEffect[]): DoorMachine {
  const p = s.phase;
  if (contactOf(p) === 'open') return s;
  const held: HeldWatch = { at: at + settings.heldOpenMs, device };
  switch (p.is) {
    case 'emergency':
      // Released for evacuation: openings are expected.
      return { ...s, phase: { ...p, contact: 'open' } };
    case 'released':
      return { ...s, phase: { is: 'open-authorised', release: { by: p.by, until: p.until, opened: true }, held } };
    default:
      // Opened with no release behind it: forced, whatever the lock last said.
      out.push({ do: 'record', reason: 'door-forced', device, direction: null, detail: null }, { do: 'raise', type: 'door-forced', detail: { device } });
      return { ...s, phase: { is: 'forced', release: null, held } };
  }
}

function closed(s: DoorMachine, settings: DoorSettings, at: number, out: DoorEffect[]): DoorMachine {
  const p = s.phase;
  if (p.is === 'emergency' || p.is === 'secured' || p.is === 'released') {
    return p.contact === 'closed' ? s : { ...s, phase: { ...p, contact: 'closed' } };
  }
  if (p.is === 'forced') out.push({ do: 'raise', type: 'door-forced-cleared', detail: null });
  if (p.is === 'held-open') out.push({ do: 'raise', type: 'door-held-open-cleared', detail: null });
  const secured: DoorMachine = { ...s, phase: { is: 'secured', contact: 'closed' } };
  // Relock as soon as the door closes after an entry, not when the unlock time runs out.
  return shownLock(s.lock) === 'locked' ? secured : send(secured, { for: 'relock' }, settings, at, out);
}

function fire(s: DoorMachine, what: Deadline['what'], settings: DoorSettings, at: number, out: DoorEffect[]): DoorMachine {
  const p = s.phase;
  if (what === 'renew' && p.is === 'emergency') {
    return send({ ...s, phase: { ...p, renewAt: at + EMERGENCY_RENEW_MS } }, { for: 'emergency' }, settings, at, out);
  }
  if (what === 'unlock-time') {
    // The lock relocks itself after its unlock time; the controller follows and confirms.
    const release =
      p.is === 'released' ? { by: p.by, opened: false } : p.is === 'open-authorised' || p.is === 'held-open' || p.is === 'forced' ? p.release : null;
    if (release?.by.kind === 'grant' && !release.opened) out.push({ do: 'raise', type: 'granted-not-opened', detail: { seq: release.by.seq } });
    if (p.is === 'released') return relock(s, settings, at, out);
    if ((p.is === 'open-authorised' || p.is === 'held-open' || p.is === 'forced') && p.release) {
      return { ...s, phase: { ...p, release: { ...p.release, until: null } } };
    }
  }
  if (what === 'held-open' && (p.is === 'open-authorised' || p.is === 'forced') && p.held) {
    out.push(
      { do: 'record', reason: 'door-held-open', device: p.held.device, direction: null, detail: null },
      { do: 'raise', type: 'door-held-open', detail: { heldOpenMs: settings.heldOpenMs } },
    );
    return { ...s, phase: { is: 'held-open', release: p.release } };
  }
  throw new Error(`door: no ${what} deadline in phase ${p.is}`);
}

function lockFault(settings: DoorSettings, detail: Record<string, unknown>): DoorEffect {
  return {
    do: 'raise',
    type: 'lock-fault',
    detail: { lock: settings.lock, ...detail },
    limit: { key: `lock-fault:${settings.lock}`, windowMs: LOCK_FAULT_WINDOW_MS },
  };
}

/**
 * A lock's answer. Only the answer to the last command sent decides the lock's state: a late answer to
 * an earlier one (a grant's unlock overtaken by a relock, a rest command overtaken by a grant) must not
 * re-release the door, nor call it locked or failed.
 */
function answered(s: DoorMachine, attempt: number, sent: SentFor, result: LockResult, settings: DoorSettings, at: number, out: DoorEffect[]): DoorMachine {
  const current = attempt === s.attempt;
  switch (sent.for) {
    case 'release':
      if (result.ok) return current ? { ...s, lock: { is: 'unlocked' } } : s;
      out.push(lockFault(settings, { command: 'unlock', error: result.error, release: sent.by }));
      // No acknowledgement in time: the lock may have unlocked all the same (the ack can be stuck in a
      // backlog), so the door stays released until its unlock time runs out, then relocks as usual.
      if (!current || result.unconfirmed) return s;
      // Refused (expired, jammed...) or never sent: the door did not unlock, so it does not count as
      // released (an opening is then forced), and the lock is confirmed locked at once.
      out.push({ do: 'note', level: 'debug', msg: 'unlock refused or not sent: the door stays locked', detail: { error: result.error, release: sent.by } });
      {
        const failed: DoorMachine = { ...s, phase: unreleased(s.phase), lock: { is: 'fault', error: result.error } };
        return contactOf(failed.phase) === 'open' ? failed : send(failed, { for: 'relock' }, settings, at, out);
      }
    case 'emergency':
      if (result.ok) return current ? { ...s, lock: { is: 'unlocked' } } : s;
      out.push(lockFault(settings, { command: 'unlock', error: result.error, during: 'emergency release' }));
      return s;
    case 'relock':
      if (!current) return s;
      if (result.ok) return { ...s, lock: { is: 'locked' } };
      out.push(lockFault(settings, { command: 'lock', error: result.error }));
      return { ...s, lock: { is: 'fault', error: result.error } };
    case 'rest':
      if (!current) return s;
      if (result.ok) {
        out.push({ do: 'note', level: 'info', msg: 'lock driven to resting state: locked', detail: { failMode: settings.failMode, why: sent.why } });
        return { ...s, lock: { is: 'locked' } };
      }
      // A lock not connected yet at start is supervision's to report (device-offline), not a lock fault.
      if (sent.why === 'start')
        out.push({ do: 'note', level: 'warn', msg: 'lock not reached at start; it is locked when it comes online', detail: { error: result.error } });
      else out.push(lockFault(settings, { command: 'lock', error: result.error, during: sent.why }));
      return { ...s, lock: { is: 'fault', error: result.error } };
  }
}
