// Completed security trainings and signed confidentiality pledges: an access holder needs a current
// training (within the site's validity period) and a pledge on file to enter a restricted area.
import type { Db } from './db.js';
import type { Paging } from './paging.js';

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

const TRAINING_SELECT =
  'SELECT id, person_id AS personId, completed_at AS completedAt, course, recorded_by AS recordedBy, recorded_at AS recordedAt FROM trainings';
const PLEDGE_SELECT = `SELECT id, person_id AS personId, signed_at AS signedAt, document, withdrawn_at AS withdrawnAt, recorded_by AS recordedBy,
  recorded_at AS recordedAt FROM pledges`;

export class TrainingRepository {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      last: db.prepare('SELECT max(completed_at) AS at FROM trainings WHERE person_id = ?').pluck(),
      byId: db.prepare(`${TRAINING_SELECT} WHERE id = ?`),
    };
  }

  /** When the person last completed a training, or null. */
  lastAt(personId: string): string | null {
    return this.q.last.get(personId) as string | null;
  }

  add(personId: string, completedAt: string, course = '', recordedBy = ''): TrainingRecord {
    const info = this.db
      .prepare('INSERT INTO trainings (person_id, completed_at, course, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?)')
      .run(personId, completedAt, course, recordedBy, new Date().toISOString());
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): TrainingRecord | undefined {
    return this.q.byId.get(id) as TrainingRecord | undefined;
  }

  /** Newest first. */
  listOf(personId: string, f: Paging): { items: TrainingRecord[]; total: number } {
    const total = this.db.prepare('SELECT count(*) FROM trainings WHERE person_id = ?').pluck().get(personId) as number;
    const items = this.db
      .prepare(`${TRAINING_SELECT} WHERE person_id = ? ORDER BY completed_at DESC, id DESC LIMIT ? OFFSET ?`)
      .all(personId, f.limit, f.offset) as TrainingRecord[];
    return { items, total };
  }
}

export class PledgeRepository {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      signedAt: db.prepare('SELECT max(signed_at) AS at FROM pledges WHERE person_id = ? AND withdrawn_at IS NULL').pluck(),
      byId: db.prepare(`${PLEDGE_SELECT} WHERE id = ?`),
    };
  }

  /** When the person's latest pledge still in force was signed, or null. */
  signedAt(personId: string): string | null {
    return this.q.signedAt.get(personId) as string | null;
  }

  add(personId: string, signedAt: string, document = '', recordedBy = ''): PledgeRecord {
    const info = this.db
      .prepare('INSERT INTO pledges (person_id, signed_at, document, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?)')
      .run(personId, signedAt, document, recordedBy, new Date().toISOString());
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): PledgeRecord | undefined {
    return this.q.byId.get(id) as PledgeRecord | undefined;
  }

  /** Newest first. */
  listOf(personId: string, f: Paging): { items: PledgeRecord[]; total: number } {
    const total = this.db.prepare('SELECT count(*) FROM pledges WHERE person_id = ?').pluck().get(personId) as number;
    const items = this.db
      .prepare(`${PLEDGE_SELECT} WHERE person_id = ? ORDER BY signed_at DESC, id DESC LIMIT ? OFFSET ?`)
      .all(personId, f.limit, f.offset) as PledgeRecord[];
    return { items, total };
  }
}
