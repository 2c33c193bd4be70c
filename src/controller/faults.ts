// Device input that was thrown away becomes a device-fault event, and broker refusals become
// security events; both rate-limited per source so a flood cannot fill the event store.
import type { BrokerRefusal } from '../devices/broker.js';
import type { Context, Extension } from './context.js';

export class Faults implements Extension {
  readonly name = 'faults';
  private off?: () => void;

  constructor(private readonly ctx: Context) {}

  start(): void {
    this.off = this.ctx.bus.on('device.rejected', (info) => {
      const source = info.deviceId ?? info.topic ?? 'unknown';
      this.ctx.alarms.raiseLimited(`device-fault:${source}`, 10_000, {
        category: 'device', type: 'device-fault', severity: 'warning', source,
        detail: { reason: info.reason, topic: info.topic ?? null, rejectedSoFar: this.ctx.counters.rejected },
      });
    });
  }

  stop(): void {
    this.off?.();
  }

  /** The embedded broker refused a login, a publish or a subscription. */
  brokerRefused(r: BrokerRefusal): void {
    this.ctx.counters.rejected++;
    this.ctx.alarms.raiseLimited(`mqtt-refused:${r.what}:${r.username ?? r.address ?? '?'}`, 10_000, {
      category: 'security', type: `mqtt-${r.what}-refused`, severity: 'alarm', source: r.username ?? r.address ?? null,
      detail: { ...r },
    });
  }
}
