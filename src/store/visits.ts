// Visits: a visitor (a people row of kind visitor) with a purpose, a host, the areas, a window,
// a manager's need-to-know approval and the visitor's signed pledge.
import type { Db } from './db.js';

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
}

const COLUMNS = `id, visitor_id AS visitorId, purpose, host_id AS hostId, areas, valid_from AS validFrom, valid_until AS validUntil,
  approved_by AS approvedBy, approved_at AS approvedAt, pledge_signed_at AS pledgeSignedAt, checked_in_at AS checkedInAt,
  checked_out_at AS checkedOutAt, cancelled_at AS cancelledAt`;
type Row = Omit<Visit, 'areas'> & { areas: string };
const toVisit = (r: Row): Visit => ({ ...r, areas: JSON.parse(r.areas) as string[] });

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
}
