// Camera evidence: one picture by id, as the camera sent it (image/jpeg or image/png).
import { z } from 'zod';
import type { Api, ApiContext } from '../context.js';
import { errorResponses, numericIdParam } from '../schemas.js';

export async function snapshotRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { snapshots } = ctx.services;

  api.get(
    '/snapshots/:id',
    {
      config: { roles: ['guard', 'manager', 'auditor'] },
      schema: {
        tags: ['alarms'],
        summary: "A camera's picture taken for an alarm or a denied entry (its SHA-256 in the ETag and the entry log)",
        params: numericIdParam,
        response: { 200: z.unknown().describe('image/jpeg or image/png'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const picture = snapshots.picture(req.params.id);
      return reply
        .header('content-type', picture.contentType)
        .header('etag', `"${picture.sha256}"`)
        .header('cache-control', 'private, max-age=3600')
        .send(picture.data);
    },
  );
}
