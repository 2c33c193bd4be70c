// People: access holders (staff) and visitors, their standing for the access policy (training,
// pledge, PIN lockout) and their PIN failures. Every read goes to SQLite: a change applies to the
// very next card read, with no cache to go stale. Credentials, grants, trainings and pledges each
// have their own repository (credentials.ts, grants.ts, training.ts).
import { randomUUID } from 'node:crypto';
import type { PersonKind, PersonStatus } from '../policy/vocabulary.js';
import { CredentialRepository, type Credential } from './credentials.js';
import type { Db } from './db.js';
import { GrantRepository, type GrantInForce, type NewGrant } from './grants.js';
import type { Paging } from './paging.js';
import { PledgeRepository, TrainingRepository } from './training.js';

export type { Credential } from './credentials.js';
export { normaliseCard } from './credentials.js';

export interface Person {
  id: string;
  kind: PersonKind;
  number: number | null;
  name: string;
  affiliation: string;
  title: string;
  roles: string[];
  status: PersonStatus;
}

/** What the access policy needs to know about a person beyond their record. */
export interface PersonStanding {
  lastTrainingAt: string | null;
  pledgeSignedAt: string | null;
  lockedOutUntil: string | null;
}

export interface PersonFilter extends Paging {
  status?: PersonStatus;
  kind?: PersonKind;
  /** Part of the name or the affiliation (ASCII letters compared case-insensitively). */
  q?: string;
}

/** The fields of a person a manager may change. */
export type PersonChanges = Partial<Pick<Person, 'name' | 'affiliation' | 'title' | 'status' | 'roles' | 'number'>>;

/** The repositories of a person's other records (the store opens them once and shares them). */
export interface PersonRecords {
  credentials: CredentialRepository;
  grants: GrantRepository;
  trainings: TrainingRepository;
  pledges: PledgeRepository;
}

const PERSON_COLUMNS = 'id, kind, number, name, affiliation, title, roles, status';
type PersonRow = Omit<Person, 'roles'> & { roles: string };
const toPerson = (r: PersonRow): Person => ({ ...r, roles: JSON.parse(r.roles) as string[] });

export class PeopleStore {
  private readonly q;
  private readonly records: PersonRecords;

  constructor(
    private readonly db: Db,
    records?: PersonRecords,
  ) {
    this.records = records ?? {
      credentials: new CredentialRepository(db),
      grants: new GrantRepository(db),
      trainings: new TrainingRepository(db),
      pledges: new PledgeRepository(db),
    };
    this.q = {
      personById: db.prepare(`SELECT ${PERSON_COLUMNS} FROM people WHERE id = ?`),
      personByNumber: db.prepare(`SELECT ${PERSON_COLUMNS} FROM people WHERE number = ?`),
      lockout: db.prepare('SELECT failures, locked_until AS lockedUntil FROM pin_failures WHERE person_id = ?'),
      // One statement for what every decision asks (three lookups, one call into SQLite): the same
      // queries as TrainingRepository.lastAt, PledgeRepository.signedAt and the lockout above.
      standing: db.prepare(`SELECT
        (SELECT max(completed_at) FROM trainings WHERE person_id = @id) AS lastTrainingAt,
        (SELECT max(signed_at) FROM pledges WHERE person_id = @id AND withdrawn_at IS NULL) AS pledgeSignedAt,
        (SELECT locked_until FROM pin_failures WHERE person_id = @id) AS lockedOutUntil`),
    };
  }

  person(id: string): Person | undefined {
    const row = this.q.personById.get(id) as PersonRow | undefined;
    return row ? toPerson(row) : undefined;
  }

  personByNumber(number: number): Person | undefined {
    const row = this.q.personByNumber.get(number) as PersonRow | undefined;
    return row ? toPerson(row) : undefined;
  }

  /** A page of people by name, filtered. */
  list(f: PersonFilter): { items: Person[]; total: number } {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: f.limit, offset: f.offset };
    if (f.status) {
      where.push('status = @status');
      params.status = f.status;
    }
    if (f.kind) {
      where.push('kind = @kind');
      params.kind = f.kind;
    }
    if (f.q) {
      where.push('(instr(lower(name), lower(@q)) > 0 OR instr(lower(affiliation), lower(@q)) > 0)');
      params.q = f.q;
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM people ${clause}`).get(params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT ${PERSON_COLUMNS} FROM people ${clause} ORDER BY name, id LIMIT @limit OFFSET @offset`).all(params) as PersonRow[];
    return { items: rows.map(toPerson), total };
  }

  standing(personId: string): PersonStanding {
    return this.q.standing.get({ id: personId }) as PersonStanding;
  }

  addPerson(p: { id?: string; kind?: PersonKind; number?: number | null; name: string; affiliation?: string; title?: string; roles?: string[] }): Person {
    const person: Person = {
      id: p.id ?? randomUUID(),
      kind: p.kind ?? 'staff',
      number: p.number ?? null,
      name: p.name,
      affiliation: p.affiliation ?? '',
      title: p.title ?? '',
      roles: p.roles ?? [],
      status: 'active',
    };
    this.db
      .prepare('INSERT INTO people (id, kind, number, name, affiliation, title, roles, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        person.id,
        person.kind,
        person.number,
        person.name,
        person.affiliation,
        person.title,
        JSON.stringify(person.roles),
        person.status,
        new Date().toISOString(),
      );
    return person;
  }

  /** Changes the given fields only. */
  updatePerson(id: string, fields: PersonChanges): void {
    const sets: string[] = [];
    const params: Record<string, unknown> = { id };
    for (const key of ['name', 'affiliation', 'title', 'status', 'number'] as const) {
      if (fields[key] !== undefined) {
        sets.push(`${key} = @${key}`);
        params[key] = fields[key];
      }
    }
    if (fields.roles !== undefined) {
      sets.push('roles = @roles');
      params.roles = JSON.stringify(fields.roles);
    }
    if (sets.length) this.db.prepare(`UPDATE people SET ${sets.join(', ')} WHERE id = @id`).run(params);
  }

  setPersonStatus(id: string, status: PersonStatus): void {
    this.updatePerson(id, { status });
  }

  /** Counts a wrong PIN; at `attempts` in a row the person is locked out. Returns the new state. */
  pinFailure(personId: string, attempts: number, lockoutMs: number, now: Date): { failures: number; lockedUntil: string | null } {
    const prev = this.q.lockout.get(personId) as { failures: number } | undefined;
    const failures = (prev?.failures ?? 0) + 1;
    const lockedUntil = failures >= attempts ? new Date(now.getTime() + lockoutMs).toISOString() : null;
    this.db
      .prepare(`INSERT INTO pin_failures (person_id, failures, locked_until) VALUES (?, ?, ?)
      ON CONFLICT(person_id) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until`)
      .run(personId, lockedUntil ? 0 : failures, lockedUntil);
    return { failures, lockedUntil };
  }

  clearPinFailures(personId: string): void {
    this.db.prepare('DELETE FROM pin_failures WHERE person_id = ?').run(personId);
  }

  // The door flow's reads and the test helpers' enrolment, by their first names: each is the
  // repository's own operation (store.credentials, store.grants, store.trainings, store.pledges).

  findCredential(kind: Credential['kind'], value: string): Credential | undefined {
    return this.records.credentials.find(kind, value);
  }

  /** A person's active credentials of one kind (PIN hashes, TOTP seeds in clear, biometric references). */
  credentialsOf(personId: string, kind: Credential['kind']): Credential[] {
    return this.records.credentials.activeOf(personId, kind);
  }

  addCredential(personId: string, kind: Credential['kind'], value: string, use: Credential['use'] = 'normal'): Credential {
    return this.records.credentials.add(personId, kind, value, use);
  }

  setCredentialStatus(id: number, status: Credential['status']): void {
    this.records.credentials.setStatus(id, status);
  }

  useOtpStep(credentialId: number, step: number): boolean {
    return this.records.credentials.useOtpStep(credentialId, step);
  }

  /** Unrevoked, approved grants of one person for one area; validity windows are the policy's to judge. */
  grants(personId: string, areaId: string): GrantInForce[] {
    return this.records.grants.inForce(personId, areaId);
  }

  addGrant(g: NewGrant): GrantInForce {
    return this.records.grants.add(g);
  }

  revokeGrant(id: number, by = ''): boolean {
    return this.records.grants.revoke(id, by);
  }

  addTraining(personId: string, completedAt: string, course = '', recordedBy = ''): void {
    this.records.trainings.add(personId, completedAt, course, recordedBy);
  }

  addPledge(personId: string, signedAt: string, document = '', recordedBy = ''): void {
    this.records.pledges.add(personId, signedAt, document, recordedBy);
  }
}
