// Storage faults: a write that did not land (disk full, read-only file system, database closed).
// One policy for every part of the controller and the API: each fault is counted
// (`counters.storageFaults`, which /healthz and the metrics show) and logged, and raised as a
// `storage-fault` alarm at most once per source per window, so a failing disk cannot flood the event
// store (which is likely on that same disk) while every door still says which of them failed.
import type { Logger } from 'pino';
import type { NewEvent } from './alarms.js';
import type { Counters } from './context.js';

/** At most one storage-fault event per source in this window; the next one says how many it folded in. */
export const STORAGE_FAULT_WINDOW_MS = 10_000;

export interface StorageFault {
  /** What could not be written for: a door, an area, 'entry-log', 'audit-log', 'api'. */
  source: string;
  /** What was being written: 'access decision', a door event's reason, 'periodic checkpoint'. */
  during: string;
  /** More for the event's detail (the device whose read it was). */
  detail?: Record<string, unknown>;
}

export interface StorageFaultsDeps {
  log: Logger;
  alarms: { raiseLimited(key: string, windowMs: number, e: NewEvent): unknown };
  counters: Counters;
  now(): Date;
}

export class StorageFaults {
  private last: number | null = null;

  constructor(private readonly deps: StorageFaultsDeps) {}

  /**
   * Reports a write that failed. Never throws: it runs in failure paths, timers and bus listeners,
   * where a second throw would skip what comes after (relocking, the reader's indication).
   */
  report(err: unknown, fault: StorageFault): void {
    const { log, alarms, counters, now } = this.deps;
    const error = err instanceof Error ? err.message : String(err);
    counters.storageFaults++;
    try {
      this.last = now().getTime();
      log.error({ err, source: fault.source, during: fault.during, ...fault.detail }, `storage fault: ${fault.during} (${fault.source}) could not be written`);
      alarms.raiseLimited(`storage-fault:${fault.source}`, STORAGE_FAULT_WINDOW_MS, {
        category: 'system',
        type: 'storage-fault',
        severity: 'alarm',
        source: fault.source,
        detail: { error, during: fault.during, ...fault.detail },
      });
    } catch {
      // The count is in; the log or the event could not be made either.
    }
  }

  /** When the last fault was reported (ms since the epoch), null if none was. */
  get lastAt(): number | null {
    return this.last;
  }
}
