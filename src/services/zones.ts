// Alarm zones for guards: list them with their state, arm one, disarm one. An arm or disarm and its
// audit record commit in one transaction (the zone's own event is raised inside it, so the events
// table holds both or neither).
import type { Controller } from '../controller/controller.js';
import type { ZoneView as ZoneState } from '../controller/zones.js';
import type { Zone } from '../site/zones.js';
import type { Actor } from './actor.js';
import { assertMayApprove } from './actor.js';
import { recordChange } from './audit.js';
import { namesOf, type Names } from './doors.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import { byOf, running } from './running.js';

export interface ZoneView extends ZoneState {
  name: Names;
  sensors: string[];
  outputs: Zone['outputs'];
  minActiveMs: number;
  entryDelaySeconds: number;
}

export class ZoneService {
  constructor(private readonly deps: ServiceDeps) {}

  private get controller(): Controller {
    return running(this.deps);
  }

  list(): ZoneView[] {
    return this.controller.ctx.site.zones.map((z) => this.view(z));
  }

  get(zoneId: string): ZoneView {
    return this.view(this.zone(zoneId));
  }

  arm(actor: Actor, zoneId: string): ZoneView {
    return this.change(actor, zoneId, 'arm');
  }

  /** Disarms the zone and silences its outputs. */
  disarm(actor: Actor, zoneId: string): ZoneView {
    return this.change(actor, zoneId, 'disarm');
  }

  private change(actor: Actor, zoneId: string, what: 'arm' | 'disarm'): ZoneView {
    assertMayApprove(actor);
    const zone = this.zone(zoneId);
    const zones = this.controller.zones;
    const previous = zones.get(zone.id)?.mode ?? 'disarmed';
    const { store } = this.deps;
    store.transaction(() => {
      recordChange(store, actor, `zone.${what}`, `zone:${zone.id}`, { previous });
      // Last in the transaction: the zone changes (and raises its event) only once the audit record is written.
      const changed = what === 'arm' ? zones.arm(zone.id, { by: byOf(actor) }) : zones.disarm(zone.id, { by: byOf(actor) });
      if (!changed) throw new ServiceError('conflict', what === 'arm' ? 'the zone is armed already' : 'the zone is disarmed already');
    });
    return this.view(zone);
  }

  private zone(id: string): Zone {
    const z = this.controller.ctx.site.zones.find((x) => x.id === id);
    if (!z) throw notFound('zone');
    return z;
  }

  private view(z: Zone): ZoneView {
    const state = this.controller.zones.get(z.id);
    if (!state) throw notFound('zone');
    return {
      ...state,
      name: namesOf(z.name, z.id),
      sensors: z.sensors,
      outputs: z.outputs,
      minActiveMs: z.minActiveMs,
      entryDelaySeconds: z.entryDelaySeconds,
    };
  }
}
