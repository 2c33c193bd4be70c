// Security events the API's edge reports to guards (refused logins, lockouts, a copied refresh
// token, refused calls), and the API's own settings from the site file.
import type { SiteFile } from '../site/schema.js';
import type { Account } from '../store/accounts.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';

export class SecurityService {
  constructor(private readonly deps: ServiceDeps) {}

  /** The site file's API settings as they stand now (a reload changes them). */
  apiSettings(): SiteFile['api'] {
    return running(this.deps).ctx.site.api;
  }

  /**
   * A refused login reaches the guards: a lockout (the account locked by this attempt) as an alarm,
   * other refusals as one warning per address per minute. The typed username is named only when it
   * is an account's (a password typed into the wrong field must not end up in the events).
   */
  loginRefused(account: Account | undefined, lockedBefore: string | null, address: string): void {
    const { alarms } = running(this.deps).ctx;
    if (account?.lockedUntil && account.lockedUntil !== lockedBefore && Date.parse(account.lockedUntil) > this.deps.now().getTime()) {
      alarms.raise({
        category: 'security',
        type: 'account-locked',
        severity: 'alarm',
        source: account.username,
        detail: { account: account.username, role: account.role, lockedUntil: account.lockedUntil, address, failures: account.failedLogins },
      });
      return;
    }
    alarms.raiseLimited(`login-refused:${address}`, 60_000, {
      category: 'security',
      type: 'login-refused',
      severity: 'warning',
      source: address,
      detail: { address, account: account?.username ?? null },
    });
  }

  /** A refresh token used a second time was copied: its family ended; the guards hear of it. */
  refreshTokenReused(address: string): void {
    running(this.deps).ctx.alarms.raise({ category: 'security', type: 'refresh-token-reused', severity: 'alarm', source: address, detail: { address } });
  }

  /** A signed-in account refused a call: one warning per account per 10 s. */
  callRefused(account: Pick<Account, 'username' | 'role'>, method: string, url: string): void {
    running(this.deps).ctx.alarms.raiseLimited(`api-denied:${account.username}`, 10_000, {
      category: 'security',
      type: 'api-denied',
      severity: 'warning',
      source: account.username,
      detail: { method, url, role: account.role },
    });
  }
}
