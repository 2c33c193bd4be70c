// What the controller is doing, for /metrics, /healthz and the live stream: decision counters, the
// access flow's group-commit figures, devices by supervision state, open alarms, the entry log's
// size, health, and the live feed of committed records, raised events and device events. Counts
// only: no names, no card numbers.
import type { BusEvents } from '../controller/bus.js';
import type { Health } from '../controller/controller.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';
import type { Label } from '../site/schema.js';

/**
 * What the live feed carries: records after they committed, events as they are raised, device events
 * as received, and the state of doors, zones and alarms as it changes.
 */
export type Feed = Pick<BusEvents, 'entry' | 'raised' | 'device.event' | 'door.changed' | 'zone.changed' | 'alarm.changed'>;

export class StatusService {
  constructor(private readonly deps: ServiceDeps) {}

  /** The site's name and timezone as the site file gives them now (the console shows times in it). */
  site(): { name: Label; timezone: string } {
    const { site } = this.deps.site?.() ?? running(this.deps).ctx.site;
    return { name: site.name, timezone: site.timezone };
  }

  /** Access decisions committed since the controller started (monotonic within its life). */
  decisions(): { granted: number; denied: number } {
    const { counters } = running(this.deps).ctx;
    return { granted: counters.granted, denied: counters.denied };
  }

  /** Transactions the access flow committed, the decisions they carried, and the WAL flushes that made them durable. */
  commits(): { commits: number; writes: number; walSyncs: number } {
    const { commits, writes, walSyncs } = running(this.deps).access.commits.stats;
    return { commits, writes, walSyncs };
  }

  /** The write-ahead log: its size now and at its largest, and the truncations that emptied it (bounded at 64 MB). */
  wal(): { walBytes: number; walPeakBytes: number; truncations: number; truncationsRefused: number } {
    return running(this.deps).walStats();
  }

  /** Credential reads waiting to be decided now, the most there were, and reads refused on arrival (controller-busy). */
  readBacklog(): { waiting: number; peak: number; refused: number } {
    return { ...running(this.deps).access.backlog };
  }

  /** Records the entry log holds now (after retention pruning). */
  entryLogRecords(): number {
    return this.deps.store.entryLog.rows();
  }

  /** What left the box since the controller started: each webhook's deliveries and backlog, syslog's messages. */
  outbound(): {
    webhooks: { id: string; delivered: number; failed: number; dropped: number; pending: number }[];
    syslog: { sent: number; failed: number; dropped: number };
  } {
    const controller = running(this.deps);
    const pending = controller.webhooks.pending();
    const webhooks = [...controller.webhooks.stats].map(([id, s]) => ({ id, ...s, pending: pending.get(id) ?? 0 }));
    return { webhooks, syslog: { ...controller.syslog.stats } };
  }

  /** Liveness and what an installer checks first: is the database writable, is the broker there. */
  health(): Health {
    return running(this.deps).health();
  }

  /** The gateway's clock: synchronised or not, its offset, jumps, times held at the last record. */
  clock(): Health['clock'] {
    return running(this.deps).clockHealth();
  }

  /** Subscribes to the live feed; returns the unsubscribe. `owner` names the listener if it throws. */
  on<K extends keyof Feed>(name: K, fn: (payload: Feed[K]) => void, owner: string): () => void {
    return running(this.deps).ctx.bus.on(name, fn, owner);
  }
}
