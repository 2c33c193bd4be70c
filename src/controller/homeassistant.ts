// Home Assistant MQTT discovery (site file `homeassistant.enabled`): doors as locks, their contacts
// as door sensors, alarms as events, all read-only and all unavailable while the controller is
// offline (its status topic and last will). Discovery configs and states are retained so a Home
// Assistant that starts later sees them at once; alarm events are not (a retained one would fire
// again at every restart). Payloads carry ids and states only: no person's name, affiliation or purpose.
import { randomBytes } from 'node:crypto';
import { HomeAssistantTopics } from '../devices/homeassistant.js';
import { Topics } from '../devices/protocol.js';
import type { DoorView } from '../policy/door.js';
import { ALARM_TYPES, isAlarmType, type EventType } from '../policy/vocabulary.js';
import type { ZoneMode } from '../policy/zone.js';
import type { SiteFile } from '../site/schema.js';
import type { RaisedEvent } from './bus.js';
import type { Context, Extension } from './context.js';

/** The states Home Assistant's MQTT lock understands (its defaults); `None` resets to unknown. */
export type HaLockState = 'LOCKED' | 'UNLOCKED' | 'JAMMED' | 'None';
/** A binary sensor of class door: on = open. */
export type HaContactState = 'ON' | 'OFF' | 'None';
/** The alarm panel states a zone maps to. */
export type HaZoneState = 'disarmed' | 'armed_away' | 'pending' | 'triggered';

/** The alarm kinds Home Assistant hears about: the event types the registry marks as alarms. */
export const HA_ALARM_TYPES: EventType[] = [...ALARM_TYPES];

export function lockState(view: DoorView | undefined, fault: boolean): HaLockState {
  if (fault) return 'JAMMED';
  if (!view || view.lock === 'unknown') return 'None';
  return view.lock === 'locked' ? 'LOCKED' : 'UNLOCKED';
}

export function contactState(view: DoorView | undefined): HaContactState {
  if (!view || view.open === null) return 'None';
  return view.open ? 'ON' : 'OFF';
}

/** A zone's phase (src/policy/zone.ts) as an alarm panel state; an entry delay is Home Assistant's `pending`. */
export function zoneState(phase: ZoneMode): HaZoneState {
  return phase === 'disarmed' ? 'disarmed' : phase === 'armed' ? 'armed_away' : phase === 'entry-delay' ? 'pending' : 'triggered';
}

export interface DiscoveryMessage {
  topic: string;
  config: Record<string, unknown>;
}

/**
 * The discovery configs for a site: one lock per door, one door sensor per door with a contact,
 * one alarm panel per zone, one event entity for the alarms. `refusalCode` is a code no one knows:
 * Home Assistant checks an alarm panel's code itself and sends nothing when it does not match.
 */
export function discoveryConfigs(site: SiteFile, zoneIds: readonly string[], refusalCode: string): DiscoveryMessage[] {
  const { discoveryPrefix, nodeId } = site.homeassistant;
  const t = new HomeAssistantTopics(site.mqtt.baseTopic, discoveryPrefix, nodeId);
  const status = new Topics(site.mqtt.baseTopic).controllerStatus;
  // Names are ids: a door's label could name a person's office or a project, and ids are what guards use.
  const common = (objectId: string, name: string) => ({
    unique_id: `${nodeId}_${objectId}`,
    name,
    availability: [{ topic: status, value_template: "{{ 'online' if value_json.online else 'offline' }}" }],
    device: { identifiers: [`tobira_${nodeId}`], name: `tobira ${nodeId}`, manufacturer: 'tobira', model: 'access controller' },
    qos: 1,
  });
  const out: DiscoveryMessage[] = [];
  for (const door of site.doors) {
    const lockId = `${door.id}_lock`;
    out.push({
      topic: t.config('lock', lockId),
      config: {
        ...common(lockId, door.id),
        state_topic: t.lock(door.id),
        // Required by Home Assistant; nothing listens there and its login may not publish there.
        command_topic: t.refusedCommands(lockId),
        // A pattern no code matches: Home Assistant refuses a lock or unlock itself before sending.
        code_format: '^(?!)$',
        optimistic: false,
        state_locked: 'LOCKED',
        state_unlocked: 'UNLOCKED',
        state_jammed: 'JAMMED',
      },
    });
    if (door.contact) {
      const contactId = `${door.id}_contact`;
      out.push({
        topic: t.config('binary_sensor', contactId),
        config: { ...common(contactId, `${door.id} contact`), state_topic: t.contact(door.id), device_class: 'door', payload_on: 'ON', payload_off: 'OFF' },
      });
    }
  }
  for (const zoneId of zoneIds) {
    const objectId = `${zoneId}_zone`;
    out.push({
      topic: t.config('alarm_control_panel', objectId),
      config: {
        ...common(objectId, zoneId),
        state_topic: t.zone(zoneId),
        command_topic: t.refusedCommands(objectId),
        // No arm buttons; disarm needs a code no one has. Guards arm and disarm in tobira.
        supported_features: [],
        code: refusalCode,
        code_arm_required: true,
        code_disarm_required: true,
        code_trigger_required: true,
      },
    });
  }
  out.push({
    topic: t.config('event', 'alarms'),
    config: { ...common('alarms', 'alarms'), state_topic: t.alarms, event_types: HA_ALARM_TYPES },
  });
  return out;
}

/** An alarm as a Home Assistant event: its kind, id and time, and its source only when that is a site id. */
export function alarmEvent(site: SiteFile, e: RaisedEvent): Record<string, unknown> {
  const ids = new Set([...site.doors.map((d) => d.id), ...site.devices.map((d) => d.id), ...site.areas.map((a) => a.id)]);
  return { event_type: e.type, alarm_id: e.id, at: e.at, ...(e.source && ids.has(e.source) ? { source: e.source } : {}) };
}

/** The controller's MQTT link as this feature needs it. */
export interface HomeAssistantLink {
  publishText(topic: string, payload: string, retain: boolean): void;
}

/** What the doors show (controller/doors.ts). */
export interface DoorStates {
  state(doorId: string): DoorView | undefined;
  lockFault(doorId: string): boolean;
}

/**
 * What the zones show. Optional: zone entities are announced only once a zones runner gives their
 * modes (src/controller/zones.ts, built alongside); until then Home Assistant sees no panels.
 */
export interface ZoneStates {
  mode(zoneId: string): ZoneMode | undefined;
}

/** How often states are compared with what was last sent, for changes no bus event announces (a lock that stopped answering). */
const RESYNC_MS = 2000;

export class HomeAssistant implements Extension {
  readonly name = 'homeassistant';
  private readonly unsubscribe: (() => void)[] = [];
  /** Last payload sent per state topic: only changes go out. */
  private readonly sent = new Map<string, string>();
  private pending?: NodeJS.Immediate;
  private resync?: NodeJS.Timeout;
  private readonly refusalCode = randomBytes(24).toString('base64url');
  /**
   * Doors whose lock faulted and has not been heard in a known state since. A refused unlock is
   * followed at once by a relock, so the fault itself lasts no time in the door's state: the alarm
   * marks the lock jammed until the lock answers again.
   */
  private readonly jammed = new Set<string>();

  constructor(
    private readonly ctx: Context,
    private readonly link: HomeAssistantLink,
    private readonly doors: DoorStates,
    private readonly zones?: ZoneStates,
  ) {}

  private zoneIds(): string[] {
    return this.zones ? this.ctx.site.zones.map((z) => z.id) : [];
  }

  private get enabled(): boolean {
    return this.ctx.site.homeassistant.enabled;
  }

  private get topics(): HomeAssistantTopics {
    const { discoveryPrefix, nodeId } = this.ctx.site.homeassistant;
    return new HomeAssistantTopics(this.ctx.site.mqtt.baseTopic, discoveryPrefix, nodeId);
  }

  start(): void {
    if (!this.enabled) return;
    const { bus } = this.ctx;
    // Door states change inside the doors' own steps (some after a lock's answer resolves): look once
    // the current turn of the event loop is over, whatever announced it.
    const soon = () => this.schedule();
    this.unsubscribe.push(
      bus.on('device.event', soon, this.name),
      bus.on('device.status', soon, this.name),
      bus.on('entry', soon, this.name),
      bus.on(
        'raised',
        (e) => {
          soon();
          if (e.type === 'lock-fault' && e.source && this.ctx.site.doors.some((d) => d.id === e.source)) {
            this.jammed.add(e.source);
            this.publishState(this.topics.lock(e.source), 'JAMMED');
          }
          if (isAlarmType(e.type)) this.link.publishText(this.topics.alarms, JSON.stringify(alarmEvent(this.ctx.site, e)), false);
        },
        this.name,
      ),
      bus.on(
        'broker.link',
        ({ connected }) => {
          // Every (re)connect: the configs and every state again; a broker restarted without persistence lost them.
          if (connected) this.announce();
        },
        this.name,
      ),
    );
    this.resync = setInterval(soon, RESYNC_MS);
    this.resync.unref();
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    clearInterval(this.resync);
    if (this.pending) clearImmediate(this.pending);
    this.pending = undefined;
  }

  /** Discovery configs, then every state. */
  announce(): void {
    for (const { topic, config } of discoveryConfigs(this.ctx.site, this.zoneIds(), this.refusalCode))
      this.link.publishText(topic, JSON.stringify(config), true);
    this.sent.clear();
    this.publishStates();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = setImmediate(() => {
      this.pending = undefined;
      this.publishStates();
    });
  }

  private publishStates(): void {
    const t = this.topics;
    for (const door of this.ctx.site.doors) {
      const view = this.doors.state(door.id);
      const fault = this.doors.lockFault(door.id);
      if (!fault && view && view.lock !== 'unknown') this.jammed.delete(door.id);
      this.publishState(t.lock(door.id), lockState(view, fault || this.jammed.has(door.id)));
      if (door.contact) this.publishState(t.contact(door.id), contactState(view));
    }
    for (const zoneId of this.zoneIds()) {
      const mode = this.zones?.mode(zoneId);
      this.publishState(t.zone(zoneId), mode ? zoneState(mode) : 'None');
    }
  }

  private publishState(topic: string, payload: string): void {
    if (this.sent.get(topic) === payload) return;
    this.sent.set(topic, payload);
    this.link.publishText(topic, payload, true);
  }
}
