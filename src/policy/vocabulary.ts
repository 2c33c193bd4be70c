// The words tobira's parts share, each spelled once. The protocol, the site file, the store's CHECKs,
// the API's schemas, the labels and the simulator derive their enums and types from these lists, so a
// new word is added here and the compiler (and tests/unit/vocabulary.test.ts) finds every place that
// must learn it. Imports nothing: src/policy depends on nothing of ours.

/** How a person proves who they are: what a reader or keypad reads, and what an area may require. */
export const CREDENTIAL_KINDS = ['card', 'pin', 'otp', 'bio'] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** A factor of an area's required combination. Every credential kind is a factor (dial and key come with safes). */
export const FACTORS = CREDENTIAL_KINDS;
export type Factor = CredentialKind;

/** The factor combinations an area may require (double locking: two independent methods), in order of presentation. */
export const FACTOR_SETS = [['card'], ['bio'], ['card', 'pin'], ['card', 'otp'], ['card', 'bio'], ['pin', 'otp']] as const;
export type FactorSet = (typeof FACTOR_SETS)[number];

/** A credential's status and use (a duress PIN opens the door and raises the duress alarm). */
export const CREDENTIAL_STATUSES = ['active', 'suspended', 'revoked'] as const;
export type CredentialStatus = (typeof CREDENTIAL_STATUSES)[number];
export const CREDENTIAL_USES = ['normal', 'duress'] as const;
export type CredentialUse = (typeof CREDENTIAL_USES)[number];

/** The inputs a device reports by name in the device protocol. */
export const INPUT_NAMES = ['contact', 'rex', 'tamper', 'motion', 'beam', 'key', 'dial', 'emergency', 'checkpoint'] as const;
export type InputName = (typeof INPUT_NAMES)[number];

/** What a reader or keypad shows. */
export const INDICATE_PATTERNS = ['granted', 'denied', 'alarm', 'pin-required'] as const;
export type IndicatePattern = (typeof INDICATE_PATTERNS)[number];

/** The kinds of device a site file may declare; what each does is in src/devices/kinds.ts. */
export const DEVICE_KINDS = ['reader', 'keypad', 'lock', 'contact', 'rex', 'ir-sensor', 'beam', 'siren', 'camera', 'input'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** How a device is connected. */
export const TRANSPORTS = ['mqtt', 'gpio', 'http'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** The parts a door is made of: each names one device, of the kinds DOOR_ROLES gives. */
export const DOOR_ROLE_NAMES = ['entryReader', 'keypad', 'exitReader', 'lock', 'contact', 'rex'] as const;
export type DoorRole = (typeof DOOR_ROLE_NAMES)[number];
export const DOOR_ROLES = {
  entryReader: { kinds: ['reader'], direction: 'in' },
  keypad: { kinds: ['keypad', 'reader'], direction: 'in' },
  exitReader: { kinds: ['reader'], direction: 'out' },
  lock: { kinds: ['lock'] },
  contact: { kinds: ['contact'] },
  rex: { kinds: ['rex'] },
} as const satisfies Record<DoorRole, { kinds: readonly DeviceKind[]; direction?: 'in' | 'out' }>;
/** Which way a credential read in this role lets a person through; undefined for roles that read none. */
export function directionOf(role: DoorRole): 'in' | 'out' | undefined {
  const r = DOOR_ROLES[role];
  return 'direction' in r ? r.direction : undefined;
}

/** A safe's lock methods; a safe has two different ones (double locking). */
export const SAFE_LOCKS = ['dial', 'key', 'biometric', 'keypad', 'card'] as const;
export type SafeLock = (typeof SAFE_LOCKS)[number];

/** Event categories: also the MQTT topic level events are published under. */
export const EVENT_CATEGORIES = ['access', 'door', 'alarm', 'device', 'security', 'system', 'reminder'] as const;
export type EventCategory = (typeof EVENT_CATEGORIES)[number];
export const SEVERITIES = ['info', 'warning', 'alarm'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * Every event the controller and the API raise, with the category it is published under and its
 * severity (a cleared or restored event is `info`). `RaisedEvent.type` is this union, so an event
 * without an entry here (and so without a label in src/i18n/labels.ts) does not compile.
 */
export const EVENT_TYPES = {
  // Access decisions.
  'access-denied': { category: 'access', severity: 'warning' },
  'invalid-credential-used': { category: 'access', severity: 'warning' },
  'anti-passback-violation': { category: 'access', severity: 'warning' },
  // Denials at one door, N within M minutes (site file `alarms.repeatedDenials`).
  'repeated-denials': { category: 'access', severity: 'alarm', alarm: true },
  // Alarms: people in danger, doors attacked, areas watched, power.
  duress: { category: 'alarm', severity: 'alarm', alarm: true },
  'pin-lockout': { category: 'alarm', severity: 'alarm' },
  'door-forced': { category: 'alarm', severity: 'alarm', alarm: true },
  'door-held-open': { category: 'alarm', severity: 'alarm', alarm: true },
  'lock-fault': { category: 'alarm', severity: 'alarm', alarm: true },
  tamper: { category: 'alarm', severity: 'alarm', alarm: true },
  'tamper-cleared': { category: 'alarm', severity: 'info' },
  intrusion: { category: 'alarm', severity: 'alarm', alarm: true },
  // Guard tours: a checkpoint not checked in time is an alarm; every round's end is logged.
  'patrol-missed': { category: 'alarm', severity: 'alarm', alarm: true },
  'patrol-completed': { category: 'alarm', severity: 'info' },
  'patrol-incomplete': { category: 'alarm', severity: 'warning' },
  motion: { category: 'alarm', severity: 'info' },
  // Safes (controller/safes.ts): opened without a holder and both locks, left open, approached out of hours.
  'safe-opened-unauthorised': { category: 'alarm', severity: 'alarm', alarm: true },
  'safe-held-open': { category: 'alarm', severity: 'alarm', alarm: true },
  'safe-approach-out-of-hours': { category: 'alarm', severity: 'alarm', alarm: true },
  // A PIN at a safe's keypad that opened nothing (wrong, or no holder authenticated to check it against).
  'safe-pin-refused': { category: 'access', severity: 'warning' },
  // Alarm zones (controller/zones.ts): armed and disarmed (by whom), a chattering sensor.
  'zone-armed': { category: 'alarm', severity: 'info' },
  'zone-disarmed': { category: 'alarm', severity: 'info' },
  'sensor-chatter': { category: 'device', severity: 'warning' },
  'sensor-chatter-cleared': { category: 'device', severity: 'info' },
  'primary-power-failed': { category: 'alarm', severity: 'alarm' },
  'primary-power-restored': { category: 'alarm', severity: 'info' },
  'standby-power-trouble': { category: 'alarm', severity: 'alarm' },
  'standby-power-restored': { category: 'alarm', severity: 'info' },
  'area-locked-down': { category: 'alarm', severity: 'alarm' },
  'area-emergency-release': { category: 'alarm', severity: 'alarm' },
  'emergency-unlock': { category: 'alarm', severity: 'alarm' },
  // Keys (services/keys.ts): a master key lent (with its reason), a loan not back by its due time.
  'master-key-used': { category: 'alarm', severity: 'warning' },
  'key-loan-overdue': { category: 'alarm', severity: 'warning' },
  // Doors.
  'door-forced-cleared': { category: 'door', severity: 'info' },
  'door-held-open-cleared': { category: 'door', severity: 'info' },
  'granted-not-opened': { category: 'door', severity: 'info' },
  'remote-unlock': { category: 'door', severity: 'info' },
  'remote-unlock-requested': { category: 'door', severity: 'warning' },
  // Devices.
  'device-offline': { category: 'device', severity: 'alarm', alarm: true },
  'device-online': { category: 'device', severity: 'info' },
  'device-fault': { category: 'device', severity: 'warning' },
  // A camera gave no picture in time: a fault, not an alarm (the alarm it was asked for stands).
  'camera-fault': { category: 'device', severity: 'warning' },
  // The controller itself.
  'broker-lost': { category: 'system', severity: 'alarm' },
  'broker-connected': { category: 'system', severity: 'info' },
  'configuration-entered': { category: 'system', severity: 'info' },
  'configuration-left': { category: 'system', severity: 'info' },
  'configuration-rejected': { category: 'system', severity: 'warning' },
  'area-normal': { category: 'system', severity: 'info' },
  'storage-fault': { category: 'system', severity: 'alarm', alarm: true },
  'credential-fault': { category: 'system', severity: 'warning' },
  'listener-fault': { category: 'system', severity: 'alarm' },
  'decision-backlog': { category: 'system', severity: 'warning' },
  // Reads refused because too many wait to be decided (controller-busy): at most one per 10 s.
  'controller-busy': { category: 'system', severity: 'warning' },
  // A scheduled backup could not be written or did not verify (src/controller/backups.ts).
  'backup-failed': { category: 'system', severity: 'warning' },
  // The gateway's clock (controller/clock.ts, clock-sync.ts) and the devices' clocks against it.
  'clock-jump': { category: 'system', severity: 'alarm', alarm: true },
  'clock-unsynchronised': { category: 'system', severity: 'warning' },
  'clock-synchronised': { category: 'system', severity: 'info' },
  'clock-drift': { category: 'device', severity: 'warning' },
  // Security of the controller, its broker and its API.
  'log-checkpoints-missing': { category: 'security', severity: 'alarm' },
  'api-denied': { category: 'security', severity: 'warning' },
  'mqtt-login-refused': { category: 'security', severity: 'alarm' },
  'mqtt-publish-refused': { category: 'security', severity: 'alarm' },
  'mqtt-subscribe-refused': { category: 'security', severity: 'alarm' },
  'mqtt-plain-listener': { category: 'security', severity: 'alarm' },
  'api-plain-http': { category: 'security', severity: 'alarm' },
  'open-broker': { category: 'security', severity: 'alarm' },
  'open-broker-cleared': { category: 'security', severity: 'info' },
  'file-modes-loose': { category: 'security', severity: 'warning' },
  'account-locked': { category: 'security', severity: 'alarm' },
  'login-refused': { category: 'security', severity: 'warning' },
  'refresh-token-reused': { category: 'security', severity: 'alarm' },
  // Reminders (services/reminders.ts): a dial code due for rotation soon; overdue, raised again daily
  // until a rotation is recorded (so no acknowledgement lifecycle, no escalation, no sirens).
  reminder: { category: 'reminder', severity: 'info' },
  'rotation-overdue': { category: 'reminder', severity: 'alarm' },
} as const satisfies Record<string, { category: EventCategory; severity: Severity; alarm?: true }>;
export type EventType = keyof typeof EVENT_TYPES;
export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[];

/**
 * An alarm is an event that needs a person (`alarm: true` in EVENT_TYPES): it is acknowledged,
 * then cleared with a cause, and escalates while nobody answers (policy/alarm.ts).
 */
export function isAlarmType(type: string): type is EventType {
  const entry = (EVENT_TYPES as Record<string, { alarm?: true }>)[type];
  return entry?.alarm === true;
}
export const ALARM_TYPES = EVENT_TYPE_NAMES.filter(isAlarmType);
/** An alarm's lifecycle steps, as alarm_history records them. */
export const ALARM_STATES = ['raised', 'acknowledged', 'escalated', 'cleared'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];
/** Why an alarm was cleared. */
export const CLEAR_CAUSES = ['intrusion', 'false-alarm', 'test', 'fault', 'other'] as const;
export type ClearCause = (typeof CLEAR_CAUSES)[number];

/**
 * Why an access was decided as it was: `granted` or the first rule that failed. The rules of
 * access-rules.ts name the first group; the multi-step flows decide the rest with the same words.
 */
export const DENY_REASONS = [
  'unknown-credential',
  'credential-revoked',
  'credential-suspended',
  'person-inactive',
  'pin-locked-out',
  'area-locked-down',
  'no-grant',
  'grant-not-yet-valid',
  'grant-expired',
  'no-visit',
  'visit-not-approved',
  'visit-not-yet-valid',
  'visit-expired',
  'outside-hours',
  'no-training',
  'training-lapsed',
  'no-pledge',
  'anti-passback',
  // Outcomes of the multi-step flows:
  'factor-not-accepted',
  'wrong-pin',
  'wrong-otp',
  'wrong-bio',
  'second-factor-alone',
  'second-factor-timeout',
  'stale-read',
  // Refused on arrival: too many reads already wait to be decided (backpressure, never a queue without bound).
  'controller-busy',
  'superseded',
  'cancelled',
  'escort-timeout',
  'escort-not-host',
  'escort-not-valid',
  'two-person-timeout',
  // A stored secret that cannot be checked (a malformed PIN hash, a seed that does not open): a fault, not a wrong secret.
  'credential-fault',
] as const;
export type DenyReason = (typeof DENY_REASONS)[number];
/**
 * Denials that say nothing of the person or the credential: the controller could not decide the read
 * in time (a backlog, too many waiting). They do not count toward repeated-denials: under overload
 * every read is one, and an alarm per handful would deepen the overload.
 */
export const CONTROLLER_DENIALS: ReadonlySet<string> = new Set<DenyReason>(['stale-read', 'controller-busy']);
export const REASON_CODES = ['granted', ...DENY_REASONS] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** The reason column of the entry log's door and area-mode records (decisions use the reason codes). */
export const DOOR_RECORD_REASONS = [
  'rex',
  'door-forced',
  'door-held-open',
  'emergency-release',
  'emergency-release-ended',
  'remote-unlock',
  'emergency-unlock',
  'mode-normal',
  'mode-lockdown',
  'mode-emergency',
  // An evidence record: a camera's picture for a denial or an alarm (controller/evidence.ts).
  'snapshot',
  // A safe's opening by a holder with both locks open, an unauthorised opening, its closing (controller/safes.ts).
  'safe-opened',
  'safe-opened-unauthorised',
  'safe-closed',
] as const;
export type DoorRecordReason = (typeof DOOR_RECORD_REASONS)[number];

/** People: staff (access holders) and visitors; their status. */
export const PERSON_KINDS = ['staff', 'visitor'] as const;
export type PersonKind = (typeof PERSON_KINDS)[number];
export const PERSON_STATUSES = ['active', 'suspended', 'left'] as const;
export type PersonStatus = (typeof PERSON_STATUSES)[number];

/** A grant waits for a second manager's approval when four-eyes is on. */
export const GRANT_STATUSES = ['pending', 'active'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

/** An area's mode: normal, locked down (only lockdown roles pass), emergency (fail-safe doors released). */
export const AREA_MODES = ['normal', 'lockdown', 'emergency'] as const;
export type AreaMode = (typeof AREA_MODES)[number];

/** Why a signed log checkpoint was written. */
export const CHECKPOINT_KINDS = ['periodic', 'shutdown', 'prune'] as const;
export type CheckpointKind = (typeof CHECKPOINT_KINDS)[number];

/** Managers' API accounts: their roles and status. */
export const ACCOUNT_ROLES = ['admin', 'manager', 'guard', 'auditor'] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];
export const ACCOUNT_STATUSES = ['active', 'disabled'] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];
/** The languages the console speaks; each account remembers its choice. */
export const CONSOLE_LANGUAGES = ['en', 'ja'] as const;
export type ConsoleLanguage = (typeof CONSOLE_LANGUAGES)[number];

/** Keys: what a key opens (an area, or a safe of the site file); why a master key is lent. */
export const KEY_OPENS_KINDS = ['area', 'safe'] as const;
export type KeyOpensKind = (typeof KEY_OPENS_KINDS)[number];
export const MASTER_KEY_REASONS = ['disaster', 'emergency'] as const;
export type MasterKeyReason = (typeof MASTER_KEY_REASONS)[number];

/** True when `value` is one of `words` (narrows a string read from outside). */
export function isOneOf<const W extends readonly string[]>(words: W, value: string): value is W[number] {
  return (words as readonly string[]).includes(value);
}
