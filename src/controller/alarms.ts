// Raising events: each one is stored, logged and put on the bus (which publishes it).
import type { Logger } from 'pino';
import type { EventStore } from '../store/events.js';
import type { Bus, RaisedEvent } from './bus.js';

export type NewEvent = Omit<RaisedEvent, 'id' | 'at' | 'source' | 'detail'> & {
  source?: string | null;
  detail?: Record<string, unknown> | null;
};

export class Alarms {
  /** key → when the last event of that key was raised and how many were folded into it since. */
  private readonly limited = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly events: EventStore,
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly now: () => Date,
  ) {}

  raise(e: NewEvent): RaisedEvent {
    const at = this.now().toISOString();
    const base = { at, category: e.category, type: e.type, severity: e.severity, source: e.source ?? null, detail: e.detail ?? null };
    let id: number | null = null;
    try {
      id = this.events.add(base).id;
    } catch (err) {
      // Storage may be what failed: the event still reaches the log and the bus.
      this.log.error({ err, event: base }, 'could not store event');
    }
    const raised: RaisedEvent = { id, ...base };
    const level = e.severity === 'alarm' ? 'warn' : e.severity === 'warning' ? 'warn' : 'info';
    this.log[level]({ event: raised }, `${e.category}/${e.type}${e.source ? ` from ${e.source}` : ''}`);
    this.bus.emit('raised', raised);
    return raised;
  }

  /**
   * Raises at most one event per key per window; the next one says how many were folded in.
   * A device spraying garbage must not flood the event store.
   */
  raiseLimited(key: string, windowMs: number, e: NewEvent): RaisedEvent | undefined {
    const nowMs = this.now().getTime();
    const seen = this.limited.get(key);
    if (seen && nowMs - seen.at < windowMs) {
      seen.suppressed++;
      return undefined;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.limited.set(key, { at: nowMs, suppressed: 0 });
    return this.raise(suppressed ? { ...e, detail: { ...(e.detail ?? {}), suppressedSinceLast: suppressed } } : e);
  }
}
