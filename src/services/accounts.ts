// The managers' accounts: admins create them (a one-time password and a TOTP seed), change their
// role or status, exempt an auditor who only reads from the second factor, reset a password or a
// seed; and each account's own session, password and TOTP enrolment. Every change is audited.
import type { Account, ConsoleLanguage, Role } from '../store/accounts.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { oneTimePassword, rolesNeedingTotp, type AuthService, type Principal } from './auth.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';

export class AccountService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly auth: () => AuthService,
  ) {}

  list(filter: { role?: Role; status?: Account['status'] } = {}): Account[] {
    return this.auth()
      .accounts.list()
      .filter((a) => (!filter.role || a.role === filter.role) && (!filter.status || a.status === filter.status));
  }

  async create(
    actor: Actor,
    a: { username: string; displayName: string; role: Role },
  ): Promise<{ account: Account; oneTimePassword: string; totpUri: string | null }> {
    const created = await this.auth().createAccount(actor.username, a);
    recordChange(this.deps.store, actor, 'account.create', `account:${created.account.id}`, { username: created.account.username, role: created.account.role });
    return created;
  }

  /** Changes role, status or an auditor's TOTP exemption; ends the account's sessions (a role change ends an exemption). */
  update(actor: Actor, id: string, change: { role?: Role; status?: Account['status']; totpExempt?: boolean }): Account {
    const { store } = this.deps;
    const accounts = this.auth().accounts;
    const account = accounts.byId(id);
    if (!account) throw notFound('account');
    if (account.username === actor.username && (change.status === 'disabled' || (change.role && change.role !== 'admin'))) {
      throw new ServiceError('conflict', 'an admin cannot disable or demote their own account');
    }
    const role = change.role ?? account.role;
    if (change.totpExempt === true && role !== 'auditor') {
      throw new ServiceError('invalid', 'only an auditor (who only reads) may sign in without a second factor', [
        { path: 'totpExempt', message: `a ${role} opens doors, approves or grants: TOTP is required` },
      ]);
    }
    const target = `account:${account.id}`;
    store.transaction(() => {
      if (change.role && change.role !== account.role) {
        accounts.setRole(account.id, change.role);
        // Without a seed the account cannot sign in until an admin resets its TOTP (POST …/reset-totp).
        recordChange(store, actor, 'account.role-change', target, {
          from: account.role,
          to: change.role,
          ...(account.totpExempt ? { totpExemptEnded: true } : {}),
        });
      }
      // After a role change (which ends any exemption): an exemption asked for the new auditor role applies.
      const exemptNow = change.role && change.role !== account.role ? false : account.totpExempt;
      if (change.totpExempt !== undefined && change.totpExempt !== exemptNow) {
        accounts.setTotpExempt(account.id, change.totpExempt);
        recordChange(store, actor, 'account.totp-exempt', target, { role, totpExempt: change.totpExempt });
      }
      if (change.status && change.status !== account.status) {
        accounts.setStatus(account.id, change.status);
        recordChange(store, actor, 'account.status-change', target, { from: account.status, to: change.status });
      }
      accounts.deleteSessionsOf(account.id);
    });
    return accounts.byId(account.id)!;
  }

  /** A new TOTP seed: the old one stops working; ends the account's sessions. Returns the enrolment URI, shown once. */
  resetTotp(actor: Actor, id: string): string {
    const { store } = this.deps;
    const account = this.auth().accounts.byId(id);
    if (!account) throw notFound('account');
    return store.transaction(() => {
      const uri = this.auth().resetTotp(account);
      recordChange(store, actor, 'account.reset-totp', `account:${account.id}`);
      return uri;
    });
  }

  /** A one-time password to change at next login; unlocks the account and ends its sessions. */
  async resetPassword(actor: Actor, id: string): Promise<string> {
    const { store } = this.deps;
    const auth = this.auth();
    const account = auth.accounts.byId(id);
    if (!account) throw notFound('account');
    const password = oneTimePassword();
    const hash = await auth.hashPassword(password);
    store.transaction(() => {
      auth.accounts.setPassword(account.id, hash, [hash, ...account.passwordHistory].slice(0, 5), true);
      auth.accounts.clearFailures(account.id);
      auth.accounts.deleteSessionsOf(account.id);
      recordChange(store, actor, 'account.reset-password', `account:${account.id}`);
    });
    return password;
  }

  // --- the signed-in account's own ---------------------------------------------------------------

  /** Ends this session and the refresh tokens that came with it. */
  signOut(actor: Actor, principal: Principal): void {
    const { store } = this.deps;
    const auth = this.auth();
    store.transaction(() => {
      auth.logout(principal);
      auth.accounts.revokeRefreshOfSession(principal.tokenHash);
      recordChange(store, actor, 'auth.logout', `account:${principal.account.id}`);
    });
  }

  /** Checks the policy and the last five passwords; ends the account's other sessions. */
  async changePassword(actor: Actor, principal: Principal, current: string, next: string): Promise<void> {
    await this.auth().changePassword(principal, current, next);
    recordChange(this.deps.store, actor, 'auth.password.change', `account:${principal.account.id}`);
  }

  /** The console's language, remembered for the account (its own choice: any role, audited). */
  setLanguage(actor: Actor, account: Account, language: ConsoleLanguage): Account {
    const { store } = this.deps;
    const accounts = this.auth().accounts;
    store.transaction(() => {
      accounts.setLanguage(account.id, language);
      recordChange(store, actor, 'auth.language', `account:${account.id}`, { from: account.language, to: language });
    });
    return accounts.byId(account.id)!;
  }

  /** Starts a new TOTP enrolment: an otpauth:// URI to scan, effective once confirmed with a code. */
  startTotpEnrolment(actor: Actor, account: Account): string {
    const uri = this.auth().startTotpEnrolment(account);
    recordChange(this.deps.store, actor, 'auth.totp.enrol', `account:${account.id}`);
    return uri;
  }

  async confirmTotpEnrolment(actor: Actor, account: Account, code: string): Promise<void> {
    await this.auth().confirmTotpEnrolment(account, code);
    recordChange(this.deps.store, actor, 'auth.totp.confirm', `account:${account.id}`, { required: rolesNeedingTotp.has(account.role) });
  }
}
