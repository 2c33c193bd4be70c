// The site file's `safes:` section: safes standing in restricted areas, each with two different lock
// methods (double locking), the sensors that report its door and its locks, the reader or keypad a
// holder authenticates at, and the sensor or camera that watches its approach. Cross-references are
// checked by `checkSafes`, called from load.ts; who holds a safe is src/policy/safe-holders.ts.
import { z } from 'zod';
import { deviceIdSchema } from '../devices/protocol.js';
import { SAFE_HOLDER_SCOPES } from '../policy/safe-holders.js';
import { SAFE_LOCKS, type DeviceKind, type SafeLock } from '../policy/vocabulary.js';

const id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64 characters');
const label = z.union([z.string().min(1).max(200), z.strictObject({ en: z.string().min(1).max(200), ja: z.string().min(1).max(200).optional() })]);
/** A staff number (`people add --number`): the site file names people the way the staff list does. */
const staffNumber = z.number().int().min(0);

/**
 * What the site file says of a dial lock, on a safe or on a door (src/site/dial-locks.ts): the same
 * fields and limits in both places.
 */
export const dialLockFields = {
  /** The custodian and delegates, by staff number (a change makes the dial code due). */
  custodian: staffNumber.optional(),
  delegates: z.array(staffNumber).default([]),
  /** Where in the area it stands (a change makes the dial code due). */
  location: z.string().min(1).max(200).optional(),
  /** The dial code changes at least this often (months; docs/safes.md#dial-code-rotation). */
  rotationMonths: z.number().int().min(1).max(12).optional(),
  /** Remind this many days before the dial code is due. */
  remindDays: z.array(z.number().int().min(1).max(365)).max(10).optional(),
};

export const safeSchema = z
  .strictObject({
    id,
    name: label,
    /** The restricted area it stands in (an area with at least one door). */
    area: id,
    /** Whose grants make holders: grants for this safe's id (default), or for its area. */
    holders: z.enum(SAFE_HOLDER_SCOPES).default('safe'),
    /** Two different lock methods; both must report open for an authorised opening. */
    locks: z
      .array(z.enum(SAFE_LOCKS))
      .length(2, 'two lock methods (double locking)')
      .refine((l) => l[0] !== l[1], 'two different lock methods'),
    sensors: z.strictObject({
      /** The safe door's contact. */
      contact: deviceIdSchema,
      /** The dial's open switch (an `input` device of input `dial`), needed with a dial lock. */
      dial: deviceIdSchema.optional(),
      /** The key switch (an `input` device of input `key`), needed with a key lock. */
      key: deviceIdSchema.optional(),
    }),
    /** Where a holder authenticates at the safe: a card or biometric reader, a keypad. */
    reader: deviceIdSchema.optional(),
    keypad: deviceIdSchema.optional(),
    /** The motion sensor, IR sensor or camera covering the approach: movement outside business hours is an alarm. */
    approach: deviceIdSchema.optional(),
    ...dialLockFields,
    /** A holder's authentication counts for an opening this long. */
    authWindowSeconds: z.number().int().min(5).max(600).default(60),
    /** Open longer than this is an alarm. */
    heldOpenMs: z.number().int().min(1000).max(3_600_000).default(300_000),
  })
  .superRefine((safe, ctx) => {
    if (safe.locks.includes('dial') && !safe.sensors.dial)
      ctx.addIssue({ code: 'custom', path: ['sensors', 'dial'], message: 'a dial lock needs its dial switch' });
    if (safe.locks.includes('key') && !safe.sensors.key) ctx.addIssue({ code: 'custom', path: ['sensors', 'key'], message: 'a key lock needs its key switch' });
    if ((safe.locks.includes('card') || safe.locks.includes('biometric')) && !safe.reader) {
      ctx.addIssue({ code: 'custom', path: ['reader'], message: `a ${safe.locks.includes('card') ? 'card' : 'biometric'} lock needs the safe's reader` });
    }
    if (safe.locks.includes('keypad') && !safe.keypad) ctx.addIssue({ code: 'custom', path: ['keypad'], message: "a keypad lock needs the safe's keypad" });
  });
export type SafeConfig = z.infer<typeof safeSchema>;

export const safesSchema = z.array(safeSchema).default([]);

/** A lock reported by a switch (dial, key); the others are opened by an authentication at the safe. */
export function lockSwitch(safe: SafeConfig, lock: SafeLock): string | undefined {
  return lock === 'dial' ? safe.sensors.dial : lock === 'key' ? safe.sensors.key : undefined;
}

type Device = { id: string; kind: DeviceKind; input?: string | undefined };
type Problem = { path: (string | number)[]; message: string };

/** What each device field of a safe may be: kinds, or `input` devices of these inputs. */
const FIELD_KINDS: Record<'contact' | 'dial' | 'key' | 'reader' | 'keypad' | 'approach', { kinds: DeviceKind[]; inputs: string[]; says: string }> = {
  contact: { kinds: ['contact'], inputs: ['contact'], says: 'a contact (or an input of contact)' },
  dial: { kinds: [], inputs: ['dial'], says: 'an input of dial' },
  key: { kinds: [], inputs: ['key'], says: 'an input of key' },
  reader: { kinds: ['reader'], inputs: [], says: 'a reader' },
  keypad: { kinds: ['keypad', 'reader'], inputs: [], says: 'a keypad or reader' },
  approach: { kinds: ['ir-sensor', 'beam', 'camera'], inputs: ['motion', 'beam'], says: 'an ir-sensor, beam, camera or input of motion' },
};

/** What zod cannot see alone: the area is a restricted area, the devices exist and fit, ids are unique. */
export function checkSafes(site: { safes: SafeConfig[]; areas: { id: string }[]; doors: { area: string }[]; devices: Device[] }): Problem[] {
  const problems: Problem[] = [];
  const areas = new Set(site.areas.map((a) => a.id));
  const guarded = new Set(site.doors.map((d) => d.area));
  const devices = new Map(site.devices.map((d) => [d.id, d]));
  const seen = new Set<string>();
  const usedBy = new Map<string, string>();
  site.safes.forEach((safe, i) => {
    if (seen.has(safe.id)) problems.push({ path: ['safes', i, 'id'], message: `duplicate id "${safe.id}"` });
    // A grant names an area or a safe by id: the two must not be confused.
    if (areas.has(safe.id)) problems.push({ path: ['safes', i, 'id'], message: `"${safe.id}" is already an area's id` });
    seen.add(safe.id);
    if (!areas.has(safe.area)) problems.push({ path: ['safes', i, 'area'], message: `unknown area "${safe.area}"` });
    else if (!guarded.has(safe.area)) {
      problems.push({ path: ['safes', i, 'area'], message: `area "${safe.area}" has no door: a safe must stand in a restricted area` });
    }
    const fields: [(string | number)[], keyof typeof FIELD_KINDS, string | undefined][] = [
      [['sensors', 'contact'], 'contact', safe.sensors.contact],
      [['sensors', 'dial'], 'dial', safe.sensors.dial],
      [['sensors', 'key'], 'key', safe.sensors.key],
      [['reader'], 'reader', safe.reader],
      [['keypad'], 'keypad', safe.keypad],
      [['approach'], 'approach', safe.approach],
    ];
    for (const [path, field, ref] of fields) {
      if (ref === undefined) continue;
      const d = devices.get(ref);
      const rule = FIELD_KINDS[field];
      if (!d) problems.push({ path: ['safes', i, ...path], message: `unknown device "${ref}"` });
      else if (!rule.kinds.includes(d.kind) && !(d.kind === 'input' && d.input !== undefined && rule.inputs.includes(d.input))) {
        problems.push({
          path: ['safes', i, ...path],
          message: `"${ref}" is ${d.kind === 'input' ? `an input of ${d.input ?? 'no named input'}` : `a ${d.kind}`}: ${field} takes ${rule.says}`,
        });
      }
      // A switch or contact reports one safe; readers and approach sensors may be shared.
      if (field === 'contact' || field === 'dial' || field === 'key') {
        const other = usedBy.get(ref);
        if (other && other !== safe.id) problems.push({ path: ['safes', i, ...path], message: `"${ref}" already reports safe "${other}"` });
        usedBy.set(ref, safe.id);
      }
    }
  });
  return problems;
}
