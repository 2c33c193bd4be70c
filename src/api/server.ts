// Builds the fastify server around the API plugin.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { apiPlugin, type ApiOptions } from './app.js';

export async function buildServer(opts: ApiOptions & { log: Logger }): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: opts.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger });
  // Never a stack trace or internal detail to the client.
  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'request failed');
    void reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
  });
  await app.register(apiPlugin, { controller: opts.controller });
  return app;
}
