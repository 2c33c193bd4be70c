// Lookups over the site file, built once: which door a device serves, and in what role.
import { DOOR_ROLE_NAMES, type DoorRole } from '../policy/vocabulary.js';
import type { Area, DeviceConfig, Door, SiteFile } from '../site/schema.js';

export type { DoorRole };

export class SiteIndex {
  readonly doors = new Map<string, Door>();
  readonly areas = new Map<string, Area>();
  readonly devices = new Map<string, DeviceConfig>();
  /** device id → the door and the role it plays there. */
  readonly roles = new Map<string, { door: Door; role: DoorRole }[]>();

  constructor(site: SiteFile) {
    for (const a of site.areas) this.areas.set(a.id, a);
    for (const d of site.devices) this.devices.set(d.id, d);
    for (const door of site.doors) {
      this.doors.set(door.id, door);
      for (const role of DOOR_ROLE_NAMES) {
        const id = door[role];
        if (id === undefined) continue;
        const list = this.roles.get(id) ?? [];
        list.push({ door, role });
        this.roles.set(id, list);
      }
    }
  }

  rolesOf(deviceId: string): { door: Door; role: DoorRole }[] {
    return this.roles.get(deviceId) ?? [];
  }

  doorOfLock(lockId: string): Door | undefined {
    return this.rolesOf(lockId).find((r) => r.role === 'lock')?.door;
  }
}
