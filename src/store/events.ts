// Events the controller raised (alarms, faults, security), kept for guards and the API.
import type { Db } from './db.js';
import type { Severity } from '../policy/vocabulary.js';

export interface StoredEvent {
  id: number;
  at: string;
  category: string;
  type: string;
  severity: Severity;
  source: string | null;
  detail: Record<string, unknown> | null;
}

/** A stored event with its acknowledgement. */
export interface EventRecord extends StoredEvent {
  ackedAt: string | null;
  ackedBy: string | null;
  ackNote: string | null;
}

export interface EventFilter {
  type?: string;
  /** Any of these categories (an empty list matches nothing). */
  categories?: readonly string[];
  severity?: string;
  source?: string;
  /** Only alarms (severity alarm) nobody has acknowledged. */
  open?: boolean;
  /** ISO times, as stored: at or after `from`, before `to`. */
  from?: string;
  to?: string;
  /** Page cursor: ids below it. */
  before?: number;
  limit: number;
}

const EVENT_SELECT = `SELECT id, at, category, type, severity, source, detail, acked_at AS ackedAt, acked_by AS ackedBy, ack_note AS ackNote FROM events`;
type EventRow = Omit<EventRecord, 'detail'> & { detail: string | null };
const toEvent = (r: EventRow): EventRecord => ({ ...r, detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null });

export class EventStore {
  private readonly insert;
  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO events (at, category, type, severity, source, detail) VALUES (?, ?, ?, ?, ?, ?)');
  }

  add(e: Omit<StoredEvent, 'id'>): StoredEvent {
    const info = this.insert.run(e.at, e.category, e.type, e.severity, e.source, e.detail ? JSON.stringify(e.detail) : null);
    return { ...e, id: Number(info.lastInsertRowid) };
  }

  /** Newest first. */
  recent(limit = 100, type?: string): StoredEvent[] {
    const rows = (
      type
        ? this.db.prepare('SELECT * FROM events WHERE type = ? ORDER BY id DESC LIMIT ?').all(type, limit)
        : this.db.prepare('SELECT * FROM events ORDER BY id DESC LIMIT ?').all(limit)
    ) as (Omit<StoredEvent, 'detail'> & { detail: string | null })[];
    return rows.map((r) => ({ ...r, detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null }));
  }

  /** The highest id stored (0 when none): where a new stream starts. */
  lastId(): number {
    return this.db.prepare('SELECT coalesce(max(id), 0) FROM events').pluck(true).get() as number;
  }

  /** Events after `afterId` in any of `categories`, oldest first: what a resuming stream missed. */
  after(afterId: number, categories: readonly string[], limit: number): StoredEvent[] {
    if (!categories.length) return [];
    const rows = this.db
      .prepare(
        `SELECT id, at, category, type, severity, source, detail FROM events WHERE id > ? AND category IN (${categories.map(() => '?').join(', ')}) ORDER BY id LIMIT ?`,
      )
      .all(afterId, ...categories, limit) as (Omit<StoredEvent, 'detail'> & { detail: string | null })[];
    return rows.map((r) => ({ ...r, detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null }));
  }

  /** How many events `after` would return, counting no further than `cap` (a bounded scan). */
  countAfter(afterId: number, categories: readonly string[], cap: number): number {
    if (!categories.length) return 0;
    return this.db
      .prepare(`SELECT count(*) FROM (SELECT 1 FROM events WHERE id > ? AND category IN (${categories.map(() => '?').join(', ')}) LIMIT ?)`)
      .pluck(true)
      .get(afterId, ...categories, cap) as number;
  }

  /** Events newest first, one page; `nextBefore` is the cursor for the next (older) page. */
  query(f: EventFilter): { items: EventRecord[]; nextBefore: number | null } {
    if (f.categories && f.categories.length === 0) return { items: [], nextBefore: null };
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: f.limit + 1 };
    if (f.type) {
      where.push('type = @type');
      params.type = f.type;
    }
    if (f.categories) {
      where.push(`category IN (${f.categories.map((_, i) => `@c${i}`).join(', ')})`);
      f.categories.forEach((c, i) => {
        params[`c${i}`] = c;
      });
    }
    if (f.severity) {
      where.push('severity = @severity');
      params.severity = f.severity;
    }
    if (f.source) {
      where.push('source = @source');
      params.source = f.source;
    }
    if (f.open) where.push("severity = 'alarm' AND acked_at IS NULL");
    if (f.from) {
      where.push('at >= @from');
      params.from = f.from;
    }
    if (f.to) {
      where.push('at < @to');
      params.to = f.to;
    }
    if (f.before !== undefined) {
      where.push('id < @before');
      params.before = f.before;
    }
    const rows = this.db
      .prepare(`${EVENT_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`)
      .all(params) as EventRow[];
    const more = rows.length > f.limit;
    if (more) rows.pop();
    return { items: rows.map(toEvent), nextBefore: more ? rows[rows.length - 1]!.id : null };
  }

  /** One event with its acknowledgement. */
  get(id: number): EventRecord | undefined {
    const row = this.db.prepare(`${EVENT_SELECT} WHERE id = ?`).get(id) as EventRow | undefined;
    return row ? toEvent(row) : undefined;
  }

  /** Records who acknowledged an event; false if it was acknowledged already (the first one stands). */
  acknowledge(id: number, by: string, at: string, note: string | null): boolean {
    return this.db.prepare('UPDATE events SET acked_at = ?, acked_by = ?, ack_note = ? WHERE id = ? AND acked_at IS NULL').run(at, by, note, id).changes > 0;
  }

  /** Alarms (severity alarm) not acknowledged yet. */
  openAlarmCount(): number {
    return this.db.prepare("SELECT count(*) FROM events WHERE severity = 'alarm' AND acked_at IS NULL").pluck(true).get() as number;
  }
}
