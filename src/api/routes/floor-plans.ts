// Floor plans: the pictures of the premises the site file gives, with where the doors, zones and areas
// sit on them (the console draws their live state over the picture). An SVG is served under a CSP
// that lets it run nothing and load nothing, so a plan opened on its own cannot run script.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Api, ApiContext } from '../context.js';
import { errorResponses, idParam } from '../schemas.js';

const readers = ['guard', 'manager', 'auditor'] as const;

const names = z.object({ en: z.string(), ja: z.string() });
const point = z.tuple([z.number(), z.number()]);

export const floorPlanSchema = z.object({
  id: z.string(),
  name: names,
  width: z.number().describe("the picture's coordinate space: every x and y is in it"),
  height: z.number(),
  image: z.object({
    url: z.string().describe('GET it for the picture'),
    contentType: z.enum(['image/svg+xml', 'image/png', 'image/jpeg']),
    problem: z.string().nullable().describe('why the picture cannot be served now (missing, unreadable, too large, not the type its name says)'),
  }),
  doors: z.array(z.object({ door: z.string(), name: names, x: z.number(), y: z.number() })),
  zones: z.array(z.object({ zone: z.string(), name: names, points: z.array(point).describe('a polygon; a rectangle comes as its four corners') })),
  areas: z.array(z.object({ area: z.string(), name: names, points: z.array(point) })),
});

/** The picture may draw and style itself, nothing more: no script, no fetch, no outside fonts or images. */
const SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'";

export async function floorPlanRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { floorPlans } = ctx.services;

  api.get(
    '/floor-plans',
    {
      config: { roles: readers },
      schema: {
        tags: ['site'],
        summary: 'Floor plans: each picture with where its doors, zones and areas sit',
        response: { 200: z.object({ items: z.array(floorPlanSchema) }), ...errorResponses },
      },
    },
    async () => ({ items: floorPlans.list() }),
  );

  api.get(
    '/floor-plans/:id/image',
    {
      config: { roles: readers },
      schema: {
        tags: ['site'],
        summary: "A floor plan's picture (image/svg+xml, image/png or image/jpeg); 404 says why when it cannot be served",
        params: idParam,
        response: { 200: z.unknown().describe('image/svg+xml, image/png or image/jpeg'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const image = floorPlans.image(req.params.id);
      const etag = `"${createHash('sha256').update(image.data).digest('hex')}"`;
      reply
        .header('x-content-type-options', 'nosniff')
        .header('etag', etag)
        // Revalidated each time: a new picture put beside the site file shows at the next look.
        .header('cache-control', 'private, no-cache');
      if (image.contentType === 'image/svg+xml') reply.header('content-security-policy', SVG_CSP);
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.header('content-type', image.contentType).send(image.data);
    },
  );
}
