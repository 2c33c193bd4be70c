// The site file: what is installed where. Validated with zod; cross-references are checked in load.ts.
import { z } from 'zod';
import { homeAssistantSchema } from './homeassistant.js';
import { DEVICE_KIND_DEFINITIONS } from '../devices/kinds.js';
import { deviceIdSchema } from '../devices/protocol.js';
import { zonesSchema } from './zones.js';
import { patrolsSchema } from './patrols.js';
import { safesSchema } from './safes.js';
import { doorDialLockSchema } from './dial-locks.js';
import { floorPlansSchema } from './floor-plans.js';
import { coversSchema, httpCameraSchema } from './cameras.js';
import { alarmSettingsSchema } from './alarms.js';
import { outboundSections } from './outbound.js';
import { backupsSchema } from './backups.js';
import { expandHolidays, HOLIDAY_CALENDARS } from './holidays.js';
import { CREDENTIAL_KINDS, DEVICE_KINDS, FACTOR_SETS, INPUT_NAMES, TRANSPORTS, type DoorRole } from '../policy/vocabulary.js';

const id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64 characters');

/** A label in English and Japanese; a plain string is used for both. */
export const labelSchema = z.union([z.string().min(1).max(200), z.strictObject({ en: z.string().min(1).max(200), ja: z.string().min(1).max(200).optional() })]);
export type Label = z.infer<typeof labelSchema>;

const time = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time "HH:MM" (00:00 to 24:00)');
const date = z.iso.date();
export const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

export const scheduleSchema = z.strictObject({
  id,
  name: labelSchema.optional(),
  weekly: z.array(z.strictObject({ days: z.array(z.enum(weekdays)).min(1), from: time, to: time })).min(1),
  /** Closed days: dates, a calendar's name (`jp-national`), or a list of both; the policy gets the dates. */
  holidays: z
    .union([z.enum(HOLIDAY_CALENDARS), z.array(z.union([date, z.enum(HOLIDAY_CALENDARS)]))], {
      error: `a list of dates "YYYY-MM-DD" and holiday calendars (${HOLIDAY_CALENDARS.join(', ')})`,
    })
    .default([])
    .transform(expandHolidays),
});

export { FACTOR_SETS as factorSets, type FactorSet } from '../policy/vocabulary.js';

export const areaSchema = z.strictObject({
  id,
  name: labelSchema,
  /** The area this one sits inside: a vault inside a lab has its own doors and needs its own grant. */
  parent: id.optional(),
  /** Business hours; outside them only grants marked out-of-hours pass. No schedule: always open. */
  schedule: id.optional(),
  /** Factors a person must present, the first at the reader, the second at the keypad. */
  factors: z
    .array(z.enum(CREDENTIAL_KINDS))
    .refine((f) => FACTOR_SETS.some((set) => set.length === f.length && set.every((x, i) => x === f[i])), {
      message: `one of ${FACTOR_SETS.map((f) => f.join(' + ')).join(', ')}`,
    })
    .default(['card']),
  /** Two different access holders must authenticate at the door within the window. */
  twoPerson: z.boolean().default(false),
  /** Who is inside: hard denies re-entry without exit (and exit without entry); soft only logs it. */
  antiPassback: z.enum(['off', 'soft', 'hard']).default('off'),
  /** Roles that still pass when the area is locked down (the API may name others when it locks down). */
  lockdownRoles: z.array(z.string().min(1).max(64)).default(['security']),
  /** Inputs (fire panel, emergency release) that release the area's fail-safe doors while active. */
  emergencyInputs: z.array(deviceIdSchema).default([]),
  /** IR sensors and beams watching the area: a trip outside business hours is an intrusion alarm. */
  sensors: z.array(deviceIdSchema).default([]),
});

const gpioPinSchema = z.strictObject({
  pin: z.number().int().min(0).max(1023),
  activeLow: z.boolean().default(false),
  debounceMs: z.number().int().min(0).max(1000).default(20),
});

// What each kind is (and so which may be wired to GPIO) is in src/devices/kinds.ts.
export { DEVICE_KINDS as deviceKinds, type DeviceKind } from '../policy/vocabulary.js';

export const deviceSchema = z
  .strictObject({
    id: deviceIdSchema,
    kind: z.enum(DEVICE_KINDS),
    name: labelSchema.optional(),
    transport: z.enum(TRANSPORTS),
    /** GPIO only: the pin wiring. */
    gpio: gpioPinSchema.optional(),
    /** For `input` devices: which protocol input the pin reports (emergency, tamper, key, ...). */
    input: z.enum(INPUT_NAMES).optional(),
    /** A device silent for longer than this is reported offline (MQTT devices re-publish their status). */
    heartbeatSeconds: z.number().int().min(5).max(3600).default(60),
    /** HTTP cameras only: the snapshot URL, auth and timeout (src/site/cameras.ts). */
    http: httpCameraSchema.optional(),
    /** Cameras only: the doors and zones whose denials and alarms it takes a picture of. */
    covers: coversSchema.optional(),
  })
  .superRefine((device, ctx) => {
    if (device.transport === 'gpio') {
      if (!device.gpio) ctx.addIssue({ code: 'custom', path: ['gpio'], message: 'a GPIO device needs gpio: { pin }' });
      if (!DEVICE_KIND_DEFINITIONS[device.kind].gpio) {
        ctx.addIssue({ code: 'custom', path: ['kind'], message: `a ${device.kind} cannot be wired to GPIO (use mqtt)` });
      }
    } else if (device.gpio) {
      ctx.addIssue({ code: 'custom', path: ['gpio'], message: 'gpio settings on an mqtt device' });
    }
  });

/** A door's devices, one field per door role (which kinds each takes is checked in load.ts); only the lock is required. */
const doorDevices = {
  entryReader: deviceIdSchema.optional(),
  keypad: deviceIdSchema.optional(),
  exitReader: deviceIdSchema.optional(),
  lock: deviceIdSchema,
  contact: deviceIdSchema.optional(),
  rex: deviceIdSchema.optional(),
} satisfies Record<DoorRole, z.ZodType<string | undefined>>;

export const doorSchema = z.strictObject({
  id,
  name: labelSchema,
  area: id,
  ...doorDevices,
  unlockMs: z.number().int().min(500).max(60_000).default(5000),
  heldOpenMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  /** fail-secure: stays locked without power (strikes); fail-safe: releases without power (maglocks on escape routes). */
  failMode: z.enum(['secure', 'safe']).default('secure'),
  /** A mechanical dial lock on the door: its code's rotation is tracked (src/site/dial-locks.ts). */
  dialLock: doorDialLockSchema.optional(),
});

export const siteFileSchema = z.strictObject({
  site: z.strictObject({
    name: labelSchema,
    timezone: z.string().refine(isTimeZone, 'an IANA time zone such as "Asia/Tokyo"'),
  }),
  mqtt: z
    .strictObject({
      baseTopic: z
        .string()
        .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'topic levels without wildcards')
        .default('tobira'),
      url: z.url({ protocol: /^(mqtt|mqtts|tcp|tls)$/ }).optional(),
      username: z.string().optional(),
      /** Read from this environment variable, never from the file itself. */
      passwordEnv: z.string().optional(),
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      commandTimeoutMs: z.number().int().min(100).max(60_000).default(2000),
      /**
       * The embedded broker serves MQTT over TLS only; this serves plain MQTT as well on that port
       * (old devices without TLS), with a startup warning and a standing security alarm.
       */
      plainPort: z.number().int().min(1).max(65535).optional(),
      /**
       * An external broker that lets an anonymous client in, or a device read another's commands, is
       * refused at start. true: start anyway, with a standing security alarm (a lab bench, never a site).
       */
      allowOpenBroker: z.boolean().default(false),
    })
    .prefault({}),
  gpio: z
    .strictObject({
      /** sysfs GPIO number of pin 0: 0 on older kernels, 512 (or 571...) on recent Raspberry Pi kernels. */
      chipBase: z.number().int().min(0).max(4096).default(0),
    })
    .prefault({}),
  policy: z
    .strictObject({
      /** Annual training: access lapses this many months after the last completed course. */
      trainingValidityMonths: z.number().int().min(1).max(60).default(12),
      /** The second factor must follow the first within this time. */
      factorWindowSeconds: z.number().int().min(3).max(300).default(20),
      /** A visitor and the escorting access holder must authenticate within this time of each other. */
      escortWindowSeconds: z.number().int().min(3).max(600).default(30),
      /** The second person of a two-person entry must authenticate within this time of the first. */
      twoPersonWindowSeconds: z.number().int().min(3).max(600).default(30),
      /** Wrong PINs in a row before the credential is locked out, and for how long. */
      pinAttempts: z.number().int().min(1).max(20).default(3),
      pinLockoutSeconds: z.number().int().min(10).max(86_400).default(300),
      /**
       * A credential read older than this when it is decided is denied (stale-read): behind a backlog,
       * the person who presented it may have gone. Counted from the device's `at` (or the receipt).
       */
      maxReadAgeMs: z.number().int().min(500).max(60_000).default(3000),
      /**
       * Reads waiting to be decided, at one door and at all doors together: past either, a read is
       * refused at once (controller-busy), logged, never opened, rather than queued without bound.
       */
      maxReadsWaitingPerDoor: z.number().int().min(1).max(10_000).default(32),
      maxReadsWaiting: z.number().int().min(1).max(100_000).default(512),
      /**
       * An unlock command expires this long after the controller sends it (`expiresAt`); a lock refuses it
       * later. 0 sends no expiry, only for lock firmware that rejects the field. Emergency releases never expire.
       */
      unlockCommandTtlMs: z
        .number()
        .int()
        .refine((ms) => ms === 0 || (ms >= 500 && ms <= 30_000), '0 (no expiry) or 500 to 30000 ms')
        .default(2000),
      /** A device whose events' `at` is further than this from the gateway's clock raises clock-drift. */
      clockDriftSeconds: z.number().int().min(1).max(86_400).default(10),
    })
    .prefault({}),
  log: z
    .strictObject({
      /** How long entry-log records are kept; the daemon refuses less than 90 days (3 months). */
      retentionDays: z.number().int().min(90, 'at least 90 days (3 months): the standard asks for the entry log to be kept').max(36_500).default(1095),
      /** A signed checkpoint every this many records, and at least this often when records were added. */
      checkpointEveryRecords: z.number().int().min(1).max(1_000_000).default(1000),
      checkpointIntervalSeconds: z.number().int().min(5).max(86_400).default(60),
    })
    .prefault({}),
  /** The managers' API. */
  api: z
    .strictObject({
      /** A grant created by one manager stays pending until a different manager or an auditor approves it. */
      fourEyes: z.boolean().default(false),
      sessionIdleMinutes: z.number().int().min(1).max(240).default(15),
      sessionMaxHours: z.number().int().min(1).max(72).default(12),
      /** Failed logins in a row before the account is locked, and for how long. */
      loginMaxFailures: z.number().int().min(1).max(50).default(5),
      loginLockoutMinutes: z.number().int().min(1).max(1440).default(15),
      /** Login attempts per client address per minute. */
      loginAttemptsPerMinute: z.number().int().min(1).max(1000).default(20),
      /** Changes (POST, PATCH, PUT, DELETE other than login) per client address per minute. */
      writesPerMinute: z.number().int().min(10).max(100_000).default(120),
      /** The audit log of admin actions: kept at least 90 days (3 months). */
      auditRetentionDays: z.number().int().min(90, 'at least 90 days (3 months)').max(36_500).default(1095),
    })
    .prefault({}),
  /** A UPS's dry contacts: active = primary power failed / standby power (battery) in trouble. */
  power: z.strictObject({ primaryFailInput: deviceIdSchema.optional(), standbyTroubleInput: deviceIdSchema.optional() }).prefault({}),
  schedules: z.array(scheduleSchema).default([]),
  areas: z.array(areaSchema).min(1),
  devices: z.array(deviceSchema).min(1),
  doors: z.array(doorSchema).default([]),
  zones: zonesSchema,
  /** Guard tours: routes of checkpoints, a round every interval (src/site/patrols.ts). */
  patrols: patrolsSchema,
  alarms: alarmSettingsSchema,
  /** Safes in restricted areas: double locks, holders, sensors (src/site/safes.ts). */
  safes: safesSchema,
  /** Pictures of the premises with the doors and zones on them, for the console (src/site/floor-plans.ts). */
  floorPlans: floorPlansSchema,
  ...outboundSections,
  homeassistant: homeAssistantSchema,
  backups: backupsSchema,
});

export type SiteFile = z.infer<typeof siteFileSchema>;
export type Schedule = z.infer<typeof scheduleSchema>;
export type Area = z.infer<typeof areaSchema>;
export type DeviceConfig = z.infer<typeof deviceSchema>;
export type Door = z.infer<typeof doorSchema>;
export type PolicySettings = SiteFile['policy'];

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function labelText(label: Label | undefined, lang: 'en' | 'ja' = 'en'): string {
  if (label === undefined) return '';
  if (typeof label === 'string') return label;
  return lang === 'ja' ? (label.ja ?? label.en) : label.en;
}
