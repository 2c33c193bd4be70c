// What every route module receives: the application services (and the API's clock and stream
// heartbeat). Routes reach the controller and the store only through the services.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Role } from '../store/accounts.js';
import { needsSecondFactor, type Principal } from '../services/auth.js';
import type { Actor, Services } from '../services/index.js';

export interface ApiContext {
  /** The application services: routes call these for every rule and change. */
  services: Services;
  /** The API's clock (sessions, refresh tokens, the stream's session checks): the controller's. */
  now: () => Date;
  /** How often an open stream checks its session, keeps it alive and sends a comment line. */
  streamHeartbeatMs: number;
  /** The bearer token /metrics needs (the API listens beyond loopback); absent: /metrics is open. */
  metricsToken?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: the server, request, reply and logger slots must stay open so every fastify instance fits
export type Api = FastifyInstance<any, any, any, any, ZodTypeProvider>;

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
  interface FastifyRequest {
    principal?: Principal;
    /** Set once a handler recorded the call in the audit log itself (inside its transaction). */
    audited?: boolean;
    /** The session token, when the call was authenticated by the console's cookie (not a bearer header). */
    cookieSession?: string;
    /** Why a call was refused, for the audit record (e.g. a missing CSRF header). */
    refusal?: string;
  }
  interface FastifyContextConfig {
    /** Roles allowed to call the route; absent: any signed-in account. */
    roles?: readonly Role[];
    /** Open to anyone (login, health, docs). */
    public?: boolean;
    /** The audit log's name for the action, e.g. "grant.create". */
    action?: string;
  }
}

/** An error with an HTTP status and, for 400, the failing fields; answered as RFC 9457 problem details. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: 400 | 401 | 403 | 404 | 409 | 429 | 503,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

/** The signed-in account (the auth hook guarantees one on non-public routes). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new ApiError(401, 'sign in first');
  return req.principal;
}

/** Who calls, as the services name an actor: the signed-in account, from the client's address. */
export function actorOf(req: FastifyRequest): Actor {
  const { account } = principalOf(req);
  return { username: account.username, role: account.role, address: req.ip, ...(needsSecondFactor(account) ? {} : { readOnly: true }) };
}

/** Marks the call as recorded in the audit log (the service did, inside its transaction); returns `value`. */
/** A log export as a download, `tobira-<log>-<time>.csv|jsonl`, never cached: the entry log's and the audit log's. */
export function sendLogExport(reply: FastifyReply, log: string, format: 'csv' | 'jsonl', body: NodeJS.ReadableStream): FastifyReply {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return reply
    .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/jsonl; charset=utf-8')
    .header('content-disposition', `attachment; filename="tobira-${log}-${stamp}.${format}"`)
    .header('cache-control', 'no-store')
    .send(body);
}

export function audited<T>(req: FastifyRequest, value: T): T {
  req.audited = true;
  return value;
}

/** HTTP status phrases: the `title` of a problem whose `type` is about:blank (RFC 9457 §4.2.1). */
const statusTitles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The failing fields of a 400 (dotted paths, as in the request). */
  details?: unknown[];
  /** The same text as `detail`: kept for clients of the first error shape. */
  error: string;
}

/**
 * An error as RFC 9457 problem details. `type` stays about:blank (the status says what kind of
 * problem it is; `detail` says what went wrong in words), so `title` is the status phrase.
 */
export function problem(status: number, detail: string, details?: unknown[]): Problem {
  return {
    type: 'about:blank',
    title: statusTitles[status] ?? (status >= 500 ? 'Server Error' : 'Client Error'),
    status,
    detail,
    ...(details?.length ? { details } : {}),
    error: detail,
  };
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';
