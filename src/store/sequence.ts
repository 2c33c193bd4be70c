// The highest (boot, seq) seen from each device. A QoS 1 redelivery or a replayed message carries a
// (boot, seq) at or below the mark and is dropped before any decision is made.
//
// The marks must outlive a restart, so each is made durable with whatever it caused. A decision's
// entry-log record already carries its reader's (device, boot, seq): when the mark to persist is
// exactly what the newest record carries, that record is the durable mark, and the device_sequence
// row (one more page for every decision to write) is left as it was. device_sequence_through says up
// to which record the table is complete; at start the marks are the table's, raised by the records
// after it. Every THROUGH_EVERY such skips, and at a clean stop, the table is written whole again,
// so that start-up reads only a few hundred records.
import type { Db } from './db.js';

export interface SequenceMark {
  boot: number;
  seq: number;
}

export function isNewer(mark: SequenceMark | undefined, boot: number, seq: number): boolean {
  if (!mark) return true;
  return boot > mark.boot || (boot === mark.boot && seq > mark.seq);
}

/** Marks left to the entry log before the table is written whole again: bounds the records read at start. */
export const THROUGH_EVERY = 256;

/** Records after the mark past which a start writes the table whole at once (normal operation stays within THROUGH_EVERY skips). */
export const START_REWRITE_AFTER = 4 * THROUGH_EVERY;

export class SequenceStore {
  private readonly marks = new Map<string, SequenceMark>();
  private skipped = 0;
  private readonly upsert;
  private readonly newest;
  private readonly setThrough;
  private readonly writeAll;

  constructor(db: Db) {
    for (const r of db.prepare('SELECT device_id AS id, boot, seq FROM device_sequence').all() as { id: string; boot: number; seq: number }[]) {
      this.marks.set(r.id, { boot: r.boot, seq: r.seq });
    }
    const through = db.prepare('SELECT max(through_seq) FROM device_sequence_through').pluck().get() as number | null;
    let behind = 0;
    if (through !== null) {
      // Grouped in SQL: one row per device and boot, however many records follow the mark (a log
      // written by other means, or one from before the marks, once held millions: read as rows, they
      // took the daemon past its heap limit before it was ready).
      const after = db
        .prepare(
          `SELECT device_id AS id, device_boot AS boot, max(device_seq) AS deviceSeq FROM entry_log
           WHERE entry_log.seq > ? AND device_id IS NOT NULL AND device_boot IS NOT NULL AND device_seq IS NOT NULL
           GROUP BY device_id, device_boot`,
        )
        .all(through) as { id: string; boot: number; deviceSeq: number }[];
      for (const r of after) {
        if (!isNewer(this.marks.get(r.id), r.boot, r.deviceSeq)) continue;
        this.marks.set(r.id, { boot: r.boot, seq: r.deviceSeq });
      }
      behind = ((db.prepare('SELECT max(seq) FROM entry_log').pluck().get() as number | null) ?? 0) - through;
    }
    this.upsert = db.prepare(
      'INSERT INTO device_sequence (device_id, boot, seq) VALUES (?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET boot = excluded.boot, seq = excluded.seq',
    );
    this.newest = db.prepare(
      // The newest record by its primary key (an alias named seq here would order by device_seq: a scan).
      'SELECT device_id AS id, device_boot AS boot, device_seq AS deviceSeq FROM entry_log ORDER BY entry_log.seq DESC LIMIT 1',
    );
    this.setThrough = db.prepare('UPDATE device_sequence_through SET through_seq = (SELECT coalesce(max(seq), 0) FROM entry_log)');
    // One transaction (a savepoint inside the caller's): the table and its record number move together.
    this.writeAll = db.transaction(() => {
      for (const [id, mark] of this.marks) this.upsert.run(id, mark.boot, mark.seq);
      this.setThrough.run();
    });
    // Far behind (more than the skips allow): write the table whole now, so the next start is quick.
    if (behind > START_REWRITE_AFTER && !db.readonly) this.persistAll();
  }

  /** True when (boot, seq) is new for the device; the mark then moves in memory. */
  accept(deviceId: string, boot: number, seq: number): boolean {
    if (!isNewer(this.marks.get(deviceId), boot, seq)) return false;
    this.marks.set(deviceId, { boot, seq });
    return true;
  }

  /**
   * Makes a device's mark durable; called inside the transaction that logs what the event caused
   * (after its record is appended). Writes nothing when that newest record carries the mark.
   */
  persist(deviceId: string): void {
    const mark = this.marks.get(deviceId);
    if (!mark) return;
    const newest = this.newest.get() as { id: string | null; boot: number | null; deviceSeq: number | null } | undefined;
    if (newest?.id === deviceId && newest.boot === mark.boot && newest.deviceSeq === mark.seq && this.skipped < THROUGH_EVERY) {
      this.skipped++;
      return;
    }
    if (this.skipped >= THROUGH_EVERY) {
      this.persistAll();
      return;
    }
    this.upsert.run(deviceId, mark.boot, mark.seq);
  }

  /** Writes every mark and moves device_sequence_through to the newest record (at a clean stop, and every THROUGH_EVERY skips). */
  persistAll(): void {
    this.writeAll();
    this.skipped = 0;
  }
}
