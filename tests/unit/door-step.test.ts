// The door's state machine, transition by transition, without a daemon: each row is
// (state, input) → (state, effects). Time is the inputs' `at`; deadlines are ticks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMERGENCY_RENEW_MS,
  EMERGENCY_UNLOCK_MS,
  LOCK_FAULT_WINDOW_MS,
  doorStep,
  doorView,
  initialDoor,
  nextDeadline,
  shownLock,
  type DoorEffect,
  type DoorInput,
  type DoorMachine,
  type DoorPhase,
  type DoorSettings,
  type DoorView,
  type LockResult,
  type LockState,
  type Release,
  type SentFor,
} from '../../src/policy/door.js';

const settings: DoorSettings = { lock: 'lab-lock', unlockMs: 5000, heldOpenMs: 30_000, failMode: 'safe', unlockTtlMs: 500 };
const T = 1_800_000_000_000;
const UNTIL = T - 1000 + settings.unlockMs; // a release made a second before T
const HELD = T - 1000 + settings.heldOpenMs; // a door opened a second before T

const grant: Release = { kind: 'grant', seq: 12 };
const rex: Release = { kind: 'rex' };
const guard: Release = { kind: 'command', by: 'api:yamada' };

const locked: LockState = { is: 'locked' };
const unlocked: LockState = { is: 'unlocked' };
const unlocking: LockState = { is: 'unlocking' };
const locking = (from: 'locked' | 'unlocked' | 'unknown'): LockState => ({ is: 'locking', from });
const fault = (error: string): LockState => ({ is: 'fault', error });

const secured = (contact: 'closed' | 'unknown' = 'closed'): DoorPhase => ({ is: 'secured', contact });
const released = (by: Release = grant, until = UNTIL, contact: 'closed' | 'unknown' = 'closed'): DoorPhase => ({ is: 'released', by, until, contact });
const openRelease = (by: Release = grant, until: number | null = UNTIL, opened = true) => ({ by, until, opened });
const held = { at: HELD, device: 'lab-contact' };
const authorised = (release: ReturnType<typeof openRelease> | null = openRelease(), watch: typeof held | null = held): DoorPhase => ({
  is: 'open-authorised',
  release,
  held: watch,
});
const heldOpen = (release: ReturnType<typeof openRelease> | null = null): DoorPhase => ({ is: 'held-open', release });
const forced = (release: ReturnType<typeof openRelease> | null = null, watch: typeof held | null = held): DoorPhase => ({ is: 'forced', release, held: watch });
const emergency = (contact: 'open' | 'closed' | 'unknown' = 'closed', renewAt = T + 1000): DoorPhase => ({ is: 'emergency', renewAt, contact });

/** A door whose last command was attempt 7. */
const door = (phase: DoorPhase, lock: LockState = locked, over: Partial<DoorMachine> = {}): DoorMachine => ({ phase, lock, online: true, attempt: 7, ...over });

const at = T;
const answer = (attempt: number, sent: SentFor, result: LockResult): DoorInput => ({ on: 'answer', attempt, sent, result, at });
const ok: LockResult = { ok: true };
const refused: LockResult = { ok: false, error: 'expired 800 ms ago' };
const noAck: LockResult = { ok: false, error: 'no acknowledgement in 2000 ms', unconfirmed: true };

const sendUnlock = (by: Release, attempt = 8): DoorEffect => ({
  do: 'send',
  attempt,
  command: { command: 'unlock', durationMs: 5000, expiresAt: T + 500 },
  sent: { for: 'release', by },
});
const sendEmergencyUnlock = (attempt = 8): DoorEffect => ({
  do: 'send',
  attempt,
  command: { command: 'unlock', durationMs: EMERGENCY_UNLOCK_MS },
  sent: { for: 'emergency' },
});
const sendRelock = (attempt = 8): DoorEffect => ({ do: 'send', attempt, command: { command: 'lock' }, sent: { for: 'relock' } });
const sendRest = (why: 'start' | 'lock came online' | 'shutdown', attempt = 8): DoorEffect => ({
  do: 'send',
  attempt,
  command: { command: 'lock' },
  sent: { for: 'rest', why },
});
const wake = (when: number | null): DoorEffect => ({ do: 'wake', at: when });
const raise = (type: string, detail: Record<string, unknown> | null = null): DoorEffect => ({ do: 'raise', type, detail }) as DoorEffect;
const lockFault = (detail: Record<string, unknown>): DoorEffect => ({
  do: 'raise',
  type: 'lock-fault',
  detail: { lock: 'lab-lock', ...detail },
  limit: { key: 'lock-fault:lab-lock', windowMs: LOCK_FAULT_WINDOW_MS },
});
const record = (reason: string, device: string | null, direction: 'in' | 'out' | null = null): DoorEffect =>
  ({ do: 'record', reason, device, direction, detail: null }) as DoorEffect;

type Row = [name: string, before: DoorMachine, input: DoorInput, after: DoorMachine, effects: DoorEffect[], settings?: DoorSettings];

const rows: Row[] = [
  // Start and shutdown: every lock to its resting state, locked.
  [
    'start drives the lock to rest',
    { ...initialDoor(), online: true },
    { on: 'start', at },
    { phase: secured('unknown'), lock: locking('unknown'), online: true, attempt: 1 },
    [sendRest('start', 1)],
  ],
  ['start leaves an emergency release alone', door(emergency(), unlocked), { on: 'start', at }, door(emergency(), unlocked), []],
  [
    'start ends a release',
    door(released(), unlocked),
    { on: 'start', at },
    door(secured(), locking('unlocked'), { attempt: 8 }),
    [sendRest('start'), wake(null)],
  ],
  [
    'shutdown ends an emergency and locks, the door left open',
    door(emergency('open'), unlocked),
    { on: 'shutdown', at },
    door(authorised(null, null), locking('unlocked'), { attempt: 8 }),
    [sendRest('shutdown'), wake(null)],
  ],
  [
    'shutdown locks a forced door and drops its held-open watch',
    door(forced(), locked),
    { on: 'shutdown', at },
    door(forced(null, null), locking('locked'), { attempt: 8 }),
    [sendRest('shutdown'), wake(null)],
  ],

  // Releases.
  [
    'a grant releases a secured door for its unlock time, the unlock valid for the TTL',
    door(secured()),
    { on: 'release', by: grant, at },
    door(released(grant, T + 5000), unlocking, { attempt: 8 }),
    [sendUnlock(grant), wake(T + 5000)],
  ],
  [
    'with no TTL the unlock carries no expiry',
    door(secured()),
    { on: 'release', by: guard, at },
    door(released(guard, T + 5000), unlocking, { attempt: 8 }),
    [{ do: 'send', attempt: 8, command: { command: 'unlock', durationMs: 5000 }, sent: { for: 'release', by: guard } }, wake(T + 5000)],
    { ...settings, unlockTtlMs: 0 },
  ],
  [
    'a second release restarts the unlock time',
    door(released(grant), unlocked),
    { on: 'release', by: guard, at },
    door(released(guard, T + 5000), unlocking, { attempt: 8 }),
    [sendUnlock(guard), wake(T + 5000)],
  ],
  ['a release during an emergency is ignored', door(emergency(), unlocked), { on: 'release', by: grant, at }, door(emergency(), unlocked), []],
  [
    'a release does not clear a forced alarm; the held-open watch keeps running',
    door(forced(null, { at: T + 20_000, device: 'lab-contact' })),
    { on: 'release', by: rex, at },
    door(forced(openRelease(rex, T + 5000, false), { at: T + 20_000, device: 'lab-contact' }), unlocking, { attempt: 8 }),
    [sendUnlock(rex), wake(T + 5000)],
  ],
  [
    'a release of a door already open is not an opening',
    door(heldOpen(), unlocked),
    { on: 'release', by: grant, at },
    door(heldOpen(openRelease(grant, T + 5000, false)), unlocking, { attempt: 8 }),
    [sendUnlock(grant), wake(T + 5000)],
  ],

  // REX: an exit from inside, logged, then released.
  [
    'REX logs an exit and releases',
    door(secured()),
    { on: 'rex', device: 'lab-rex', at },
    door(released(rex, T + 5000), unlocking, { attempt: 8 }),
    [record('rex', 'lab-rex', 'out'), sendUnlock(rex), wake(T + 5000)],
  ],
  ['REX during an emergency does nothing', door(emergency()), { on: 'rex', device: 'lab-rex', at }, door(emergency()), []],

  // The contact opens.
  [
    'opening a released door is authorised and starts the held-open watch',
    door(released(grant, T + 4000), unlocked),
    { on: 'contact', open: true, device: 'lab-contact', at },
    door(authorised(openRelease(grant, T + 4000, true), { at: T + 30_000, device: 'lab-contact' }), unlocked),
    [],
  ],
  [
    'opening a secured door is forced: logged and raised',
    door(secured()),
    { on: 'contact', open: true, device: 'lab-contact', at },
    door(forced(null, { at: T + 30_000, device: 'lab-contact' })),
    [record('door-forced', 'lab-contact'), raise('door-forced', { device: 'lab-contact' }), wake(T + 30_000)],
  ],
  [
    'opening while a relock is in flight is forced, whatever the lock last said',
    door(secured(), locking('unlocked')),
    { on: 'contact', open: true, device: 'lab-contact', at },
    door(forced(null, { at: T + 30_000, device: 'lab-contact' }), locking('unlocked')),
    [record('door-forced', 'lab-contact'), raise('door-forced', { device: 'lab-contact' }), wake(T + 30_000)],
  ],
  [
    'opening a door whose contact never reported is forced too',
    door(secured('unknown')),
    { on: 'contact', open: true, device: 'lab-contact', at },
    door(forced(null, { at: T + 30_000, device: 'lab-contact' })),
    [record('door-forced', 'lab-contact'), raise('door-forced', { device: 'lab-contact' }), wake(T + 30_000)],
  ],
  [
    'opening during an emergency is expected',
    door(emergency('closed'), unlocked),
    { on: 'contact', open: true, device: 'lab-contact', at },
    door(emergency('open'), unlocked),
    [],
  ],
  [
    'an open door reported open again changes nothing',
    door(authorised(), unlocked),
    { on: 'contact', open: true, device: 'lab-contact', at },
    door(authorised(), unlocked),
    [],
  ],

  // The contact closes.
  [
    'closing after an entry relocks at once',
    door(authorised(), unlocked),
    { on: 'contact', open: false, device: 'lab-contact', at },
    door(secured(), locking('unlocked'), { attempt: 8 }),
    [sendRelock(), wake(null)],
  ],
  [
    'closing a forced door clears the alarm; a lock known locked is not sent again',
    door(forced(), locked),
    { on: 'contact', open: false, device: 'lab-contact', at },
    door(secured(), locked),
    [raise('door-forced-cleared'), wake(null)],
  ],
  [
    'closing a held-open door clears the alarm and relocks',
    door(heldOpen(), unlocked),
    { on: 'contact', open: false, device: 'lab-contact', at },
    door(secured(), locking('unlocked'), { attempt: 8 }),
    [raise('door-held-open-cleared'), sendRelock()],
  ],
  [
    'closing during an emergency keeps it released',
    door(emergency('open'), unlocked),
    { on: 'contact', open: false, device: 'lab-contact', at },
    door(emergency('closed'), unlocked),
    [],
  ],
  [
    'a first report of closed only records it',
    door(secured('unknown')),
    { on: 'contact', open: false, device: 'lab-contact', at },
    door(secured('closed')),
    [],
  ],
  [
    'a released door reported closed stays released',
    door(released(grant, UNTIL, 'unknown'), unlocked),
    { on: 'contact', open: false, device: 'lab-contact', at },
    door(released(grant, UNTIL, 'closed'), unlocked),
    [],
  ],

  // Emergencies.
  [
    'an emergency cancels pending access and releases a fail-safe door, with no expiry',
    door(secured()),
    { on: 'emergency', active: true, at },
    door(emergency('closed', T + EMERGENCY_RENEW_MS), unlocking, { attempt: 8 }),
    [{ do: 'cancel-pending' }, sendEmergencyUnlock(), wake(T + EMERGENCY_RENEW_MS)],
  ],
  [
    'an emergency replaces a forced alarm (the two cannot coexist)',
    door(forced()),
    { on: 'emergency', active: true, at },
    door(emergency('open', T + EMERGENCY_RENEW_MS), unlocking, { attempt: 8 }),
    [{ do: 'cancel-pending' }, sendEmergencyUnlock(), wake(T + EMERGENCY_RENEW_MS)],
  ],
  [
    'an emergency keeps a fail-secure door locked, its pending access cancelled',
    door(secured()),
    { on: 'emergency', active: true, at },
    door(secured()),
    [{ do: 'cancel-pending' }],
    { ...settings, failMode: 'secure' },
  ],
  [
    'a second emergency only cancels pending access',
    door(emergency(), unlocked),
    { on: 'emergency', active: true, at },
    door(emergency(), unlocked),
    [{ do: 'cancel-pending' }],
  ],
  [
    'the end of an emergency relocks a closed door',
    door(emergency('closed'), unlocked),
    { on: 'emergency', active: false, at },
    door(secured(), locking('unlocked'), { attempt: 8 }),
    [sendRelock(), wake(null)],
  ],
  [
    'the end of an emergency leaves an open door to relock when it closes',
    door(emergency('open'), unlocked),
    { on: 'emergency', active: false, at },
    door(authorised(null, null), unlocked),
    [wake(null)],
  ],
  ['the end of an emergency that was not on changes nothing', door(secured()), { on: 'emergency', active: false, at }, door(secured()), []],

  // A guard's lock command, a lockdown.
  [
    'lock now ends a release',
    door(released(), unlocked),
    { on: 'lock-now', at },
    door(secured(), locking('unlocked'), { attempt: 8 }),
    [sendRelock(), wake(null)],
  ],
  [
    'lock now with the door open ends the release but keeps the held-open watch',
    door(authorised(), unlocked),
    { on: 'lock-now', at },
    door(authorised(null), locking('unlocked'), { attempt: 8 }),
    [sendRelock(), wake(HELD)],
  ],
  ['lock now during an emergency is refused', door(emergency(), unlocked), { on: 'lock-now', at }, door(emergency(), unlocked), []],

  // The lock's link.
  [
    'a lock coming online is driven to rest',
    door(secured(), fault('offline'), { online: false }),
    { on: 'lock-link', online: true, at },
    door(secured(), locking('unknown'), { attempt: 8 }),
    [sendRest('lock came online')],
  ],
  [
    'a heartbeat (online again) does not cut an unlock short',
    door(released(), unlocked),
    { on: 'lock-link', online: true, at },
    door(released(), unlocked),
    [],
  ],
  [
    'a lock coming back during an emergency is released again',
    door(emergency('closed', T + 1000), unlocked, { online: false }),
    { on: 'lock-link', online: true, at },
    door(emergency('closed', T + EMERGENCY_RENEW_MS), unlocking, { attempt: 8 }),
    [sendEmergencyUnlock(), wake(T + EMERGENCY_RENEW_MS)],
  ],
  ['a lock going offline is only noted', door(released(), unlocked), { on: 'lock-link', online: false, at }, door(released(), unlocked, { online: false }), []],

  // Answers to the latest command.
  ['the unlock is acknowledged', door(released(), unlocking), answer(7, { for: 'release', by: grant }, ok), door(released(), unlocked), []],
  [
    'a refused unlock is a lock fault; the door does not count as released and is relocked at once',
    door(released(), unlocking),
    answer(7, { for: 'release', by: grant }, refused),
    door(secured(), locking('unknown'), { attempt: 8 }),
    [
      lockFault({ command: 'unlock', error: 'expired 800 ms ago', release: grant }),
      { do: 'note', level: 'debug', msg: 'unlock refused or not sent: the door stays locked', detail: { error: 'expired 800 ms ago', release: grant } },
      sendRelock(),
      wake(null),
    ],
  ],
  [
    'an unlock not acknowledged in time may have opened: the door stays released',
    door(released(), unlocking),
    answer(7, { for: 'release', by: grant }, noAck),
    door(released(), unlocking),
    [lockFault({ command: 'unlock', error: 'no acknowledgement in 2000 ms', release: grant })],
  ],
  [
    'a refused unlock of an open door ends its release; it relocks when it closes',
    door(forced(openRelease(rex, T + 4000, false)), unlocking),
    answer(7, { for: 'release', by: rex }, refused),
    door(forced(null), fault('expired 800 ms ago')),
    [
      lockFault({ command: 'unlock', error: 'expired 800 ms ago', release: rex }),
      { do: 'note', level: 'debug', msg: 'unlock refused or not sent: the door stays locked', detail: { error: 'expired 800 ms ago', release: rex } },
      wake(HELD),
    ],
  ],
  ['the relock is acknowledged', door(secured(), locking('unlocked')), answer(7, { for: 'relock' }, ok), door(secured(), locked), []],
  [
    'a relock that fails is a lock fault',
    door(secured(), locking('unlocked')),
    answer(7, { for: 'relock' }, refused),
    door(secured(), fault('expired 800 ms ago')),
    [lockFault({ command: 'lock', error: 'expired 800 ms ago' })],
  ],
  [
    'the lock reached its resting state',
    door(secured('unknown'), locking('unknown')),
    answer(7, { for: 'rest', why: 'start' }, ok),
    door(secured('unknown'), locked),
    [{ do: 'note', level: 'info', msg: 'lock driven to resting state: locked', detail: { failMode: 'safe', why: 'start' } }],
  ],
  [
    "a lock not reached at start is supervision's to report, not a lock fault",
    door(secured('unknown'), locking('unknown')),
    answer(7, { for: 'rest', why: 'start' }, noAck),
    door(secured('unknown'), fault('no acknowledgement in 2000 ms')),
    [{ do: 'note', level: 'warn', msg: 'lock not reached at start; it is locked when it comes online', detail: { error: 'no acknowledgement in 2000 ms' } }],
  ],
  [
    'a rest command refused later is a lock fault, saying when',
    door(secured(), locking('unknown')),
    answer(7, { for: 'rest', why: 'lock came online' }, refused),
    door(secured(), fault('expired 800 ms ago')),
    [lockFault({ command: 'lock', error: 'expired 800 ms ago', during: 'lock came online' })],
  ],
  ['the emergency unlock is acknowledged', door(emergency(), unlocking), answer(7, { for: 'emergency' }, ok), door(emergency(), unlocked), []],
  [
    'an emergency unlock that fails is a lock fault; the door stays released for the emergency',
    door(emergency(), unlocking),
    answer(7, { for: 'emergency' }, refused),
    door(emergency(), unlocking),
    [lockFault({ command: 'unlock', error: 'expired 800 ms ago', during: 'emergency release' })],
  ],

  // Late answers to earlier commands: what the generation counter guarded.
  [
    'a late acknowledgement of an overtaken unlock does not re-release the door or call it unlocked',
    door(secured(), locking('unlocked'), { attempt: 8 }),
    answer(7, { for: 'release', by: grant }, ok),
    door(secured(), locking('unlocked'), { attempt: 8 }),
    [],
  ],
  [
    'a late refusal of an overtaken unlock names its own release and leaves the newer one alone',
    door(released(rex, T + 5000), unlocking, { attempt: 8 }),
    answer(7, { for: 'release', by: grant }, refused),
    door(released(rex, T + 5000), unlocking, { attempt: 8 }),
    [lockFault({ command: 'unlock', error: 'expired 800 ms ago', release: grant })],
  ],
  [
    'a late acknowledgement of a rest command does not lock out a grant sent after it',
    door(released(grant, T + 5000), unlocking, { attempt: 8 }),
    answer(7, { for: 'rest', why: 'lock came online' }, ok),
    door(released(grant, T + 5000), unlocking, { attempt: 8 }),
    [],
  ],
  [
    'a late failure of an overtaken relock is not a fault of the lock now',
    door(released(grant, T + 5000), unlocked, { attempt: 8 }),
    answer(7, { for: 'relock' }, refused),
    door(released(grant, T + 5000), unlocked, { attempt: 8 }),
    [],
  ],
  [
    'a late acknowledgement of an emergency unlock after it ended does not call the lock unlocked',
    door(secured(), locking('unlocked'), { attempt: 8 }),
    answer(7, { for: 'emergency' }, ok),
    door(secured(), locking('unlocked'), { attempt: 8 }),
    [],
  ],

  // Time.
  ['before any deadline a tick changes nothing', door(released(grant, T + 1), unlocked), { on: 'tick', at }, door(released(grant, T + 1), unlocked), []],
  [
    'a grant not used by the end of its unlock time is reported, and the door relocks',
    door(released(grant, T), unlocked),
    { on: 'tick', at },
    door(secured(), locking('unlocked'), { attempt: 8 }),
    [raise('granted-not-opened', { seq: 12 }), sendRelock(), wake(null)],
  ],
  [
    'a REX release not used just relocks',
    door(released(rex, T), unlocked),
    { on: 'tick', at },
    door(secured(), locking('unlocked'), { attempt: 8 }),
    [sendRelock(), wake(null)],
  ],
  [
    'the unlock time ending with the door open leaves it to relock on close',
    door(authorised(openRelease(grant, T, true)), unlocked),
    { on: 'tick', at },
    door(authorised(openRelease(grant, null, true)), unlocked),
    [wake(HELD)],
  ],
  [
    'a grant made while the door was already open and never opened is reported',
    door(forced(openRelease(grant, T, false)), unlocked),
    { on: 'tick', at },
    door(forced(openRelease(grant, null, false)), unlocked),
    [raise('granted-not-opened', { seq: 12 }), wake(HELD)],
  ],
  [
    'an authorised door open past its held-open time: logged and raised',
    door(authorised(openRelease(grant, null)), unlocked),
    { on: 'tick', at: HELD },
    door(heldOpen(openRelease(grant, null)), unlocked),
    [record('door-held-open', 'lab-contact'), raise('door-held-open', { heldOpenMs: 30_000 }), wake(null)],
  ],
  [
    'a forced door left open becomes held open',
    door(forced()),
    { on: 'tick', at: HELD },
    door(heldOpen()),
    [record('door-held-open', 'lab-contact'), raise('door-held-open', { heldOpenMs: 30_000 }), wake(null)],
  ],
  [
    'a late tick fires every deadline passed, in order',
    door(authorised(openRelease(grant, UNTIL, false)), unlocked),
    { on: 'tick', at: HELD + 5 },
    door(heldOpen(openRelease(grant, null, false)), unlocked),
    [raise('granted-not-opened', { seq: 12 }), record('door-held-open', 'lab-contact'), raise('door-held-open', { heldOpenMs: 30_000 }), wake(null)],
  ],
  [
    "an emergency release is renewed before the lock's own unlock runs out",
    door(emergency('closed', T), unlocked),
    { on: 'tick', at },
    door(emergency('closed', T + EMERGENCY_RENEW_MS), unlocking, { attempt: 8 }),
    [sendEmergencyUnlock(), wake(T + EMERGENCY_RENEW_MS)],
  ],
];

describe('doorStep: every transition', () => {
  it.each(rows)('%s', (_name, before, input, after, effects, s = settings) => {
    const frozen = structuredClone(before);
    const step = doorStep(before, input, s);
    expect(step.state).toEqual(after);
    expect(step.effects).toEqual(effects);
    expect(before).toEqual(frozen); // pure: the state passed in is not changed
  });
});

describe('doorView: what GET /doors shows', () => {
  const views: [DoorMachine, DoorView][] = [
    [initialDoor(), { lock: 'unknown', open: null, unlockedBy: null, openedSinceUnlock: false, alarm: null, emergency: false }],
    [door(released(grant), unlocking), { lock: 'unlocked', open: false, unlockedBy: grant, openedSinceUnlock: false, alarm: null, emergency: false }],
    [door(authorised(), unlocked), { lock: 'unlocked', open: true, unlockedBy: grant, openedSinceUnlock: true, alarm: null, emergency: false }],
    [door(forced(), locked), { lock: 'locked', open: true, unlockedBy: null, openedSinceUnlock: false, alarm: 'forced', emergency: false }],
    [door(heldOpen(openRelease(rex)), unlocked), { lock: 'unlocked', open: true, unlockedBy: rex, openedSinceUnlock: true, alarm: 'held', emergency: false }],
    [
      door(emergency('unknown'), unlocking),
      { lock: 'unlocked', open: null, unlockedBy: { kind: 'emergency' }, openedSinceUnlock: false, alarm: null, emergency: true },
    ],
    [door(secured(), locking('unlocked')), { lock: 'unlocked', open: false, unlockedBy: null, openedSinceUnlock: false, alarm: null, emergency: false }],
    [door(secured(), fault('jammed')), { lock: 'unknown', open: false, unlockedBy: null, openedSinceUnlock: false, alarm: null, emergency: false }],
  ];
  it.each(views)('%j', (state, view) => expect(doorView(state)).toEqual(view));
});

describe('doorStep over random input sequences', () => {
  const release = fc.constantFrom<Release>(grant, rex, guard);
  const result = fc.constantFrom<LockResult>(ok, refused, noAck);
  // Times are offsets that the run turns into a clock that never goes back.
  const input = fc.tuple(
    fc.nat(40_000),
    fc.oneof(
      fc.constant({ on: 'start' } as const),
      release.map((by) => ({ on: 'release', by }) as const),
      fc.constant({ on: 'rex', device: 'lab-rex' } as const),
      fc.boolean().map((open) => ({ on: 'contact', open, device: 'lab-contact' }) as const),
      fc.boolean().map((active) => ({ on: 'emergency', active }) as const),
      fc.constant({ on: 'lock-now' } as const),
      fc.boolean().map((online) => ({ on: 'lock-link', online }) as const),
      // An answer to one of the last few commands sent (the lock answers what it was sent).
      fc.tuple(fc.nat(3), result).map(([back, r]) => ({ on: 'answer', back, result: r }) as const),
      fc.constant({ on: 'tick' } as const),
    ),
  );

  it('holds its invariants: commands numbered in order, a release shows the lock unlocked, wake says the next deadline, no deadline left behind', () => {
    fc.assert(
      fc.property(fc.array(input, { maxLength: 60 }), fc.constantFrom<'safe' | 'secure'>('safe', 'secure'), (inputs, failMode) => {
        const s = { ...settings, failMode };
        let state = initialDoor();
        let clock = T;
        const sent: { attempt: number; sent: SentFor }[] = [];
        for (const [dt, partial] of inputs) {
          clock += dt;
          let full: DoorInput;
          if (partial.on === 'answer') {
            const to = sent.at(-1 - partial.back);
            if (!to) continue;
            full = { on: 'answer', attempt: to.attempt, sent: to.sent, result: partial.result, at: clock };
          } else full = { ...partial, at: clock } as DoorInput;
          const before = state;
          const step = doorStep(state, full, s);
          state = step.state;
          const sends = step.effects.filter((e) => e.do === 'send');
          sent.push(...sends);
          expect(sends.map((e) => e.attempt)).toEqual(sends.map((_, i) => before.attempt + i + 1));
          expect(state.attempt).toBe(before.attempt + sends.length);
          if (state.phase.is === 'released') expect(shownLock(state.lock)).toBe('unlocked');
          if (state.phase.is === 'emergency') expect(failMode).toBe('safe');
          const wakes = step.effects.filter((e) => e.do === 'wake');
          if (nextDeadline(state) !== nextDeadline(before)) expect(wakes).toEqual([{ do: 'wake', at: nextDeadline(state) }]);
          else expect(wakes).toEqual([]);
          if (full.on === 'tick') expect(nextDeadline(state) ?? Infinity).toBeGreaterThan(clock);
          // An answer to anything but the last command never changes what the door is.
          if (full.on === 'answer' && full.attempt !== before.attempt) expect(state).toEqual(before);
        }
      }),
      { numRuns: 300 },
    );
  });
});
