// Dial locks: the site facts last seen, rotation records, the triggers that make a rotation due at
// once (leak reports among them) and the code holders. The code itself is never here.
import type { Db } from './db.js';

export type DialTriggerReason = 'installed' | 'moved' | 'custodian-changed' | 'delegate-changed' | 'holder-lost-access' | 'leak-reported';

export interface DialLockStateRecord {
  lockId: string;
  area: string;
  location: string;
  custodian: string;
  delegates: string[];
  firstSeenAt: string;
  /** Reminders up to this moment were delivered (so a restart does not repeat them). */
  remindedUntil: string | null;
}

export interface DialRotationRecord {
  id: number;
  lockId: string;
  rotatedAt: string;
  by: string;
  reason: string;
  recordedAt: string;
}

export interface DialTriggerRecord {
  id: number;
  lockId: string;
  reason: DialTriggerReason;
  at: string;
  personId: string | null;
  note: string | null;
  reportedBy: string | null;
}

export interface CodeHolderRecord {
  id: number;
  lockId: string;
  personId: string;
  addedAt: string;
  addedBy: string;
  removedAt: string | null;
  removedReason: string | null;
}

interface StateRow {
  lock_id: string;
  area: string;
  location: string;
  custodian: string;
  delegates: string;
  first_seen_at: string;
  reminded_until: string | null;
}

export class DialLockStore {
  constructor(private readonly db: Db) {}

  state(lockId: string): DialLockStateRecord | undefined {
    const r = this.db.prepare('SELECT * FROM dial_lock_state WHERE lock_id = ?').get(lockId) as StateRow | undefined;
    return r
      ? {
          lockId: r.lock_id,
          area: r.area,
          location: r.location,
          custodian: r.custodian,
          delegates: JSON.parse(r.delegates) as string[],
          firstSeenAt: r.first_seen_at,
          remindedUntil: r.reminded_until,
        }
      : undefined;
  }

  /** Records the facts as seen now; the first sighting's time is kept. */
  saveState(s: Omit<DialLockStateRecord, 'remindedUntil'>): void {
    this.db
      .prepare(
        `INSERT INTO dial_lock_state (lock_id, area, location, custodian, delegates, first_seen_at)
         VALUES (@lockId, @area, @location, @custodian, @delegates, @firstSeenAt)
         ON CONFLICT(lock_id) DO UPDATE SET area = excluded.area, location = excluded.location,
           custodian = excluded.custodian, delegates = excluded.delegates`,
      )
      .run({ ...s, delegates: JSON.stringify(s.delegates) });
  }

  setRemindedUntil(lockId: string, at: string): void {
    this.db.prepare('UPDATE dial_lock_state SET reminded_until = ? WHERE lock_id = ?').run(at, lockId);
  }

  addRotation(r: Omit<DialRotationRecord, 'id'>): DialRotationRecord {
    const id = this.db
      .prepare('INSERT INTO dial_rotations (lock_id, rotated_at, by, reason, recorded_at) VALUES (@lockId, @rotatedAt, @by, @reason, @recordedAt)')
      .run(r).lastInsertRowid;
    return { id: Number(id), ...r };
  }

  lastRotation(lockId: string): DialRotationRecord | undefined {
    const r = this.db.prepare('SELECT * FROM dial_rotations WHERE lock_id = ? ORDER BY rotated_at DESC, id DESC LIMIT 1').get(lockId) as
      | { id: number; lock_id: string; rotated_at: string; by: string; reason: string; recorded_at: string }
      | undefined;
    return r ? { id: r.id, lockId: r.lock_id, rotatedAt: r.rotated_at, by: r.by, reason: r.reason, recordedAt: r.recorded_at } : undefined;
  }

  addTrigger(t: Omit<DialTriggerRecord, 'id'>): DialTriggerRecord {
    const id = this.db
      .prepare(
        `INSERT INTO dial_due_triggers (lock_id, reason, at, person_id, note, reported_by)
         VALUES (@lockId, @reason, @at, @personId, @note, @reportedBy)`,
      )
      .run(t).lastInsertRowid;
    return { id: Number(id), ...t };
  }

  /** Triggers after `since` (every one when null), oldest first. */
  triggers(lockId: string, since: string | null): DialTriggerRecord[] {
    const rows = this.db.prepare('SELECT * FROM dial_due_triggers WHERE lock_id = ? AND (? IS NULL OR at > ?) ORDER BY at, id').all(lockId, since, since) as {
      id: number;
      lock_id: string;
      reason: DialTriggerReason;
      at: string;
      person_id: string | null;
      note: string | null;
      reported_by: string | null;
    }[];
    return rows.map((r) => ({ id: r.id, lockId: r.lock_id, reason: r.reason, at: r.at, personId: r.person_id, note: r.note, reportedBy: r.reported_by }));
  }

  /** The current code holders of a lock (every lock when omitted), in the order they were added. */
  holders(lockId?: string): CodeHolderRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM dial_code_holders WHERE removed_at IS NULL AND (? IS NULL OR lock_id = ?) ORDER BY id')
      .all(lockId ?? null, lockId ?? null) as {
      id: number;
      lock_id: string;
      person_id: string;
      added_at: string;
      added_by: string;
      removed_at: string | null;
      removed_reason: string | null;
    }[];
    return rows.map((r) => ({
      id: r.id,
      lockId: r.lock_id,
      personId: r.person_id,
      addedAt: r.added_at,
      addedBy: r.added_by,
      removedAt: r.removed_at,
      removedReason: r.removed_reason,
    }));
  }

  addHolder(lockId: string, personId: string, at: string, by: string): CodeHolderRecord {
    const id = this.db
      .prepare('INSERT INTO dial_code_holders (lock_id, person_id, added_at, added_by) VALUES (?, ?, ?, ?)')
      .run(lockId, personId, at, by).lastInsertRowid;
    return { id: Number(id), lockId, personId, addedAt: at, addedBy: by, removedAt: null, removedReason: null };
  }

  /** Takes a holder off; false when they were not one. */
  removeHolder(lockId: string, personId: string, at: string, reason: string): boolean {
    return (
      this.db
        .prepare('UPDATE dial_code_holders SET removed_at = ?, removed_reason = ? WHERE lock_id = ? AND person_id = ? AND removed_at IS NULL')
        .run(at, reason, lockId, personId).changes > 0
    );
  }
}
