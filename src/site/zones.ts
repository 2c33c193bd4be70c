// Alarm zones in the site file: which sensors watch an area, when the zone arms, what sounds when it
// trips. The cross-reference checks (the area exists, sensors are sensors, outputs obey `output`) are
// `checkZones`, called from load.ts.
import { z } from 'zod';
import { DEVICE_KIND_DEFINITIONS } from '../devices/kinds.js';
import { deviceIdSchema } from '../devices/protocol.js';
import type { DeviceKind } from '../policy/vocabulary.js';
// schema.ts imports this file: the label schema is taken lazily, after both have loaded.
import { labelSchema } from './schema.js';

const id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64 characters');

/** How a zone arms: outside the area's business hours, when the area falls empty, or only by a guard. */
export const ZONE_ARMING = ['schedule', 'empty', 'manual'] as const;
export type ZoneArming = (typeof ZONE_ARMING)[number];

/**
 * The alarms a zone's outputs may sound for. Duress is not among them: a duress alarm is silent, so
 * the person who forces the entry does not learn it was given.
 */
export const ZONE_OUTPUT_ALARMS = ['intrusion', 'door-forced', 'door-held-open'] as const;
export type ZoneOutputAlarm = (typeof ZONE_OUTPUT_ALARMS)[number];

const outputs = z.union([
  // A plain list sounds for an intrusion only.
  z.array(deviceIdSchema).transform((ids) => ({ intrusion: ids }) as Partial<Record<ZoneOutputAlarm, string[]>>),
  z.partialRecord(z.enum(ZONE_OUTPUT_ALARMS), z.array(deviceIdSchema)),
]);

export const zoneSchema = z.strictObject({
  id,
  name: z.lazy(() => labelSchema),
  area: id,
  /** IR sensors, beams and `input` devices (motion, beam, checkpoint) that trip the zone. */
  sensors: z.array(deviceIdSchema).min(1),
  arm: z.enum(ZONE_ARMING).default('manual'),
  /** Sirens and strobes by the alarm they sound for. */
  outputs: outputs.default({}),
  /** How long an output sounds before it stops by itself (it stops earlier when the zone is disarmed). */
  outputSeconds: z.number().int().min(1).max(3600).default(180),
  /** A sensor counts only after it stayed active this long (IEC 60839-11-1: a spike is not an intruder). */
  minActiveMs: z.number().int().min(0).max(10_000).default(400),
  /** Armed and tripped: this long to disarm (a granted entry, a guard) before the alarm. 0: at once. */
  entryDelaySeconds: z.number().int().min(0).max(300).default(0),
  /** A sensor that changes more than `chatterChanges` times in `chatterWindowSeconds` is faulted, not trusted. */
  chatterChanges: z.number().int().min(3).max(1000).default(10),
  chatterWindowSeconds: z.number().int().min(1).max(3600).default(60),
});
export type Zone = z.infer<typeof zoneSchema>;

export const zonesSchema = z.array(zoneSchema).default([]);

/** Device kinds that sense presence, and the inputs of a generic `input` device that do. */
const SENSOR_KINDS: readonly DeviceKind[] = ['ir-sensor', 'beam'];
const SENSOR_INPUTS = ['motion', 'beam', 'checkpoint'];

type Problem = { path: (string | number)[]; message: string };

/** What zod cannot see alone: the zone's area and devices exist and are of the right kinds. */
export function checkZones(site: {
  zones: Zone[];
  areas: { id: string; antiPassback: string }[];
  devices: { id: string; kind: DeviceKind; input?: string | undefined }[];
}): Problem[] {
  const problems: Problem[] = [];
  const areas = new Map(site.areas.map((a) => [a.id, a]));
  const devices = new Map(site.devices.map((d) => [d.id, d]));
  const seen = new Set<string>();
  site.zones.forEach((zone, i) => {
    if (seen.has(zone.id)) problems.push({ path: ['zones', i, 'id'], message: `duplicate id "${zone.id}"` });
    seen.add(zone.id);
    const area = areas.get(zone.area);
    if (!area) problems.push({ path: ['zones', i, 'area'], message: `unknown area "${zone.area}"` });
    // Occupancy is counted only where anti-passback tracks who is inside.
    else if (zone.arm === 'empty' && area.antiPassback === 'off') {
      problems.push({ path: ['zones', i, 'arm'], message: `"empty" needs to know who is inside: set antiPassback (soft or hard) on area "${area.id}"` });
    }
    zone.sensors.forEach((ref, j) => {
      const d = devices.get(ref);
      if (!d) problems.push({ path: ['zones', i, 'sensors', j], message: `unknown device "${ref}"` });
      else if (!SENSOR_KINDS.includes(d.kind) && !(d.kind === 'input' && d.input !== undefined && SENSOR_INPUTS.includes(d.input))) {
        problems.push({
          path: ['zones', i, 'sensors', j],
          message: `"${ref}" is ${d.kind === 'input' ? `an input of ${d.input ?? 'no named input'}` : `a ${d.kind}`}: a zone's sensor is an ir-sensor, a beam or an input (motion, beam, checkpoint)`,
        });
      }
    });
    for (const [alarm, ids] of Object.entries(zone.outputs)) {
      (ids ?? []).forEach((ref, j) => {
        const d = devices.get(ref);
        if (!d) problems.push({ path: ['zones', i, 'outputs', alarm, j], message: `unknown device "${ref}"` });
        else if (!(DEVICE_KIND_DEFINITIONS[d.kind].commands as readonly string[]).includes('output')) {
          problems.push({ path: ['zones', i, 'outputs', alarm, j], message: `"${ref}" is a ${d.kind}: an output is a siren or strobe` });
        }
      });
    }
  });
  return problems;
}
