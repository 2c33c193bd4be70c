// Read-side queries for the API that the feature stores do not need: the visit register with its
// status filters, the event list with acknowledgements, the visitors' cards.
import type { Db } from './db.js';
import type { Credential } from './people.js';
import type { StoredEvent } from './events.js';
import type { Visit } from './visits.js';

// ---------------------------------------------------------------------------------------------
// Visits

/** A visit with the names the register shows beside it. */
export interface VisitRecord extends Visit {
  visitorName: string;
  visitorAffiliation: string;
  hostName: string | null;
  createdBy: string;
  createdAt: string;
}

/**
 * Where a visit stands at a moment (the three partition every visit):
 * - ended: cancelled, checked out, or its window is over and the visitor never checked in;
 * - current: not ended, and either checked in (an overstay past the window is still current: the
 *   visitor is on the premises until checked out) or inside its window;
 * - upcoming: not ended, not checked in, the window not yet begun.
 */
export type VisitStatus = 'upcoming' | 'current' | 'ended';

const VISIT_SELECT = `SELECT v.id, v.visitor_id AS visitorId, p.name AS visitorName, p.affiliation AS visitorAffiliation, v.purpose,
  v.host_id AS hostId, h.name AS hostName, v.areas, v.valid_from AS validFrom, v.valid_until AS validUntil,
  v.approved_by AS approvedBy, v.approved_at AS approvedAt, v.pledge_signed_at AS pledgeSignedAt,
  v.checked_in_at AS checkedInAt, v.checked_out_at AS checkedOutAt, v.cancelled_at AS cancelledAt,
  v.created_by AS createdBy, v.created_at AS createdAt
  FROM visits v JOIN people p ON p.id = v.visitor_id LEFT JOIN people h ON h.id = v.host_id`;

const STATUS_SQL: Record<VisitStatus, string> = {
  ended: '(v.cancelled_at IS NOT NULL OR v.checked_out_at IS NOT NULL OR (v.checked_in_at IS NULL AND v.valid_until <= @now))',
  current: '(v.cancelled_at IS NULL AND v.checked_out_at IS NULL AND (v.checked_in_at IS NOT NULL OR (v.valid_from <= @now AND v.valid_until > @now)))',
  upcoming: '(v.cancelled_at IS NULL AND v.checked_out_at IS NULL AND v.checked_in_at IS NULL AND v.valid_from > @now)',
};

type VisitRow = Omit<VisitRecord, 'areas'> & { areas: string };
const toVisit = (r: VisitRow): VisitRecord => ({ ...r, areas: JSON.parse(r.areas) as string[] });

/** The same rule as STATUS_SQL, for one visit in hand. Times are compared as instants. */
export function visitStatus(v: Pick<VisitRecord, 'validFrom' | 'validUntil' | 'checkedInAt' | 'checkedOutAt' | 'cancelledAt'>, now: Date): VisitStatus {
  const t = now.getTime();
  if (v.cancelledAt || v.checkedOutAt) return 'ended';
  if (v.checkedInAt) return 'current';
  if (Date.parse(v.validUntil) <= t) return 'ended';
  return Date.parse(v.validFrom) <= t ? 'current' : 'upcoming';
}

export function visitById(db: Db, id: number): VisitRecord | undefined {
  const row = db.prepare(`${VISIT_SELECT} WHERE v.id = ?`).get(id) as VisitRow | undefined;
  return row ? toVisit(row) : undefined;
}

export interface VisitFilter {
  status?: VisitStatus;
  hostId?: string;
  visitorId?: string;
  /** Visits whose window overlaps this UTC range [from, to) (ISO, as stored). */
  overlaps?: { from: string; to: string };
  /** Visits that may enter this area. */
  areaId?: string;
}

/** Visits matching the filter, newest window first. `now` decides the status (ISO, as stored: UTC with "Z"). */
export function listVisits(db: Db, filter: VisitFilter, now: string, page: { limit: number; offset: number }): { items: VisitRecord[]; total: number } {
  const where: string[] = [];
  const params: Record<string, unknown> = { now };
  if (filter.status) where.push(STATUS_SQL[filter.status]);
  if (filter.hostId) { where.push('v.host_id = @hostId'); params.hostId = filter.hostId; }
  if (filter.visitorId) { where.push('v.visitor_id = @visitorId'); params.visitorId = filter.visitorId; }
  if (filter.overlaps) {
    where.push('v.valid_from < @overlapTo AND v.valid_until > @overlapFrom');
    params.overlapFrom = filter.overlaps.from;
    params.overlapTo = filter.overlaps.to;
  }
  if (filter.areaId) { where.push('EXISTS (SELECT 1 FROM json_each(v.areas) WHERE value = @areaId)'); params.areaId = filter.areaId; }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const total = (db.prepare(`SELECT count(*) FROM visits v ${clause}`).pluck(true).get(params) as number);
  const rows = db.prepare(`${VISIT_SELECT} ${clause} ORDER BY v.valid_from DESC, v.id DESC LIMIT @limit OFFSET @offset`)
    .all({ ...params, limit: page.limit, offset: page.offset }) as VisitRow[];
  return { items: rows.map(toVisit), total };
}

/** Every card of a person, newest first, whatever its status. */
export function cardsOf(db: Db, personId: string): Pick<Credential, 'id' | 'value' | 'status'>[] {
  return db.prepare("SELECT id, value, status FROM credentials WHERE person_id = ? AND kind = 'card' ORDER BY id DESC").all(personId) as Pick<Credential, 'id' | 'value' | 'status'>[];
}

/** Sets the status of every card of a person that is in one of `from`; returns how many changed. */
export function setCardsStatus(db: Db, personId: string, from: Credential['status'][], to: Credential['status']): number {
  const placeholders = from.map(() => '?').join(', ');
  return db.prepare(`UPDATE credentials SET status = ? WHERE person_id = ? AND kind = 'card' AND status IN (${placeholders})`).run(to, personId, ...from).changes;
}

// ---------------------------------------------------------------------------------------------
// Events

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

/** Events newest first, one page; `nextBefore` is the cursor for the next (older) page. */
export function queryEvents(db: Db, f: EventFilter): { items: EventRecord[]; nextBefore: number | null } {
  if (f.categories && f.categories.length === 0) return { items: [], nextBefore: null };
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: f.limit + 1 };
  if (f.type) { where.push('type = @type'); params.type = f.type; }
  if (f.categories) {
    where.push(`category IN (${f.categories.map((_, i) => `@c${i}`).join(', ')})`);
    f.categories.forEach((c, i) => (params[`c${i}`] = c));
  }
  if (f.severity) { where.push('severity = @severity'); params.severity = f.severity; }
  if (f.source) { where.push('source = @source'); params.source = f.source; }
  if (f.open) where.push("severity = 'alarm' AND acked_at IS NULL");
  if (f.from) { where.push('at >= @from'); params.from = f.from; }
  if (f.to) { where.push('at < @to'); params.to = f.to; }
  if (f.before !== undefined) { where.push('id < @before'); params.before = f.before; }
  const rows = db.prepare(`${EVENT_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`).all(params) as EventRow[];
  const more = rows.length > f.limit;
  if (more) rows.pop();
  return { items: rows.map(toEvent), nextBefore: more ? rows[rows.length - 1]!.id : null };
}

export function eventById(db: Db, id: number): EventRecord | undefined {
  const row = db.prepare(`${EVENT_SELECT} WHERE id = ?`).get(id) as EventRow | undefined;
  return row ? toEvent(row) : undefined;
}

/** Records who acknowledged an event; false if it was acknowledged already (the first one stands). */
export function ackEvent(db: Db, id: number, by: string, at: string, note: string | null): boolean {
  return db.prepare('UPDATE events SET acked_at = ?, acked_by = ?, ack_note = ? WHERE id = ? AND acked_at IS NULL').run(at, by, note, id).changes > 0;
}

/** Alarms (severity alarm) not acknowledged yet. */
export function openAlarmCount(db: Db): number {
  return db.prepare("SELECT count(*) FROM events WHERE severity = 'alarm' AND acked_at IS NULL").pluck(true).get() as number;
}

// ---------------------------------------------------------------------------------------------
// Entry log

/** Records the entry log holds now (after pruning, fewer than the head's seq): from the primary key, no scan. */
export function entryLogRows(db: Db): number {
  const r = db.prepare('SELECT min(seq) AS lo, max(seq) AS hi FROM entry_log').get() as { lo: number | null; hi: number | null };
  return r.lo === null || r.hi === null ? 0 : r.hi - r.lo + 1;
}
