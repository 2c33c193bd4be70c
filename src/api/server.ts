// Builds the fastify server around the API plugin: HTTPS when a certificate and key are configured.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { apiPlugin, type ApiOptions } from './app.js';

export interface ServerOptions extends ApiOptions {
  log: Logger;
  tls?: { cert: string; key: string };
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger,
    // Behind no proxy by default: req.ip is the peer's own address (for the login rate limit).
    trustProxy: false,
    bodyLimit: 1024 * 1024,
    ...(opts.tls ? { https: { cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) } } : {}),
  }) as unknown as FastifyInstance;
  const { log: _log, tls: _tls, ...api } = opts;
  await app.register(apiPlugin, api);
  return app;
}
