// All drivers behind one front: commands go to whichever transport a device uses; what comes
// back is checked for replays and put on the bus.
import type { CommandBody } from '../devices/protocol.js';
import type { CommandResult, DeviceDriver, DriverListener } from '../devices/driver.js';
import type { SequenceStore } from '../store/sequence.js';
import type { Bus } from './bus.js';
import type { Counters } from './context.js';

export class DeviceHub {
  private readonly byDevice = new Map<string, DeviceDriver>();

  constructor(
    private readonly drivers: { driver: DeviceDriver; deviceIds: readonly string[] }[],
    private readonly bus: Bus,
    private readonly sequences: SequenceStore,
    private readonly counters: Counters,
    /** Acks settle the command that is waiting for them (MQTT); GPIO acks synchronously. */
    private readonly onAck: (deviceId: string, commandId: string, result: CommandResult) => void,
  ) {
    for (const { driver, deviceIds } of drivers) for (const id of deviceIds) this.byDevice.set(id, driver);
  }

  async start(): Promise<void> {
    const listener: DriverListener = {
      event: (deviceId, event, receivedAt) => {
        if (event.boot !== undefined && event.seq !== undefined && !this.sequences.accept(deviceId, event.boot, event.seq)) {
          this.counters.duplicates++;
          return;
        }
        if (event.type === 'ack') {
          this.onAck(deviceId, event.command, event.ok ? { ok: true } : { ok: false, error: event.error ?? 'device refused' });
          return;
        }
        const deviceAt = event.at;
        const occurredAt = deviceAt === undefined ? receivedAt : Math.min(deviceAt, receivedAt);
        this.bus.emit('device.event', { deviceId, event, receivedAt, ...(deviceAt === undefined ? {} : { deviceAt }), occurredAt });
      },
      status: (deviceId, status) => this.bus.emit('device.status', { deviceId, status }),
      rejected: (info) => {
        this.counters.rejected++;
        this.bus.emit('device.rejected', info);
      },
    };
    for (const { driver } of this.drivers) await driver.start(listener);
  }

  send(deviceId: string, command: CommandBody): Promise<CommandResult> {
    const driver = this.byDevice.get(deviceId);
    if (!driver) return Promise.resolve({ ok: false, error: `no driver for device "${deviceId}"` });
    return driver.send(deviceId, command);
  }

  async stop(): Promise<void> {
    for (const { driver } of [...this.drivers].reverse()) await driver.stop().catch(() => undefined);
  }
}
