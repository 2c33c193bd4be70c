// Device input that was thrown away becomes a device-fault event, broker refusals become security
// events, and a bus listener that threw becomes a listener-fault event; all rate-limited per source
// so a flood cannot fill the event store.
import type { Logger } from 'pino';
import type { BrokerRefusal } from '../devices/broker.js';
import type { Alarms } from './alarms.js';
import type { ListenerFault } from './bus.js';
import type { Context, Counters, Extension } from './context.js';

/** At most one listener-fault event per listener and bus event in this window. */
export const LISTENER_FAULT_WINDOW_MS = 10_000;

/**
 * What the bus does with a listener that threw: logs it with the listener's owner, counts it and
 * raises a listener-fault alarm (rate-limited). A listener that throws on `raised` itself is not
 * raised to again from inside its own report: that would only loop through it.
 */
export function listenerFaultReporter(deps: { log: Logger; alarms: Pick<Alarms, 'raiseLimited'>; counters: Counters }): (f: ListenerFault) => void {
  let reporting = false;
  return ({ owner, event, error }) => {
    deps.counters.listenerFaults++;
    deps.log.error({ err: error, owner, event }, `a listener of ${owner} threw on ${event}; the other listeners still ran`);
    if (reporting) return;
    reporting = true;
    try {
      deps.alarms.raiseLimited(`listener-fault:${owner}:${event}`, LISTENER_FAULT_WINDOW_MS, {
        category: 'system',
        type: 'listener-fault',
        severity: 'alarm',
        source: owner,
        detail: { event, error: error instanceof Error ? error.message : String(error) },
      });
    } finally {
      reporting = false;
    }
  };
}

export class Faults implements Extension {
  readonly name = 'faults';
  private off?: () => void;

  constructor(private readonly ctx: Context) {}

  start(): void {
    this.off = this.ctx.bus.on(
      'device.rejected',
      (info) => {
        const source = info.deviceId ?? info.topic ?? 'unknown';
        this.ctx.alarms.raiseLimited(`device-fault:${source}`, 10_000, {
          category: 'device',
          type: 'device-fault',
          severity: 'warning',
          source,
          detail: { reason: info.reason, topic: info.topic ?? null, rejectedSoFar: this.ctx.counters.rejected },
        });
      },
      this.name,
    );
  }

  stop(): void {
    this.off?.();
  }

  /** The embedded broker refused a login, a publish or a subscription. */
  brokerRefused(r: BrokerRefusal): void {
    this.ctx.counters.rejected++;
    this.ctx.alarms.raiseLimited(`mqtt-refused:${r.what}:${r.username ?? r.address ?? '?'}`, 10_000, {
      category: 'security',
      type: `mqtt-${r.what}-refused`,
      severity: 'alarm',
      source: r.username ?? r.address ?? null,
      detail: { ...r },
    });
  }
}
