// Guard tours: runs `policy/patrol.ts` for each route of the site file. Listens to device events: a
// guard's badge at a checkpoint reader, or a `checkpoint` input going active, is a check. A badge at a
// reader that serves no door is a patrol check only (door-access ignores readers without a door); at
// a door's reader it is both, since door-access hears the same event. A missed checkpoint raises
// `patrol-missed`; every round's end is an event (`patrol-completed` / `patrol-incomplete`) with each
// checkpoint's time and guard, so the rounds are kept with the alarms they answer (see docs/alarms.md).
import {
  initialPatrol,
  nextDeadline,
  step,
  type PatrolEffect,
  type PatrolInput,
  type PatrolRoute,
  type PatrolState,
  type RoundSummary,
} from '../policy/patrol.js';
import { localTime } from '../policy/schedule.js';
import type { CredentialKind } from '../policy/vocabulary.js';
import { patrolRouteRules, type PatrolRouteConfig } from '../site/patrols.js';
import type { SiteFile } from '../site/schema.js';
import type { Context, Extension } from './context.js';

/** Credentials that name their holder by value (a PIN is a salted hash: it cannot be a badge). */
const BADGES: readonly CredentialKind[] = ['card', 'bio'];
/** The checks of the current round kept for the view, per route. */
export interface PatrolRun {
  config: PatrolRouteConfig;
  route: PatrolRoute;
  state: PatrolState;
}

export class Patrols implements Extension {
  readonly name = 'patrols';
  private off?: () => void;
  private timer?: NodeJS.Timeout;
  private readonly runs = new Map<string, PatrolRun>();

  constructor(private readonly ctx: Context) {}

  start(): void {
    this.build(this.ctx.site);
    this.off = this.ctx.bus.on(
      'device.event',
      ({ deviceId, event, occurredAt }) => {
        if (event.type === 'credential') {
          if (!this.isCheckpoint(deviceId)) return;
          this.badge(deviceId, event.credential.kind, event.credential.value, occurredAt);
        } else if (event.type === 'input' && event.input === 'checkpoint' && event.active) {
          this.check(deviceId, null, occurredAt);
        }
      },
      this.name,
    );
    this.schedule();
  }

  stop(): void {
    this.off?.();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Routes whose settings did not change keep their round; changed or new ones start at their next round. */
  reload(site: SiteFile): void {
    this.build(site);
    this.schedule();
  }

  /** Each route with its current round (for the services). */
  routes(): readonly PatrolRun[] {
    return [...this.runs.values()];
  }

  nextDeadline(run: PatrolRun): number {
    return nextDeadline(run.route, run.state);
  }

  private build(site: SiteFile): void {
    const now = this.ctx.now().getTime();
    const kept = new Map(this.runs);
    this.runs.clear();
    for (const config of site.patrols) {
      const route = patrolRouteRules(config);
      const before = kept.get(config.id);
      const same = before && JSON.stringify(before.route) === JSON.stringify(route);
      this.runs.set(config.id, {
        config,
        route,
        state: same ? before.state : initialPatrol(route, firstDue(route.intervalMs, now, site.site.timezone)),
      });
    }
  }

  private isCheckpoint(deviceId: string): boolean {
    for (const run of this.runs.values()) if (run.route.checkpoints.some((c) => c.device === deviceId)) return true;
    return false;
  }

  /** A badge at a checkpoint reader: counts for the routes whose guards the holder is. */
  private badge(deviceId: string, kind: CredentialKind, value: string, at: number): void {
    const guard = BADGES.includes(kind) ? this.guardOf(kind, value) : undefined;
    const servesDoor = this.ctx.index.rolesOf(deviceId).length > 0;
    let counted = false;
    for (const run of this.runs.values()) {
      if (!run.route.checkpoints.some((c) => c.device === deviceId)) continue;
      if (!guard?.roles.some((r) => run.config.guardRoles.includes(r))) continue;
      counted = this.feed(run, { type: 'check', device: deviceId, at, by: guard.personId }) || counted;
    }
    // At a door's reader most badges are people going in, not guards: only worth a debug line there.
    if (!counted)
      this.ctx.log[servesDoor ? 'debug' : 'info'](
        { device: deviceId, kind },
        'badge at a patrol checkpoint is no check (not a guard of its route, or not due)',
      );
    // A door's reader shows the door's decision; a reader that is only a checkpoint shows the check.
    if (!servesDoor) void this.ctx.devices.send(deviceId, { command: 'indicate', pattern: counted ? 'granted' : 'denied' }).catch(() => undefined);
  }

  /** The holder of an active credential who is an active person, with their roles. */
  private guardOf(kind: CredentialKind, value: string): { personId: string; roles: string[] } | undefined {
    const credential = this.ctx.store.credentials.find(kind, value);
    if (credential?.status !== 'active') return undefined;
    const person = this.ctx.store.people.person(credential.personId);
    if (person?.status !== 'active') return undefined;
    return { personId: person.id, roles: person.roles };
  }

  private check(deviceId: string, by: string | null, at: number): void {
    for (const run of this.runs.values()) {
      if (run.route.checkpoints.some((c) => c.device === deviceId)) this.feed(run, { type: 'check', device: deviceId, at, by });
    }
  }

  /** Feeds the route's machine and carries out its effects; true when a check counted. */
  private feed(run: PatrolRun, input: PatrolInput): boolean {
    const { state, effects } = step(run.route, run.state, input);
    run.state = state;
    let counted = false;
    for (const e of effects) counted = this.apply(run, e) || counted;
    if (input.type === 'check') this.schedule();
    return counted;
  }

  private apply(run: PatrolRun, e: PatrolEffect): boolean {
    const { alarms, log } = this.ctx;
    const iso = (ms: number) => new Date(ms).toISOString();
    switch (e.type) {
      case 'missed':
        alarms.raise({
          category: 'alarm',
          type: 'patrol-missed',
          severity: 'alarm',
          source: e.device,
          detail: { route: e.route, checkpoint: e.device, index: e.index, roundDueAt: iso(e.dueAt), deadline: iso(e.deadline), reason: e.reason },
        });
        return false;
      case 'checked':
        log.info({ route: e.route, checkpoint: e.device, by: e.by, late: e.late }, 'patrol checkpoint checked');
        return true;
      case 'ignored':
        log.info({ route: e.route, checkpoint: e.device, reason: e.reason }, 'patrol check ignored');
        return false;
      case 'round-ended':
        alarms.raise({
          category: 'alarm',
          type: e.summary.outcome === 'completed' ? 'patrol-completed' : 'patrol-incomplete',
          severity: e.summary.outcome === 'completed' ? 'info' : 'warning',
          source: run.route.id,
          detail: roundDetail(e.summary),
        });
        return false;
    }
  }

  /** One timer for the earliest deadline of every route. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.runs.size === 0) return;
    let next = Infinity;
    for (const run of this.runs.values()) next = Math.min(next, nextDeadline(run.route, run.state));
    const delay = Math.max(0, Math.min(next - this.ctx.now().getTime(), 2 ** 31 - 1));
    this.timer = setTimeout(() => this.tick(), delay);
    this.timer.unref();
  }

  private tick(): void {
    const at = this.ctx.now().getTime();
    for (const run of this.runs.values()) {
      try {
        this.feed(run, { type: 'tick', at });
      } catch (err) {
        // One route's failure (a write) must not stop the others' alarms.
        this.ctx.log.error({ err, route: run.route.id }, 'patrol round could not advance');
      }
    }
    this.schedule();
  }
}

/** A round as logged: ISO times. */
export function roundDetail(s: RoundSummary): Record<string, unknown> {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    route: s.route,
    dueAt: iso(s.dueAt),
    startedAt: iso(s.startedAt),
    endedAt: iso(s.endedAt),
    outcome: s.outcome,
    checkpoints: s.checkpoints.map((c) => ({ device: c.device, at: iso(c.at), by: c.by, late: c.late, missed: c.missed })),
  };
}

/**
 * The first round due at or after `now`: rounds fall due every interval from local midnight, so a
 * restart keeps the same times (the round under way at a restart is not supervised; the next one is).
 */
export function firstDue(intervalMs: number, now: number, timeZone: string): number {
  const local = localTime(new Date(now), timeZone);
  const sinceMidnight = local.minutes * 60_000 + (now % 60_000);
  const midnight = now - sinceMidnight;
  return midnight + Math.ceil(sinceMidnight / intervalMs) * intervalMs;
}
