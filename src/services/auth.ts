// Accounts, login and sessions: argon2id passwords with a policy and a reuse history, TOTP for
// every role (no replay; an admin may exempt an auditor who only reads), per-account lockout (the
// per-address rate limit is app.ts's), bearer sessions with idle and absolute lifetimes. Every
// login, failure and lockout is audited.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import type { AccountStore, Account, Role } from '../store/accounts.js';
import type { AuditInput } from '../store/audit-log.js';
import type { Store } from '../store/index.js';
import { checkPassword, passwordProblemText, PASSWORD_HISTORY } from './password-policy.js';

/** Every role can open a door, approve or grant, so every role signs in with TOTP. */
export const rolesNeedingTotp: ReadonlySet<Role> = new Set(['admin', 'manager', 'guard', 'auditor']);

/** Whether this account must give a code: every role, but an auditor an admin exempted (they only read). */
export function needsSecondFactor(account: Pick<Account, 'role' | 'totpExempt'>): boolean {
  return rolesNeedingTotp.has(account.role) && !(account.role === 'auditor' && account.totpExempt);
}

/** Approving (four-eyes grants, visits) opens doors to others: never without a second factor. */
export function assertMayApprove(account: Pick<Account, 'role' | 'totpExempt'>): void {
  if (needsSecondFactor(account)) return;
  throw new AuthError(403, 'an auditor without a second factor may only read');
}

const PASSWORD_HASH = { algorithm: 2 /* argon2id */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface AuthSettings {
  sessionIdleMinutes: number;
  sessionMaxHours: number;
  loginMaxFailures: number;
  loginLockoutMinutes: number;
  loginAttemptsPerMinute: number;
}

export class AuthError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 409 | 429,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export interface Principal {
  account: Account;
  tokenHash: string;
  /** A session that must change its password first can do nothing else. */
  restricted: boolean;
}

/** The RFC 6238 time step a valid code belongs to (the library reports it for TOTP). */
function stepOf(result: { valid: true; delta: number }, nowSeconds: number): number {
  const step = (result as { timeStep?: unknown }).timeStep;
  return typeof step === 'number' ? step : Math.floor(nowSeconds / 30) + result.delta;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** A random password that meets the policy: handed over once, to be changed at first login. */
export function oneTimePassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789';
  let out = '';
  for (let i = 0; i < 16; i++) out += alphabet[randomInt(alphabet.length)];
  return `${out.slice(0, 4)}-${out.slice(4, 8)}-${out.slice(8, 12)}-${out.slice(12)}-${randomInt(10)}`;
}

export function totpUri(username: string, secret: string): string {
  return generateURI({ issuer: 'tobira', label: username, secret });
}

export class AuthService {
  readonly accounts: AccountStore;

  constructor(
    private readonly store: Pick<Store, 'transaction' | 'audit' | 'openAccounts'>,
    private readonly settings: () => AuthSettings,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.accounts = store.openAccounts();
  }

  record(entry: Omit<AuditInput, 'at'>): void {
    this.store.audit.append({ at: this.now().toISOString(), ...entry });
  }

  async hashPassword(password: string): Promise<string> {
    return argonHash(password, PASSWORD_HASH);
  }

  /** Creates an account with a one-time password (changed at first login) and a TOTP seed (every role needs one). */
  async createAccount(
    by: string,
    a: { username: string; displayName: string; role: Role },
  ): Promise<{ account: Account; oneTimePassword: string; totpUri: string | null }> {
    if (this.accounts.byUsername(a.username)) throw new AuthError(409, `username "${a.username}" is taken`);
    const password = oneTimePassword();
    const secret = rolesNeedingTotp.has(a.role) ? generateSecret() : null;
    const passwordHash = await this.hashPassword(password);
    const account = this.store.transaction(() => this.accounts.create({ ...a, passwordHash, totpSecret: secret, createdBy: by }));
    return { account, oneTimePassword: password, totpUri: secret ? totpUri(account.username, secret) : null };
  }

  /**
   * An admin gives an account a new TOTP seed (a lost phone, or an account made before every role
   * needed one): the old seed stops working at once. Returns the enrolment URI, shown once.
   */
  resetTotp(account: Account): string {
    const secret = generateSecret();
    this.store.transaction(() => {
      this.accounts.setTotp(account.id, { secret, pending: null });
      this.accounts.deleteSessionsOf(account.id);
    });
    return totpUri(account.username, secret);
  }

  /** A login refused by the per-address rate limit (app.ts applies it): recorded like any other attempt. */
  recordRateLimited(username: string | null, address: string): void {
    this.record({ actor: username, role: null, action: 'auth.login', target: null, outcome: 'rate-limited', address, detail: null });
  }

  async login(username: string, password: string, totp: string | undefined, address: string): Promise<{ token: string; expiresAt: string; account: Account }> {
    const s = this.settings();
    const base = { actor: username, role: null, action: 'auth.login', target: null, address };
    const account = this.accounts.byUsername(username);
    const now = this.now();
    // One answer, one argon2 computation and one durable commit for an unknown user, a disabled or
    // locked account and a wrong password or code alike: neither the text nor the time tells which
    // accounts exist. `alsoRecord` runs in the refusal's transaction (a failure's count, a lockout).
    const refuse = (outcome: string, detail: Record<string, unknown> | null = null, alsoRecord?: () => Record<string, unknown>): never => {
      this.store.transaction(() => {
        const more = alsoRecord?.() ?? {};
        this.record({ ...base, role: account?.role ?? null, outcome, detail: detail || Object.keys(more).length ? { ...detail, ...more } : null });
      });
      throw new AuthError(401, 'wrong username, password or code');
    };
    if (!account) {
      await this.hashPassword(password); // same time as a real check
      return refuse('failed', { reason: 'unknown user' });
    }
    const passwordOk = await argonVerify(account.passwordHash, password).catch(() => false);
    if (account.status !== 'active') return refuse('failed', { reason: 'account disabled' });
    if (account.lockedUntil && Date.parse(account.lockedUntil) > now.getTime()) return refuse('locked', { lockedUntil: account.lockedUntil });
    let totpOk = true;
    let totpStep: number | null = null;
    if (needsSecondFactor(account)) {
      totpOk = false;
      if (account.totpSecret && totp && /^\d{6}$/.test(totp)) {
        const result = await verifyTotp({ secret: account.totpSecret, token: totp, epoch: Math.floor(now.getTime() / 1000), epochTolerance: 30 }).catch(() => ({
          valid: false as const,
        }));
        if (result.valid) {
          totpStep = stepOf(result, Math.floor(now.getTime() / 1000));
          // A code already used cannot log in again (checked again, in SQL, when the session is made).
          totpOk = account.lastTotpStep === null || totpStep > account.lastTotpStep;
        }
      }
    }
    /** A failure counted in SQL (parallel attempts each see their own count), and the lockout it earns. */
    const fail = (reason: string): never =>
      refuse('failed', { reason }, () => {
        const failures = this.accounts.recordFailure(account.id, now.toISOString());
        if (failures >= s.loginMaxFailures) {
          const lockedUntil = new Date(now.getTime() + s.loginLockoutMinutes * 60_000).toISOString();
          this.accounts.lock(account.id, lockedUntil);
          this.record({
            actor: account.username,
            role: account.role,
            action: 'auth.lockout',
            target: `account:${account.id}`,
            outcome: 'ok',
            address,
            detail: { failures, lockedUntil },
          });
        }
        return { failures };
      });
    if (!passwordOk || !totpOk) return fail(!passwordOk ? 'wrong password' : totp ? 'wrong or reused code' : 'code required');
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Math.min(now.getTime() + s.sessionMaxHours * 3_600_000, Number.MAX_SAFE_INTEGER)).toISOString();
    const signedIn = this.store.transaction(() => {
      // Two sign-ins racing with one code: the step is taken once, the second finds it used.
      if (totpStep !== null && !this.accounts.useTotpStep(account.id, totpStep)) return false;
      this.accounts.clearFailures(account.id);
      this.accounts.createSession({
        tokenHash: hashToken(token),
        accountId: account.id,
        createdAt: now.toISOString(),
        lastSeenAt: now.toISOString(),
        expiresAt,
        address,
      });
      this.record({ ...base, role: account.role, outcome: 'ok', detail: account.mustChangePassword ? { mustChangePassword: true } : null });
      return true;
    });
    if (!signedIn) return fail('wrong or reused code');
    return { token, expiresAt, account: this.accounts.byId(account.id)! };
  }

  /** The account behind a bearer token; ends idle or expired sessions. */
  authenticate(token: string | undefined): Principal | undefined {
    if (!token) return undefined;
    const tokenHash = hashToken(token);
    const session = this.accounts.session(tokenHash);
    if (!session) return undefined;
    const now = this.now();
    const idleLimit = this.settings().sessionIdleMinutes * 60_000;
    if (Date.parse(session.expiresAt) <= now.getTime() || now.getTime() - Date.parse(session.lastSeenAt) > idleLimit) {
      this.accounts.deleteSession(tokenHash);
      return undefined;
    }
    const account = this.accounts.byId(session.accountId);
    if (account?.status !== 'active') return undefined;
    // At most once a minute (each touch is a durable write on the controller's connection), and
    // best effort: a full or read-only disk must not turn every authenticated read into a 500.
    if (now.getTime() - Date.parse(session.lastSeenAt) >= 60_000) {
      try {
        this.accounts.touchSession(tokenHash, now.toISOString());
      } catch {
        /* the session simply does not extend its idle time */
      }
    }
    return { account, tokenHash, restricted: account.mustChangePassword };
  }

  logout(principal: Principal): void {
    this.accounts.deleteSession(principal.tokenHash);
  }

  /** Checks the policy and the last five passwords; ends the account's other sessions. */
  async changePassword(principal: Principal, current: string, next: string): Promise<void> {
    const account = principal.account;
    if (!(await argonVerify(account.passwordHash, current).catch(() => false))) throw new AuthError(401, 'current password is wrong');
    await this.setPassword(account, next, false);
    this.accounts.deleteSessionsOf(account.id, { except: principal.tokenHash });
  }

  /** Sets a password after the policy and history checks. `mustChange`: a reset by an admin. */
  async setPassword(account: Account, next: string, mustChange: boolean): Promise<void> {
    const problems = checkPassword(next, account);
    if (problems.length)
      throw new AuthError(
        400,
        'the password does not meet the policy',
        problems.map((p) => ({ path: 'newPassword', problem: p, message: passwordProblemText[p] })),
      );
    for (const old of account.passwordHistory.slice(0, PASSWORD_HISTORY)) {
      if (await argonVerify(old, next).catch(() => false)) {
        throw new AuthError(400, 'the password does not meet the policy', [
          { path: 'newPassword', problem: 'reused', message: `not one of the last ${PASSWORD_HISTORY} passwords` },
        ]);
      }
    }
    const hash = await this.hashPassword(next);
    this.accounts.setPassword(account.id, hash, [hash, ...account.passwordHistory].slice(0, PASSWORD_HISTORY), mustChange);
  }

  /** A new TOTP seed, effective once confirmed with a code from it. */
  startTotpEnrolment(account: Account): string {
    const secret = generateSecret();
    this.accounts.setTotp(account.id, { pending: secret });
    return totpUri(account.username, secret);
  }

  async confirmTotpEnrolment(account: Account, code: string): Promise<void> {
    const pending = this.accounts.byId(account.id)?.totpPendingSecret;
    if (!pending) throw new AuthError(409, 'no TOTP enrolment in progress');
    const result = await verifyTotp({ secret: pending, token: code, epoch: Math.floor(this.now().getTime() / 1000), epochTolerance: 30 }).catch(() => ({
      valid: false as const,
    }));
    if (!result.valid) throw new AuthError(400, 'the code does not match', [{ path: 'code', message: 'wrong code' }]);
    this.store.transaction(() => {
      this.accounts.setTotp(account.id, { secret: pending, pending: null });
      this.accounts.setTotp(account.id, { lastStep: stepOf(result, Math.floor(this.now().getTime() / 1000)) });
    });
  }

  // --- an open stream's session, and refresh tokens ----------------------------------------------

  /**
   * An open stream's session at a heartbeat: alive (and its idle clock reset: watching is activity),
   * or why it ended. The absolute lifetime is never extended. A session a refresh replaced is
   * `session-renewed`, not `session-ended`: an unattended console cannot sign in again.
   */
  keepStreamAlive(tokenHash: string, role: Role): 'alive' | 'session-ended' | 'session-renewed' | 'session-expired' | 'session-idle' {
    const session = this.accounts.session(tokenHash);
    // Ended by a refresh: the client holds the new token and only needs to reconnect with it.
    if (!session) return this.accounts.sessionRenewed(tokenHash) ? 'session-renewed' : 'session-ended';
    const account = this.accounts.byId(session.accountId);
    if (account?.status !== 'active' || account.role !== role) return 'session-ended';
    const now = this.now().getTime();
    const idleLimit = this.settings().sessionIdleMinutes * 60_000;
    if (Date.parse(session.expiresAt) <= now) return 'session-expired';
    const idle = now - Date.parse(session.lastSeenAt);
    if (idle > idleLimit) return 'session-idle';
    // Not at every heartbeat: each touch is a durable write. Best effort, as in authenticate().
    if (idle >= Math.min(60_000, idleLimit / 4)) {
      try {
        this.accounts.touchSession(tokenHash, new Date(now).toISOString());
      } catch {
        /* the idle clock simply runs on */
      }
    }
    return 'alive';
  }

  /** How long a refresh token family lasts from its login, at most: a week, then sign in again. */
  static readonly REFRESH_MAX_HOURS = 7 * 24;

  /** What a refresh token is bound to: a changed role or password (or a reset) refuses it. */
  private credentialOf(account: Account): string {
    return createHash('sha256').update(`${account.role}\0${account.passwordHash}`).digest('hex');
  }

  /**
   * A refresh token for a session just opened: single-use, kept only as a hash. `family` continues
   * a rotation (same family, same absolute end); without it a new family starts (a login).
   */
  issueRefreshToken(account: Account, sessionToken: string, family?: { id: string; expiresAt: string }): { refreshToken: string; refreshExpiresAt: string } {
    const now = this.now();
    const refreshToken = randomBytes(32).toString('base64url');
    const expiresAt = family?.expiresAt ?? new Date(now.getTime() + AuthService.REFRESH_MAX_HOURS * 3_600_000).toISOString();
    this.accounts.createRefreshToken({
      tokenHash: hashToken(refreshToken),
      family: family?.id ?? randomBytes(16).toString('hex'),
      accountId: account.id,
      sessionHash: hashToken(sessionToken),
      credential: this.credentialOf(account),
      createdAt: now.toISOString(),
      expiresAt,
    });
    return { refreshToken, refreshExpiresAt: expiresAt };
  }

  /**
   * A new session and a new refresh token for a refresh token, without password or code: for a
   * console that must stay signed in unattended. The token is used up; the session it came with
   * ends. A token used twice was copied: its whole family and their sessions end. Every refresh is
   * audited.
   */
  refresh(refreshToken: string, address: string): { token: string; expiresAt: string; refreshToken: string; refreshExpiresAt: string; account: Account } {
    const now = this.now();
    const tokenHash = hashToken(refreshToken);
    const base = { action: 'auth.refresh', address };
    const refused = 'refresh token unknown, used or expired; sign in again';
    const row = this.accounts.refreshToken(tokenHash);
    if (!row) {
      this.record({ ...base, actor: null, role: null, target: null, outcome: 'failed', detail: { reason: 'unknown token' } });
      throw new AuthError(401, refused);
    }
    const account = this.accounts.byId(row.accountId);
    const who = { actor: account?.username ?? null, role: account?.role ?? null, target: `account:${row.accountId}` };
    const refuse = (outcome: string, reason: string): never => {
      this.store.transaction(() => {
        this.accounts.revokeRefreshFamily(row.family);
        this.record({ ...base, ...who, outcome, detail: { reason, family: row.family } });
      });
      throw new AuthError(401, refused, outcome === 'reused' ? { reused: true } : undefined);
    };
    if (row.usedAt) return refuse('reused', 'token used before: the family and its sessions end');
    if (Date.parse(row.expiresAt) <= now.getTime()) return refuse('failed', 'expired');
    if (account?.status !== 'active') return refuse('failed', 'account disabled');
    if (row.credential !== this.credentialOf(account)) return refuse('failed', 'role or password changed');
    if (account.mustChangePassword) return refuse('failed', 'password must be changed');
    // No look at the password lockout: the refresh token is the credential here, and the lockout
    // guards against password guessing. Anyone could otherwise lock a guard out from the LAN and so
    // end the night console's refresh (and its token family).

    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(Math.min(now.getTime() + this.settings().sessionMaxHours * 3_600_000, Date.parse(row.expiresAt))).toISOString();
    const issued = this.store.transaction(() => {
      // Two refreshes racing with one token: the second finds it used.
      if (!this.accounts.useRefreshToken(tokenHash, now.toISOString())) return undefined;
      this.accounts.deleteSession(row.sessionHash);
      this.accounts.createSession({
        tokenHash: hashToken(token),
        accountId: account.id,
        createdAt: now.toISOString(),
        lastSeenAt: now.toISOString(),
        expiresAt,
        address,
      });
      const next = this.issueRefreshToken(account, token, { id: row.family, expiresAt: row.expiresAt });
      this.accounts.pruneRefreshTokens(now.toISOString());
      this.record({ ...base, ...who, outcome: 'ok', detail: { family: row.family, expiresAt } });
      return next;
    });
    if (!issued) return refuse('reused', 'token used concurrently');
    return { token, expiresAt, ...issued, account };
  }
}
