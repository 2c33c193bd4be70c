// Registers for the managers' API: paged, filtered lists of people and grants, credential
// summaries (never a PIN hash or an OTP seed), training and pledge lists, grant approval and review
// updates, and the access holders for the ledger. The door flow keeps using PeopleStore; this only
// adds what the API needs on the same tables.
import type { Db } from './db.js';
import type { Credential, Person } from './people.js';

export interface Paging {
  limit: number;
  offset: number;
}

export interface PersonFilter extends Paging {
  status?: Person['status'];
  kind?: Person['kind'];
  /** Part of the name or the affiliation (ASCII letters compared case-insensitively). */
  q?: string;
}

/** A credential as the API shows it: `value` only for cards and biometric references. */
export interface CredentialSummary {
  id: number;
  personId: string;
  kind: Credential['kind'];
  use: Credential['use'];
  status: Credential['status'];
  createdAt: string;
  value: string | null;
}

export interface TrainingRecord {
  id: number;
  personId: string;
  completedAt: string;
  course: string;
  recordedBy: string;
  recordedAt: string;
}

export interface PledgeRecord {
  id: number;
  personId: string;
  signedAt: string;
  document: string;
  withdrawnAt: string | null;
  recordedBy: string;
  recordedAt: string;
}

/** A grant with everything the registers show, its state derived: revoked wins over pending/active. */
export interface GrantRecord {
  id: number;
  personId: string;
  personName: string;
  areaId: string;
  validFrom: string;
  validUntil: string | null;
  purpose: string;
  outOfHours: boolean;
  reviewBy: string | null;
  status: 'pending' | 'active' | 'revoked';
  grantedBy: string;
  grantedAt: string;
  approvedBy: string | null;
  approvedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  reviewedAt: string | null;
  reviewedBy: string | null;
}

export interface GrantFilter extends Paging {
  personId?: string;
  areaId?: string;
  status?: GrantRecord['status'];
  /** Only grants past their review-by date and not revoked (as of `now`). */
  reviewDue?: boolean;
  now: string;
}

const PERSON_COLUMNS = 'id, kind, number, name, affiliation, title, roles, status';
type PersonRow = Omit<Person, 'roles'> & { roles: string };
const toPerson = (r: PersonRow): Person => ({ ...r, roles: JSON.parse(r.roles) as string[] });

const GRANT_SELECT = `SELECT g.id, g.person_id AS personId, p.name AS personName, g.area_id AS areaId, g.valid_from AS validFrom,
  g.valid_until AS validUntil, g.purpose, g.out_of_hours AS outOfHours, g.review_by AS reviewBy,
  CASE WHEN g.revoked_at IS NOT NULL THEN 'revoked' ELSE g.status END AS status,
  g.granted_by AS grantedBy, g.granted_at AS grantedAt, g.approved_by AS approvedBy, g.approved_at AS approvedAt,
  g.revoked_at AS revokedAt, g.revoked_by AS revokedBy, g.reviewed_at AS reviewedAt, g.reviewed_by AS reviewedBy
  FROM grants g JOIN people p ON p.id = g.person_id`;
type GrantRow = Omit<GrantRecord, 'outOfHours'> & { outOfHours: number };
const toGrant = (r: GrantRow): GrantRecord => ({ ...r, outOfHours: r.outOfHours === 1 });

const CREDENTIAL_SELECT = `SELECT id, person_id AS personId, kind, use, status, created_at AS createdAt,
  CASE WHEN kind IN ('card', 'bio') THEN value ELSE NULL END AS value FROM credentials`;

export class Registers {
  constructor(private readonly db: Db) {}

  // People

  people(f: PersonFilter): { items: Person[]; total: number } {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: f.limit, offset: f.offset };
    if (f.status) { where.push('status = @status'); params.status = f.status; }
    if (f.kind) { where.push('kind = @kind'); params.kind = f.kind; }
    if (f.q) { where.push('(instr(lower(name), lower(@q)) > 0 OR instr(lower(affiliation), lower(@q)) > 0)'); params.q = f.q; }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM people ${clause}`).get(params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT ${PERSON_COLUMNS} FROM people ${clause} ORDER BY name, id LIMIT @limit OFFSET @offset`).all(params) as PersonRow[];
    return { items: rows.map(toPerson), total };
  }

  personByNumber(number: number): Person | undefined {
    const row = this.db.prepare(`SELECT ${PERSON_COLUMNS} FROM people WHERE number = ?`).get(number) as PersonRow | undefined;
    return row ? toPerson(row) : undefined;
  }

  /** Changes the given fields only. */
  updatePerson(id: string, fields: Partial<Pick<Person, 'name' | 'affiliation' | 'title' | 'status' | 'roles' | 'number'>>): void {
    const sets: string[] = [];
    const params: Record<string, unknown> = { id };
    for (const key of ['name', 'affiliation', 'title', 'status', 'number'] as const) {
      if (fields[key] !== undefined) { sets.push(`${key} = @${key}`); params[key] = fields[key]; }
    }
    if (fields.roles !== undefined) { sets.push('roles = @roles'); params.roles = JSON.stringify(fields.roles); }
    if (sets.length) this.db.prepare(`UPDATE people SET ${sets.join(', ')} WHERE id = @id`).run(params);
  }

  // Credentials

  credentialsOf(personId: string, f?: Paging): { items: CredentialSummary[]; total: number } {
    const total = (this.db.prepare('SELECT count(*) AS n FROM credentials WHERE person_id = ?').get(personId) as { n: number }).n;
    const items = f
      ? this.db.prepare(`${CREDENTIAL_SELECT} WHERE person_id = ? ORDER BY id LIMIT ? OFFSET ?`).all(personId, f.limit, f.offset)
      : this.db.prepare(`${CREDENTIAL_SELECT} WHERE person_id = ? ORDER BY id`).all(personId);
    return { items: items as CredentialSummary[], total };
  }

  credential(id: number): CredentialSummary | undefined {
    return this.db.prepare(`${CREDENTIAL_SELECT} WHERE id = ?`).get(id) as CredentialSummary | undefined;
  }

  /** Revokes a person's active (or suspended) credentials of one kind (and use): a new PIN or seed replaces them. */
  revokeCredentialsOf(personId: string, kind: Credential['kind'], use?: Credential['use']): number {
    return this.db
      .prepare(`UPDATE credentials SET status = 'revoked' WHERE person_id = ? AND kind = ? AND status != 'revoked' ${use ? 'AND use = ?' : ''}`)
      .run(...(use ? [personId, kind, use] : [personId, kind])).changes;
  }

  // Training and pledges

  trainingsOf(personId: string, f: Paging): { items: TrainingRecord[]; total: number } {
    const total = (this.db.prepare('SELECT count(*) AS n FROM trainings WHERE person_id = ?').get(personId) as { n: number }).n;
    const items = this.db.prepare(`SELECT id, person_id AS personId, completed_at AS completedAt, course, recorded_by AS recordedBy, recorded_at AS recordedAt
      FROM trainings WHERE person_id = ? ORDER BY completed_at DESC, id DESC LIMIT ? OFFSET ?`).all(personId, f.limit, f.offset) as TrainingRecord[];
    return { items, total };
  }

  pledgesOf(personId: string, f: Paging): { items: PledgeRecord[]; total: number } {
    const total = (this.db.prepare('SELECT count(*) AS n FROM pledges WHERE person_id = ?').get(personId) as { n: number }).n;
    const items = this.db.prepare(`SELECT id, person_id AS personId, signed_at AS signedAt, document, withdrawn_at AS withdrawnAt, recorded_by AS recordedBy, recorded_at AS recordedAt
      FROM pledges WHERE person_id = ? ORDER BY signed_at DESC, id DESC LIMIT ? OFFSET ?`).all(personId, f.limit, f.offset) as PledgeRecord[];
    return { items, total };
  }

  /** The row id of the last insert on this connection (inside the same transaction). */
  lastInsertRowid(): number {
    return (this.db.prepare('SELECT last_insert_rowid() AS id').get() as { id: number }).id;
  }

  training(id: number): TrainingRecord | undefined {
    return this.db.prepare(`SELECT id, person_id AS personId, completed_at AS completedAt, course, recorded_by AS recordedBy, recorded_at AS recordedAt
      FROM trainings WHERE id = ?`).get(id) as TrainingRecord | undefined;
  }

  pledge(id: number): PledgeRecord | undefined {
    return this.db.prepare(`SELECT id, person_id AS personId, signed_at AS signedAt, document, withdrawn_at AS withdrawnAt, recorded_by AS recordedBy, recorded_at AS recordedAt
      FROM pledges WHERE id = ?`).get(id) as PledgeRecord | undefined;
  }

  // Grants

  grant(id: number): GrantRecord | undefined {
    const row = this.db.prepare(`${GRANT_SELECT} WHERE g.id = ?`).get(id) as GrantRow | undefined;
    return row ? toGrant(row) : undefined;
  }

  grants(f: GrantFilter): { items: GrantRecord[]; total: number } {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: f.limit, offset: f.offset };
    if (f.personId) { where.push('g.person_id = @personId'); params.personId = f.personId; }
    if (f.areaId) { where.push('g.area_id = @areaId'); params.areaId = f.areaId; }
    if (f.status === 'revoked') where.push('g.revoked_at IS NOT NULL');
    else if (f.status) { where.push('g.revoked_at IS NULL AND g.status = @status'); params.status = f.status; }
    if (f.reviewDue) { where.push('g.revoked_at IS NULL AND g.review_by IS NOT NULL AND g.review_by <= @now'); params.now = f.now; }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const order = f.reviewDue ? 'g.review_by, g.id' : 'g.id';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM grants g ${clause}`).get(params) as { n: number }).n;
    const rows = this.db.prepare(`${GRANT_SELECT} ${clause} ORDER BY ${order} LIMIT @limit OFFSET @offset`).all(params) as GrantRow[];
    return { items: rows.map(toGrant), total };
  }

  /** A pending, unrevoked grant becomes active. False when it was not pending (any more). */
  approveGrant(id: number, by: string, at: string): boolean {
    return this.db
      .prepare("UPDATE grants SET status = 'active', approved_by = ?, approved_at = ? WHERE id = ? AND status = 'pending' AND revoked_at IS NULL")
      .run(by, at, id).changes > 0;
  }

  /** A review that keeps the grant: who reviewed it, when, and when it is due again. */
  confirmReview(id: number, by: string, at: string, nextReviewBy: string): boolean {
    return this.db
      .prepare('UPDATE grants SET reviewed_at = ?, reviewed_by = ?, review_by = ? WHERE id = ? AND revoked_at IS NULL')
      .run(at, by, nextReviewBy, id).changes > 0;
  }

  /** Marks a grant reviewed (its review ended it; the caller revokes it in the same transaction). */
  markReviewed(id: number, by: string, at: string): void {
    this.db.prepare('UPDATE grants SET reviewed_at = ?, reviewed_by = ? WHERE id = ?').run(at, by, id);
  }

  /** Access holders: staff with at least one unrevoked grant, by name, with those grants by area. */
  accessHolders(): { person: Person; grants: GrantRecord[] }[] {
    const rows = this.db.prepare(`${GRANT_SELECT} WHERE g.revoked_at IS NULL AND p.kind = 'staff' ORDER BY p.name, p.id, g.area_id, g.id`).all() as GrantRow[];
    const byPerson = new Map<string, GrantRecord[]>();
    for (const r of rows) {
      const list = byPerson.get(r.personId) ?? [];
      list.push(toGrant(r));
      byPerson.set(r.personId, list);
    }
    const person = this.db.prepare(`SELECT ${PERSON_COLUMNS} FROM people WHERE id = ?`);
    return [...byPerson].map(([id, grants]) => ({ person: toPerson(person.get(id) as PersonRow), grants }));
  }
}
