// A small typed event bus: features talk through it instead of holding each other.
import { EventEmitter } from 'node:events';
import type { DeviceEvent, DeviceStatus } from '../devices/protocol.js';
import type { RejectedInput } from '../devices/driver.js';
import type { EntryRecord } from '../store/entry-log.js';

export interface RaisedEvent {
  id: number | null;
  at: string;
  category: import('../policy/vocabulary.js').EventCategory;
  type: import('../policy/vocabulary.js').EventType;
  severity: 'info' | 'warning' | 'alarm';
  source: string | null;
  detail: Record<string, unknown> | null;
}

/** A device's event, after its replay check. All times are ms since the Unix epoch. */
export interface DeviceEventOnBus {
  deviceId: string;
  event: DeviceEvent;
  /** Controller clock: when the driver received the message (MQTT: first thing in its message handler). */
  receivedAt: number;
  /** Device clock (NTP): the event's own `at`, when the device sent one. */
  deviceAt?: number;
  /**
   * Best estimate, on the controller's clock, of when the event happened: the earlier of `deviceAt` and
   * `receivedAt` (a device clock ahead of the controller's never makes an event look younger than its
   * delivery). The age of a read at decision time is `now - occurredAt`.
   */
  occurredAt: number;
}

/** A change in an alarm's lifecycle (an alarm is an event row whose type the registry marks `alarm`). */
export interface AlarmChanged {
  /** The event's id. */
  alarmId: number;
  type: import('../policy/vocabulary.js').EventType;
  state: 'raised' | 'acknowledged' | 'cleared' | 'escalated';
  at: string;
  /** The account (or operator) who acknowledged or cleared it. */
  by?: string;
  note?: string;
  /** Why it was cleared: intrusion, false-alarm, test, fault, other. */
  cause?: string;
  /** The escalation level after this change (0 when raised). */
  level?: number;
}

/** A door's live state, exactly as the `state` of each item of GET /api/v1/doors. */
export interface DoorStateShown {
  lock: 'locked' | 'unlocked' | 'unknown';
  /** The contact: null until it has reported. */
  open: boolean | null;
  unlockedBy: 'grant' | 'rex' | 'emergency' | 'command' | null;
  alarm: 'forced' | 'held' | null;
  emergency: boolean;
}

/** A door's shown state changed (lock, contact, alarm, emergency release). */
export interface DoorChanged {
  doorId: string;
  state: DoorStateShown;
}

/** A zone's state changed (armed, disarmed, entry delay, tripped, sounding, a sensor faulted). */
export interface ZoneChanged {
  zoneId: string;
  /** The zone's live fields, as in its item of GET /api/v1/zones. */
  state: import('./zones.js').ZoneView;
}

export interface BusEvents {
  'device.event': DeviceEventOnBus;
  'device.status': { deviceId: string; status: DeviceStatus };
  'device.rejected': RejectedInput;
  /** An entry-log record, after it committed. */
  entry: EntryRecord;
  raised: RaisedEvent;
  'alarm.changed': AlarmChanged;
  /** State, not records: the latest wins, and a reader that missed some reads the state again. */
  'door.changed': DoorChanged;
  'zone.changed': ZoneChanged;
  'broker.link': { connected: boolean; error?: string };
  /** A person's access may have ended (a grant revoked or ended, a status change): code holders are checked. */
  'access.changed': { personId: string };
}

/** A listener threw (or its promise rejected): which listener, on which event, with what. */
export interface ListenerFault {
  owner: string;
  event: keyof BusEvents;
  error: unknown;
}

export class Bus {
  private readonly emitter = new EventEmitter({ captureRejections: false });
  /**
   * Told of every listener that throws. Until the controller sets it, the first error is thrown again
   * once every listener has run, so a bare bus (in a test) hides nothing.
   */
  onListenerFault?: (fault: ListenerFault) => void;

  constructor() {
    this.emitter.setMaxListeners(50);
  }

  /**
   * Adds a listener; `owner` names it when it throws (the caller's place in the source if not given).
   * Each listener runs on its own: one that throws cannot stop the others, so a failing publisher
   * never skips the reader's indication or the duress alarm after a door was released.
   */
  on<K extends keyof BusEvents>(name: K, fn: (payload: BusEvents[K]) => void, owner: string = callerOf()): () => void {
    const isolated = (payload: BusEvents[K]) => {
      try {
        const result = fn(payload) as unknown;
        if (result instanceof Promise) result.catch((error: unknown) => this.fault({ owner, event: name, error }));
      } catch (error) {
        this.fault({ owner, event: name, error });
      }
    };
    this.emitter.on(name, isolated);
    return () => this.emitter.off(name, isolated);
  }

  emit<K extends keyof BusEvents>(name: K, payload: BusEvents[K]): void {
    if (this.onListenerFault) {
      this.emitter.emit(name, payload);
      return;
    }
    const outer = this.unreported;
    const mine: unknown[] = [];
    this.unreported = mine;
    try {
      this.emitter.emit(name, payload);
    } finally {
      this.unreported = outer;
    }
    if (mine.length) throw mine[0];
  }

  /** Errors of the current emit's listeners while no one is told of them (see onListenerFault). */
  private unreported?: unknown[];

  private fault(f: ListenerFault): void {
    if (!this.onListenerFault) {
      if (this.unreported) this.unreported.push(f.error);
      else
        queueMicrotask(() => {
          throw f.error;
        });
      return;
    }
    try {
      this.onListenerFault(f);
    } catch {
      // Reporting must not stop the next listener either.
    }
  }
}

/** Where `on` was called from, for a listener registered without an owner name. */
function callerOf(): string {
  const line = new Error().stack?.split('\n')[3]?.trim() ?? '';
  const m = /at (?:(\S+) \()?(?:file:\/\/)?.*?([^/]+\/[^/]+:\d+):\d+\)?$/.exec(line);
  return m ? (m[1] ? `${m[1]} (${m[2]})` : m[2]!) : 'unnamed';
}
