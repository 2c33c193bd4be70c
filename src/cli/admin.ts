// `tobira admin create USERNAME`: the first admin account. Everything after it goes through the API.
import qrcode from 'qrcode-terminal';
import { localOperator } from '../services/actor.js';
import { AuthService } from '../services/auth.js';
import { openStore } from '../store/index.js';
import { loadSiteFile } from '../site/load.js';
import { dataDir, sitePath, UsageError, type CommonFlags } from './options.js';
import { signAuditHead } from './sign-audit.js';

export async function adminCreate(username: string, flags: CommonFlags & { name?: string; force?: boolean }): Promise<void> {
  if (!/^[a-z0-9][a-z0-9._-]{2,63}$/.test(username)) throw new UsageError('a username is 3 to 64 lower-case letters, digits, ".", "_" or "-"');
  const site = loadSiteFile(sitePath(flags));
  const store = openStore(dataDir(flags));
  try {
    const auth = new AuthService(store, () => site.api);
    const admins = auth.accounts.list().filter((a) => a.role === 'admin' && a.status === 'active');
    if (admins.length > 0 && !flags.force) {
      throw new UsageError(
        `an admin exists already (${admins.map((a) => a.username).join(', ')}): they create accounts through the API. --force makes another (recovery; audited)`,
      );
    }
    // The operator at the shell, named as such in the audit log (not an account).
    const operator = localOperator();
    const created = await auth.createAccount(operator.username, { username, displayName: flags.name ?? username, role: 'admin' });
    auth.record({
      actor: operator.username,
      role: operator.role,
      action: 'account.create',
      target: `account:${created.account.id}`,
      outcome: 'ok',
      address: operator.address,
      detail: { username, role: 'admin', recovery: admins.length > 0 },
    });
    signAuditHead(store, dataDir(flags));
    const out = (s = '') => process.stdout.write(`${s}\n`);
    out(`created admin "${username}"`);
    out();
    out(`one-time password: ${created.oneTimePassword}`);
    out('  (must be changed at first login: POST /api/v1/auth/password)');
    out();
    out('Scan this with an authenticator app (every account signs in with a TOTP code):');
    out(created.totpUri!);
    qrcode.generate(created.totpUri!, { small: true }, (qr) => out(qr));
  } finally {
    store.close();
  }
}
