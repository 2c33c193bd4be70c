// A small typed event bus: features talk through it instead of holding each other.
import { EventEmitter } from 'node:events';
import type { DeviceEvent, DeviceStatus } from '../devices/protocol.js';
import type { RejectedInput } from '../devices/driver.js';
import type { EntryRecord } from '../store/entry-log.js';

export interface RaisedEvent {
  id: number | null;
  at: string;
  category: 'access' | 'door' | 'alarm' | 'device' | 'security' | 'system';
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

export interface BusEvents {
  'device.event': DeviceEventOnBus;
  'device.status': { deviceId: string; status: DeviceStatus };
  'device.rejected': RejectedInput;
  /** An entry-log record, after it committed. */
  entry: EntryRecord;
  raised: RaisedEvent;
  'broker.link': { connected: boolean; error?: string };
}

export class Bus {
  private readonly emitter = new EventEmitter({ captureRejections: false });
  constructor() {
    this.emitter.setMaxListeners(50);
  }
  on<K extends keyof BusEvents>(name: K, fn: (payload: BusEvents[K]) => void): () => void {
    this.emitter.on(name, fn);
    return () => this.emitter.off(name, fn);
  }
  emit<K extends keyof BusEvents>(name: K, payload: BusEvents[K]): void {
    this.emitter.emit(name, payload);
  }
}
