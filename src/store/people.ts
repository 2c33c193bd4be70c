// Access holders, their credentials and their grants. Every read goes to SQLite: a revocation
// applies to the very next card read, with no cache to go stale.
import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';

export interface Person {
  id: string;
  name: string;
  affiliation: string;
  title: string;
  status: 'active' | 'suspended' | 'left';
}

export interface Credential {
  id: number;
  personId: string;
  kind: 'card' | 'pin' | 'otp' | 'bio';
  value: string;
  status: 'active' | 'suspended' | 'revoked';
}

export interface Grant {
  id: number;
  personId: string;
  areaId: string;
  validFrom: string;
  validUntil: string | null;
  purpose: string;
  grantedBy: string;
  grantedAt: string;
  revokedAt: string | null;
}

/** Card numbers arrive in any case and with separators from different readers: compare them canonical. */
export function normaliseCard(value: string): string {
  return value.replace(/[\s:-]/g, '').toUpperCase();
}

export class PeopleStore {
  private readonly credentialByValue;
  private readonly personById;
  private readonly grantsFor;

  constructor(private readonly db: Db) {
    this.credentialByValue = db.prepare(
      'SELECT id, person_id AS personId, kind, value, status FROM credentials WHERE kind = ? AND value = ?',
    );
    this.personById = db.prepare('SELECT id, name, affiliation, title, status FROM people WHERE id = ?');
    this.grantsFor = db.prepare(`SELECT id, person_id AS personId, area_id AS areaId, valid_from AS validFrom,
      valid_until AS validUntil, purpose, granted_by AS grantedBy, granted_at AS grantedAt, revoked_at AS revokedAt
      FROM grants WHERE person_id = ? AND area_id = ? AND revoked_at IS NULL ORDER BY id`);
  }

  findCredential(kind: Credential['kind'], value: string): Credential | undefined {
    const v = kind === 'card' ? normaliseCard(value) : value;
    return this.credentialByValue.get(kind, v) as Credential | undefined;
  }

  person(id: string): Person | undefined {
    return this.personById.get(id) as Person | undefined;
  }

  /** Unrevoked grants of one person for one area; validity windows are the policy's to judge. */
  grants(personId: string, areaId: string): Grant[] {
    return this.grantsFor.all(personId, areaId) as Grant[];
  }

  addPerson(p: { id?: string; name: string; affiliation?: string; title?: string }): Person {
    const person: Person = { id: p.id ?? randomUUID(), name: p.name, affiliation: p.affiliation ?? '', title: p.title ?? '', status: 'active' };
    this.db
      .prepare('INSERT INTO people (id, name, affiliation, title, status, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(person.id, person.name, person.affiliation, person.title, person.status, new Date().toISOString());
    return person;
  }

  addCredential(personId: string, kind: Credential['kind'], value: string): Credential {
    const v = kind === 'card' ? normaliseCard(value) : value;
    const info = this.db
      .prepare('INSERT INTO credentials (person_id, kind, value, status, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(personId, kind, v, 'active', new Date().toISOString());
    return { id: Number(info.lastInsertRowid), personId, kind, value: v, status: 'active' };
  }

  setCredentialStatus(id: number, status: Credential['status']): void {
    this.db.prepare('UPDATE credentials SET status = ? WHERE id = ?').run(status, id);
  }

  addGrant(g: { personId: string; areaId: string; validFrom?: string; validUntil?: string | null; purpose?: string; grantedBy?: string }): Grant {
    const now = new Date().toISOString();
    const grant = {
      personId: g.personId, areaId: g.areaId, validFrom: g.validFrom ?? now, validUntil: g.validUntil ?? null,
      purpose: g.purpose ?? '', grantedBy: g.grantedBy ?? '', grantedAt: now, revokedAt: null,
    };
    const info = this.db
      .prepare(`INSERT INTO grants (person_id, area_id, valid_from, valid_until, purpose, granted_by, granted_at)
        VALUES (@personId, @areaId, @validFrom, @validUntil, @purpose, @grantedBy, @grantedAt)`)
      .run(grant);
    return { id: Number(info.lastInsertRowid), ...grant };
  }

  revokeGrant(id: number): boolean {
    return this.db.prepare('UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), id).changes > 0;
  }
}
