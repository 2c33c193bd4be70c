// Grants: a person's right to enter one area, for a purpose, within a window. The door flow reads
// them fresh for every decision (a revocation applies to the very next read); the services list,
// create, approve, review and revoke them.
import type { GrantStatus } from '../policy/vocabulary.js';
import type { Db } from './db.js';
import type { Paging } from './paging.js';
import type { Person } from './people.js';

/** A grant as recorded, its state derived: revoked wins over pending and active. */
export interface Grant {
  id: number;
  personId: string;
  /** The holder's name, as the registers show it. */
  personName: string;
  areaId: string;
  validFrom: string;
  validUntil: string | null;
  purpose: string;
  outOfHours: boolean;
  reviewBy: string | null;
  status: GrantStatus | 'revoked';
  grantedBy: string;
  grantedAt: string;
  approvedBy: string | null;
  approvedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  reviewedAt: string | null;
  reviewedBy: string | null;
}

/** What the door flow reads of a grant in force (approved, unrevoked): no join, it runs on every read. */
export type GrantInForce = Omit<Grant, 'personName' | 'approvedAt' | 'revokedBy' | 'reviewedAt' | 'reviewedBy'>;

export interface NewGrant {
  personId: string;
  areaId: string;
  validFrom?: string;
  validUntil?: string | null;
  purpose?: string;
  outOfHours?: boolean;
  reviewBy?: string | null;
  /** Pending while it waits for a second person's approval (four-eyes). */
  status?: GrantStatus;
  grantedBy?: string;
}

export interface GrantFilter extends Paging {
  personId?: string;
  areaId?: string;
  status?: Grant['status'];
  /** Only grants past their review-by date and not revoked (as of `now`). */
  reviewDue?: boolean;
  now: string;
}

const IN_FORCE_COLUMNS = `id, person_id AS personId, area_id AS areaId, valid_from AS validFrom, valid_until AS validUntil,
  purpose, out_of_hours AS outOfHours, review_by AS reviewBy, status, granted_by AS grantedBy, granted_at AS grantedAt,
  approved_by AS approvedBy, revoked_at AS revokedAt`;

const GRANT_SELECT = `SELECT g.id, g.person_id AS personId, p.name AS personName, g.area_id AS areaId, g.valid_from AS validFrom,
  g.valid_until AS validUntil, g.purpose, g.out_of_hours AS outOfHours, g.review_by AS reviewBy,
  CASE WHEN g.revoked_at IS NOT NULL THEN 'revoked' ELSE g.status END AS status,
  g.granted_by AS grantedBy, g.granted_at AS grantedAt, g.approved_by AS approvedBy, g.approved_at AS approvedAt,
  g.revoked_at AS revokedAt, g.revoked_by AS revokedBy, g.reviewed_at AS reviewedAt, g.reviewed_by AS reviewedBy
  FROM grants g JOIN people p ON p.id = g.person_id`;

type Row<T extends { outOfHours: boolean }> = Omit<T, 'outOfHours'> & { outOfHours: number };
const fromRow = <T extends { outOfHours: boolean }>(r: Row<T>): T => ({ ...r, outOfHours: r.outOfHours === 1 }) as T;

export class GrantRepository {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      inForce: db.prepare(
        `SELECT ${IN_FORCE_COLUMNS} FROM grants WHERE person_id = ? AND area_id = ? AND revoked_at IS NULL AND status = 'active' ORDER BY id`,
      ),
      byId: db.prepare(`${GRANT_SELECT} WHERE g.id = ?`),
    };
  }

  /** A person's approved, unrevoked grants for one area; validity windows are the policy's to judge. */
  inForce(personId: string, areaId: string): GrantInForce[] {
    return (this.q.inForce.all(personId, areaId) as Row<GrantInForce>[]).map(fromRow);
  }

  get(id: number): Grant | undefined {
    const row = this.q.byId.get(id) as Row<Grant> | undefined;
    return row ? fromRow(row) : undefined;
  }

  list(f: GrantFilter): { items: Grant[]; total: number } {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: f.limit, offset: f.offset };
    if (f.personId) {
      where.push('g.person_id = @personId');
      params.personId = f.personId;
    }
    if (f.areaId) {
      where.push('g.area_id = @areaId');
      params.areaId = f.areaId;
    }
    if (f.status === 'revoked') where.push('g.revoked_at IS NOT NULL');
    else if (f.status) {
      where.push('g.revoked_at IS NULL AND g.status = @status');
      params.status = f.status;
    }
    if (f.reviewDue) {
      where.push('g.revoked_at IS NULL AND g.review_by IS NOT NULL AND g.review_by <= @now');
      params.now = f.now;
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const order = f.reviewDue ? 'g.review_by, g.id' : 'g.id';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM grants g ${clause}`).get(params) as { n: number }).n;
    const rows = this.db.prepare(`${GRANT_SELECT} ${clause} ORDER BY ${order} LIMIT @limit OFFSET @offset`).all(params) as Row<Grant>[];
    return { items: rows.map(fromRow), total };
  }

  /** The ids of a person's unrevoked grants (pending or active). */
  unrevokedOf(personId: string): number[] {
    return this.db.prepare('SELECT id FROM grants WHERE person_id = ? AND revoked_at IS NULL ORDER BY id').pluck().all(personId) as number[];
  }

  add(g: NewGrant): GrantInForce {
    const now = new Date().toISOString();
    const grant = {
      personId: g.personId,
      areaId: g.areaId,
      validFrom: g.validFrom ?? now,
      validUntil: g.validUntil ?? null,
      purpose: g.purpose ?? '',
      outOfHours: g.outOfHours ?? false,
      reviewBy: g.reviewBy ?? null,
      status: g.status ?? 'active',
      grantedBy: g.grantedBy ?? '',
      grantedAt: now,
      approvedBy: null,
      revokedAt: null,
    };
    const info = this.db
      .prepare(`INSERT INTO grants (person_id, area_id, valid_from, valid_until, purpose, out_of_hours, review_by, status, granted_by, granted_at)
        VALUES (@personId, @areaId, @validFrom, @validUntil, @purpose, @outOfHours, @reviewBy, @status, @grantedBy, @grantedAt)`)
      .run({ ...grant, outOfHours: grant.outOfHours ? 1 : 0 });
    return { id: Number(info.lastInsertRowid), ...grant };
  }

  /** False when it was revoked already. */
  revoke(id: number, by = ''): boolean {
    return (
      this.db.prepare('UPDATE grants SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), by, id).changes > 0
    );
  }

  /** A pending, unrevoked grant becomes active. False when it was not pending (any more). */
  approve(id: number, by: string, at: string): boolean {
    return (
      this.db
        .prepare("UPDATE grants SET status = 'active', approved_by = ?, approved_at = ? WHERE id = ? AND status = 'pending' AND revoked_at IS NULL")
        .run(by, at, id).changes > 0
    );
  }

  /** A review that keeps the grant: who reviewed it, when, and when it is due again. */
  confirmReview(id: number, by: string, at: string, nextReviewBy: string): boolean {
    return (
      this.db.prepare('UPDATE grants SET reviewed_at = ?, reviewed_by = ?, review_by = ? WHERE id = ? AND revoked_at IS NULL').run(at, by, nextReviewBy, id)
        .changes > 0
    );
  }

  /** Marks a grant reviewed (its review ended it; the caller revokes it in the same transaction). */
  markReviewed(id: number, by: string, at: string): void {
    this.db.prepare('UPDATE grants SET reviewed_at = ?, reviewed_by = ? WHERE id = ?').run(at, by, id);
  }

  /** Access holders: staff with at least one unrevoked grant, by name, with those grants by area. */
  accessHolders(person: (id: string) => Person | undefined): { person: Person; grants: Grant[] }[] {
    const rows = this.db
      .prepare(`${GRANT_SELECT} WHERE g.revoked_at IS NULL AND p.kind = 'staff' ORDER BY p.name, p.id, g.area_id, g.id`)
      .all() as Row<Grant>[];
    const byPerson = new Map<string, Grant[]>();
    for (const r of rows) {
      const list = byPerson.get(r.personId) ?? [];
      list.push(fromRow(r));
      byPerson.set(r.personId, list);
    }
    return [...byPerson].map(([id, grants]) => ({ person: person(id)!, grants }));
  }
}
