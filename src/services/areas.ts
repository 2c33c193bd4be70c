// Areas: their rules, their mode and who is inside; and the modes guards and managers set: lock an
// area down, release it for an emergency, back to normal. A mode change and its audit record commit
// in one transaction (the controller writes the entry log inside it, then acts on the doors).
import type { Area } from '../site/schema.js';
import type { AreaMode } from '../store/areas.js';
import type { Controller } from '../controller/controller.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import type { DoorService, Names } from './doors.js';
import { namesOf } from './doors.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import { byOf, running } from './running.js';

export interface AreaView {
  id: string;
  name: Names;
  parent: string | null;
  schedule: string | null;
  rules: { factors: Area['factors']; twoPerson: boolean; antiPassback: Area['antiPassback']; lockdownRoles: string[] };
  mode: { mode: AreaMode; allowedRoles: string[]; changedAt: string | null; changedBy: string | null };
  /** Who is inside, where anti-passback tracks it (null where it does not). */
  occupancy: { count: number; people: { personId: string; name: string | null; since: string }[] } | null;
}

export class AreaService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly doors: DoorService,
  ) {}

  private get controller(): Controller {
    return running(this.deps);
  }

  list(filter: { parent?: string; mode?: AreaMode } = {}): AreaView[] {
    return this.controller.ctx.site.areas
      .filter((a) => filter.parent === undefined || a.parent === filter.parent)
      .map((a) => this.view(a))
      .filter((a) => !filter.mode || a.mode.mode === filter.mode);
  }

  get(areaId: string): AreaView {
    return this.view(this.area(areaId));
  }

  /** Locks an area down: its doors lock, only the listed people roles pass, and remote unlocks waiting for its doors end. */
  lockdown(actor: Actor, areaId: string, roles?: string[]): AreaView {
    const area = this.area(areaId);
    if (this.deps.store.areas.mode(area.id).mode === 'emergency')
      throw new ServiceError('conflict', 'the area is released for an emergency: end it first (POST /areas/{id}/normal)');
    // Remote unlocks waiting for a confirmation end with the lockdown: one asked before it must not open a door after it.
    const doorIds = new Set(this.controller.ctx.site.doors.filter((d) => d.area === area.id).map((d) => d.id));
    const waiting = this.doors.waitingFor(doorIds).map((r) => r.id);
    this.setMode(actor, 'area.lockdown', area.id, 'lockdown', roles, waiting.length ? { cancelledRequests: waiting } : undefined);
    this.doors.cancelWaitingFor(doorIds, `the lockdown of ${area.id} (${actor.username})`);
    return this.view(area);
  }

  /** Emergency release by command: the fail-safe doors of the area (and the areas inside it) unlock until normal. */
  release(actor: Actor, areaId: string): AreaView {
    const area = this.area(areaId);
    if (this.deps.store.areas.mode(area.id).mode === 'emergency') throw new ServiceError('conflict', 'the area is already released');
    this.setMode(actor, 'area.emergency-release', area.id, 'emergency');
    return this.view(area);
  }

  /** Ends a lockdown or an emergency release. */
  normal(actor: Actor, areaId: string): AreaView {
    const area = this.area(areaId);
    if (this.deps.store.areas.mode(area.id).mode === 'normal') throw new ServiceError('conflict', 'the area is in normal mode already');
    this.setMode(actor, 'area.normal', area.id, 'normal');
    return this.view(area);
  }

  private setMode(actor: Actor, action: string, areaId: string, mode: AreaMode, roles?: string[], extra?: Record<string, unknown>): void {
    const { store } = this.deps;
    const controller = this.controller;
    const previous = store.areas.mode(areaId).mode;
    store.transaction(() => {
      recordChange(store, actor, action, `area:${areaId}`, { previous, mode, ...(roles ? { allowedRoles: roles } : {}), ...extra });
      // Last in the transaction: it writes the entry log and acts on the doors.
      const applied = controller.areas.setMode(areaId, mode, { by: byOf(actor), ...(roles ? { roles } : {}) });
      if (!applied) throw new ServiceError('unavailable', 'the entry log cannot be written: the mode did not change');
    });
  }

  private area(id: string): Area {
    const a = this.controller.ctx.index.areas.get(id);
    if (!a) throw notFound('area');
    return a;
  }

  private view(a: Area): AreaView {
    const { store } = this.deps;
    const mode = store.areas.mode(a.id);
    const occupants = a.antiPassback === 'off' ? null : store.areas.occupants(a.id);
    return {
      id: a.id,
      name: namesOf(a.name, a.id),
      parent: a.parent ?? null,
      schedule: a.schedule ?? null,
      rules: { factors: a.factors, twoPerson: a.twoPerson, antiPassback: a.antiPassback, lockdownRoles: a.lockdownRoles },
      mode: { mode: mode.mode, allowedRoles: mode.allowedRoles, changedAt: mode.changedAt, changedBy: mode.changedBy },
      occupancy: occupants && {
        count: occupants.length,
        people: occupants.map((o) => ({ personId: o.personId, name: store.people.person(o.personId)?.name ?? null, since: o.enteredAt })),
      },
    };
  }
}
