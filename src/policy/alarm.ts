// An alarm's lifecycle, pure: raised → acknowledged (who, when, note) → cleared (who, when, cause,
// note). While nobody acknowledges it, it escalates when its deadline passes, and again every
// `repeatEveryMs`, each step one level higher, until someone answers. Clearing is refused while the
// cause is still present (the caller asks the door or the zone and passes the answer in), so the
// machine holds no reference to the site. Times are ms since the epoch; the deadline is data.
import type { ClearCause } from './vocabulary.js';

export interface AlarmSettings {
  /** Unacknowledged this long after it was raised: the first escalation. */
  escalateAfterMs: number;
  /** Then again every this long, one level higher, until acknowledged. */
  repeatEveryMs: number;
}

export type AlarmPhase = 'raised' | 'acknowledged' | 'cleared';

export interface AlarmMachine {
  phase: AlarmPhase;
  raisedAt: number;
  /** 0 until the first escalation. */
  level: number;
  /** When the next escalation is due; null once acknowledged or cleared. */
  escalateAt: number | null;
  ackedAt: number | null;
  ackedBy: string | null;
  clearedAt: number | null;
  clearedBy: string | null;
  cause: ClearCause | null;
}

export type AlarmInput =
  | { kind: 'ack'; at: number; by: string; note: string | null }
  /** causePresent: what the door or zone says now (e.g. "door held open"); null when the cause is gone. */
  | { kind: 'clear'; at: number; by: string; cause: ClearCause; note: string | null; causePresent: string | null }
  | { kind: 'tick'; at: number };

export type AlarmRefusal = 'acknowledged-already' | 'cleared-already' | 'cause-present';

export type AlarmEffect =
  | { kind: 'acknowledged'; by: string; note: string | null; responseMs: number }
  /** Cleared straight from raised: the clear is also its acknowledgement (acknowledged comes first). */
  | { kind: 'cleared'; by: string; cause: ClearCause; note: string | null; clearMs: number }
  /** Sound the second channel and the louder output at this level, and log the step. */
  | { kind: 'escalated'; level: number }
  | { kind: 'refused'; why: AlarmRefusal; detail?: string };

export interface AlarmStep {
  state: AlarmMachine;
  effects: AlarmEffect[];
}

export function raisedAlarm(at: number, settings: AlarmSettings): AlarmMachine {
  return {
    phase: 'raised',
    raisedAt: at,
    level: 0,
    escalateAt: at + settings.escalateAfterMs,
    ackedAt: null,
    ackedBy: null,
    clearedAt: null,
    clearedBy: null,
    cause: null,
  };
}

export function step(state: AlarmMachine, input: AlarmInput, settings: AlarmSettings): AlarmStep {
  switch (input.kind) {
    case 'tick': {
      if (state.phase !== 'raised' || state.escalateAt === null || input.at < state.escalateAt) return { state, effects: [] };
      // One step per tick: a controller that slept through several deadlines escalates once, not in a burst.
      const level = state.level + 1;
      let next = state.escalateAt + settings.repeatEveryMs;
      if (next <= input.at) next = input.at + settings.repeatEveryMs;
      return { state: { ...state, level, escalateAt: next }, effects: [{ kind: 'escalated', level }] };
    }
    case 'ack': {
      if (state.phase === 'cleared') return refuse(state, 'cleared-already');
      if (state.phase === 'acknowledged') return refuse(state, 'acknowledged-already');
      return {
        state: { ...state, phase: 'acknowledged', escalateAt: null, ackedAt: input.at, ackedBy: input.by },
        effects: [{ kind: 'acknowledged', by: input.by, note: input.note, responseMs: input.at - state.raisedAt }],
      };
    }
    case 'clear': {
      if (state.phase === 'cleared') return refuse(state, 'cleared-already');
      if (input.causePresent !== null) return refuse(state, 'cause-present', input.causePresent);
      const effects: AlarmEffect[] = [];
      let acked = state;
      if (state.phase === 'raised') {
        acked = { ...state, phase: 'acknowledged', escalateAt: null, ackedAt: input.at, ackedBy: input.by };
        effects.push({ kind: 'acknowledged', by: input.by, note: null, responseMs: input.at - state.raisedAt });
      }
      effects.push({ kind: 'cleared', by: input.by, cause: input.cause, note: input.note, clearMs: input.at - state.raisedAt });
      return {
        state: { ...acked, phase: 'cleared', escalateAt: null, clearedAt: input.at, clearedBy: input.by, cause: input.cause },
        effects,
      };
    }
  }
}

function refuse(state: AlarmMachine, why: AlarmRefusal, detail?: string): AlarmStep {
  return { state, effects: [{ kind: 'refused', why, ...(detail ? { detail } : {}) }] };
}

/** When the runner must tick next (null: nothing due). */
export function nextDeadline(state: AlarmMachine): number | null {
  return state.phase === 'raised' ? state.escalateAt : null;
}

/**
 * Repeated denials at one door: the denial times kept (within the window) and whether this one
 * makes `count` within `windowMs`. After it fires the window starts again, so a flood gives one
 * alarm per `count` denials, not one per denial.
 */
export function countDenial(times: readonly number[], at: number, count: number, windowMs: number): { times: number[]; alarm: boolean } {
  const kept = [...times.filter((t) => at - t < windowMs), at];
  if (kept.length >= count) return { times: [], alarm: true };
  return { times: kept, alarm: false };
}
