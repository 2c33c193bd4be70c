// What every route module receives: the controller, the store, the auth service, the audit log.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Controller } from '../controller/daemon.js';
import type { Store } from '../store/index.js';
import type { AuditLog } from '../store/audit-log.js';
import type { Role } from '../store/accounts.js';
import type { AuthService, Principal } from './auth.js';

export interface ApiContext {
  controller: Controller;
  store: Store;
  auth: AuthService;
  audit: AuditLog;
}

export type Api = FastifyInstance<any, any, any, any, ZodTypeProvider>;

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** Set once a handler recorded the call in the audit log itself (inside its transaction). */
    audited?: boolean;
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

/** An error with an HTTP status and, for 400, the failing fields. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: 400 | 401 | 403 | 404 | 409 | 429 | 503,
    message: string,
    readonly details?: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, `${what} not found`);

/** The signed-in account (the auth hook guarantees one on non-public routes). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new ApiError(401, 'sign in first');
  return req.principal;
}

/**
 * Records a successful change in the audit log; call inside the change's own transaction so both
 * commit or neither does.
 */
export function audit(ctx: ApiContext, req: FastifyRequest, target: string | null, detail: Record<string, unknown> | null = null, action?: string): void {
  const p = req.principal;
  ctx.audit.append({
    at: new Date().toISOString(), actor: p?.account.username ?? null, role: p?.account.role ?? null,
    action: action ?? req.routeOptions.config.action ?? `${req.method} ${req.routeOptions.url}`,
    target, outcome: 'ok', address: req.ip, detail,
  });
  req.audited = true;
}
