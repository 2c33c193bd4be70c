// A safe as a state machine: pure, `safeStep(state, input, settings) → { state, effects }`, deadlines as
// timestamps in the state (docs/safes.md). An opening is authorised only when a holder authenticated
// (at the safe's reader or keypad, or at a door of its area) within the window AND both locks report
// open; anything else is an alarm. The runner (controller/safes.ts) checks who is a holder
// (safe-holders.ts) before it feeds `authenticated`, and carries out the effects.
import type { SafeLock } from './vocabulary.js';

export const SAFE_PHASES = ['closed', 'authenticated', 'open-authorised', 'open-alarm', 'held-open'] as const;
export type SafePhase = (typeof SAFE_PHASES)[number];

/** Where a holder authenticated: the safe's reader (card, biometric), its keypad, or a door of its area. */
export type AuthSource = 'reader' | 'keypad' | 'door';

export interface SafeAuth {
  personId: string;
  grantId: number | null;
  purpose: string;
  source: AuthSource;
  at: number;
}

export interface SafeSettings {
  locks: readonly [SafeLock, SafeLock] | readonly SafeLock[];
  authWindowMs: number;
  heldOpenMs: number;
}

export interface SafeState {
  phase: SafePhase;
  /** Each switch-reported lock (dial, key): open as last reported. */
  switches: Partial<Record<SafeLock, boolean>>;
  contactOpen: boolean;
  /** Holders' authentications still inside the window, oldest first. */
  auths: SafeAuth[];
  openedAt: number | null;
  /** When an open safe becomes held open (null when closed or already held open). */
  heldOpenAt: number | null;
  /** Who opened it, when it was authorised. */
  openedBy: SafeAuth | null;
}

export type SafeInput =
  | { on: 'authenticated'; auth: SafeAuth }
  | { on: 'switch'; lock: SafeLock; open: boolean; at: number }
  | { on: 'contact'; open: boolean; at: number }
  /** Movement at the approach; `inHours`: inside the area's business hours. */
  | { on: 'approach'; inHours: boolean; at: number }
  | { on: 'tick'; at: number };

/** Why an opening was not authorised. */
export type UnauthorisedReason = 'no-holder' | 'locks-not-open';

export type SafeEffect =
  | { do: 'log-opening'; auth: SafeAuth; locks: SafeLock[]; at: number }
  | { do: 'log-closing'; openedAt: number | null; at: number; authorised: boolean }
  | { do: 'raise'; type: 'safe-opened-unauthorised'; detail: { reason: UnauthorisedReason; locksOpen: SafeLock[]; holder: string | null } }
  | { do: 'raise'; type: 'safe-held-open'; detail: { openedAt: number | null; heldOpenMs: number } }
  | { do: 'raise'; type: 'safe-approach-out-of-hours'; detail: Record<string, never> };

export function initialSafe(): SafeState {
  return { phase: 'closed', switches: {}, contactOpen: false, auths: [], openedAt: null, heldOpenAt: null, openedBy: null };
}

/** Which of the safe's locks are open now: a switch that says so, or an electronic lock a holder opened at the safe. */
export function locksOpen(state: SafeState, settings: SafeSettings, at: number): SafeLock[] {
  const live = state.auths.filter((a) => at - a.at <= settings.authWindowMs);
  return settings.locks.filter((lock) => {
    if (lock === 'dial' || lock === 'key') return state.switches[lock] === true;
    // A card or biometric lock opens on a holder's read at the safe's reader; a keypad lock at its keypad.
    const source: AuthSource = lock === 'keypad' ? 'keypad' : 'reader';
    return live.some((a) => a.source === source);
  });
}

/** The earliest deadline in the state: when a tick is due. */
export function nextSafeDeadline(state: SafeState, settings: SafeSettings): number | null {
  const times: number[] = [];
  if (state.heldOpenAt !== null) times.push(state.heldOpenAt);
  if (state.phase === 'authenticated' && state.auths.length > 0) times.push(state.auths[0]!.at + settings.authWindowMs);
  return times.length ? Math.min(...times) : null;
}

export function safeStep(state: SafeState, input: SafeInput, settings: SafeSettings): { state: SafeState; effects: SafeEffect[] } {
  const effects: SafeEffect[] = [];
  // Authentications older than the window count for nothing.
  const at = input.on === 'authenticated' ? input.auth.at : input.at;
  let s: SafeState = { ...state, auths: state.auths.filter((a) => at - a.at <= settings.authWindowMs) };
  const isOpen = s.phase === 'open-authorised' || s.phase === 'open-alarm' || s.phase === 'held-open';

  switch (input.on) {
    case 'authenticated':
      s = { ...s, auths: [...s.auths, input.auth] };
      if (s.phase === 'closed') s.phase = 'authenticated';
      break;
    case 'switch':
      s = { ...s, switches: { ...s.switches, [input.lock]: input.open } };
      break;
    case 'approach':
      if (!input.inHours) effects.push({ do: 'raise', type: 'safe-approach-out-of-hours', detail: {} });
      break;
    case 'contact':
      if (input.open && !s.contactOpen) {
        s.contactOpen = true;
        const open = locksOpen(s, settings, at);
        const holder = s.auths.at(-1) ?? null;
        const bothOpen = settings.locks.every((l) => open.includes(l));
        s.openedAt = at;
        s.heldOpenAt = at + settings.heldOpenMs;
        if (holder && bothOpen) {
          s = { ...s, phase: 'open-authorised', openedBy: holder };
          effects.push({ do: 'log-opening', auth: holder, locks: open, at });
        } else {
          s = { ...s, phase: 'open-alarm', openedBy: null };
          effects.push({
            do: 'raise',
            type: 'safe-opened-unauthorised',
            detail: { reason: holder ? 'locks-not-open' : 'no-holder', locksOpen: open, holder: holder?.personId ?? null },
          });
        }
        // An authentication is spent on one opening.
        s.auths = [];
      } else if (!input.open && s.contactOpen) {
        effects.push({ do: 'log-closing', openedAt: s.openedAt, at, authorised: s.openedBy !== null });
        s = { ...s, phase: 'closed', contactOpen: false, openedAt: null, heldOpenAt: null, openedBy: null, auths: [] };
      }
      break;
    case 'tick':
      if (isOpen && s.heldOpenAt !== null && at >= s.heldOpenAt) {
        effects.push({ do: 'raise', type: 'safe-held-open', detail: { openedAt: s.openedAt, heldOpenMs: settings.heldOpenMs } });
        s = { ...s, phase: 'held-open', heldOpenAt: null };
      }
      break;
  }
  if (s.phase === 'authenticated' && s.auths.length === 0) s.phase = 'closed';
  return { state: s, effects };
}
