// Alarm zones: their state, and the guards' arm and disarm (audited inside the change's transaction).
import { z } from 'zod';
import { ZONE_ARMING, ZONE_OUTPUT_ALARMS } from '../../site/zones.js';
import { actorOf, audited, type Api, type ApiContext } from '../context.js';
import { errorResponses, idParam } from '../schemas.js';

const readers = ['admin', 'manager', 'guard', 'auditor'] as const;
const operators = ['guard', 'manager'] as const;

export const zoneSchema = z.object({
  id: z.string(),
  name: z.object({ en: z.string(), ja: z.string() }),
  area: z.string(),
  arm: z.enum(ZONE_ARMING).describe('schedule: outside the area business hours; empty: when the area falls empty; manual: by a guard'),
  mode: z.enum(['disarmed', 'armed', 'entry-delay', 'tripped']),
  since: z.string(),
  trippedBy: z.string().nullable().describe('the sensor that tripped the zone (or started the entry delay)'),
  sounding: z.boolean().describe('the intrusion outputs are on'),
  faultedSensors: z.array(z.string()).describe('sensors reported as chattering, not trusted until quiet'),
  sensors: z.array(z.string()),
  outputs: z.partialRecord(z.enum(ZONE_OUTPUT_ALARMS), z.array(z.string())),
  minActiveMs: z.number().int(),
  entryDelaySeconds: z.number().int(),
});

export async function zoneRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { zones } = ctx.services;

  api.get(
    '/zones',
    {
      config: { roles: readers },
      schema: {
        tags: ['zones'],
        summary: 'Alarm zones: how each arms and its state now',
        response: { 200: z.object({ items: z.array(zoneSchema) }), ...errorResponses },
      },
    },
    async () => ({ items: zones.list() }),
  );

  api.post(
    '/zones/:id/arm',
    {
      config: { roles: operators, action: 'zone.arm' },
      schema: { tags: ['zones'], summary: 'Arm a zone (409 when armed already)', params: idParam, response: { 200: zoneSchema, ...errorResponses } },
    },
    async (req) => audited(req, zones.arm(actorOf(req), req.params.id)),
  );

  api.post(
    '/zones/:id/disarm',
    {
      config: { roles: operators, action: 'zone.disarm' },
      schema: {
        tags: ['zones'],
        summary: 'Disarm a zone and silence its outputs (409 when disarmed already)',
        params: idParam,
        response: { 200: zoneSchema, ...errorResponses },
      },
    },
    async (req) => audited(req, zones.disarm(actorOf(req), req.params.id)),
  );
}
