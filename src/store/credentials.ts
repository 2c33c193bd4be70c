// Credentials: card numbers, PIN hashes (argon2id, see pin.ts), door OTP seeds (sealed, see
// secret-box.ts) and biometric references. The door flow looks them up on every read; summaries for
// the registers never carry a PIN hash or an OTP seed.
import type { CredentialKind, CredentialStatus, CredentialUse } from '../policy/vocabulary.js';
import type { Db } from './db.js';
import { openSecretBox, SecretBox, SecretKeyError } from './secret-box.js';
import { rewriteSecurely } from './scrub.js';
import type { Paging } from './paging.js';

export interface Credential {
  id: number;
  personId: string;
  kind: CredentialKind;
  /** A card number (canonical), a PIN hash, an OTP seed (opened), a biometric reference. */
  value: string;
  use: CredentialUse;
  status: CredentialStatus;
  lastOtpStep: number | null;
}

/** A credential as the registers show it: `value` only for cards and biometric references. */
export type CredentialSummary = Omit<Credential, 'value' | 'lastOtpStep'> & { createdAt: string; value: string | null };

/** A door OTP seed opened, or why it would not open. */
export type OpenedSeed = { credential: Credential; seed: string } | { credential: Credential; error: string };

/** Card numbers arrive in any case and with separators from different readers: compare them canonical. */
export function normaliseCard(value: string): string {
  return value.replace(/[\s:-]/g, '').toUpperCase();
}

const CREDENTIAL_COLUMNS = 'id, person_id AS personId, kind, value, use, status, last_otp_step AS lastOtpStep';
const SUMMARY_SELECT = `SELECT id, person_id AS personId, kind, use, status, created_at AS createdAt,
  CASE WHEN kind IN ('card', 'bio') THEN value ELSE NULL END AS value FROM credentials`;

/** What a door OTP seed is sealed to: its person (a seed copied to someone else does not open). */
const otpContext = (personId: string) => `person-otp:${personId}`;

export class CredentialRepository {
  private readonly q;
  /** The secrets key, read when a door OTP seed is first sealed or opened. */
  private box: SecretBox | undefined;

  constructor(private readonly db: Db) {
    this.q = {
      byValue: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE kind = ? AND value = ?`),
      activeOf: db.prepare(`SELECT ${CREDENTIAL_COLUMNS} FROM credentials WHERE person_id = ? AND kind = ? AND status = 'active'`),
      summary: db.prepare(`${SUMMARY_SELECT} WHERE id = ?`),
    };
    if (!db.readonly) this.sealClearOtpSeeds();
  }

  private secrets(): SecretBox {
    if (!this.box) this.box = openSecretBox(this.db);
    return this.box;
  }

  /**
   * Door OTP seeds an older version left in clear are sealed (with secure_delete and a truncated
   * WAL: scrub.ts); every sealed one must open (else no start).
   */
  private sealClearOtpSeeds(): void {
    const rows = this.db.prepare("SELECT id, person_id AS personId, value FROM credentials WHERE kind = 'otp'").all() as {
      id: number;
      personId: string;
      value: string;
    }[];
    if (!rows.length) return;
    const box = this.secrets();
    const clear = rows.filter((r) => !SecretBox.isSealed(r.value));
    for (const r of rows) {
      if (!SecretBox.isSealed(r.value)) continue;
      try {
        box.open(r.value, otpContext(r.personId));
      } catch (err) {
        throw new SecretKeyError(
          `people's door OTP seeds in the database do not open with the data directory's secrets-key (${(err as Error).message}); put back the key kept with this database`,
        );
      }
    }
    if (!clear.length) return;
    rewriteSecurely(this.db, () => {
      for (const r of clear) this.db.prepare('UPDATE credentials SET value = ? WHERE id = ?').run(box.seal(r.value, otpContext(r.personId)), r.id);
    });
  }

  /** The credential with this value, in any status (a card read, or a check that it is enrolled). */
  find(kind: CredentialKind, value: string): Credential | undefined {
    const v = kind === 'card' ? normaliseCard(value) : value;
    return this.q.byValue.get(kind, v) as Credential | undefined;
  }

  /** A person's active credentials of one kind (PIN hashes, TOTP seeds in clear, biometric references). */
  activeOf(personId: string, kind: CredentialKind): Credential[] {
    const found = this.q.activeOf.all(personId, kind) as Credential[];
    if (kind !== 'otp') return found;
    // A seed that does not open (altered since the start-up check) matches no code: it is left out.
    return this.opened(found).flatMap((o) => ('seed' in o ? [{ ...o.credential, value: o.seed }] : []));
  }

  /**
   * A person's active door OTP seeds, opened; one that does not open (altered since the start-up
   * check) comes back with the error instead, for the door to report as a fault.
   */
  otpSeedsOf(personId: string): OpenedSeed[] {
    return this.opened(this.q.activeOf.all(personId, 'otp') as Credential[]);
  }

  private opened(sealed: Credential[]): OpenedSeed[] {
    return sealed.map((credential) => {
      try {
        return { credential, seed: this.secrets().open(credential.value, otpContext(credential.personId)) };
      } catch (err) {
        return { credential, error: (err as Error).message };
      }
    });
  }

  /** `value`: a card number or biometric reference as read; for a PIN, its hash (see pin.ts); for OTP, the seed (stored sealed). */
  add(personId: string, kind: CredentialKind, value: string, use: CredentialUse = 'normal'): Credential {
    const v = kind === 'card' ? normaliseCard(value) : value;
    // A door OTP seed is kept sealed, like the accounts' (secret-box.ts).
    const stored = kind === 'otp' ? this.secrets().seal(v, otpContext(personId)) : v;
    const info = this.db
      .prepare('INSERT INTO credentials (person_id, kind, value, use, status, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(personId, kind, stored, use, 'active', new Date().toISOString());
    return { id: Number(info.lastInsertRowid), personId, kind, value: v, use, status: 'active', lastOtpStep: null };
  }

  setStatus(id: number, status: CredentialStatus): void {
    this.db.prepare('UPDATE credentials SET status = ? WHERE id = ?').run(status, id);
  }

  /** Revokes a person's active (or suspended) credentials of one kind (and use): a new PIN or seed replaces them. */
  revokeAllOf(personId: string, kind: CredentialKind, use?: CredentialUse): number {
    return this.db
      .prepare(`UPDATE credentials SET status = 'revoked' WHERE person_id = ? AND kind = ? AND status != 'revoked' ${use ? 'AND use = ?' : ''}`)
      .run(...(use ? [personId, kind, use] : [personId, kind])).changes;
  }

  /** Records the TOTP time step just used, so the same code cannot open twice. False if not newer. */
  useOtpStep(credentialId: number, step: number): boolean {
    return (
      this.db.prepare('UPDATE credentials SET last_otp_step = ? WHERE id = ? AND (last_otp_step IS NULL OR last_otp_step < ?)').run(step, credentialId, step)
        .changes > 0
    );
  }

  summary(id: number): CredentialSummary | undefined {
    return this.q.summary.get(id) as CredentialSummary | undefined;
  }

  /** A person's credentials, oldest first; all of them without paging. */
  summariesOf(personId: string, f?: Paging): { items: CredentialSummary[]; total: number } {
    const total = (this.db.prepare('SELECT count(*) AS n FROM credentials WHERE person_id = ?').get(personId) as { n: number }).n;
    const items = f
      ? this.db.prepare(`${SUMMARY_SELECT} WHERE person_id = ? ORDER BY id LIMIT ? OFFSET ?`).all(personId, f.limit, f.offset)
      : this.db.prepare(`${SUMMARY_SELECT} WHERE person_id = ? ORDER BY id`).all(personId);
    return { items: items as CredentialSummary[], total };
  }
}
