// The HTTP API as a fastify plugin, apart from the process wiring (see src/cli/start.ts).
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Controller } from '../controller/daemon.js';

export interface ApiOptions {
  controller: Controller;
}

export const apiPlugin: FastifyPluginAsync<ApiOptions> = async (app: FastifyInstance, { controller }) => {
  // Liveness plus what an installer checks first: is the database writable, is the broker there.
  app.get('/healthz', async (_req, reply) => {
    const health = controller.health();
    return reply.code(health.ok ? 200 : 503).send(health);
  });
};
