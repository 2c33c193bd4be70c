// An API under test: the real controller (embedded broker, SQLite in a temp dir) with the real
// fastify app, and one signed-in account per role (each with its TOTP seed: every role needs a code).
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { generate } from 'otplib';
import { pino } from 'pino';
import { buildServer } from '../../src/api/server.js';
import { AuthService } from '../../src/services/auth.js';
import { Controller } from '../../src/controller/controller.js';
import type { Role } from '../../src/store/accounts.js';
import { prepareData, type RawSite } from './daemon.js';
import { freePort } from './ports.js';

export interface TestAccount {
  username: string;
  password: string;
  totpSecret: string | null;
  token: string;
}

export interface TestApi {
  app: FastifyInstance;
  controller: Controller;
  dataDir: string;
  auth: AuthService;
  accounts: Record<Role, TestAccount>;
  /** A connection of the test's own to the database file, for fixtures and checks (opened once, closed with the API). */
  db(): Database.Database;
  /** A request as one role (or anonymous), through fastify's inject. */
  call(as: Role | null, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<LightMyRequestResponse>;
  /** A current TOTP code for a secret. */
  code(secret: string, offsetSteps?: number): Promise<string>;
  /** Creates an account with a known password (changed already) and signs it in. */
  signIn(username: string, role: Role): Promise<TestAccount>;
  close(): Promise<void>;
}

export const TEST_PASSWORD = 'correct horse battery staple 42';

export async function startApi(opts: { edit?: (raw: RawSite) => void; rateLimitWindowMs?: number } = {}): Promise<TestApi> {
  const { dataDir, site } = prepareData({
    edit: (raw) => {
      raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }] }];
      opts.edit?.(raw);
      // Every test call comes from 127.0.0.1: the per-address limit on changes is tested on its own (auth.test.ts).
      raw.api = { writesPerMinute: 100_000, ...(raw.api ?? {}) };
    },
  });
  const log = pino({ level: 'silent' });
  const controller = await Controller.start({ site, dataDir, log, broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() } });
  const app = await buildServer({ controller, log, rateLimitWindowMs: opts.rateLimitWindowMs });
  await app.ready();
  const auth = new AuthService(controller.ctx.store, () => controller.ctx.site.api);

  const code = async (secret: string, offsetSteps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 });

  async function signIn(username: string, role: Role): Promise<TestAccount> {
    const created = await auth.createAccount('test', { username, displayName: `Test ${role}`, role });
    await auth.setPassword(created.account, TEST_PASSWORD, false);
    const totpSecret = created.totpUri ? new URL(created.totpUri).searchParams.get('secret') : null;
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username, password: TEST_PASSWORD, ...(totpSecret ? { totp: await code(totpSecret) } : {}) },
    });
    if (res.statusCode !== 200) throw new Error(`cannot sign in ${username}: ${res.statusCode} ${res.body}`);
    return { username, password: TEST_PASSWORD, totpSecret, token: res.json().token };
  }

  const accounts = {} as Record<Role, TestAccount>;
  for (const role of ['admin', 'manager', 'guard', 'auditor'] as const) accounts[role] = await signIn(`test-${role}`, role);

  let db: Database.Database | undefined;
  return {
    app,
    controller,
    dataDir,
    auth,
    accounts,
    code,
    signIn,
    db: () => (db ??= new Database(join(dataDir, 'tobira.db'))),
    call: (as, method, url, body) =>
      app.inject({
        method,
        url,
        ...(body !== undefined ? { payload: body as object } : {}),
        headers: as ? { authorization: `Bearer ${accounts[as].token}` } : {},
      }),
    close: async () => {
      db?.close();
      await app.close();
      await controller.stop();
    },
  };
}
