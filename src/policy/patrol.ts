// A guard's patrol round as a pure state machine: plain data in, plain data out. A route is an
// ordered list of checkpoints; a round is due every interval; each checkpoint is expected
// `afterMs` after the round is due and is late once its tolerance has passed too. The controller
// keeps one state per route, feeds it the checks (a guard's badge or a checkpoint input) and the
// time, and carries out the effects (the patrol-missed alarm, the round's log). Deadlines are data:
// the runner sets one timer for `nextDeadline` and feeds a tick, so tests drive time by ticks.
// Imports nothing of ours.

/** What the machine needs of a route (the site file's, in ms). */
export interface PatrolRoute {
  id: string;
  /** Checkpoint device ids in the order the guard visits them, each expected `afterMs` into the round. */
  checkpoints: readonly { device: string; afterMs: number }[];
  intervalMs: number;
  toleranceMs: number;
}

/** One checkpoint of the current round: not yet reached, checked (late or not), or missed. */
export type CheckpointState = { is: 'pending' } | { is: 'checked'; at: number; by: string | null; late: boolean } | { is: 'missed'; reason: MissedReason };

/**
 * late: its deadline passed without a check (the alarm goes off then; a check afterwards still
 * counts, marked late). skipped: the guard checked a later checkpoint first. The round ended
 * (the next one fell due) with the checkpoint still unchecked: `ended`.
 */
export type MissedReason = 'late' | 'skipped' | 'ended';

export interface PatrolState {
  /** waiting: the round due at `dueAt` has not begun; open: it runs. */
  phase: 'waiting' | 'open';
  dueAt: number;
  /** When the first check of the round came (null until then). */
  startedAt: number | null;
  checkpoints: CheckpointState[];
  /** Checkpoints whose patrol-missed alarm went off this round (at most one each). */
  alarmed: boolean[];
}

export type PatrolInput =
  /** A check at a checkpoint device: `by` is the guard's person id (null for a checkpoint input). */
  { type: 'check'; device: string; at: number; by: string | null } | { type: 'tick'; at: number };

/** How a round ended: every checkpoint checked (some perhaps late), or not. */
export type RoundOutcome = 'completed' | 'incomplete';

export interface RoundSummary {
  route: string;
  dueAt: number;
  startedAt: number | null;
  endedAt: number;
  outcome: RoundOutcome;
  checkpoints: { device: string; at: number | null; by: string | null; late: boolean; missed: MissedReason | null }[];
}

export type PatrolEffect =
  /** Raise patrol-missed: the checkpoint was not checked by its deadline (or was skipped). */
  | { type: 'missed'; route: string; device: string; index: number; dueAt: number; deadline: number; reason: MissedReason }
  | { type: 'checked'; route: string; device: string; index: number; at: number; by: string | null; late: boolean }
  /** A check that is not part of the round: before it is due, or a checkpoint already passed. */
  | { type: 'ignored'; route: string; device: string; at: number; reason: 'not-due' | 'already-passed' }
  | { type: 'round-ended'; summary: RoundSummary };

export interface PatrolStep {
  state: PatrolState;
  effects: PatrolEffect[];
}

/** The first round is the first one due at or after `firstDueAt` (the runner aligns it to the clock). */
export function initialPatrol(route: PatrolRoute, firstDueAt: number): PatrolState {
  return fresh(route, firstDueAt, 'waiting');
}

function fresh(route: PatrolRoute, dueAt: number, phase: PatrolState['phase']): PatrolState {
  return {
    phase,
    dueAt,
    startedAt: null,
    checkpoints: route.checkpoints.map(() => ({ is: 'pending' })),
    alarmed: route.checkpoints.map(() => false),
  };
}

/** When checkpoint `index` of the round due at `dueAt` becomes late. */
export function deadlineOf(route: PatrolRoute, dueAt: number, index: number): number {
  return dueAt + route.checkpoints[index]!.afterMs + route.toleranceMs;
}

/** A guard may begin a round this long before it is due (the tolerance works both ways). */
function opensAt(route: PatrolRoute, dueAt: number): number {
  return dueAt - route.toleranceMs;
}

/** The next instant a tick changes something: a round falling due, a checkpoint's deadline, the round's end. */
export function nextDeadline(route: PatrolRoute, s: PatrolState): number {
  if (s.phase === 'waiting') return s.dueAt;
  let next = s.dueAt + route.intervalMs;
  s.checkpoints.forEach((c, i) => {
    if (c.is === 'pending' && !s.alarmed[i]) next = Math.min(next, deadlineOf(route, s.dueAt, i));
  });
  return next;
}

export function step(route: PatrolRoute, state: PatrolState, input: PatrolInput): PatrolStep {
  const effects: PatrolEffect[] = [];
  let s = state;
  // Time first: a check after a deadline passed (the tick came late) still sees that deadline's alarm.
  s = advance(route, s, input.at, effects);
  if (input.type === 'check') s = check(route, s, input, effects);
  return { state: s, effects };
}

/** Brings the state up to `at`: rounds falling due, deadlines passing, rounds ending unfinished. */
function advance(route: PatrolRoute, state: PatrolState, at: number, effects: PatrolEffect[]): PatrolState {
  let s = state;
  for (;;) {
    if (s.phase === 'waiting') {
      if (at < s.dueAt) return s;
      s = { ...s, phase: 'open' };
      continue;
    }
    const endsAt = s.dueAt + route.intervalMs;
    const alarmed = [...s.alarmed];
    let changed = false;
    s.checkpoints.forEach((c, i) => {
      const deadline = deadlineOf(route, s.dueAt, i);
      if (c.is === 'pending' && !alarmed[i] && at >= deadline && deadline < endsAt) {
        alarmed[i] = true;
        changed = true;
        effects.push({ type: 'missed', route: route.id, device: route.checkpoints[i]!.device, index: i, dueAt: s.dueAt, deadline, reason: 'late' });
      }
    });
    if (changed) s = { ...s, alarmed };
    if (at < endsAt) return s;
    // The next round fell due with this one unfinished: what was never checked is missed.
    s = end(route, s, endsAt, effects);
    // After a long silence (the loop stalled), rounds wholly in the past are skipped, not replayed one by one.
    const behind = Math.floor((at - s.dueAt) / route.intervalMs);
    if (behind > 0) s = fresh(route, s.dueAt + behind * route.intervalMs, 'open');
  }
}

function check(route: PatrolRoute, state: PatrolState, input: { device: string; at: number; by: string | null }, effects: PatrolEffect[]): PatrolStep['state'] {
  let s = state;
  const { device, at, by } = input;
  if (s.phase === 'waiting') {
    // A guard who sets out a little early begins the round due next; earlier than that is no round.
    if (at < opensAt(route, s.dueAt) || route.checkpoints[0]?.device !== device) {
      effects.push({ type: 'ignored', route: route.id, device, at, reason: 'not-due' });
      return s;
    }
    s = { ...s, phase: 'open' };
  }
  const next = s.checkpoints.findIndex((c) => c.is === 'pending');
  // The next checkpoint owed, or a later one (the ones between are skipped); never one already passed.
  const index = next < 0 ? -1 : route.checkpoints.findIndex((c, i) => i >= next && c.device === device);
  if (index < 0) {
    effects.push({ type: 'ignored', route: route.id, device, at, reason: 'already-passed' });
    return s;
  }
  const checkpoints = [...s.checkpoints];
  const alarmed = [...s.alarmed];
  for (let i = next; i < index; i++) {
    checkpoints[i] = { is: 'missed', reason: alarmed[i] ? 'late' : 'skipped' };
    if (!alarmed[i]) {
      alarmed[i] = true;
      effects.push({
        type: 'missed',
        route: route.id,
        device: route.checkpoints[i]!.device,
        index: i,
        dueAt: s.dueAt,
        deadline: deadlineOf(route, s.dueAt, i),
        reason: 'skipped',
      });
    }
  }
  const late = at > deadlineOf(route, s.dueAt, index);
  checkpoints[index] = { is: 'checked', at, by, late };
  effects.push({ type: 'checked', route: route.id, device, index, at, by, late });
  s = { ...s, checkpoints, alarmed, startedAt: s.startedAt ?? at };
  if (index === route.checkpoints.length - 1) s = end(route, s, at, effects);
  return s;
}

/** Ends the open round at `at` (its summary logged) and waits for the next one. */
function end(route: PatrolRoute, s: PatrolState, at: number, effects: PatrolEffect[]): PatrolState {
  const checkpoints = s.checkpoints.map((c, i) => {
    const device = route.checkpoints[i]!.device;
    if (c.is === 'checked') return { device, at: c.at, by: c.by, late: c.late, missed: null };
    const reason: MissedReason = c.is === 'missed' ? c.reason : s.alarmed[i] ? 'late' : 'ended';
    if (c.is === 'pending' && !s.alarmed[i]) {
      effects.push({ type: 'missed', route: route.id, device, index: i, dueAt: s.dueAt, deadline: deadlineOf(route, s.dueAt, i), reason: 'ended' });
    }
    return { device, at: null, by: null, late: false, missed: reason };
  });
  const outcome: RoundOutcome = checkpoints.every((c) => c.at !== null) ? 'completed' : 'incomplete';
  effects.push({ type: 'round-ended', summary: { route: route.id, dueAt: s.dueAt, startedAt: s.startedAt, endedAt: at, outcome, checkpoints } });
  return fresh(route, s.dueAt + route.intervalMs, 'waiting');
}
