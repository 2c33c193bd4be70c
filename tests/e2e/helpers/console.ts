// The console under test: the real daemon (built CLI, embedded broker, SQLite) serving the built
// page, the firmware simulator as its devices, and one account of each role with a known password
// and its TOTP seed. `signIn` goes through the page as a person would.
import { createServer, type Server, type Socket, connect } from 'node:net';
import { generate } from 'otplib';
import type { Page } from 'playwright-core';
import { Simulator } from '../../../firmware-sim/index.js';
import { AuthService } from '../../../src/services/auth.js';
import type { Role } from '../../../src/store/accounts.js';
import { openStore } from '../../../src/store/index.js';
import { type Daemon, prepareData, type RawSite, startDaemon } from '../../helpers/daemon.js';
import { freePort, waitFor } from '../../helpers/ports.js';

export const CONSOLE_PASSWORD = 'lantern-orchard-7-quiet-river';
export const ROLES = ['guard', 'manager', 'auditor', 'admin'] as const satisfies readonly Role[];

export interface ConsoleAccount {
  username: string;
  displayName: string;
  role: Role;
  password: string;
  totpSecret: string;
  /** The last TOTP step used: a code signs in once (the server refuses a step it has seen). */
  lastStep?: number;
}

export interface ConsoleEnv {
  daemon: Daemon;
  sim: Simulator | undefined;
  /** The console's address: a TCP relay to the daemon's API port (which serves the page at /). */
  url: string;
  /** The network between the browser and the controller (the relay): drop it, and bring it back. */
  network: Network;
  accounts: Record<(typeof ROLES)[number], ConsoleAccount>;
  /** A new account as an administrator makes it (POST /api/v1/accounts): one-time password, seed to scan. */
  createAccount(username: string, role: Role, displayName?: string): Promise<ConsoleAccount>;
  stop(): Promise<void>;
}

const STEP_SECONDS = 30;

/**
 * A code that signs in now: the server accepts the current step and the ones either side, each
 * once per account, so a test that signs the same account in twice within 30 s takes the next step,
 * and waits only when it has used that too. Never the step before: it may have gone by the time the
 * server checks it.
 */
export async function totpCode(account: Pick<ConsoleAccount, 'totpSecret' | 'lastStep'>): Promise<string> {
  for (;;) {
    const current = Math.floor(Date.now() / 1000 / STEP_SECONDS);
    const step = Math.max(current, (account.lastStep ?? -Infinity) + 1);
    if (step <= current + 1) {
      account.lastStep = step;
      return generate({ secret: account.totpSecret, epoch: step * STEP_SECONDS });
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function startConsole(opts: { simulator?: boolean; edit?: (raw: RawSite) => void } = {}): Promise<ConsoleEnv> {
  const edit = (raw: RawSite) => {
    // Sign-ins and changes from one test address: the per-address limit is tested on its own.
    raw.api = { writesPerMinute: 100_000, ...(raw.api ?? {}) };
    opts.edit?.(raw);
  };
  const prepared = prepareData({ edit });
  const accounts = {} as ConsoleEnv['accounts'];
  const store = openStore(prepared.dataDir);
  try {
    const auth = new AuthService(store, () => prepared.site.api);
    for (const role of ROLES) {
      const username = `${role}.one`;
      const displayName = { guard: '佐藤 花子', manager: '鈴木 一郎', auditor: '田中 結衣', admin: '加藤 蓮' }[role];
      const created = await auth.createAccount('e2e', { username, displayName, role });
      await auth.setPassword(created.account, CONSOLE_PASSWORD, false);
      const totpSecret = new URL(created.totpUri!).searchParams.get('secret')!;
      accounts[role] = { username, displayName, role, password: CONSOLE_PASSWORD, totpSecret };
    }
  } finally {
    store.close();
  }
  const daemon = await startDaemon({ broker: { kind: 'embedded' }, dataDir: prepared.dataDir, baseTopic: prepared.baseTopic, edit });
  let sim: Simulator | undefined;
  try {
    if (opts.simulator ?? true)
      sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets, heartbeatMs: 2000 });
  } catch (err) {
    await daemon.stop();
    throw err;
  }

  let adminToken: string | undefined;
  async function asAdmin(method: string, path: string, body?: unknown): Promise<Response> {
    if (!adminToken) {
      const admin = accounts.admin;
      const res = await fetch(`${daemon.apiUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: admin.username, password: admin.password, totp: await totpCode(admin) }),
      });
      if (res.status !== 200) throw new Error(`the admin cannot sign in: ${res.status} ${await res.text()}`);
      adminToken = ((await res.json()) as { token: string }).token;
    }
    return fetch(`${daemon.apiUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  }

  const network = await startRelay(Number(new URL(daemon.apiUrl).port));

  return {
    daemon,
    sim,
    url: network.url,
    network,
    accounts,
    async createAccount(username, role, displayName = `New ${role}`) {
      const res = await asAdmin('POST', '/accounts', { username, displayName, role });
      if (res.status !== 201) throw new Error(`cannot create ${username}: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { oneTimePassword: string; totpUri: string };
      return { username, displayName, role, password: body.oneTimePassword, totpSecret: new URL(body.totpUri).searchParams.get('secret')! };
    },
    async stop() {
      await network.close();
      await sim?.stop();
      await daemon.stop();
    },
  };
}

export interface Network {
  url: string;
  /** Cuts every open connection (an open event stream included) and refuses new ones. */
  drop(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP relay on loopback between the browser and the daemon: a network drop the page cannot tell
 * from a real one (its stream breaks, its reconnections fail), with no change to the daemon.
 */
async function startRelay(targetPort: number): Promise<Network> {
  const port = await freePort();
  const open = new Set<Socket>();
  let dropped = false;
  const server: Server = createServer((client) => {
    if (dropped) return void client.destroy();
    const upstream = connect({ port: targetPort, host: '127.0.0.1' });
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    drop() {
      dropped = true;
      for (const s of open) s.destroy();
      open.clear();
    },
    restore() {
      dropped = false;
    },
    close() {
      for (const s of open) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The sign-in page's labels, in either language. */
const LABELS = {
  en: { username: 'Username', password: 'Password', code: 'Code', submit: 'Sign in' },
  ja: { username: 'ユーザー名', password: 'パスワード', code: '確認コード', submit: 'ログイン' },
} as const;

/** Signs in through the page (which must show the sign-in form) with password and a fresh code. */
export async function signIn(page: Page, account: ConsoleAccount, opts: { language?: 'en' | 'ja'; code?: string } = {}): Promise<void> {
  const l = LABELS[opts.language ?? 'en'];
  await page.getByLabel(l.username, { exact: true }).fill(account.username);
  await page.getByLabel(l.password, { exact: true }).fill(account.password);
  await page.getByLabel(l.code, { exact: true }).fill(opts.code ?? (await totpCode(account)));
  await page.getByRole('button', { name: l.submit, exact: true }).click();
}

/** Waits until the page shows a main heading with this text. */
export async function expectHeading(page: Page, name: string, timeoutMs = 10_000): Promise<void> {
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor({ state: 'visible', timeout: timeoutMs });
}

/** Visible English words the page shows (text, and the names and hints of its controls). */
export async function englishWords(page: Page, allowed: readonly string[] = []): Promise<string[]> {
  // Skipped: what is marked as not to be translated (identifiers: usernames, device ids, a time
  // zone, a TOTP key) and what is marked as English on purpose (the language switch's "English").
  const found = (await page.evaluate(`(() => {
    const skip = (el) => el.closest('[translate="no"], [lang="en"]') !== null;
    const visible = (el) => el.checkVisibility({ visibilityProperty: true, opacityProperty: true }) && !el.closest('.visually-hidden');
    const texts = [document.title];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (el && visible(el) && !skip(el)) texts.push(n.textContent);
    }
    for (const el of document.body.querySelectorAll('[aria-label], [title], [placeholder], img[alt]')) {
      if (!visible(el) || skip(el)) continue;
      for (const a of ['aria-label', 'title', 'placeholder', 'alt']) if (el.hasAttribute(a)) texts.push(el.getAttribute(a));
    }
    return texts.join('\\n');
  })()`)) as string;
  const ok = new Set(['tobira', 'TOTP', 'QR', ...allowed].map((w) => w.toLowerCase()));
  return [...new Set(found.match(/[A-Za-z][A-Za-z'’.-]*[A-Za-z]/g) ?? [])].filter((w) => !ok.has(w.toLowerCase()));
}

/** Waits until a condition on the page's text holds (for live updates). */
export async function waitForText(page: Page, text: string, timeoutMs = 5000): Promise<void> {
  await waitFor(async () => (await page.getByText(text).count()) > 0, timeoutMs, `"${text}" on the page`);
}
