// Manager accounts and their sessions. Passwords and session tokens are kept only as hashes; TOTP
// seeds only sealed (secret-box.ts), with the key in its own file beside the database.
import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import { dataDirOf, openSecretBox, SecretBox, SecretKeyError, secretsKeyPath } from './secret-box.js';
import { rewriteSecurely } from './scrub.js';
import { ACCOUNT_ROLES, type AccountRole, type AccountStatus, type ConsoleLanguage } from '../policy/vocabulary.js';

export type Role = AccountRole;
export type { ConsoleLanguage };
export const roles: readonly Role[] = ACCOUNT_ROLES;

export interface Account {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  passwordHash: string;
  /** The last hashes, newest first: a password cannot be reused within them. */
  passwordHistory: string[];
  mustChangePassword: boolean;
  /** The TOTP seed in clear (sealed in the database). */
  totpSecret: string | null;
  totpPendingSecret: string | null;
  lastTotpStep: number | null;
  /** An auditor an admin let sign in without a second factor: they may only read. */
  totpExempt: boolean;
  failedLogins: number;
  lockedUntil: string | null;
  status: AccountStatus;
  createdAt: string;
  createdBy: string;
  /** The console's language this account chose; null until it chooses (the browser's then). */
  language: ConsoleLanguage | null;
}

interface Row {
  id: string;
  username: string;
  display_name: string;
  role: Role;
  password_hash: string;
  password_history: string;
  must_change_password: number;
  totp_secret: string | null;
  totp_pending_secret: string | null;
  last_totp_step: number | null;
  totp_exempt: number;
  failed_logins: number;
  locked_until: string | null;
  status: AccountStatus;
  created_at: string;
  created_by: string;
  language: ConsoleLanguage | null;
}

/** What a sealed seed is bound to: the account (and which of its two seeds). */
const seedContext = (id: string, pending: boolean) => `account-totp${pending ? '-pending' : ''}:${id}`;

export interface Session {
  tokenHash: string;
  accountId: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

export class AccountStore {
  /** Prepared once: every API request looks up its session and account. */
  private readonly statements = new Map<string, Statement<unknown[]>>();

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  /**
   * The accounts of a database, with the secrets key from its data directory: seeds still in clear
   * (an older version) are sealed now, and every sealed one must open, or this throws — a missing
   * or wrong key is a startup error, not a sign-in that quietly fails or passes later.
   */
  static open(db: Db): AccountStore {
    const dir = dataDirOf(db);
    const store = new AccountStore(db, openSecretBox(db));
    try {
      store.sealClearSeeds();
    } catch (err) {
      if (!(err instanceof SecretKeyError)) throw err;
      throw new SecretKeyError(
        `the TOTP seeds in the database do not open with ${dir ? secretsKeyPath(dir) : 'the key'} (${err.message}). ` +
          'Put back the secrets-key file that was kept with this database; tobira does not start without it.',
      );
    }
    return store;
  }

  /**
   * Seals seeds left in clear and checks that every sealed one opens. When some were in clear, the
   * rows are rewritten with secure_delete on and the WAL checkpointed and truncated: the clear seeds
   * must not live on in freed page space or in old WAL frames.
   */
  private sealClearSeeds(): void {
    const rows = this.db.prepare('SELECT id, totp_secret AS secret, totp_pending_secret AS pending FROM accounts').all() as {
      id: string;
      secret: string | null;
      pending: string | null;
    }[];
    const clear: { column: 'totp_secret' | 'totp_pending_secret'; id: string; value: string; pending: boolean }[] = [];
    for (const r of rows) {
      for (const [column, value, pending] of [
        ['totp_secret', r.secret, false],
        ['totp_pending_secret', r.pending, true],
      ] as const) {
        if (value === null) continue;
        if (SecretBox.isSealed(value)) this.box.open(value, seedContext(r.id, pending));
        else clear.push({ column, id: r.id, value, pending });
      }
    }
    if (!clear.length) return;
    rewriteSecurely(this.db, () => {
      for (const c of clear)
        this.db.prepare(`UPDATE accounts SET ${c.column} = ? WHERE id = ?`).run(this.box.seal(c.value, seedContext(c.id, c.pending)), c.id);
    });
  }

  private seal(id: string, seed: string | null, pending: boolean): string | null {
    return seed === null ? null : this.box.seal(seed, seedContext(id, pending));
  }

  private toAccount(r: Row): Account {
    return {
      id: r.id,
      username: r.username,
      displayName: r.display_name,
      role: r.role,
      passwordHash: r.password_hash,
      passwordHistory: JSON.parse(r.password_history) as string[],
      mustChangePassword: r.must_change_password === 1,
      totpSecret: r.totp_secret === null ? null : this.box.open(r.totp_secret, seedContext(r.id, false)),
      totpPendingSecret: r.totp_pending_secret === null ? null : this.box.open(r.totp_pending_secret, seedContext(r.id, true)),
      lastTotpStep: r.last_totp_step,
      totpExempt: r.totp_exempt === 1,
      failedLogins: r.failed_logins,
      lockedUntil: r.locked_until,
      status: r.status,
      createdAt: r.created_at,
      createdBy: r.created_by,
      language: r.language,
    };
  }

  private q(sql: string): Statement<unknown[]> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  byUsername(username: string): Account | undefined {
    const row = this.q('SELECT * FROM accounts WHERE username = ?').get(username) as Row | undefined;
    return row ? this.toAccount(row) : undefined;
  }

  byId(id: string): Account | undefined {
    const row = this.q('SELECT * FROM accounts WHERE id = ?').get(id) as Row | undefined;
    return row ? this.toAccount(row) : undefined;
  }

  list(): Account[] {
    return (this.q('SELECT * FROM accounts ORDER BY username').all() as Row[]).map((r) => this.toAccount(r));
  }

  count(): number {
    return (this.q('SELECT count(*) AS n FROM accounts').get() as { n: number }).n;
  }

  create(a: { username: string; displayName: string; role: Role; passwordHash: string; totpSecret: string | null; createdBy: string }): Account {
    const id = randomUUID();
    this.q(`INSERT INTO accounts (id, username, display_name, role, password_hash, password_history, must_change_password, totp_secret, created_at, created_by)
        VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`).run(
      id,
      a.username,
      a.displayName,
      a.role,
      a.passwordHash,
      JSON.stringify([a.passwordHash]),
      this.seal(id, a.totpSecret, false),
      new Date().toISOString(),
      a.createdBy,
    );
    return this.byId(id)!;
  }

  // Each change below ends the account's refresh tokens: a token issued before a password, role,
  // status, exemption or seed change must not renew a session after it (a disabled and re-enabled
  // account, a reset phone, an auditor no longer exempt). Their sessions end by the caller.

  setPassword(id: string, hash: string, history: string[], mustChange: boolean): void {
    this.db.transaction(() => {
      this.q('UPDATE accounts SET password_hash = ?, password_history = ?, must_change_password = ? WHERE id = ?').run(
        hash,
        JSON.stringify(history),
        mustChange ? 1 : 0,
        id,
      );
      this.revokeRefreshOfAccount(id);
    })();
  }

  /** A new role; an exemption from the second factor is for a reading auditor only, so it ends here. */
  setRole(id: string, role: Role): void {
    this.db.transaction(() => {
      this.q('UPDATE accounts SET role = ?, totp_exempt = 0 WHERE id = ?').run(role, id);
      this.revokeRefreshOfAccount(id);
    })();
  }

  setTotpExempt(id: string, exempt: boolean): void {
    this.db.transaction(() => {
      this.q('UPDATE accounts SET totp_exempt = ? WHERE id = ?').run(exempt ? 1 : 0, id);
      this.revokeRefreshOfAccount(id);
    })();
  }

  setStatus(id: string, status: Account['status']): void {
    this.db.transaction(() => {
      this.q('UPDATE accounts SET status = ? WHERE id = ?').run(status, id);
      this.revokeRefreshOfAccount(id);
    })();
  }

  setLanguage(id: string, language: ConsoleLanguage): void {
    this.q('UPDATE accounts SET language = ? WHERE id = ?').run(language, id);
  }

  /** `secret`: a new seed (reset or confirmed enrolment) also ends the refresh tokens. */
  setTotp(id: string, fields: { secret?: string | null; pending?: string | null; lastStep?: number | null }): void {
    this.db.transaction(() => {
      if (fields.secret !== undefined) {
        this.q('UPDATE accounts SET totp_secret = ?, last_totp_step = NULL WHERE id = ?').run(this.seal(id, fields.secret, false), id);
        this.revokeRefreshOfAccount(id);
      }
      if (fields.pending !== undefined) this.q('UPDATE accounts SET totp_pending_secret = ? WHERE id = ?').run(this.seal(id, fields.pending, true), id);
      if (fields.lastStep !== undefined) this.q('UPDATE accounts SET last_totp_step = ? WHERE id = ?').run(fields.lastStep, id);
    })();
  }

  /**
   * Records the time step of a code just used to sign in: false when that step (or a later one) was
   * used already. Conditional in SQL, so two sign-ins racing with one code cannot both pass.
   */
  useTotpStep(id: string, step: number): boolean {
    return this.q('UPDATE accounts SET last_totp_step = ? WHERE id = ? AND (last_totp_step IS NULL OR last_totp_step < ?)').run(step, id, step).changes > 0;
  }

  /**
   * Counts a failed sign-in and returns the count, incremented in SQL (parallel attempts each see
   * their own). A lockout that has run out starts the count over: one wrong attempt after it is the
   * first, not another lockout.
   */
  recordFailure(id: string, now: string): number {
    const row = this.q(`UPDATE accounts SET
        failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= @now THEN 1 ELSE failed_logins + 1 END,
        locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= @now THEN NULL ELSE locked_until END
      WHERE id = @id RETURNING failed_logins AS n`).get({ now, id }) as { n: number } | undefined;
    return row?.n ?? 0;
  }

  lock(id: string, until: string): void {
    this.q('UPDATE accounts SET locked_until = ? WHERE id = ?').run(until, id);
  }

  clearFailures(id: string): void {
    this.q('UPDATE accounts SET failed_logins = 0, locked_until = NULL WHERE id = ?').run(id);
  }

  createSession(s: Session & { address: string | null }): void {
    this.q('INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, expires_at, address) VALUES (?, ?, ?, ?, ?, ?)').run(
      s.tokenHash,
      s.accountId,
      s.createdAt,
      s.lastSeenAt,
      s.expiresAt,
      s.address,
    );
  }

  session(tokenHash: string): Session | undefined {
    return this.q(
      'SELECT token_hash AS tokenHash, account_id AS accountId, created_at AS createdAt, last_seen_at AS lastSeenAt, expires_at AS expiresAt FROM sessions WHERE token_hash = ?',
    ).get(tokenHash) as Session | undefined;
  }

  touchSession(tokenHash: string, at: string): void {
    this.q('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?').run(at, tokenHash);
  }

  deleteSession(tokenHash: string): void {
    this.q('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }

  /** Ends every session of an account (password change, role change, disable). */
  /** Ends an account's sessions (but the one it keeps: a password changed from it). */
  deleteSessionsOf(accountId: string, opts: { except?: string } = {}): void {
    if (opts.except) this.q('DELETE FROM sessions WHERE account_id = ? AND token_hash <> ?').run(accountId, opts.except);
    else this.q('DELETE FROM sessions WHERE account_id = ?').run(accountId);
  }

  // --- refresh tokens (only hashes are kept) ------------------------------------------------------

  createRefreshToken(t: RefreshToken): void {
    this.q('INSERT INTO refresh_tokens (token_hash, family, account_id, session_hash, credential, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      t.tokenHash,
      t.family,
      t.accountId,
      t.sessionHash,
      t.credential,
      t.createdAt,
      t.expiresAt,
    );
  }

  refreshToken(tokenHash: string): (RefreshToken & { usedAt: string | null }) | undefined {
    return this.q(`SELECT token_hash AS tokenHash, family, account_id AS accountId, session_hash AS sessionHash, credential,
        created_at AS createdAt, expires_at AS expiresAt, used_at AS usedAt FROM refresh_tokens WHERE token_hash = ?`).get(tokenHash) as
      | (RefreshToken & { usedAt: string | null })
      | undefined;
  }

  /** Marks a token used; false when it was used already (the first use stands). */
  useRefreshToken(tokenHash: string, at: string): boolean {
    return this.q('UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL').run(at, tokenHash).changes > 0;
  }

  /** The sessions a family's tokens opened, and the family itself, end (a token was reused: stolen). */
  revokeRefreshFamily(family: string): void {
    this.q('DELETE FROM sessions WHERE token_hash IN (SELECT session_hash FROM refresh_tokens WHERE family = ?)').run(family);
    this.q('DELETE FROM refresh_tokens WHERE family = ?').run(family);
  }

  /**
   * Whether a session ended because a refresh token issued with it was used (renewed, not signed
   * out): an open stream on it is told to reconnect with the new token.
   */
  sessionRenewed(sessionHash: string): boolean {
    return this.q('SELECT 1 FROM refresh_tokens WHERE session_hash = ? AND used_at IS NOT NULL LIMIT 1').get(sessionHash) !== undefined;
  }

  /** Signing out ends the session's refresh tokens too. */
  revokeRefreshOfSession(sessionHash: string): void {
    this.q('DELETE FROM refresh_tokens WHERE family IN (SELECT family FROM refresh_tokens WHERE session_hash = ?)').run(sessionHash);
  }

  /** Every refresh token of an account (its password, role, status, exemption or seed changed). */
  revokeRefreshOfAccount(accountId: string): void {
    this.q('DELETE FROM refresh_tokens WHERE account_id = ?').run(accountId);
  }

  /** Families past their lifetime, and used tokens older than it, are of no further use. */
  pruneRefreshTokens(now: string): void {
    this.q('DELETE FROM refresh_tokens WHERE expires_at <= ?').run(now);
  }
}

export interface RefreshToken {
  tokenHash: string;
  family: string;
  accountId: string;
  /** The session this token was issued with (signing it out ends the family). */
  sessionHash: string;
  /** A hash of the account's role and password hash at issue: a role or password change refuses the token. */
  credential: string;
  createdAt: string;
  /** The family's absolute lifetime (from the login). */
  expiresAt: string;
}
