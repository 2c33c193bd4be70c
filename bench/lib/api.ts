// The API scenario's preparation: accounts created straight in the database (as `tobira admin
// create` and the tests do), grants to revoke, sign-in over HTTP with TOTP, and a probe of each route
// (a route that answers 404 "Route … not found" is not there yet: reported as not available).
import { generate } from 'otplib';
import { openDatabase } from '../../src/store/db.js';
import { storeOn } from '../../src/store/index.js';
import { AuthService } from '../../src/services/auth.js';
import type { Role } from '../../src/store/accounts.js';
import type { SiteFile } from '../../src/site/schema.js';
import { REVOCABLE_AREA } from './site.js';
import { grantedPerson, personIdOf, type DbMeta } from './datagen.js';

// Not containing the usernames (bench-manager, bench-auditor): the password policy refuses that.
export const BENCH_PASSWORD = 'Correct horse, battery staple 42';

export interface BenchAccount {
  username: string;
  role: Role;
  totpSecret: string | null;
}

export interface ApiPrep {
  accounts: BenchAccount[];
  revocableGrantIds: number[];
}

/** Before the daemon starts: a manager and an auditor with known passwords, and grants that revoking changes no door. */
export async function prepareApi(dataDir: string, site: SiteFile, meta: DbMeta, revocable: number): Promise<ApiPrep> {
  const db = openDatabase(dataDir);
  try {
    const auth = new AuthService(storeOn(db), () => site.api);
    const accounts: BenchAccount[] = [];
    for (const role of ['manager', 'auditor'] as const) {
      const username = `bench-${role}`;
      const created = await auth.createAccount('bench', { username, displayName: `Bench ${role}`, role });
      await auth.setPassword(created.account, BENCH_PASSWORD, false);
      accounts.push({ username, role, totpSecret: created.totpUri ? new URL(created.totpUri).searchParams.get('secret') : null });
    }
    const now = new Date().toISOString();
    const insert = db.prepare(`INSERT INTO grants (person_id, area_id, valid_from, valid_until, purpose, out_of_hours, status, granted_by, granted_at)
      VALUES (?, ?, ?, NULL, 'benchmark (to revoke)', 0, 'active', 'bench', ?)`);
    const ids: number[] = [];
    db.transaction(() => {
      for (let k = 0; k < revocable; k++) {
        const person = personIdOf(grantedPerson(meta, (k * 7) % meta.cardHolders));
        ids.push(Number(insert.run(person, REVOCABLE_AREA, now, now).lastInsertRowid));
      }
    })();
    return { accounts, revocableGrantIds: ids };
  } finally {
    db.close();
  }
}

/** `offsetSteps`: a code of a later 30 s step (accepted one step either side), for a second sign-in within one step. */
export async function signIn(apiUrl: string, account: BenchAccount, offsetSteps = 0): Promise<string> {
  const totp = account.totpSecret ? await generate({ secret: account.totpSecret, epoch: Math.floor(Date.now() / 1000) + 30 * offsetSteps }) : undefined;
  const res = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: account.username, password: BENCH_PASSWORD, ...(totp ? { totp } : {}) }),
  });
  const body = (await res.json()) as { token?: string; error?: string };
  if (res.status !== 200 || !body.token) throw new Error(`cannot sign in ${account.username}: ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

export type ProbeOutcome = { available: true; status: number } | { available: false; status: number; why: string };

/** One request: 2xx is available; 404 from the router ("Route … not found") is not written yet; anything else is reported. */
export async function probe(apiUrl: string, method: 'GET' | 'POST', path: string, token: string, body?: unknown): Promise<ProbeOutcome & { body: string }> {
  const res = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (res.status >= 200 && res.status < 300) return { available: true, status: res.status, body: text.slice(0, 300) };
  if (res.status === 404 && /Route .* not found/.test(text))
    return { available: false, status: 404, why: 'route not there (404 from the router)', body: text.slice(0, 300) };
  return { available: false, status: res.status, why: `answered ${res.status}`, body: text.slice(0, 300) };
}
