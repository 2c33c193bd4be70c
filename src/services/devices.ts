// Devices: online, offline or unknown (not heard from since the controller started), their
// firmware, and the doors they serve.
import type { DeviceKind, Transport } from '../policy/vocabulary.js';
import { namesOf, type Names } from './doors.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';

export const deviceStatuses = ['online', 'offline', 'unknown'] as const;
export type DeviceStatus = (typeof deviceStatuses)[number];

export interface DeviceView {
  id: string;
  kind: DeviceKind;
  name: Names | null;
  transport: Transport;
  status: DeviceStatus;
  lastSeen: string | null;
  firmware: string | null;
  doors: { doorId: string; role: string }[];
}

export class DeviceService {
  constructor(private readonly deps: ServiceDeps) {}

  list(filter: { kind?: DeviceKind; status?: DeviceStatus; transport?: Transport } = {}): DeviceView[] {
    const controller = running(this.deps);
    const health = controller.supervision.devices();
    return controller.ctx.site.devices
      .map((d): DeviceView => {
        const h = health.get(d.id);
        return {
          id: d.id,
          kind: d.kind,
          name: d.name === undefined ? null : namesOf(d.name, d.id),
          transport: d.transport,
          status: h?.online === true ? 'online' : h?.online === false ? 'offline' : 'unknown',
          lastSeen: h?.lastSeen ? new Date(h.lastSeen).toISOString() : null,
          firmware: h?.firmware ?? null,
          doors: controller.ctx.index.rolesOf(d.id).map((r) => ({ doorId: r.door.id, role: r.role })),
        };
      })
      .filter(
        (d) =>
          (!filter.kind || d.kind === filter.kind) && (!filter.status || d.status === filter.status) && (!filter.transport || d.transport === filter.transport),
      );
  }

  /** How many devices are in each supervision state now. */
  counts(): Record<DeviceStatus, number> {
    const counts = { online: 0, offline: 0, unknown: 0 };
    for (const h of running(this.deps).supervision.devices().values()) counts[h.online === true ? 'online' : h.online === false ? 'offline' : 'unknown']++;
    return counts;
  }
}
