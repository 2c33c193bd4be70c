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
    const rows = (type
      ? this.db.prepare('SELECT * FROM events WHERE type = ? ORDER BY id DESC LIMIT ?').all(type, limit)
      : this.db.prepare('SELECT * FROM events ORDER BY id DESC LIMIT ?').all(limit)) as (Omit<StoredEvent, 'detail'> & { detail: string | null })[];
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
      .prepare(`SELECT id, at, category, type, severity, source, detail FROM events WHERE id > ? AND category IN (${categories.map(() => '?').join(', ')}) ORDER BY id LIMIT ?`)
      .all(afterId, ...categories, limit) as (Omit<StoredEvent, 'detail'> & { detail: string | null })[];
    return rows.map((r) => ({ ...r, detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null }));
  }

  /** How many events `after` would return, counting no further than `cap` (a bounded scan). */
  countAfter(afterId: number, categories: readonly string[], cap: number): number {
    if (!categories.length) return 0;
    return this.db
      .prepare(`SELECT count(*) FROM (SELECT 1 FROM events WHERE id > ? AND category IN (${categories.map(() => '?').join(', ')}) LIMIT ?)`)
      .pluck(true).get(afterId, ...categories, cap) as number;
  }
}
