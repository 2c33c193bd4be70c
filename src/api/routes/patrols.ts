// Guard tours: the routes, the round under way and the last rounds (guards and above, auditors).
import { z } from 'zod';
import type { Api, ApiContext } from '../context.js';
import { errorResponses, isoTime } from '../schemas.js';

const names = z.object({ en: z.string(), ja: z.string() });
const missed = z.enum(['late', 'skipped', 'ended']).nullable();
const roundCheckpoint = z.object({
  device: z.string(),
  expectedBy: isoTime.nullable().describe('checked after this, the checkpoint is late (patrol-missed); null for past rounds'),
  state: z.enum(['pending', 'checked', 'missed']),
  at: isoTime.nullable(),
  by: z.string().nullable().describe("the guard's person id; null for a checkpoint input"),
  late: z.boolean(),
  missed,
});
const round = z.object({
  eventId: z.number().int().nullable().describe('the patrol-completed / patrol-incomplete event (null for the round under way)'),
  dueAt: isoTime,
  startedAt: isoTime.nullable(),
  endedAt: isoTime.nullable(),
  outcome: z.enum(['completed', 'incomplete']).nullable(),
  checkpoints: z.array(roundCheckpoint),
});
export const patrolRouteSchema = z.object({
  id: z.string(),
  name: names.nullable(),
  intervalMinutes: z.number(),
  toleranceMinutes: z.number(),
  guardRoles: z.array(z.string()),
  checkpoints: z.array(z.object({ device: z.string(), name: names.nullable(), afterMinutes: z.number(), doorReader: z.boolean() })),
  current: round.extend({ phase: z.enum(['waiting', 'open']), nextDeadline: isoTime }),
  lastRounds: z.array(round),
});

export async function patrolRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const { patrols } = ctx.services;
  api.get(
    '/patrols',
    {
      config: { roles: ['admin', 'manager', 'guard', 'auditor'] },
      schema: {
        tags: ['site'],
        summary: 'Patrol routes: the round under way (what is due, by when) and the last rounds with their times',
        querystring: z.object({ lastRounds: z.coerce.number().int().min(0).max(100).default(10) }),
        response: { 200: z.object({ items: z.array(patrolRouteSchema) }), ...errorResponses },
      },
    },
    async (req) => ({ items: patrols.list({ lastRounds: req.query.lastRounds }) }),
  );
}
