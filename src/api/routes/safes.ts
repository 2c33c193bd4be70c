// Safes: each safe's state now and its last openings (reading only: a safe opens with its locks).
import { z } from 'zod';
import { SAFE_PHASES } from '../../policy/safe.js';
import { SAFE_HOLDER_SCOPES } from '../../policy/safe-holders.js';
import { SAFE_LOCKS } from '../../policy/vocabulary.js';
import type { Api, ApiContext } from '../context.js';
import { errorResponses, idParam } from '../schemas.js';

const readers = ['admin', 'manager', 'guard', 'auditor'] as const;

export const safeSchema = z.object({
  id: z.string(),
  name: z.object({ en: z.string(), ja: z.string() }),
  area: z.string(),
  holders: z.enum(SAFE_HOLDER_SCOPES).describe('safe: grants for the safe id make holders; area: grants for its area'),
  locks: z.array(z.enum(SAFE_LOCKS)),
  state: z.enum(SAFE_PHASES),
  since: z.string(),
  contactOpen: z.boolean(),
  locksOpen: z.array(z.enum(SAFE_LOCKS)).describe('the locks open now (a switch, or an authentication at the safe within the window)'),
  openedBy: z.string().nullable().describe('the holder who opened it, while an authorised opening lasts'),
  location: z.string().nullable(),
  custodian: z.number().int().nullable().describe('staff number'),
  delegates: z.array(z.number().int()),
  authWindowSeconds: z.number().int(),
  heldOpenMs: z.number().int(),
});

const openingSchema = z.object({
  seq: z.number().int(),
  at: z.string(),
  reason: z.string().describe('safe-opened, safe-opened-unauthorised or safe-closed'),
  personId: z.string().nullable(),
  personName: z.string().nullable(),
  affiliation: z.string().nullable(),
  purpose: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
});

export async function safeRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { safes } = ctx.services;

  api.get(
    '/safes',
    {
      config: { roles: readers },
      schema: { tags: ['safes'], summary: 'Safes: their locks and state now', response: { 200: z.object({ items: z.array(safeSchema) }), ...errorResponses } },
    },
    async () => ({ items: safes.list() }),
  );

  api.get(
    '/safes/:id',
    {
      config: { roles: readers },
      schema: {
        tags: ['safes'],
        summary: 'One safe: its state now and its last openings and closings (newest first)',
        params: idParam,
        response: { 200: safeSchema.extend({ lastOpenings: z.array(openingSchema) }), ...errorResponses },
      },
    },
    async (req) => safes.get(req.params.id),
  );
}
