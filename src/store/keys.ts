// Keys and master keys: the inventory and each loan (who has it, since when, due back when, returned
// when). The rules (who may borrow, a master key's reason) are the service's; this keeps the rows.
import type { KeyOpensKind, MasterKeyReason } from '../policy/vocabulary.js';
import type { Db } from './db.js';

export interface KeyOpens {
  kind: KeyOpensKind;
  id: string;
}

export interface KeyRecord {
  /** The tag stamped on the key. */
  id: string;
  name: string;
  master: boolean;
  opens: KeyOpens[];
  /** Where it is kept (the key cabinet). */
  location: string;
  note: string;
  addedAt: string;
  addedBy: string;
}

export interface KeyLoan {
  id: number;
  keyId: string;
  personId: string;
  lentAt: string;
  lentBy: string;
  dueBackAt: string;
  /** A master key's reason; null for an ordinary key. */
  reason: MasterKeyReason | null;
  note: string;
  returnedAt: string | null;
  returnedBy: string | null;
  /** When its overdue event was raised (once per loan). */
  overdueAt: string | null;
}

interface KeyRow {
  id: string;
  name: string;
  master: number;
  opens: string;
  location: string;
  note: string;
  added_at: string;
  added_by: string;
}

const LOAN_COLUMNS = `id, key_id AS keyId, person_id AS personId, lent_at AS lentAt, lent_by AS lentBy, due_back_at AS dueBackAt,
  reason, note, returned_at AS returnedAt, returned_by AS returnedBy, overdue_at AS overdueAt`;

const toKey = (r: KeyRow): KeyRecord => ({
  id: r.id,
  name: r.name,
  master: r.master === 1,
  opens: JSON.parse(r.opens) as KeyOpens[],
  location: r.location,
  note: r.note,
  addedAt: r.added_at,
  addedBy: r.added_by,
});

export class KeyStore {
  constructor(private readonly db: Db) {}

  add(k: KeyRecord): KeyRecord {
    this.db
      .prepare('INSERT INTO keys (id, name, master, opens, location, note, added_at, added_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(k.id, k.name, k.master ? 1 : 0, JSON.stringify(k.opens), k.location, k.note, k.addedAt, k.addedBy);
    return k;
  }

  get(id: string): KeyRecord | undefined {
    const row = this.db.prepare('SELECT * FROM keys WHERE id = ?').get(id) as KeyRow | undefined;
    return row ? toKey(row) : undefined;
  }

  list(): KeyRecord[] {
    return (this.db.prepare('SELECT * FROM keys ORDER BY id').all() as KeyRow[]).map(toKey);
  }

  lend(l: Omit<KeyLoan, 'id' | 'returnedAt' | 'returnedBy' | 'overdueAt'>): KeyLoan {
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO key_loans (key_id, person_id, lent_at, lent_by, due_back_at, reason, note) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(l.keyId, l.personId, l.lentAt, l.lentBy, l.dueBackAt, l.reason, l.note);
    return this.loan(Number(lastInsertRowid))!;
  }

  loan(id: number): KeyLoan | undefined {
    return this.db.prepare(`SELECT ${LOAN_COLUMNS} FROM key_loans WHERE id = ?`).get(id) as KeyLoan | undefined;
  }

  /** The loan a key is out on, if it is out. */
  outstanding(keyId: string): KeyLoan | undefined {
    return this.db.prepare(`SELECT ${LOAN_COLUMNS} FROM key_loans WHERE key_id = ? AND returned_at IS NULL`).get(keyId) as KeyLoan | undefined;
  }

  /** A key's loans, newest first. */
  loans(keyId: string, limit = 100): KeyLoan[] {
    return this.db.prepare(`SELECT ${LOAN_COLUMNS} FROM key_loans WHERE key_id = ? ORDER BY id DESC LIMIT ?`).all(keyId, limit) as KeyLoan[];
  }

  markReturned(id: number, at: string, by: string): void {
    this.db.prepare('UPDATE key_loans SET returned_at = ?, returned_by = ? WHERE id = ?').run(at, by, id);
  }

  /** Loans out past their due-back time (`now` as a stored ISO time), soonest due first. */
  overdue(now: string): KeyLoan[] {
    return this.db
      .prepare(`SELECT ${LOAN_COLUMNS} FROM key_loans WHERE returned_at IS NULL AND due_back_at <= ? ORDER BY due_back_at, id`)
      .all(now) as KeyLoan[];
  }

  /** Records that a loan's overdue event was raised; false when it already was. */
  markOverdue(id: number, at: string): boolean {
    return this.db.prepare('UPDATE key_loans SET overdue_at = ? WHERE id = ? AND overdue_at IS NULL').run(at, id).changes === 1;
  }
}
