// A small typed event bus: features talk through it instead of holding each other.
import { EventEmitter } from 'node:events';
import type { DeviceEvent, DeviceStatus } from '../devices/protocol.js';
import type { RejectedInput } from '../devices/driver.js';
import type { EntryRecord } from '../store/entry-log.js';

export interface RaisedEvent {
  id: number | null;
  at: string;
  category: 'access' | 'door' | 'alarm' | 'device' | 'security' | 'system';
  type: string;
  severity: 'info' | 'warning' | 'alarm';
  source: string | null;
  detail: Record<string, unknown> | null;
}

export interface BusEvents {
  'device.event': { deviceId: string; event: DeviceEvent; receivedAt: number };
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
