// Visits: a visitor (a people row of kind visitor) with a purpose, a host, the areas, a window,
// a manager's need-to-know approval and the visitor's signed pledge; the register with its status
// filters; and the visitor's badge cards, which the visit's steps suspend, activate and revoke.
import type { Db } from './db.js';
import type { Credential } from './people.js';

export interface Visit {
  id: number;
  visitorId: string;
  purpose: string;
  hostId: string;
  areas: string[];
  validFrom: string;
  validUntil: string;
  approvedBy: string | null;
  approvedAt: string | null;
  pledgeSignedAt: string | null;
  checkedInAt: string | null;
  checkedOutAt: string | null;
  cancelledAt: string | null;
  /** When the visitor handed the badge back at the desk (null: not returned, or none issued). */
  badgeReturnedAt: string | null;
}

const COLUMNS = `id, visitor_id AS visitorId, purpose, host_id AS hostId, areas, valid_from AS validFrom, valid_until AS validUntil,
  approved_by AS approvedBy, approved_at AS approvedAt, pledge_signed_at AS pledgeSignedAt, checked_in_at AS checkedInAt,
  checked_out_at AS checkedOutAt, cancelled_at AS cancelledAt, badge_returned_at AS badgeReturnedAt`;
type Row = Omit<Visit, 'areas'> & { areas: string };
const toVisit = (r: Row): Visit => ({ ...r, areas: JSON.parse(r.areas) as string[] });

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
  v.badge_returned_at AS badgeReturnedAt, v.created_by AS createdBy, v.created_at AS createdAt
  FROM visits v JOIN people p ON p.id = v.visitor_id LEFT JOIN people h ON h.id = v.host_id`;

const STATUS_SQL: Record<VisitStatus, string> = {
  ended: '(v.cancelled_at IS NOT NULL OR v.checked_out_at IS NOT NULL OR (v.checked_in_at IS NULL AND v.valid_until <= @now))',
  current: '(v.cancelled_at IS NULL AND v.checked_out_at IS NULL AND (v.checked_in_at IS NOT NULL OR (v.valid_from <= @now AND v.valid_until > @now)))',
  upcoming: '(v.cancelled_at IS NULL AND v.checked_out_at IS NULL AND v.checked_in_at IS NULL AND v.valid_from > @now)',
};

type RecordRow = Omit<VisitRecord, 'areas'> & { areas: string };
const toRecord = (r: RecordRow): VisitRecord => ({ ...r, areas: JSON.parse(r.areas) as string[] });

/** The same rule as STATUS_SQL, for one visit in hand. Times are compared as instants. */
export function visitStatus(v: Pick<VisitRecord, 'validFrom' | 'validUntil' | 'checkedInAt' | 'checkedOutAt' | 'cancelledAt'>, now: Date): VisitStatus {
  const t = now.getTime();
  if (v.cancelledAt || v.checkedOutAt) return 'ended';
  if (v.checkedInAt) return 'current';
  if (Date.parse(v.validUntil) <= t) return 'ended';
  return Date.parse(v.validFrom) <= t ? 'current' : 'upcoming';
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

export class VisitStore {
  private readonly ofVisitor;
  constructor(private readonly db: Db) {
    this.ofVisitor = db.prepare(`SELECT ${COLUMNS} FROM visits WHERE visitor_id = ? ORDER BY id`);
  }

  visitsOf(visitorId: string): Visit[] {
    return (this.ofVisitor.all(visitorId) as Row[]).map(toVisit);
  }

  get(id: number): Visit | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM visits WHERE id = ?`).get(id) as Row | undefined;
    return row ? toVisit(row) : undefined;
  }

  add(v: { visitorId: string; purpose: string; hostId: string; areas: string[]; validFrom: string; validUntil: string; createdBy?: string }): Visit {
    const info = this.db
      .prepare(`INSERT INTO visits (visitor_id, purpose, host_id, areas, valid_from, valid_until, created_by, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(v.visitorId, v.purpose, v.hostId, JSON.stringify(v.areas), v.validFrom, v.validUntil, v.createdBy ?? '', new Date().toISOString());
    return this.get(Number(info.lastInsertRowid))!;
  }

  approve(id: number, by: string, at = new Date().toISOString()): void {
    this.db.prepare('UPDATE visits SET approved_by = ?, approved_at = ? WHERE id = ?').run(by, at, id);
  }

  recordPledge(id: number, signedAt: string): void {
    this.db.prepare('UPDATE visits SET pledge_signed_at = ? WHERE id = ?').run(signedAt, id);
  }

  checkIn(id: number, at = new Date().toISOString()): void {
    this.db.prepare('UPDATE visits SET checked_in_at = ? WHERE id = ?').run(at, id);
  }

  checkOut(id: number, at = new Date().toISOString()): void {
    this.db.prepare('UPDATE visits SET checked_out_at = ? WHERE id = ?').run(at, id);
  }

  cancel(id: number, at = new Date().toISOString()): void {
    this.db.prepare('UPDATE visits SET cancelled_at = ? WHERE id = ?').run(at, id);
  }

  /** The badge handed back (`at`), or null when a badge is issued again. */
  setBadgeReturned(id: number, at: string | null): void {
    this.db.prepare('UPDATE visits SET badge_returned_at = ? WHERE id = ?').run(at, id);
  }

  /** A visit with the names the register shows beside it. */
  record(id: number): VisitRecord | undefined {
    const row = this.db.prepare(`${VISIT_SELECT} WHERE v.id = ?`).get(id) as RecordRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Visits matching the filter, newest window first. `now` decides the status (ISO, as stored: UTC with "Z"). */
  list(filter: VisitFilter, now: string, page: { limit: number; offset: number }): { items: VisitRecord[]; total: number } {
    const where: string[] = [];
    const params: Record<string, unknown> = { now };
    if (filter.status) where.push(STATUS_SQL[filter.status]);
    if (filter.hostId) {
      where.push('v.host_id = @hostId');
      params.hostId = filter.hostId;
    }
    if (filter.visitorId) {
      where.push('v.visitor_id = @visitorId');
      params.visitorId = filter.visitorId;
    }
    if (filter.overlaps) {
      where.push('v.valid_from < @overlapTo AND v.valid_until > @overlapFrom');
      params.overlapFrom = filter.overlaps.from;
      params.overlapTo = filter.overlaps.to;
    }
    if (filter.areaId) {
      where.push('EXISTS (SELECT 1 FROM json_each(v.areas) WHERE value = @areaId)');
      params.areaId = filter.areaId;
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = this.db.prepare(`SELECT count(*) FROM visits v ${clause}`).pluck(true).get(params) as number;
    const rows = this.db
      .prepare(`${VISIT_SELECT} ${clause} ORDER BY v.valid_from DESC, v.id DESC LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit: page.limit, offset: page.offset }) as RecordRow[];
    return { items: rows.map(toRecord), total };
  }

  /** Every card of a visitor, newest first, whatever its status. */
  cardsOf(personId: string): Pick<Credential, 'id' | 'value' | 'status'>[] {
    return this.db.prepare("SELECT id, value, status FROM credentials WHERE person_id = ? AND kind = 'card' ORDER BY id DESC").all(personId) as Pick<
      Credential,
      'id' | 'value' | 'status'
    >[];
  }

  /** Sets the status of every card of a visitor that is in one of `from`; returns how many changed. */
  setCardsStatus(personId: string, from: Credential['status'][], to: Credential['status']): number {
    const placeholders = from.map(() => '?').join(', ');
    return this.db.prepare(`UPDATE credentials SET status = ? WHERE person_id = ? AND kind = 'card' AND status IN (${placeholders})`).run(to, personId, ...from)
      .changes;
  }
}
