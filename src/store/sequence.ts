// The highest (boot, seq) seen from each device. A QoS 1 redelivery or a replayed message carries a
// (boot, seq) at or below the mark and is dropped before any decision is made.
import type { Db } from './db.js';

export interface SequenceMark {
  boot: number;
  seq: number;
}

export function isNewer(mark: SequenceMark | undefined, boot: number, seq: number): boolean {
  if (!mark) return true;
  return boot > mark.boot || (boot === mark.boot && seq > mark.seq);
}

export class SequenceStore {
  private readonly marks = new Map<string, SequenceMark>();
  private readonly upsert;

  constructor(db: Db) {
    for (const r of db.prepare('SELECT device_id AS id, boot, seq FROM device_sequence').all() as { id: string; boot: number; seq: number }[]) {
      this.marks.set(r.id, { boot: r.boot, seq: r.seq });
    }
    this.upsert = db.prepare(
      'INSERT INTO device_sequence (device_id, boot, seq) VALUES (?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET boot = excluded.boot, seq = excluded.seq',
    );
  }

  /** True when (boot, seq) is new for the device; the mark then moves in memory. */
  accept(deviceId: string, boot: number, seq: number): boolean {
    if (!isNewer(this.marks.get(deviceId), boot, seq)) return false;
    this.marks.set(deviceId, { boot, seq });
    return true;
  }

  /** Writes a device's mark; called inside the transaction that logs what the event caused. */
  persist(deviceId: string): void {
    const mark = this.marks.get(deviceId);
    if (mark) this.upsert.run(deviceId, mark.boot, mark.seq);
  }

  persistAll(): void {
    for (const id of this.marks.keys()) this.persist(id);
  }
}
