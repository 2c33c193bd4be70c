// Camera evidence: on every alarm and every denied entry at a covered door, each camera covering the
// place takes a picture. Fire and forget: nothing waits for a camera, so a camera that hangs never
// delays a decision or an unlock; it only raises `camera-fault`. A picture is kept as a private file
// under <data>/snapshots/, with its row (table `snapshots`) and an `evidence` record in the entry
// log carrying its SHA-256 and linked to the denial's seq, so the chain covers the digest and
// `tobira log verify` catches a swapped picture. Pictures go with the log's retention.
import { randomBytes } from 'node:crypto';
import { isAlarmType } from '../policy/vocabulary.js';
import type { SiteFile } from '../site/schema.js';
import { cameraCoverage, type CameraCoverage } from '../site/cameras.js';
import { retentionCutoff } from '../store/retention.js';
import { removeSnapshotFile, writeSnapshotFile } from '../store/snapshots.js';
import type { EntryRecord } from '../store/entry-log.js';
import type { RaisedEvent } from './bus.js';
import type { Context, Extension } from './context.js';

/** Pictures fetched at once, and waiting beyond that; more are dropped (and logged), never queued without end. */
export const MAX_IN_FLIGHT = 4;
export const MAX_WAITING = 64;
/** At most one camera-fault per camera per this window; the next says how many were folded in. */
const FAULT_WINDOW_MS = 60_000;
const DAY_MS = 86_400_000;

/** Why a picture is taken: a denial (its entry-log record) or an alarm (its event). */
interface Occasion {
  camera: string;
  entrySeq: number | null;
  eventId: number | null;
  alarmType?: string;
  doorId: string | null;
  areaId: string | null;
  zoneId?: string;
}

export class Evidence implements Extension {
  readonly name = 'evidence';
  private coverage: CameraCoverage;
  private readonly off: (() => void)[] = [];
  private readonly waiting: Occasion[] = [];
  private inFlight = 0;
  private pruneTimer?: NodeJS.Timeout;
  private stopped = false;
  /** Settles when every picture in flight is stored (tests, stop). */
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly ctx: Context,
    private readonly dataDir: string,
  ) {
    this.coverage = cameraCoverage(ctx.site);
  }

  start(): void {
    const { bus } = this.ctx;
    this.off.push(
      bus.on('entry', (record) => this.onEntry(record), this.name),
      bus.on('raised', (event) => this.onRaised(event), this.name),
    );
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), DAY_MS);
    this.pruneTimer.unref();
  }

  reload(site: SiteFile): void {
    this.coverage = cameraCoverage(site);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.off.splice(0)) off();
    clearInterval(this.pruneTimer);
    this.waiting.length = 0;
    await this.idle();
  }

  /** Resolves once no picture is being fetched or waits to be. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private onEntry(record: EntryRecord): void {
    if (record.kind !== 'decision' || record.decision !== 'denied' || !record.doorId) return;
    for (const camera of this.coverage.doors.get(record.doorId) ?? []) {
      this.enqueue({ camera, entrySeq: record.seq, eventId: null, doorId: record.doorId, areaId: record.areaId });
    }
  }

  private onRaised(event: RaisedEvent): void {
    if (!isAlarmType(event.type)) return;
    const detail = event.detail ?? {};
    const zoneId = typeof detail.zoneId === 'string' ? detail.zoneId : undefined;
    const safeId = typeof detail.safeId === 'string' ? detail.safeId : undefined;
    const doorId = typeof detail.doorId === 'string' ? detail.doorId : event.source && this.ctx.index.doors.has(event.source) ? event.source : null;
    const areaId = typeof detail.areaId === 'string' ? detail.areaId : event.source && this.ctx.index.areas.has(event.source) ? event.source : null;
    const cameras = new Set<string>([
      ...(doorId ? (this.coverage.doors.get(doorId) ?? []) : []),
      ...(zoneId ? (this.coverage.zones.get(zoneId) ?? []) : []),
      ...(safeId ? (this.coverage.safes.get(safeId) ?? []) : []),
      // An alarm of a whole area without a zone (the IR path before zones, a safe no camera covers): the cameras at its doors.
      ...(!doorId && !zoneId && !this.coverage.safes.has(safeId ?? '') && areaId ? (this.coverage.areas.get(areaId) ?? []) : []),
    ]);
    for (const camera of cameras) {
      this.enqueue({ camera, entrySeq: null, eventId: event.id, alarmType: event.type, doorId, areaId, ...(zoneId ? { zoneId } : {}) });
    }
  }

  private enqueue(o: Occasion): void {
    if (this.stopped) return;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      if (this.waiting.length >= MAX_WAITING) {
        this.ctx.log.warn({ camera: o.camera, entrySeq: o.entrySeq, eventId: o.eventId }, 'too many pictures waiting: this one is not taken');
        return;
      }
      this.waiting.push(o);
      return;
    }
    this.run(o);
  }

  private run(o: Occasion): void {
    this.inFlight++;
    void this.take(o)
      .catch((err: unknown) => this.ctx.log.error({ err, camera: o.camera }, 'taking a picture failed'))
      .finally(() => {
        this.inFlight--;
        const next = this.waiting.shift();
        if (next && !this.stopped) this.run(next);
        else if (this.inFlight === 0 && this.waiting.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
  }

  private async take(o: Occasion): Promise<void> {
    const reply = await this.ctx.devices.send(o.camera, { command: 'snapshot' });
    if (!reply.ok) {
      this.ctx.alarms.raiseLimited(`camera-fault:${o.camera}`, FAULT_WINDOW_MS, {
        category: 'device',
        type: 'camera-fault',
        severity: 'warning',
        source: o.camera,
        detail: { error: reply.error, ...(o.entrySeq !== null ? { entrySeq: o.entrySeq } : {}), ...(o.eventId !== null ? { eventId: o.eventId } : {}) },
      });
      return;
    }
    if (this.stopped) return;
    const { image } = reply;
    const takenAt = new Date(image.takenAt ?? image.receivedAt).toISOString();
    const file = `${takenAt.replace(/[:.]/g, '-')}-${o.camera}-${randomBytes(4).toString('hex')}.${image.contentType === 'image/png' ? 'png' : 'jpg'}`;
    try {
      writeSnapshotFile(this.dataDir, file, image.data);
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: o.camera, during: 'snapshot file' });
      return;
    }
    const { store } = this.ctx;
    try {
      const record = store.transaction(() => {
        const snapshot = store.snapshots.add({
          camera: o.camera,
          sha256: image.sha256,
          file,
          contentType: image.contentType,
          takenAt,
          eventId: o.eventId,
          entrySeq: o.entrySeq,
        });
        const evidence = store.entryLog.append({
          at: this.ctx.now().toISOString(),
          kind: 'evidence',
          doorId: o.doorId,
          areaId: o.areaId,
          deviceId: o.camera,
          linkedSeq: o.entrySeq,
          reason: 'snapshot',
          detail: {
            snapshotId: snapshot.id,
            sha256: image.sha256,
            file,
            contentType: image.contentType,
            takenAt,
            ...(o.eventId !== null ? { eventId: o.eventId } : {}),
            ...(o.alarmType ? { alarm: o.alarmType } : {}),
            ...(o.zoneId ? { zoneId: o.zoneId } : {}),
          },
        });
        store.snapshots.setEvidenceSeq(snapshot.id, evidence.seq);
        return evidence;
      });
      this.ctx.bus.emit('entry', record);
    } catch (err) {
      store.entryLog.resync();
      removeSnapshotFile(this.dataDir, file);
      this.ctx.storageFaults.report(err, { source: o.camera, during: 'snapshot record' });
    }
  }

  /** Pictures older than the entry log keeps its records go with them. */
  private prune(): void {
    try {
      const before = retentionCutoff(this.ctx.now(), this.ctx.site.log.retentionDays);
      for (const file of this.ctx.store.snapshots.pruneBefore(before)) removeSnapshotFile(this.dataDir, file);
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: 'snapshots', during: 'snapshot pruning' });
    }
  }
}
