// Alarm zones: runs policy/zone.ts for each zone of the site file. Arms a zone outside its area's
// business hours (`schedule`), when the area falls empty (`empty`), or by a guard (`manual`); a
// granted entry into the area disarms it (the disarm names the person and the entry-log record), a
// denied one never does. A sensor held active while armed raises `intrusion` and sounds the zone's
// outputs; duress is never among them (silent). One timer per zone, for the machine's earliest deadline.
import { isWithinSchedule } from '../policy/schedule.js';
import {
  initialZone,
  nextDeadline,
  step,
  type ZoneActor,
  type ZoneEffect,
  type ZoneInput,
  type ZoneMode,
  type ZoneSettings,
  type ZoneState,
} from '../policy/zone.js';
import type { SiteFile } from '../site/schema.js';
import type { Zone, ZoneOutputAlarm } from '../site/zones.js';
import type { EntryRecord } from '../store/entry-log.js';
import type { RaisedEvent } from './bus.js';
import type { Context, Extension } from './context.js';

/** The inputs of a sensor that say someone is there. */
const PRESENCE_INPUTS = new Set(['motion', 'beam', 'checkpoint']);
/** How often schedule zones look at their area's business hours (schedules are to the minute). */
const SCHEDULE_CHECK_MS = 15_000;

interface Runner {
  zone: Zone;
  settings: ZoneSettings;
  state: ZoneState;
  timer?: NodeJS.Timeout;
  /** schedule zones: whether the area was in business hours at the last look. */
  open?: boolean;
  /** Outputs sounding for a door alarm, by device, until their timer stops them. */
  doorAlarmTimers: Map<string, NodeJS.Timeout>;
  /** The view last announced on the bus (`zone.changed`), as a comparable string. */
  shown?: string;
}

export interface ZoneView {
  id: string;
  area: string;
  arm: Zone['arm'];
  mode: ZoneMode;
  since: string;
  trippedBy: string | null;
  sounding: boolean;
  /** Sensors reported as chattering and not trusted until quiet. */
  faultedSensors: string[];
}

function settingsOf(zone: Zone): ZoneSettings {
  return {
    minActiveMs: zone.minActiveMs,
    entryDelayMs: zone.entryDelaySeconds * 1000,
    outputMs: zone.outputSeconds * 1000,
    chatterChanges: zone.chatterChanges,
    chatterWindowMs: zone.chatterWindowSeconds * 1000,
  };
}

export class Zones implements Extension {
  readonly name = 'zones';
  private readonly runners = new Map<string, Runner>();
  private readonly offs: (() => void)[] = [];
  private scheduleTimer?: NodeJS.Timeout;
  /** Zones stepped since the last announcement (see announce). */
  private readonly stepped = new Set<Runner>();
  private announcing?: NodeJS.Immediate;

  constructor(private readonly ctx: Context) {}

  start(): void {
    for (const zone of this.ctx.site.zones) this.add(zone);
    const { bus } = this.ctx;
    this.offs.push(
      bus.on(
        'device.event',
        ({ deviceId, event, occurredAt }) => {
          if (event.type !== 'input' || !PRESENCE_INPUTS.has(event.input)) return;
          for (const r of this.runners.values()) {
            if (r.zone.sensors.includes(deviceId)) this.feed(r, { type: 'sensor', sensor: deviceId, active: event.active, at: occurredAt });
          }
        },
        this.name,
      ),
      bus.on('entry', (record) => this.onEntry(record), this.name),
      bus.on('raised', (event) => this.onRaised(event), this.name),
    );
    if ([...this.runners.values()].some((r) => r.zone.arm === 'schedule')) {
      this.scheduleTimer = setInterval(() => this.checkSchedules(), SCHEDULE_CHECK_MS);
      this.scheduleTimer.unref();
    }
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    clearInterval(this.scheduleTimer);
    for (const r of this.runners.values()) this.drop(r);
    this.runners.clear();
  }

  /** Zones keep their state across a reload; new ones start as a restart would, removed ones fall silent. */
  reload(site: SiteFile): void {
    const ids = new Set(site.zones.map((z) => z.id));
    for (const [id, r] of this.runners) {
      if (!ids.has(id)) {
        this.drop(r);
        this.runners.delete(id);
      }
    }
    for (const zone of site.zones) {
      const r = this.runners.get(zone.id);
      if (!r) this.add(zone);
      else {
        r.zone = zone;
        r.settings = settingsOf(zone);
        this.schedule(r);
      }
    }
    clearInterval(this.scheduleTimer);
    if (site.zones.some((z) => z.arm === 'schedule')) {
      this.scheduleTimer = setInterval(() => this.checkSchedules(), SCHEDULE_CHECK_MS);
      this.scheduleTimer.unref();
    }
  }

  list(): ZoneView[] {
    return [...this.runners.values()].map((r) => this.view(r));
  }

  get(zoneId: string): ZoneView | undefined {
    const r = this.runners.get(zoneId);
    return r && this.view(r);
  }

  /** A guard arms the zone; false when it was armed already. */
  arm(zoneId: string, actor: ZoneActor): boolean {
    const r = this.runners.get(zoneId);
    if (r?.state.mode !== 'disarmed') return false;
    this.feed(r, { type: 'arm', at: this.ctx.now().getTime(), ...actor });
    return true;
  }

  /** A guard disarms the zone (silencing its outputs); false when it was disarmed already. */
  disarm(zoneId: string, actor: ZoneActor): boolean {
    const r = this.runners.get(zoneId);
    if (!r || r.state.mode === 'disarmed') return false;
    this.feed(r, { type: 'disarm', at: this.ctx.now().getTime(), ...actor });
    return true;
  }

  /** What still keeps an intrusion's cause present (a sensor of the zone still active), or null. */
  causeOf(zoneId: string): string | null {
    const r = this.runners.get(zoneId);
    if (!r) return null;
    const active = Object.entries(r.state.sensors).filter(([, s]) => s.active && !s.faulted);
    return active.length ? `sensor ${active.map(([id]) => id).join(', ')} still active in zone ${zoneId}` : null;
  }

  private add(zone: Zone): void {
    const now = this.ctx.now();
    const r: Runner = { zone, settings: settingsOf(zone), state: initialZone('disarmed', now.getTime()), doorAlarmTimers: new Map() };
    r.state = initialZone(this.armedAtStart(r, now) ? 'armed' : 'disarmed', now.getTime());
    this.runners.set(zone.id, r);
    this.ctx.log.info({ zone: zone.id, mode: r.state.mode, arm: zone.arm }, 'zone started');
  }

  /**
   * Derived where the rule says it (hours, occupancy); a manual zone is as the last arm or disarm
   * left it, so a restart does not quietly disarm what a guard armed.
   */
  private armedAtStart(r: Runner, now: Date): boolean {
    if (r.zone.arm === 'manual') {
      let last: { id: number | null; armed: boolean } | undefined;
      for (const type of ['zone-armed', 'zone-disarmed'] as const) {
        const e = this.ctx.store.events.recent(500, type).find((x) => x.detail?.zoneId === r.zone.id);
        if (e && (!last || (e.id ?? 0) > (last.id ?? 0))) last = { id: e.id, armed: type === 'zone-armed' };
      }
      return last?.armed ?? false;
    }
    if (!this.isEmpty(r.zone.area)) return false;
    if (r.zone.arm === 'schedule') {
      r.open = this.isOpen(r.zone.area, now);
      return !r.open;
    }
    return true;
  }

  private drop(r: Runner): void {
    clearTimeout(r.timer);
    if (r.state.soundingUntil !== null) this.sound(r, 'intrusion', false);
    for (const [device, t] of r.doorAlarmTimers) {
      clearTimeout(t);
      this.send(r, device, false);
    }
    r.doorAlarmTimers.clear();
  }

  private isOpen(areaId: string, at: Date): boolean {
    const area = this.ctx.index.areas.get(areaId);
    const schedule = area?.schedule ? this.ctx.site.schedules.find((s) => s.id === area.schedule) : undefined;
    return schedule ? isWithinSchedule(schedule, at, this.ctx.site.site.timezone) : true;
  }

  /** No one inside, where anti-passback counts who is; where it does not, taken as empty. */
  private isEmpty(areaId: string): boolean {
    const area = this.ctx.index.areas.get(areaId);
    if (!area || area.antiPassback === 'off') return true;
    return this.ctx.store.areas.occupants(areaId).length === 0;
  }

  private checkSchedules(): void {
    const now = this.ctx.now();
    for (const r of this.runners.values()) {
      if (r.zone.arm !== 'schedule') continue;
      const open = this.isOpen(r.zone.area, now);
      const was = r.open;
      r.open = open;
      if (was === open) continue;
      // Business hours begin: disarmed. They end: armed, unless someone let in is still inside.
      if (open) this.feed(r, { type: 'disarm', at: now.getTime(), by: 'schedule' });
      else if (this.isEmpty(r.zone.area)) this.feed(r, { type: 'arm', at: now.getTime(), by: 'schedule' });
    }
  }

  private onEntry(record: EntryRecord): void {
    if (record.kind !== 'decision' || record.decision !== 'granted' || !record.areaId) return;
    const at = this.ctx.now().getTime();
    for (const r of this.runners.values()) {
      if (r.zone.area !== record.areaId) continue;
      if (record.direction === 'in') {
        this.feed(r, { type: 'disarm', at, by: record.doorId ? `entry:${record.doorId}` : 'entry', personId: record.personId, entrySeq: record.seq });
      } else if (record.direction === 'out' && r.zone.arm !== 'manual' && this.isEmpty(r.zone.area)) {
        // The last one out: an `empty` zone arms; a `schedule` zone arms again if it is out of hours.
        if (r.zone.arm === 'empty' || !this.isOpen(r.zone.area, new Date(at))) {
          this.feed(r, { type: 'arm', at, by: 'empty', personId: record.personId, entrySeq: record.seq });
        }
      }
    }
  }

  /** A door alarm at a door of the zone's area sounds the outputs the zone names for that alarm. */
  private onRaised(event: RaisedEvent): void {
    if (event.type !== 'door-forced' && event.type !== 'door-held-open') return;
    const door = event.source ? this.ctx.index.doors.get(event.source) : undefined;
    if (!door) return;
    for (const r of this.runners.values()) {
      if (r.zone.area !== door.area) continue;
      for (const device of r.zone.outputs[event.type] ?? []) {
        clearTimeout(r.doorAlarmTimers.get(device));
        this.send(r, device, true);
        const t = setTimeout(() => {
          r.doorAlarmTimers.delete(device);
          this.send(r, device, false);
        }, r.settings.outputMs);
        t.unref();
        r.doorAlarmTimers.set(device, t);
      }
    }
  }

  private feed(r: Runner, input: ZoneInput): void {
    const out = step(r.state, input, r.settings);
    r.state = out.state;
    for (const e of out.effects) this.apply(r, e);
    this.schedule(r);
    // After this turn of the event loop: an arm inside the service's transaction is announced once
    // it is done, and a chattering sensor's burst of steps makes one message.
    this.stepped.add(r);
    this.announcing ??= setImmediate(() => this.announce());
  }

  /** Puts each stepped zone's view on the bus (`zone.changed`) when it differs from the last one announced. */
  private announce(): void {
    this.announcing = undefined;
    const zones = [...this.stepped];
    this.stepped.clear();
    for (const r of zones) {
      // A zone removed by a reload meanwhile says nothing more.
      if (this.runners.get(r.zone.id) !== r) continue;
      const state = this.view(r);
      const key = JSON.stringify(state);
      if (key === r.shown) continue;
      r.shown = key;
      this.ctx.bus.emit('zone.changed', { zoneId: r.zone.id, state });
    }
  }

  private schedule(r: Runner): void {
    clearTimeout(r.timer);
    r.timer = undefined;
    const due = nextDeadline(r.state, r.settings);
    if (due === null) return;
    r.timer = setTimeout(() => this.feed(r, { type: 'tick', at: Math.max(due, this.ctx.now().getTime()) }), Math.max(0, due - this.ctx.now().getTime()));
    r.timer.unref();
  }

  private apply(r: Runner, e: ZoneEffect): void {
    const { zone } = r;
    const base = { zoneId: zone.id, areaId: zone.area };
    switch (e.type) {
      case 'armed':
      case 'disarmed':
        this.ctx.alarms.raise({
          category: 'alarm',
          type: e.type === 'armed' ? 'zone-armed' : 'zone-disarmed',
          severity: 'info',
          source: zone.id,
          detail: { ...base, by: e.by, personId: e.personId ?? null, entrySeq: e.entrySeq ?? null, ...(e.type === 'disarmed' ? { previous: e.previous } : {}) },
        });
        if (e.type === 'disarmed') this.silenceDoorAlarms(r);
        return;
      case 'entry-delay':
        this.ctx.log.warn({ zone: zone.id, sensor: e.sensor, until: new Date(e.until).toISOString() }, 'zone tripped: entry delay running');
        return;
      case 'intrusion':
        this.ctx.alarms.raise({ category: 'alarm', type: 'intrusion', severity: 'alarm', source: zone.id, detail: { ...base, sensor: e.sensor } });
        return;
      case 'sound':
        this.sound(r, 'intrusion', e.on);
        return;
      case 'sensor-fault':
        this.ctx.alarms.raise({ category: 'device', type: 'sensor-chatter', severity: 'warning', source: e.sensor, detail: { ...base, changes: e.changes } });
        return;
      case 'sensor-fault-cleared':
        this.ctx.alarms.raise({ category: 'device', type: 'sensor-chatter-cleared', severity: 'info', source: e.sensor, detail: base });
        return;
    }
  }

  private silenceDoorAlarms(r: Runner): void {
    for (const [device, t] of r.doorAlarmTimers) {
      clearTimeout(t);
      this.send(r, device, false);
    }
    r.doorAlarmTimers.clear();
  }

  private sound(r: Runner, alarm: ZoneOutputAlarm, on: boolean): void {
    for (const device of r.zone.outputs[alarm] ?? []) this.send(r, device, on);
  }

  private send(r: Runner, device: string, on: boolean): void {
    this.ctx.devices.send(device, { command: 'output', on }).then(
      (reply) => {
        if (!reply.ok) this.ctx.log.warn({ zone: r.zone.id, device, on, error: reply.error }, 'output command failed');
      },
      (err: unknown) => this.ctx.log.warn({ zone: r.zone.id, device, on, err }, 'output command failed'),
    );
  }

  private view(r: Runner): ZoneView {
    return {
      id: r.zone.id,
      area: r.zone.area,
      arm: r.zone.arm,
      mode: r.state.mode,
      since: new Date(r.state.since).toISOString(),
      trippedBy: r.state.trippedBy,
      sounding: r.state.soundingUntil !== null,
      faultedSensors: Object.entries(r.state.sensors)
        .filter(([, s]) => s.faulted)
        .map(([id]) => id),
    };
  }
}
