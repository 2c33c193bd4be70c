// Area modes (normal, locked down, emergency release), the inputs that trigger an emergency
// release, and the IR sensors and beams that watch an area.
import { isWithinSchedule } from '../policy/schedule.js';
import type { InputEvent } from '../devices/protocol.js';
import type { Area, SiteFile } from '../site/schema.js';
import type { AreaMode } from '../store/areas.js';
import type { Access } from './door-access.js';
import type { Context, Extension } from './context.js';
import type { Doors } from './doors.js';

export class Areas implements Extension {
  readonly name = 'areas';
  private off?: () => void;
  /** Emergency inputs active now, per area: the release holds while any one is active. */
  private readonly activeEmergency = new Map<string, Set<string>>();

  constructor(
    private readonly ctx: Context,
    private readonly doors: Doors,
    private readonly access: Access,
  ) {}

  start(): void {
    this.off = this.ctx.bus.on(
      'device.event',
      ({ deviceId, event }) => {
        if (event.type === 'input') this.onInput(deviceId, event);
      },
      this.name,
    );
    // A release that was on when the controller stopped is on again: it ended with the emergency, not with us.
    for (const area of this.ctx.site.areas) {
      if (this.ctx.store.areas.mode(area.id).mode === 'emergency') this.applyEmergency(area, true);
    }
  }

  stop(): void {
    this.off?.();
  }

  /**
   * An input the reloaded site file no longer lists for an area is forgotten there: left as active,
   * it would hold the area's emergency release past the last listed input clearing. A release on
   * now is not ended by the reload itself (an operator ends it, or the last listed input clearing).
   */
  reload(site: SiteFile): void {
    for (const area of site.areas) {
      const active = this.activeEmergency.get(area.id);
      if (!active) continue;
      const forgotten = [...active].filter((id) => !area.emergencyInputs.includes(id));
      for (const id of forgotten) active.delete(id);
      if (forgotten.length) this.ctx.log.warn({ area: area.id, forgotten }, 'emergency inputs no longer listed for the area are forgotten');
    }
  }

  /** The area and every area nested inside it. */
  private withNested(area: Area): Area[] {
    const out = [area];
    for (const a of this.ctx.site.areas) if (a.parent === area.id) out.push(...this.withNested(a));
    return out;
  }

  /**
   * Changes an area's mode: logged in the entry log first (but an emergency release happens even if
   * the log cannot be written), then applied to the area's doors and the areas nested inside it.
   */
  setMode(areaId: string, mode: AreaMode, opts: { by: string; roles?: string[] }): boolean {
    const area = this.ctx.index.areas.get(areaId);
    if (!area) return false;
    const roles = mode === 'lockdown' ? (opts.roles ?? area.lockdownRoles) : [];
    const previous = this.ctx.store.areas.mode(areaId).mode;
    const at = this.ctx.now().toISOString();
    try {
      const { store } = this.ctx;
      const record = store.transaction(() => {
        store.areas.setMode(areaId, mode, roles, opts.by, at);
        return store.entryLog.append({
          at,
          kind: 'mode',
          areaId,
          reason: `mode-${mode}`,
          detail: { previous, by: opts.by, ...(mode === 'lockdown' ? { allowedRoles: roles } : {}) },
        });
      });
      this.ctx.bus.emit('entry', record);
    } catch (err) {
      this.ctx.store.entryLog.resync();
      this.ctx.storageFaults.report(err, { source: areaId, during: `mode ${mode}` });
      if (mode !== 'emergency' && previous !== 'emergency') return false;
    }
    this.ctx.alarms.raise({
      category: mode === 'normal' ? 'system' : 'alarm',
      type: `area-${mode === 'normal' ? 'normal' : mode === 'lockdown' ? 'locked-down' : 'emergency-release'}`,
      severity: mode === 'normal' ? 'info' : 'alarm',
      source: areaId,
      detail: { by: opts.by, previous },
    });
    if (mode === 'emergency' || previous === 'emergency') this.applyEmergency(area, mode === 'emergency');
    if (mode === 'lockdown') {
      for (const door of this.ctx.site.doors.filter((d) => d.area === areaId)) {
        this.access.cancelPending(door.id);
        void this.doors.lockNow(door.id);
      }
    }
    return true;
  }

  private applyEmergency(area: Area, on: boolean): void {
    const ids = new Set(this.withNested(area).map((a) => a.id));
    for (const door of this.ctx.site.doors.filter((d) => ids.has(d.area))) {
      if (this.doors.setEmergency(door.id, on)) {
        this.doors.logDoorEvent(door.id, on ? 'emergency-release' : 'emergency-release-ended', null, null, { area: area.id });
      }
    }
  }

  private onInput(deviceId: string, event: InputEvent): void {
    // A sensor of an alarm zone is the zone's (controller/zones.ts): armed or not decides, not the hours.
    const inZone = this.ctx.site.zones.some((z) => z.sensors.includes(deviceId));
    for (const area of this.ctx.site.areas) {
      // A tamper switch on the fire panel's interface is a tamper alarm, not a fire.
      if (area.emergencyInputs.includes(deviceId) && event.input !== 'tamper') this.onEmergencyInput(area, deviceId, event.active);
      if (!inZone && area.sensors.includes(deviceId) && event.active && (event.input === 'motion' || event.input === 'beam'))
        this.onSensor(area, deviceId, event.input);
    }
  }

  private onEmergencyInput(area: Area, deviceId: string, active: boolean): void {
    const set = this.activeEmergency.get(area.id) ?? new Set<string>();
    this.activeEmergency.set(area.id, set);
    if (active) set.add(deviceId);
    else set.delete(deviceId);
    const current = this.ctx.store.areas.mode(area.id).mode;
    if (active && current !== 'emergency') this.setMode(area.id, 'emergency', { by: `input:${deviceId}` });
    else if (!active && set.size === 0 && current === 'emergency') this.setMode(area.id, 'normal', { by: `input:${deviceId}` });
  }

  /** Movement in an area outside its business hours is an intrusion; inside them it is only noted. */
  private onSensor(area: Area, deviceId: string, input: 'motion' | 'beam'): void {
    const schedule = area.schedule ? this.ctx.site.schedules.find((s) => s.id === area.schedule) : undefined;
    const open = schedule ? isWithinSchedule(schedule, this.ctx.now(), this.ctx.site.site.timezone) : true;
    if (open) {
      this.ctx.alarms.raiseLimited(`motion:${deviceId}`, 60_000, {
        category: 'alarm',
        type: 'motion',
        severity: 'info',
        source: area.id,
        detail: { device: deviceId, input },
      });
      return;
    }
    this.ctx.alarms.raise({ category: 'alarm', type: 'intrusion', severity: 'alarm', source: area.id, detail: { device: deviceId, input } });
  }
}
