// The entry log's keeper: signs checkpoints of the log (at start, every N records, every interval
// when records were added, and at shutdown), publishes each one retained so a copy lives off the
// gateway, and prunes records past the retention period once a day (with a signed prune checkpoint).
// Each checkpoint promises the next within `nextWithinFor(N)` records (checkpoints.ts), and the
// keeper keeps that promise: verification treats more records after the last checkpoint as deleted
// checkpoints. The audit log is signed on the same schedule.
import type { KeyObject } from 'node:crypto';
import { nextWithinFor, nextWithinSecondsFor, publishedCheckpoint, scheduleBreak, type Checkpoint, type CheckpointKind } from '../store/checkpoints.js';
import { loadOrCreateLogKey, publicKeyPem } from '../store/log-key.js';
import { assertRetention, retentionCutoff, RetentionError } from '../store/retention.js';
import type { SiteFile } from '../site/schema.js';
import type { Context, Extension } from './context.js';
import { StartupError } from './errors.js';

export interface LogKeeperOptions {
  dataDir: string;
  /** Publishes a retained message (the MQTT driver's publishRetained). */
  publishRetained(topic: string, payload: object): void;
  /** Where checkpoints go: Topics.checkpoints, `{base}/log/checkpoints`. */
  checkpointTopic: string;
}

const DAY_MS = 86_400_000;

export class LogKeeper implements Extension {
  readonly name = 'log-keeper';
  private key?: KeyObject;
  private publicKey = '';
  /** The record count the last checkpoint covered. */
  private covered = 0;
  /** The ordinal of the last checkpoint this keeper saw written: one deleted behind its back stays a gap. */
  private lastOrdinal: number | null = null;
  private sinceCheckpoint = 0;
  /** The latest checkpoint's promise (records before the next), entry log and audit log. */
  private promised: number | null = null;
  private auditPromised: number | null = null;
  private sinceAudit = 0;
  private checkpointTimer?: NodeJS.Timeout;
  /** The schedule the timer runs on (the site's when it started or last reloaded). */
  private schedule?: { intervalSeconds: number; everyRecords: number };
  private pruneTimer?: NodeJS.Timeout;
  private pending?: NodeJS.Immediate;
  private auditPending?: NodeJS.Immediate;
  private readonly off: (() => void)[] = [];

  constructor(
    private readonly ctx: Context,
    private readonly opts: LogKeeperOptions,
  ) {}

  start(): void {
    const { log: settings } = this.ctx.site;
    try {
      assertRetention(settings.retentionDays);
    } catch (err) {
      if (err instanceof RetentionError) throw new StartupError(err.message);
      throw err;
    }
    this.key = loadOrCreateLogKey(this.opts.dataDir);
    this.publicKey = publicKeyPem(this.key);
    const latest = this.ctx.store.checkpoints.latest();
    this.covered = latest?.count ?? 0;
    this.promised = latest?.nextWithin ?? null;
    this.lastOrdinal = latest?.ordinal ?? null;
    // Signed at once, records added or not: a new log gets one at record 0, a log written before
    // checkpoints v2 (or records a crash left unsigned) get one now, and the promise starts from
    // this start's schedule. Published (retained), so an embedded broker that forgot the last
    // checkpoint on restart has one again.
    this.checkSchedule(this.ctx.store.checkpoints.storedHead().count);
    const signed = this.checkpoint('periodic', true);
    if (latest && !signed) this.publish(latest);
    this.auditCheckpoint('periodic', true);
    this.ctx.store.audit.onAppend = () => {
      this.sinceAudit++;
      if (this.sinceAudit >= this.threshold(this.auditPromised) && !this.auditPending) {
        this.auditPending = setImmediate(() => {
          this.auditPending = undefined;
          this.auditCheckpoint('periodic');
        });
      }
    };
    this.prune();

    // The broker link comes up after the extensions start (and again after each outage): the
    // latest checkpoint is published then, whatever was written while there was no client.
    this.off.push(
      this.ctx.bus.on(
        'broker.link',
        ({ connected }) => {
          if (!connected) return;
          const last = this.latest();
          if (last) this.publish(last);
        },
        this.name,
      ),
    );
    this.off.push(
      this.ctx.bus.on(
        'entry',
        () => {
          this.sinceCheckpoint++;
          // Signed after the decision path returns, never inside it.
          if (this.sinceCheckpoint >= this.threshold(this.promised) && !this.pending) {
            this.pending = setImmediate(() => {
              this.pending = undefined;
              this.checkpoint('periodic');
            });
          }
        },
        this.name,
      ),
    );
    this.startCheckpointTimer(settings);
    this.pruneTimer = setInterval(() => this.prune(), DAY_MS);
    this.pruneTimer.unref();
  }

  /**
   * A reloaded site file may change the checkpoint schedule. The timer takes the new interval, and a
   * checkpoint is signed at once so the latest promise is the new schedule's: a longer interval under
   * the old, shorter promise would leave records `log verify` reads as following a deleted checkpoint.
   */
  reload(site: SiteFile): void {
    const { checkpointIntervalSeconds, checkpointEveryRecords } = site.log;
    if (!this.key || !this.schedule) return;
    if (checkpointIntervalSeconds === this.schedule.intervalSeconds && checkpointEveryRecords === this.schedule.everyRecords) return;
    this.auditCheckpoint('periodic', true);
    this.checkpoint('periodic', true);
    this.startCheckpointTimer(site.log);
  }

  private startCheckpointTimer(settings: SiteFile['log']): void {
    const { checkpointIntervalSeconds: intervalSeconds, checkpointEveryRecords: everyRecords } = settings;
    clearInterval(this.checkpointTimer);
    this.schedule = { intervalSeconds, everyRecords };
    this.checkpointTimer = setInterval(() => this.checkpoint('periodic'), intervalSeconds * 1000);
    this.checkpointTimer.unref();
  }

  /**
   * Records after which the next checkpoint is signed: the site's schedule, but never more than half
   * what the latest checkpoint promised (a reload may have raised the schedule since it was signed).
   */
  private threshold(promised: number | null): number {
    const every = this.ctx.site.log.checkpointEveryRecords;
    return promised == null ? every : Math.max(1, Math.min(every, Math.floor(promised / 2)));
  }

  private get promise(): { nextWithin: number; nextWithinSeconds: number } {
    return {
      nextWithin: nextWithinFor(this.ctx.site.log.checkpointEveryRecords),
      nextWithinSeconds: nextWithinSecondsFor(this.ctx.site.log.checkpointIntervalSeconds),
    };
  }

  /**
   * Before the start checkpoint signs the head: were checkpoints deleted while the controller was
   * stopped? Signing would not hide it from `log verify` (the gap before the new checkpoint still
   * shows), but the alarm says so now. A log written before checkpoints v2 is not alarmed on.
   */
  private checkSchedule(headCount: number): void {
    try {
      const { checkpoints } = this.ctx.store;
      const cps = checkpoints.all();
      if (!cps.some((cp) => cp.ordinal != null)) return;
      const brk = scheduleBreak(cps, headCount, checkpoints.lateInTail());
      if (!brk) return;
      this.missing(brk.problem, { seq: brk.seq });
    } catch (err) {
      this.fault(err, 'checking the checkpoints at start');
    }
  }

  /** Signed checkpoints went missing: a security alarm (log verify reports it as a break). */
  private missing(problem: string, detail: Record<string, unknown>): void {
    this.ctx.log.error({ ...detail, problem }, 'entry log: signed checkpoints are missing');
    this.ctx.alarms.raise({ category: 'security', type: 'log-checkpoints-missing', severity: 'alarm', source: 'entry-log', detail: { ...detail, problem } });
  }

  stop(): void {
    for (const off of this.off.splice(0)) off();
    if (this.ctx.store.audit.onAppend) this.ctx.store.audit.onAppend = undefined;
    if (this.pending) clearImmediate(this.pending);
    if (this.auditPending) clearImmediate(this.auditPending);
    this.pending = this.auditPending = undefined;
    clearInterval(this.checkpointTimer);
    clearInterval(this.pruneTimer);
    this.checkpointTimer = this.pruneTimer = this.schedule = undefined;
    if (this.key) this.checkpoint('shutdown');
  }

  /** The audit log is signed on the same schedule, with the same key, under its own checkpoint domain. */
  private auditCheckpoint(kind: Exclude<CheckpointKind, 'prune'>, atStart = false): void {
    if (!this.key) return;
    try {
      const audit = this.ctx.store.audit;
      const latest = this.ctx.store.auditCheckpoints.latest();
      if (atStart || audit.count !== (latest?.count ?? 0)) {
        const cp = audit.checkpoint(this.key, kind, this.ctx.now().toISOString(), undefined, this.promise);
        this.auditPromised = cp.nextWithin;
      } else {
        this.auditPromised = latest?.nextWithin ?? null;
      }
      this.sinceAudit = 0;
    } catch (err) {
      this.fault(err, `${kind} audit checkpoint`, 'audit-log');
    }
  }

  /** Signs and publishes a checkpoint if records were added since the last one (or `force`). Never throws. */
  checkpoint(kind: Exclude<CheckpointKind, 'prune'>, force = false): Checkpoint | undefined {
    if (!this.key) return undefined;
    this.auditCheckpoint(kind);
    try {
      const { checkpoints } = this.ctx.store;
      const head = checkpoints.storedHead();
      if (head.count === this.covered && !force) {
        this.sinceCheckpoint = 0;
        return undefined;
      }
      if (head.count < this.covered) {
        this.fault(new Error(`the entry log ends at record ${head.count} but the last checkpoint covered ${this.covered}: records were removed`), 'checkpoint');
      }
      // Numbered on from what this keeper wrote: checkpoints deleted while it runs are not renumbered over.
      const next = checkpoints.nextOrdinal();
      const minOrdinal = this.lastOrdinal == null ? 0 : this.lastOrdinal + 1;
      if (next < minOrdinal)
        this.missing(`the entry log's checkpoints end at #${next - 1} but #${this.lastOrdinal} was written: signed checkpoints were deleted`, {
          from: next,
          to: this.lastOrdinal!,
        });
      const cp = checkpoints.write(this.key, { kind, at: this.ctx.now().toISOString(), ...this.promise, minOrdinal });
      this.lastOrdinal = cp.ordinal;
      this.covered = cp.count;
      this.promised = cp.nextWithin;
      this.sinceCheckpoint = 0;
      this.publish(cp);
      return cp;
    } catch (err) {
      this.fault(err, `${kind} checkpoint`);
      return undefined;
    }
  }

  /** Prunes records past the retention period; a prune checkpoint is published. Never throws. */
  prune(): number {
    if (!this.key) return 0;
    try {
      const { checkpoints } = this.ctx.store;
      // The site file may have been reloaded since start: a period below the minimum never prunes.
      const days = this.ctx.site.log.retentionDays;
      assertRetention(days);
      const auditDays = this.ctx.site.api.auditRetentionDays;
      assertRetention(auditDays);
      this.ctx.store.audit.prune(this.key, retentionCutoff(this.ctx.now(), auditDays), this.ctx.now().toISOString());
      const pruned = checkpoints.prune(this.key, retentionCutoff(this.ctx.now(), days), () => this.ctx.now());
      if (pruned > 0) {
        const cp = checkpoints.latest()!;
        this.lastOrdinal = cp.ordinal;
        this.covered = cp.count;
        this.promised = cp.nextWithin;
        this.sinceCheckpoint = 0;
        this.ctx.log.info({ pruned, retentionDays: days, firstKept: cp.anchorSeq }, 'pruned entry-log records past the retention period');
        this.publish(cp);
      }
      return pruned;
    } catch (err) {
      this.fault(err, 'prune');
      return 0;
    }
  }

  private latest(): Checkpoint | undefined {
    try {
      return this.ctx.store.checkpoints.latest();
    } catch (err) {
      this.fault(err, 'reading the latest checkpoint');
      return undefined;
    }
  }

  private publish(cp: Checkpoint): void {
    try {
      this.opts.publishRetained(this.opts.checkpointTopic, publishedCheckpoint(cp, this.publicKey));
    } catch (err) {
      this.ctx.log.warn({ err, topic: this.opts.checkpointTopic }, 'could not publish the entry-log checkpoint');
    }
  }

  private fault(err: unknown, during: string, source: 'entry-log' | 'audit-log' = 'entry-log'): void {
    this.ctx.storageFaults.report(err, { source, during });
  }
}
