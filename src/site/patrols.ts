// The site file's `patrols:` section: guard tours. A route is an ordered list of checkpoints (a
// reader where the guard badges, or an input device of input `checkpoint`), a round every
// `intervalMinutes` (at most 4 hours), each checkpoint expected `afterMinutes` into the round and
// late once `toleranceMinutes` more have passed. Cross-references are checked by `checkPatrols`.
import { z } from 'zod';
import { deviceIdSchema } from '../devices/protocol.js';
import type { PatrolRoute } from '../policy/patrol.js';
import type { DeviceKind } from '../policy/vocabulary.js';

type CheckpointCandidate = { kind: DeviceKind; input?: string | undefined };

const id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64 characters');
const label = z.union([z.string().min(1).max(200), z.strictObject({ en: z.string().min(1).max(200), ja: z.string().min(1).max(200).optional() })]);
/** Minutes; fractions are allowed (a bench or a test runs rounds of seconds). */
const minutes = z.number().positive();

export const patrolRouteSchema = z
  .strictObject({
    id,
    name: label.optional(),
    /** A round is due every this many minutes, counted from local midnight; at most 4 hours. */
    intervalMinutes: minutes.max(240, 'at most 240 minutes (4 hours) between rounds'),
    /** How late a checkpoint may be checked (and how early a round may begin) before it counts as missed. */
    toleranceMinutes: z.number().min(0).max(60).default(5),
    /**
     * People with an active credential and one of these roles are guards here: their badge at a
     * checkpoint reader counts. Anyone else's badge is no check (and, at a door's reader, only an access attempt).
     */
    guardRoles: z.array(z.string().min(1).max(64)).min(1).default(['security']),
    checkpoints: z
      .array(
        z.union([
          deviceIdSchema.transform((device) => ({ device, afterMinutes: 0 })),
          z.strictObject({ device: deviceIdSchema, afterMinutes: z.number().min(0).default(0) }),
        ]),
      )
      .min(1),
  })
  .superRefine((route, ctx) => {
    route.checkpoints.forEach((c, i) => {
      const before = route.checkpoints[i - 1];
      if (before && c.afterMinutes < before.afterMinutes) {
        ctx.addIssue({ code: 'custom', path: ['checkpoints', i, 'afterMinutes'], message: 'checkpoints are visited in order: afterMinutes may not decrease' });
      }
      if (before && route.checkpoints.slice(0, i).some((b) => b.device === c.device)) {
        ctx.addIssue({ code: 'custom', path: ['checkpoints', i], message: `checkpoint "${c.device}" is already on this route` });
      }
      if (c.afterMinutes + route.toleranceMinutes >= route.intervalMinutes) {
        ctx.addIssue({
          code: 'custom',
          path: ['checkpoints', i],
          message: 'afterMinutes + toleranceMinutes must be less than intervalMinutes (the next round would be due first)',
        });
      }
    });
  });

export const patrolsSchema = z.array(patrolRouteSchema).default([]);
export type PatrolRouteConfig = z.infer<typeof patrolRouteSchema>;

/** The route as the pure machine takes it (ms). */
export function patrolRouteRules(route: PatrolRouteConfig): PatrolRoute {
  return {
    id: route.id,
    checkpoints: route.checkpoints.map((c) => ({ device: c.device, afterMs: Math.round(c.afterMinutes * 60_000) })),
    intervalMs: Math.round(route.intervalMinutes * 60_000),
    toleranceMs: Math.round(route.toleranceMinutes * 60_000),
  };
}

/** Checks a route names devices that exist and can be checkpoints: readers, or inputs of input `checkpoint`. */
export function checkPatrols(
  patrols: readonly PatrolRouteConfig[],
  devices: ReadonlyMap<string, CheckpointCandidate>,
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const seen = new Set<string>();
  patrols.forEach((route, r) => {
    if (seen.has(route.id)) problems.push({ path: ['patrols', r, 'id'], message: `duplicate id "${route.id}"` });
    seen.add(route.id);
    route.checkpoints.forEach((c, i) => {
      const device = devices.get(c.device);
      if (!device) problems.push({ path: ['patrols', r, 'checkpoints', i], message: `unknown device "${c.device}"` });
      else if (!isCheckpointDevice(device)) {
        problems.push({
          path: ['patrols', r, 'checkpoints', i],
          message: `device "${c.device}" is a ${device.kind}: a checkpoint is a reader or an input with input: checkpoint`,
        });
      }
    });
  });
  return problems;
}

export function isCheckpointDevice(device: CheckpointCandidate): boolean {
  return device.kind === 'reader' || (device.kind === 'input' && device.input === 'checkpoint');
}
