// Guard tours as guards and auditors see them: each route, the round under way (what is due, by
// when, what was checked and by whom) and the last rounds with their times, read from the
// patrol-completed / patrol-incomplete events the controller logged.
import type { PatrolRun } from '../controller/patrols.js';
import { deadlineOf, type MissedReason, type RoundOutcome } from '../policy/patrol.js';
import { namesOf, type Names } from './doors.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';

export interface PatrolCheckpointView {
  device: string;
  name: Names | null;
  afterMinutes: number;
  /** A reader that is also a door's reader: a guard's badge there is an access attempt too. */
  doorReader: boolean;
}

export interface RoundCheckpointView {
  device: string;
  /** Checked by this time, else late (patrol-missed). */
  expectedBy: string | null;
  state: 'pending' | 'checked' | 'missed';
  at: string | null;
  /** The guard's person id (null for a checkpoint input). */
  by: string | null;
  late: boolean;
  missed: MissedReason | null;
}

export interface PatrolRoundView {
  /** The event that logged the round (null for the round under way). */
  eventId: number | null;
  dueAt: string;
  startedAt: string | null;
  endedAt: string | null;
  outcome: RoundOutcome | null;
  checkpoints: RoundCheckpointView[];
}

export interface PatrolRouteView {
  id: string;
  name: Names | null;
  intervalMinutes: number;
  toleranceMinutes: number;
  guardRoles: string[];
  checkpoints: PatrolCheckpointView[];
  current: PatrolRoundView & { phase: 'waiting' | 'open'; nextDeadline: string };
  lastRounds: PatrolRoundView[];
}

const iso = (ms: number) => new Date(ms).toISOString();

export class PatrolService {
  constructor(private readonly deps: ServiceDeps) {}

  list(opts: { lastRounds?: number } = {}): PatrolRouteView[] {
    const controller = running(this.deps);
    const { index } = controller.ctx;
    return controller.patrols.routes().map((run) => ({
      id: run.config.id,
      name: run.config.name === undefined ? null : namesOf(run.config.name, run.config.id),
      intervalMinutes: run.config.intervalMinutes,
      toleranceMinutes: run.config.toleranceMinutes,
      guardRoles: run.config.guardRoles,
      checkpoints: run.config.checkpoints.map((c) => {
        const device = index.devices.get(c.device);
        return {
          device: c.device,
          name: device?.name === undefined ? null : namesOf(device.name, c.device),
          afterMinutes: c.afterMinutes,
          doorReader: index.rolesOf(c.device).length > 0,
        };
      }),
      current: { ...current(run), phase: run.state.phase, nextDeadline: iso(controller.patrols.nextDeadline(run)) },
      lastRounds: this.lastRounds(run.config.id, opts.lastRounds ?? 10),
    }));
  }

  private lastRounds(routeId: string, limit: number): PatrolRoundView[] {
    // Rounds are logged with the route as their source; other alarm events of that source are skipped.
    const { items } = this.deps.store.events.query({ source: routeId, categories: ['alarm'], limit: limit * 4 });
    return items
      .filter((e) => e.type === 'patrol-completed' || e.type === 'patrol-incomplete')
      .slice(0, limit)
      .map((e) => {
        const d = (e.detail ?? {}) as {
          dueAt?: string;
          startedAt?: string | null;
          endedAt?: string;
          outcome?: RoundOutcome;
          checkpoints?: { device: string; at: string | null; by: string | null; late: boolean; missed: MissedReason | null }[];
        };
        return {
          eventId: e.id,
          dueAt: d.dueAt ?? e.at,
          startedAt: d.startedAt ?? null,
          endedAt: d.endedAt ?? e.at,
          outcome: d.outcome ?? (e.type === 'patrol-completed' ? 'completed' : 'incomplete'),
          checkpoints: (d.checkpoints ?? []).map((c) => ({
            device: c.device,
            expectedBy: null,
            state: c.at !== null ? ('checked' as const) : ('missed' as const),
            at: c.at,
            by: c.by,
            late: c.late,
            missed: c.missed,
          })),
        };
      });
  }
}

function current(run: PatrolRun): PatrolRoundView {
  const { route, state } = run;
  return {
    eventId: null,
    dueAt: iso(state.dueAt),
    startedAt: state.startedAt === null ? null : iso(state.startedAt),
    endedAt: null,
    outcome: null,
    checkpoints: state.checkpoints.map((c, i) => ({
      device: route.checkpoints[i]!.device,
      expectedBy: iso(deadlineOf(route, state.dueAt, i)),
      state: c.is,
      at: c.is === 'checked' ? iso(c.at) : null,
      by: c.is === 'checked' ? c.by : null,
      late: c.is === 'checked' ? c.late : state.alarmed[i] === true,
      missed: c.is === 'missed' ? c.reason : null,
    })),
  };
}
