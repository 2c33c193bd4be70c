// Alarms: event rows whose type the registry marks alarm, with their lifecycle (acknowledged,
// escalated, cleared) and its history. The id of an alarm is its event's id.
import type { Db } from './db.js';
import { ALARM_TYPES, type AlarmState, type ClearCause, type Severity } from '../policy/vocabulary.js';

export interface AlarmRecord {
  id: number;
  at: string;
  category: string;
  type: string;
  severity: Severity;
  source: string | null;
  detail: Record<string, unknown> | null;
  state: 'active' | 'acknowledged' | 'cleared';
  level: number;
  ackedAt: string | null;
  ackedBy: string | null;
  ackNote: string | null;
  clearedAt: string | null;
  clearedBy: string | null;
  cause: ClearCause | null;
  clearNote: string | null;
  responseMs: number | null;
  clearMs: number | null;
}

export interface AlarmHistoryRecord {
  at: string;
  state: AlarmState;
  by: string | null;
  note: string | null;
  cause: string | null;
  level: number | null;
}

export interface AlarmFilter {
  /** active: nobody acknowledged it; acknowledged: acknowledged, not cleared; cleared. */
  state?: 'active' | 'acknowledged' | 'cleared';
  /** Event types, all alarm types when absent. */
  kind?: string;
  /** Only these event categories (what the asker's role may see). */
  categories?: readonly string[];
  from?: string;
  to?: string;
  before?: number;
  limit: number;
}

const SELECT = `SELECT id, at, category, type, severity, source, detail, escalation_level AS level,
  acked_at AS ackedAt, acked_by AS ackedBy, ack_note AS ackNote, cleared_at AS clearedAt, cleared_by AS clearedBy,
  clear_cause AS cause, clear_note AS clearNote, response_ms AS responseMs, clear_ms AS clearMs FROM events`;
type Row = Omit<AlarmRecord, 'detail' | 'state'> & { detail: string | null };
const toAlarm = (r: Row): AlarmRecord => ({
  ...r,
  detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
  state: r.clearedAt ? 'cleared' : r.ackedAt ? 'acknowledged' : 'active',
});
const typesIn = `type IN (${ALARM_TYPES.map((t) => `'${t}'`).join(', ')})`;

function categoriesIn(categories: readonly string[] | undefined, where: string[], params: Record<string, unknown>): void {
  if (!categories) return;
  // An empty list matches nothing.
  where.push(categories.length ? `category IN (${categories.map((_, i) => `@c${i}`).join(', ')})` : '0');
  categories.forEach((c, i) => {
    params[`c${i}`] = c;
  });
}

export class AlarmStore {
  constructor(private readonly db: Db) {}

  /** Newest first, one page; `nextBefore` is the cursor for the next (older) page. */
  query(f: AlarmFilter): { items: AlarmRecord[]; nextBefore: number | null } {
    const where = [typesIn];
    const params: Record<string, unknown> = { limit: f.limit + 1 };
    if (f.state === 'active') where.push('acked_at IS NULL AND cleared_at IS NULL');
    if (f.state === 'acknowledged') where.push('acked_at IS NOT NULL AND cleared_at IS NULL');
    if (f.state === 'cleared') where.push('cleared_at IS NOT NULL');
    if (f.kind) {
      where.push('type = @kind');
      params.kind = f.kind;
    }
    categoriesIn(f.categories, where, params);
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
    const rows = this.db.prepare(`${SELECT} WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`).all(params) as Row[];
    const more = rows.length > f.limit;
    if (more) rows.pop();
    return { items: rows.map(toAlarm), nextBefore: more ? rows[rows.length - 1]!.id : null };
  }

  /** One alarm (undefined when the id is not an alarm's). */
  get(id: number): AlarmRecord | undefined {
    const row = this.db.prepare(`${SELECT} WHERE id = ? AND ${typesIn}`).get(id) as Row | undefined;
    return row ? toAlarm(row) : undefined;
  }

  /** Alarms nobody has acknowledged or cleared, oldest first (the desk resumes their escalation). */
  unanswered(): AlarmRecord[] {
    return (this.db.prepare(`${SELECT} WHERE ${typesIn} AND acked_at IS NULL AND cleared_at IS NULL ORDER BY id`).all() as Row[]).map(toAlarm);
  }

  history(id: number): AlarmHistoryRecord[] {
    return this.db.prepare('SELECT at, state, by, note, cause, level FROM alarm_history WHERE alarm_id = ? ORDER BY id').all(id) as AlarmHistoryRecord[];
  }

  addHistory(id: number, h: AlarmHistoryRecord): void {
    this.db
      .prepare('INSERT INTO alarm_history (alarm_id, at, state, by, note, cause, level) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, h.at, h.state, h.by, h.note, h.cause, h.level);
  }

  /** False if it was acknowledged already (the first one stands). */
  acknowledge(id: number, by: string, at: string, note: string | null, responseMs: number): boolean {
    return (
      this.db
        .prepare('UPDATE events SET acked_at = ?, acked_by = ?, ack_note = ?, response_ms = ? WHERE id = ? AND acked_at IS NULL')
        .run(at, by, note, responseMs, id).changes > 0
    );
  }

  /** False if it was cleared already. */
  clear(id: number, by: string, at: string, cause: ClearCause, note: string | null, clearMs: number): boolean {
    return (
      this.db
        .prepare('UPDATE events SET cleared_at = ?, cleared_by = ?, clear_cause = ?, clear_note = ?, clear_ms = ? WHERE id = ? AND cleared_at IS NULL')
        .run(at, by, cause, note, clearMs, id).changes > 0
    );
  }

  escalate(id: number, level: number): void {
    this.db.prepare('UPDATE events SET escalation_level = ? WHERE id = ?').run(level, id);
  }

  /** Counts by kind and by cause, and every response time, of alarms raised in [from, to). */
  stats({ from, to, categories }: { from?: string; to?: string; categories?: readonly string[] }): {
    byKind: Record<string, number>;
    byCause: Record<string, number>;
    responseMs: number[];
    clearMs: number[];
  } {
    const where = [typesIn];
    const params: Record<string, unknown> = {};
    if (from) {
      where.push('at >= @from');
      params.from = from;
    }
    if (to) {
      where.push('at < @to');
      params.to = to;
    }
    categoriesIn(categories, where, params);
    const w = where.join(' AND ');
    const byKind = Object.fromEntries(
      (this.db.prepare(`SELECT type, count(*) AS n FROM events WHERE ${w} GROUP BY type ORDER BY type`).all(params) as { type: string; n: number }[]).map(
        (r) => [r.type, r.n],
      ),
    );
    const byCause = Object.fromEntries(
      (
        this.db
          .prepare(`SELECT clear_cause AS cause, count(*) AS n FROM events WHERE ${w} AND clear_cause IS NOT NULL GROUP BY clear_cause ORDER BY clear_cause`)
          .all(params) as {
          cause: string;
          n: number;
        }[]
      ).map((r) => [r.cause, r.n]),
    );
    const responseMs = this.db
      .prepare(`SELECT response_ms FROM events WHERE ${w} AND response_ms IS NOT NULL ORDER BY response_ms`)
      .pluck(true)
      .all(params) as number[];
    const clearMs = this.db.prepare(`SELECT clear_ms FROM events WHERE ${w} AND clear_ms IS NOT NULL ORDER BY clear_ms`).pluck(true).all(params) as number[];
    return { byKind, byCause, responseMs, clearMs };
  }
}
