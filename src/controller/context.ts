// The one context object every feature receives: no global settings, no singletons.
import type { Logger } from 'pino';
import type { SiteFile } from '../site/schema.js';
import type { Store } from '../store/index.js';
import type { Bus } from './bus.js';
import type { DeviceHub } from './device-hub.js';
import type { Alarms } from './alarms.js';
import type { SiteIndex } from './site-index.js';
import type { StorageFaults } from './storage-faults.js';

export interface Counters {
  granted: number;
  denied: number;
  /** Device input thrown away: malformed, unknown device, wrong topic. */
  rejected: number;
  /** Redelivered or replayed (boot, seq) dropped before any decision. */
  duplicates: number;
  storageFaults: number;
  /** Bus listeners that threw: each reported with its owner, the others still ran. */
  listenerFaults: number;
}

export interface Context {
  site: SiteFile;
  index: SiteIndex;
  log: Logger;
  store: Store;
  bus: Bus;
  devices: DeviceHub;
  alarms: Alarms;
  counters: Counters;
  /** Every write that failed is reported here: one count, one log line, one rate-limited event policy. */
  storageFaults: StorageFaults;
  now(): Date;
}

/** A feature of the controller: started in order, stopped in reverse. */
export interface Extension {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
  /**
   * The site file was reloaded (SIGHUP) and `ctx.site` is already `site`: a feature that keeps state
   * derived from the site (timers, per-input state) brings it in line. Called for every extension,
   * in start order; only rules change at a reload (devices, doors and areas need a restart).
   */
  reload?(site: SiteFile): void;
}
