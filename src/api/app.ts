// The HTTP API as a fastify plugin, apart from the process wiring (src/cli/start.ts builds the server).
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit, { type CreateRateLimitOptions } from '@fastify/rate-limit';
import cookie from '@fastify/cookie';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Controller } from '../controller/controller.js';
import { AuthError } from '../services/auth.js';
import { ApiError, problem, PROBLEM_CONTENT_TYPE, type Api, type ApiContext } from './context.js';
import type { Role } from '../store/accounts.js';
import { registerRoutes } from './routes/index.js';
import { metricsRoutes } from './routes/metrics.js';
import { createServices, ServiceError } from '../services/index.js';
import { consoleRoutes, defaultConsoleDir } from './console.js';
import { clearSessionCookie, CSRF_HEADER, csrfMatches, sessionCookieOf } from './session-cookie.js';

export interface ApiOptions {
  controller: Controller;
  /** The API's clock; the controller's by default (tests drive sessions through it). */
  now?: () => Date;
  /** How often an open stream checks and keeps its session (default 15 s). */
  streamHeartbeatMs?: number;
  /**
   * How long a rate-limit window lasts (default a minute, as the site file's per-minute limits say).
   * Longer only where a test must send more requests than a loaded machine can in a minute.
   */
  rateLimitWindowMs?: number;
  /** Where the built console is (index.html, assets/); dist/console of the package by default. */
  consoleDir?: string;
  /**
   * The bearer token /metrics needs: `tobira start` gives it (secrets.json `metrics`) when the API
   * listens beyond loopback. Absent: /metrics is open, as on loopback.
   */
  metricsToken?: string;
}

const API_PREFIX = '/api/v1';

/** A service's refusal, as the status its kind names. */
const SERVICE_STATUS = { invalid: 400, forbidden: 403, 'not-found': 404, conflict: 409, unavailable: 503 } as const;

/**
 * How many client addresses each rate limit remembers (an LRU; IPv6 counts per /64). Far more than
 * a site's LAN holds, so a flood from many addresses cannot push a limited one out and reset it,
 * yet bounded (a few MB at most).
 */
const RATE_LIMIT_ADDRESSES = 100_000;
const WRITE_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE']);

/** Routes a session that must change its password may still use. */
const restrictedAllowed = new Set([`${API_PREFIX}/auth/password`, `${API_PREFIX}/auth/logout`, `${API_PREFIX}/auth/me`]);

function outcomeOf(status: number): string {
  if (status < 400) return 'ok';
  return (
    ({ 400: 'invalid', 401: 'unauthenticated', 403: 'denied', 404: 'not-found', 409: 'conflict', 429: 'rate-limited' } as Record<number, string>)[status] ??
    'error'
  );
}

/** What a role-refused route does, in words: "a guard may not <this>". */
const actionWords: Record<string, string> = {
  'account.create': 'create accounts',
  'account.update': 'change accounts',
  'account.reset-password': 'reset passwords',
  'grant.create': 'grant access',
  'grant.approve': 'approve grants',
  'grant.revoke': 'revoke grants',
  'review.decide': 'review grants',
  'person.create': 'register people',
  'person.update': "change people's details",
  'people.import': 'import people',
  'credential.enrol': 'enrol credentials',
  'credential.pin-set': 'set PINs',
  'credential.otp-enrol': 'enrol door OTP seeds',
  'credential.status-change': 'suspend or revoke credentials',
  'training.record': 'record trainings',
  'pledge.record': 'record pledges',
  'account.reset-totp': 'reset TOTP seeds',
  'door.unlock': 'unlock doors',
  'door.unlock-confirm': 'confirm remote unlocks',
  'door.unlock-cancel': 'cancel remote unlocks',
  'door.emergency-unlock': 'unlock doors in an emergency',
  'door.lock': 'lock doors',
  'area.lockdown': 'lock areas down',
  'area.emergency-release': 'release areas in an emergency',
  'area.normal': 'return areas to normal',
  'event.ack': 'acknowledge events',
  'visit.create': 'register visits',
  'visit.approve': 'approve visits',
  'visit.pledge': "record visitors' pledges",
  'visit.check-in': 'check visitors in',
  'visit.check-out': 'check visitors out',
  'visit.badge-issue': "issue visitors' badges",
  'visit.badge-return': "take visitors' badges back",
  'visit.cancel': 'cancel visits',
};
/** Reads, by the first path segment under /api/v1. */
const readWords: Record<string, string> = {
  accounts: 'read accounts',
  audit: 'read the audit log',
  entries: 'read the entry log',
  grants: 'read grants',
  ledger: 'read the register of access holders',
  people: "read people's records",
  reviews: 'read the grants due for review',
  visits: 'read visits',
  events: 'read events',
  areas: 'read areas',
  doors: 'read doors',
  devices: 'read devices',
  credentials: 'read credentials',
  'unlock-requests': 'read remote unlock requests',
};

export function refusalText(role: Role, allowed: readonly Role[], action: string | undefined, method: string, url: string): string {
  const segment = url.startsWith(`${API_PREFIX}/`) ? url.slice(API_PREFIX.length + 1).split('/')[0]! : '';
  const what = (action && actionWords[action]) ?? (method === 'GET' && readWords[segment]) ?? (action ? `do this (${action})` : 'do this');
  const article = (word: string) => (/^[aeiou]/.test(word) ? 'an' : 'a');
  return `${article(role)} ${role} may not ${what} (needs ${allowed.join(' or ')})`;
}

export const apiPlugin: FastifyPluginAsync<ApiOptions> = async (
  app: FastifyInstance,
  { controller, now: clock, streamHeartbeatMs, rateLimitWindowMs, consoleDir, metricsToken },
) => {
  const store = controller.ctx.store;
  const now = clock ?? (() => controller.ctx.now());
  const services = createServices({ store, now, controller });
  // Opened now, not at the first sign-in: seeds that do not open with the secrets key stop the start.
  const { auth, auditLog, security, status } = services;
  app.decorate('services', services);
  const ctx: ApiContext = { services, now, streamHeartbeatMs: streamHeartbeatMs ?? 15_000, ...(metricsToken ? { metricsToken } : {}) };

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: "tobira managers' API",
        version: '1',
        description:
          'Grant and revoke access to restricted areas, manage people, visits and accounts, read the entry and audit logs. ' +
          '技術情報管理認証制度のための入退室管理 API。',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Never a stack trace or internal detail to the client; 400 lists the failing fields. Every error
  // is RFC 9457 problem details (application/problem+json).
  const sendProblem = (reply: FastifyReply, status: number, detail: string, details?: unknown[]) =>
    reply
      .code(status)
      .type(PROBLEM_CONTENT_TYPE)
      .send(problem(status, detail, details));
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req: FastifyRequest, reply: FastifyReply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const details = err.validation.map((v) => ({
        path: `${v.instancePath ? v.instancePath.replace(/^\//, '').replace(/\//g, '.') : ''}`.replace(
          /^$/,
          (err as { validationContext?: string }).validationContext ?? '',
        ),
        message: v.message ?? 'invalid',
      }));
      return sendProblem(reply, 400, `invalid ${(err as { validationContext?: string }).validationContext ?? 'request'}`, details);
    }
    if (err instanceof ApiError) return sendProblem(reply, err.statusCode, err.message, err.details);
    if (err instanceof ServiceError) return sendProblem(reply, SERVICE_STATUS[err.kind], err.message, err.details);
    if (err instanceof AuthError) return sendProblem(reply, err.status, err.message, Array.isArray(err.details) ? err.details : undefined);
    // Storage that cannot be written is the gateway's trouble, not a bug: 503, and the client may retry.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|BUSY)/.test(code)) {
      return sendProblem(reply, 503, 'storage unavailable; nothing was changed');
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'request failed');
    return sendProblem(reply, status, status === 500 ? 'internal error' : err.message);
  });
  await app.register(cookie);
  const consoleFallback = await consoleRoutes(app as Api, consoleDir ?? defaultConsoleDir());
  // Unknown routes answer in the same shape; a browser's page request outside the API gets the console.
  app.setNotFoundHandler((req, reply) => {
    if (consoleFallback(req, reply)) return reply;
    return sendProblem(reply, 404, 'no such route');
  });

  // Per-address rate limits (before authentication, so unauthenticated floods count too): login
  // attempts, and changes of any kind. 429 with Retry-After; a refused login is in the audit log
  // like any other attempt (other refused changes are recorded by the onResponse hook below).
  await app.register(rateLimit, { global: false });
  const limiter = (max: () => number) =>
    app.createRateLimit({ max, timeWindow: rateLimitWindowMs ?? 60_000, cache: RATE_LIMIT_ADDRESSES } as CreateRateLimitOptions);
  const loginLimit = limiter(() => security.apiSettings().loginAttemptsPerMinute);
  const writeLimit = limiter(() => security.apiSettings().writesPerMinute);
  const LOGIN_URL = `${API_PREFIX}/auth/login`;
  const tooMany = (reply: FastifyReply, result: { isAllowed: false; ttlInSeconds: number; max: number }, what: string): ApiError => {
    reply.header('retry-after', String(Math.max(1, result.ttlInSeconds)));
    reply.header('x-ratelimit-limit', String(result.max));
    return new ApiError(429, `too many ${what} from this address (${result.max} a minute); retry in ${Math.max(1, result.ttlInSeconds)} s`);
  };
  app.addHook('onRequest', async (req, reply) => {
    if (!WRITE_METHODS.has(req.method) || req.routeOptions.url === LOGIN_URL) return;
    const result = await writeLimit(req);
    if (!result.isAllowed && result.isExceeded) throw tooMany(reply, result, 'changes');
  });
  // Login after the body is parsed, so the refusal's audit record names who was tried.
  app.addHook('preValidation', async (req, reply) => {
    if (req.method !== 'POST' || req.routeOptions.url !== LOGIN_URL) return;
    const result = await loginLimit(req);
    if (result.isAllowed || !result.isExceeded) return;
    const username = (req.body as { username?: unknown } | undefined)?.username;
    auth.recordRateLimited(typeof username === 'string' ? username.slice(0, 64) : null, req.ip);
    req.audited = true;
    throw tooMany(reply, result, 'login attempts');
  });

  // Who is calling, and may they: 401 for no or ended session, 403 for a role that may not. A
  // bearer header wins; without one, the console's cookie, whose changes need the CSRF header.
  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config;
    // Swagger UI's own routes (/docs) are public: the document it shows is.
    if (config.public || !req.routeOptions.url || req.routeOptions.url.startsWith('/docs')) return;
    const header = req.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    const cookieToken = bearer === undefined ? sessionCookieOf(req) : undefined;
    const token = bearer ?? cookieToken;
    const principal = auth.authenticate(token);
    if (!principal) {
      if (cookieToken) clearSessionCookie(req, reply);
      throw new ApiError(401, token ? 'session ended or unknown; sign in again' : 'sign in first (Authorization: Bearer <token>)');
    }
    req.principal = principal;
    if (cookieToken) {
      req.cookieSession = cookieToken;
      if (WRITE_METHODS.has(req.method) && !csrfMatches(req, cookieToken)) {
        req.refusal = 'csrf';
        throw new ApiError(
          403,
          `a change made with the session cookie needs the ${CSRF_HEADER} header of this session (from the sign-in or GET /api/v1/auth/me)`,
        );
      }
    }
    if (principal.restricted && !restrictedAllowed.has(req.routeOptions.url))
      throw new ApiError(403, 'change your password first (POST /api/v1/auth/password)');
    if (config.roles && !config.roles.includes(principal.account.role)) {
      throw new ApiError(403, refusalText(principal.account.role, config.roles, config.action, req.method, req.routeOptions.url));
    }
  });

  // Every mutating call ends up in the audit log: handlers record successes inside their own
  // transaction; whatever they did not (refusals, invalid input, failures) is recorded here.
  app.addHook('onResponse', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || req.audited) return;
    const denied = reply.statusCode === 401 || reply.statusCode === 403;
    try {
      auditLog.recordAttempt({
        actor: req.principal?.account.username ?? null,
        role: req.principal?.account.role ?? null,
        action: req.routeOptions.config.action ?? `${req.method} ${req.routeOptions.url ?? req.url}`,
        target: req.url,
        outcome: outcomeOf(reply.statusCode),
        address: req.ip,
        detail: { status: reply.statusCode, ...(req.refusal ? { refusal: req.refusal } : {}) },
      });
    } catch (err) {
      req.log.error({ err }, 'could not write the audit log');
    }
    if (denied && req.principal) security.callRefused(req.principal.account, req.method, req.url);
  });

  // Liveness plus what an installer checks first: is the database writable, is the broker there.
  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async (_req, reply) => {
    const health = status.health();
    return reply.code(health.ok ? 200 : 503).send(health);
  });

  await app.register(async (api) => registerRoutes(api as Api, ctx), { prefix: API_PREFIX });
  await metricsRoutes(app as Api, ctx);
  app.get('/api/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
};
