// The outbox: messages for a receiver outside the box (a webhook), written when what they carry
// happened and kept until delivered, so a receiver that is down for an hour misses nothing. Rows
// leave when delivered or when they are past their target's keep time: the table stays bounded.
import type { Db } from './db.js';

export interface OutboxMessage {
  id: number;
  /** Who it is for (a webhook's id). */
  target: string;
  /** The receiver's idempotency key: the same for every attempt. */
  messageId: string;
  type: string;
  /** The exact body sent (JSON text). */
  payload: string;
  createdAt: string;
  attempts: number;
  /** ms since the Unix epoch. */
  nextAttemptAt: number;
  lastError: string | null;
}

interface Row {
  id: number;
  target: string;
  message_id: string;
  type: string;
  payload: string;
  created_at: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
}

const toMessage = (r: Row): OutboxMessage => ({
  id: r.id,
  target: r.target,
  messageId: r.message_id,
  type: r.type,
  payload: r.payload,
  createdAt: r.created_at,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
});

export class Outbox {
  constructor(private readonly db: Db) {}

  add(m: Pick<OutboxMessage, 'target' | 'messageId' | 'type' | 'payload' | 'createdAt' | 'nextAttemptAt'>): OutboxMessage {
    const info = this.db
      .prepare('INSERT INTO outbox (target, message_id, type, payload, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(m.target, m.messageId, m.type, m.payload, m.createdAt, m.nextAttemptAt);
    return { ...m, id: Number(info.lastInsertRowid), attempts: 0, lastError: null };
  }

  /** The oldest message still owed to `target`: delivered in order, one at a time. */
  head(target: string): OutboxMessage | undefined {
    const row = this.db.prepare('SELECT * FROM outbox WHERE target = ? ORDER BY id LIMIT 1').get(target) as Row | undefined;
    return row && toMessage(row);
  }

  /** Delivered: the row goes (nothing is kept of a delivered message). */
  delivered(id: number): void {
    this.db.prepare('DELETE FROM outbox WHERE id = ?').run(id);
  }

  failed(id: number, error: string, nextAttemptAt: number): void {
    this.db.prepare('UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?').run(error.slice(0, 500), nextAttemptAt, id);
  }

  /** Drops `target`'s messages created before `before` (ISO): returns how many went. */
  expire(target: string, before: string): number {
    return this.db.prepare('DELETE FROM outbox WHERE target = ? AND created_at < ?').run(target, before).changes;
  }

  /** Drops every message for targets not in `keep` (a webhook removed from the site file). */
  forgetOthers(keep: readonly string[]): number {
    const list = keep.map(() => '?').join(',');
    return this.db.prepare(`DELETE FROM outbox ${keep.length ? `WHERE target NOT IN (${list})` : ''}`).run(...keep).changes;
  }

  /** Messages still owed, by target. */
  pending(): Map<string, number> {
    const rows = this.db.prepare('SELECT target, count(*) AS n FROM outbox GROUP BY target').all() as { target: string; n: number }[];
    return new Map(rows.map((r) => [r.target, r.n]));
  }
}
