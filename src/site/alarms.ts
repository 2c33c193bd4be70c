// The site file's `alarms:` section: when an unanswered alarm escalates and how, and when repeated
// denials at one door become an alarm. Its cross-reference check is here too (load.ts calls it).
import { z } from 'zod';
import { deviceIdSchema } from '../devices/protocol.js';
import type { SiteFile } from './schema.js';

export const alarmSettingsSchema = z
  .strictObject({
    /** Not acknowledged this long after it was raised: the alarm escalates (second channel, louder output). */
    escalateAfterSeconds: z.number().int().min(1).max(86_400).default(120),
    /** Then again every this long, one level higher, until acknowledged (default: escalateAfterSeconds). */
    repeatEverySeconds: z.number().int().min(1).max(86_400).optional(),
    /** Outputs (sirens, bells) switched on when an alarm escalates: the louder output. Off when none is escalated any more. */
    escalationOutputs: z.array(deviceIdSchema).default([]),
    /** count denials at one door within withinMinutes raise `repeated-denials`. */
    repeatedDenials: z
      .strictObject({
        count: z.number().int().min(2).max(1000).default(5),
        withinMinutes: z.number().min(0.01).max(1440).default(5),
      })
      .prefault({}),
  })
  .prefault({});
export type AlarmSettingsFile = z.infer<typeof alarmSettingsSchema>;

/** Escalation outputs must be devices of the site that obey `output`. */
export function checkAlarmSettings(site: SiteFile): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const devices = new Map(site.devices.map((d) => [d.id, d]));
  site.alarms.escalationOutputs.forEach((ref, i) => {
    const device = devices.get(ref);
    if (!device) problems.push({ path: ['alarms', 'escalationOutputs', i], message: `unknown device "${ref}"` });
    else if (device.kind !== 'siren')
      problems.push({ path: ['alarms', 'escalationOutputs', i], message: `device "${ref}" is a ${device.kind}, not an output (siren)` });
  });
  return problems;
}
