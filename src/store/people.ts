// Access holders and visitors, their credentials, training, pledges and grants. Every read goes to
// SQLite: a revocation applies to the very next card read, with no cache to go stale.
import { randomUUID } from 'node:crypto';
import type { Db } from './db.js';
import { openSecretBox, SecretBox, SecretKeyError } from './secret-box.js';
import { rewriteSecurely } from './scrub.js';
import type { CredentialKind, CredentialStatus, CredentialUse, GrantStatus, PersonKind, PersonStatus } from '../policy/vocabulary.js';

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

export interface Credential {
  id: number;
  personId: string;
  kind: CredentialKind;
  value: string;
  use: CredentialUse;
  status: CredentialStatus;
  lastOtpStep: number | null;
}

export interface Grant {
  id: number;
  personId: string;
  areaId: string;
  validFrom: string;
  validUntil: string | null;
  purpose: string;
  outOfHours: boolean;
  reviewBy: string | null;
  status: GrantStatus;
  grantedBy: string;
  grantedAt: string;
  approvedBy: string | null;
  revokedAt: string | null;
}

/** What the access policy needs to know about a person beyond their record. */
export interface PersonStanding {
  lastTrainingAt: string | null;
  pledgeSignedAt: string | null;
  lockedOutUntil: string | null;
}

/** Card numbers arrive in any case and with separators from different readers: compare them canonical. */
export function normaliseCard(value: string): string {
  return value.replace(/[\s:-]/g, '').toUpperCase();
}

const CREDENTIAL_COLUMNS = 'id, person_id AS personId, kind, value, use, status, last_otp_step AS lastOtpStep';
const GRANT_COLUMNS = `id, person_id AS personId, area_id AS areaId, valid_from AS validFrom, valid_until AS validUntil,
  purpose, out_of_hours AS outOfHours, review_by AS reviewBy, status, granted_by AS grantedBy, granted_at AS grantedAt,
  approved_by AS approvedBy, revoked_at AS revokedAt`;

type PersonRow = Omit<Person, 'roles'> & { roles: string };
type GrantRow = Omit<Grant, 'outOfHours'> & { outOfHours: number };

const toPerson = (r: PersonRow): Person => ({ ...r, roles: JSON.parse(r.roles) as string[] });
const toGrant = (r: GrantRow): Grant => ({ ...r, outOfHours: r.outOfHours === 1 });

/** What a door OTP seed is sealed to: its person (a seed copied to someone else does not open). */
const otpContext = (personId: string) => `person-otp:${personId}`;

export class PeopleStore {
  private readonly q;
  /** The secrets key, read when a door OTP seed is first sealed or opened. */
  private box: SecretBox | undefined;

  constructor(private readonly db: Db) {
    this.q = {
      credentialByValue: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE kind = ? AND value = ?`),
      credentialsOf: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE person_id = ? AND kind = ? AND status = 'active'`),
      personById: db.prepare('SELECT id, kind, number, name, affiliation, title, roles, status FROM people WHERE id = ?'),
      personByNumber: db.prepare('SELECT id, kind, number, name, affiliation, title, roles, status FROM people WHERE number = ?'),
      grantsFor: db.prepare(`SELECT ${GRANT_COLUMNS} FROM grants WHERE person_id = ? AND area_id = ? AND revoked_at IS NULL AND status = 'active' ORDER BY id`),
      lastTraining: db.prepare('SELECT max(completed_at) AS at FROM trainings WHERE person_id = ?'),
      pledge: db.prepare('SELECT max(signed_at) AS at FROM pledges WHERE person_id = ? AND withdrawn_at IS NULL'),
      lockout: db.prepare('SELECT failures, locked_until AS lockedUntil FROM pin_failures WHERE person_id = ?'),
    };
    if (!db.readonly) this.sealClearOtpSeeds();
  }

  private secrets(): SecretBox {
    return (this.box ??= openSecretBox(this.db));
  }

  /**
   * Door OTP seeds an older version left in clear are sealed (with secure_delete and a truncated
   * WAL: scrub.ts); every sealed one must open (else no start).
   */
  private sealClearOtpSeeds(): void {
    const rows = this.db.prepare("SELECT id, person_id AS personId, value FROM credentials WHERE kind = 'otp'").all() as { id: number; personId: string; value: string }[];
    if (!rows.length) return;
    const box = this.secrets();
    const clear = rows.filter((r) => !SecretBox.isSealed(r.value));
    for (const r of rows) {
      if (!SecretBox.isSealed(r.value)) continue;
      try {
        box.open(r.value, otpContext(r.personId));
      } catch (err) {
        throw new SecretKeyError(`people's door OTP seeds in the database do not open with the data directory's secrets-key (${(err as Error).message}); put back the key kept with this database`);
      }
    }
    if (!clear.length) return;
    rewriteSecurely(this.db, () => {
      for (const r of clear) this.db.prepare('UPDATE credentials SET value = ? WHERE id = ?').run(box.seal(r.value, otpContext(r.personId)), r.id);
    });
  }

  findCredential(kind: Credential['kind'], value: string): Credential | undefined {
    const v = kind === 'card' ? normaliseCard(value) : value;
    return this.q.credentialByValue.get(kind, v) as Credential | undefined;
  }

  /** A person's active credentials of one kind (PIN hashes, TOTP seeds in clear, biometric references). */
  credentialsOf(personId: string, kind: Credential['kind']): Credential[] {
    const found = this.q.credentialsOf.all(personId, kind) as Credential[];
    if (kind !== 'otp') return found;
    // A seed that does not open (altered since the start-up check) matches no code: it is left out.
    return found.flatMap((c) => {
      try {
        return [{ ...c, value: this.secrets().open(c.value, otpContext(personId)) }];
      } catch {
        return [];
      }
    });
  }

  person(id: string): Person | undefined {
    const row = this.q.personById.get(id) as PersonRow | undefined;
    return row ? toPerson(row) : undefined;
  }

  personByNumber(number: number): Person | undefined {
    const row = this.q.personByNumber.get(number) as PersonRow | undefined;
    return row ? toPerson(row) : undefined;
  }

  standing(personId: string): PersonStanding {
    const lockout = this.q.lockout.get(personId) as { lockedUntil: string | null } | undefined;
    return {
      lastTrainingAt: (this.q.lastTraining.get(personId) as { at: string | null }).at,
      pledgeSignedAt: (this.q.pledge.get(personId) as { at: string | null }).at,
      lockedOutUntil: lockout?.lockedUntil ?? null,
    };
  }

  /** Unrevoked, approved grants of one person for one area; validity windows are the policy's to judge. */
  grants(personId: string, areaId: string): Grant[] {
    return (this.q.grantsFor.all(personId, areaId) as GrantRow[]).map(toGrant);
  }

  addPerson(p: { id?: string; kind?: Person['kind']; number?: number | null; name: string; affiliation?: string; title?: string; roles?: string[] }): Person {
    const person: Person = {
      id: p.id ?? randomUUID(), kind: p.kind ?? 'staff', number: p.number ?? null, name: p.name,
      affiliation: p.affiliation ?? '', title: p.title ?? '', roles: p.roles ?? [], status: 'active',
    };
    this.db
      .prepare('INSERT INTO people (id, kind, number, name, affiliation, title, roles, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(person.id, person.kind, person.number, person.name, person.affiliation, person.title, JSON.stringify(person.roles), person.status, new Date().toISOString());
    return person;
  }

  setPersonStatus(id: string, status: Person['status']): void {
    this.db.prepare('UPDATE people SET status = ? WHERE id = ?').run(status, id);
  }

  /** `value`: a card number or biometric reference as read; for a PIN, its hash (see pin.ts); for OTP, the seed (stored sealed). */
  addCredential(personId: string, kind: Credential['kind'], value: string, use: Credential['use'] = 'normal'): Credential {
    const v = kind === 'card' ? normaliseCard(value) : value;
    // A door OTP seed is kept sealed, like the accounts' (secret-box.ts).
    const stored = kind === 'otp' ? this.secrets().seal(v, otpContext(personId)) : v;
    const info = this.db
      .prepare('INSERT INTO credentials (person_id, kind, value, use, status, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(personId, kind, stored, use, 'active', new Date().toISOString());
    return { id: Number(info.lastInsertRowid), personId, kind, value: v, use, status: 'active', lastOtpStep: null };
  }

  setCredentialStatus(id: number, status: Credential['status']): void {
    this.db.prepare('UPDATE credentials SET status = ? WHERE id = ?').run(status, id);
  }

  /** Records the TOTP time step just used, so the same code cannot open twice. False if not newer. */
  useOtpStep(credentialId: number, step: number): boolean {
    return this.db.prepare('UPDATE credentials SET last_otp_step = ? WHERE id = ? AND (last_otp_step IS NULL OR last_otp_step < ?)').run(step, credentialId, step).changes > 0;
  }

  addTraining(personId: string, completedAt: string, course = '', recordedBy = ''): void {
    this.db.prepare('INSERT INTO trainings (person_id, completed_at, course, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?)')
      .run(personId, completedAt, course, recordedBy, new Date().toISOString());
  }

  addPledge(personId: string, signedAt: string, document = '', recordedBy = ''): void {
    this.db.prepare('INSERT INTO pledges (person_id, signed_at, document, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?)')
      .run(personId, signedAt, document, recordedBy, new Date().toISOString());
  }

  addGrant(g: { personId: string; areaId: string; validFrom?: string; validUntil?: string | null; purpose?: string; outOfHours?: boolean; reviewBy?: string | null; status?: Grant['status']; grantedBy?: string }): Grant {
    const now = new Date().toISOString();
    const grant = {
      personId: g.personId, areaId: g.areaId, validFrom: g.validFrom ?? now, validUntil: g.validUntil ?? null,
      purpose: g.purpose ?? '', outOfHours: g.outOfHours ?? false, reviewBy: g.reviewBy ?? null, status: g.status ?? 'active',
      grantedBy: g.grantedBy ?? '', grantedAt: now, approvedBy: null, revokedAt: null,
    };
    const info = this.db
      .prepare(`INSERT INTO grants (person_id, area_id, valid_from, valid_until, purpose, out_of_hours, review_by, status, granted_by, granted_at)
        VALUES (@personId, @areaId, @validFrom, @validUntil, @purpose, @outOfHours, @reviewBy, @status, @grantedBy, @grantedAt)`)
      .run({ ...grant, outOfHours: grant.outOfHours ? 1 : 0 });
    return { id: Number(info.lastInsertRowid), ...grant };
  }

  revokeGrant(id: number, by = ''): boolean {
    return this.db.prepare('UPDATE grants SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), by, id).changes > 0;
  }

  /** Counts a wrong PIN; at `attempts` in a row the person is locked out. Returns the new state. */
  pinFailure(personId: string, attempts: number, lockoutMs: number, now: Date): { failures: number; lockedUntil: string | null } {
    const prev = this.q.lockout.get(personId) as { failures: number } | undefined;
    const failures = (prev?.failures ?? 0) + 1;
    const lockedUntil = failures >= attempts ? new Date(now.getTime() + lockoutMs).toISOString() : null;
    this.db.prepare(`INSERT INTO pin_failures (person_id, failures, locked_until) VALUES (?, ?, ?)
      ON CONFLICT(person_id) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until`)
      .run(personId, lockedUntil ? 0 : failures, lockedUntil);
    return { failures, lockedUntil };
  }

  clearPinFailures(personId: string): void {
    this.db.prepare('DELETE FROM pin_failures WHERE person_id = ?').run(personId);
  }
}
