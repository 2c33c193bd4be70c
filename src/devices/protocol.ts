// Device protocol v1: the wire contract between devices and the controller.
// Shared by the controller's MQTT driver and the firmware simulator; documented in docs/device-protocol.md.
import { z } from 'zod';
import { CREDENTIAL_KINDS, INDICATE_PATTERNS, INPUT_NAMES, type EventCategory } from '../policy/vocabulary.js';

export const PROTOCOL_VERSION = 1;

/** Device ids become topic levels and broker usernames: no wildcards, no slashes. */
export const deviceIdSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64 characters');

/** Largest payload accepted before parsing: JSON events are small; snapshots carry a JPEG. */
export const MAX_EVENT_BYTES = 16 * 1024;
export const MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024;

// The protocol's words are the shared vocabulary's; re-exported so devices and the simulator need one import.
export {
  CREDENTIAL_KINDS as credentialKinds,
  INPUT_NAMES as inputNames,
  INDICATE_PATTERNS as indicatePatterns,
  EVENT_CATEGORIES as eventCategories,
  type CredentialKind,
  type InputName,
  type IndicatePattern,
  type EventCategory,
} from '../policy/vocabulary.js';
// What each kind of device reads, reports and obeys is part of the contract a device implements.
export { DEVICE_KIND_DEFINITIONS, inputOf, obeys, reads, type DeviceKindDefinition } from './kinds.js';

// (boot, seq) lets the controller drop QoS 1 redeliveries and replays.
const sequence = {
  boot: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32)
    .optional(),
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
};

const commandId = z.string().min(1).max(64);

/** A time in ms since the Unix epoch (up to the largest JavaScript date). */
const epochMs = z.number().int().min(0).max(8_640_000_000_000_000);

/**
 * When the event happened, by the device's clock (NTP time, ms since epoch): for a credential, when it
 * was read. Optional; the controller takes the earlier of it and the time it received the event.
 */
const occurred = {
  at: epochMs.optional(),
};

export const credentialEventSchema = z.strictObject({
  type: z.literal('credential'),
  credential: z.strictObject({
    kind: z.enum(CREDENTIAL_KINDS),
    value: z.string().min(1).max(256),
  }),
  ...sequence,
  ...occurred,
});

export const inputEventSchema = z.strictObject({
  type: z.literal('input'),
  input: z.enum(INPUT_NAMES),
  active: z.boolean(),
  ...sequence,
  ...occurred,
});

export const ackEventSchema = z.strictObject({
  type: z.literal('ack'),
  command: commandId,
  ok: z.boolean(),
  error: z.string().max(256).optional(),
  ...sequence,
  ...occurred,
});

export const snapshotEventSchema = z.strictObject({
  type: z.literal('snapshot'),
  command: commandId,
  contentType: z.enum(['image/jpeg', 'image/png']),
  data: z.base64().max(MAX_SNAPSHOT_BYTES),
  ...sequence,
  ...occurred,
});

export const deviceEventSchema = z.discriminatedUnion('type', [credentialEventSchema, inputEventSchema, ackEventSchema, snapshotEventSchema]);

export type CredentialEvent = z.infer<typeof credentialEventSchema>;
export type InputEvent = z.infer<typeof inputEventSchema>;
export type AckEvent = z.infer<typeof ackEventSchema>;
export type SnapshotEvent = z.infer<typeof snapshotEventSchema>;
export type DeviceEvent = z.infer<typeof deviceEventSchema>;

export const deviceStatusSchema = z.strictObject({
  online: z.boolean(),
  firmware: z.string().max(64).optional(),
});
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;

export const commandSchema = z.discriminatedUnion('command', [
  z.strictObject({
    id: commandId,
    command: z.literal('unlock'),
    durationMs: z.number().int().min(100).max(3_600_000),
    /** Controller clock, ms since epoch: a lock that receives the command after this refuses it (ack ok:false, "expired"). */
    expiresAt: epochMs.optional(),
  }),
  z.strictObject({ id: commandId, command: z.literal('lock') }),
  z.strictObject({ id: commandId, command: z.literal('indicate'), pattern: z.enum(INDICATE_PATTERNS) }),
  z.strictObject({ id: commandId, command: z.literal('snapshot') }),
  z.strictObject({ id: commandId, command: z.literal('output'), on: z.boolean() }),
]);
export type Command = z.infer<typeof commandSchema>;

/** How an expired command is refused: the ack's `error` starts with this word. */
export const EXPIRED_ERROR = 'expired';

/** Milliseconds a command is past its `expiresAt` at `nowMs` (device clock); 0 if it has none or is still valid. */
export function msPastExpiry(command: Command, nowMs: number): number {
  if (command.command !== 'unlock' || command.expiresAt === undefined) return 0;
  return Math.max(0, nowMs - command.expiresAt);
}
/** A command before the driver gives it an id. */
export type CommandBody = Command extends infer C ? (C extends Command ? Omit<C, 'id'> : never) : never;

export type DeviceChannel = 'events' | 'status' | 'commands';

/** Topic names under one base topic (default "tobira"). */
export class Topics {
  constructor(readonly base: string) {}
  device(id: string, channel: DeviceChannel): string {
    return `${this.base}/devices/${id}/${channel}`;
  }
  events(category: EventCategory | '+'): string {
    return `${this.base}/events/${category}`;
  }
  get controllerStatus(): string {
    return `${this.base}/controller/status`;
  }
  get checkpoints(): string {
    return `${this.base}/log/checkpoints`;
  }
  /** Subscriptions the controller needs for every device. */
  get allDeviceEvents(): string {
    return `${this.base}/devices/+/events`;
  }
  get allDeviceStatus(): string {
    return `${this.base}/devices/+/status`;
  }
  /** Splits `base/devices/{id}/{channel}`; undefined for anything else. */
  parseDeviceTopic(topic: string): { deviceId: string; channel: DeviceChannel } | undefined {
    const prefix = `${this.base}/devices/`;
    if (!topic.startsWith(prefix)) return undefined;
    const rest = topic.slice(prefix.length).split('/');
    if (rest.length !== 2) return undefined;
    const [deviceId, channel] = rest as [string, string];
    if (channel !== 'events' && channel !== 'status' && channel !== 'commands') return undefined;
    return { deviceId, channel };
  }
}

/** The MQTT client id a device must use: unique per site base topic, so two sites can share a broker. */
export function deviceClientId(base: string, deviceId: string): string {
  return `${base}:${deviceId}`;
}
export function controllerClientId(base: string): string {
  return `${base}:controller`;
}
export const CONTROLLER_USERNAME = 'tobira-controller';
/** The read-only login that may subscribe to the log checkpoints and nothing else. */
export const OBSERVER_USERNAME = 'tobira-observer';
/**
 * An observer's client id starts with this, e.g. `tobira:observer:offsite`. The separator matters:
 * with a bare `{base}:observer` prefix a device named `observer-cam` (client id `{base}:observer-cam`)
 * could be knocked off by the observer login taking its client id.
 */
export function observerClientIdPrefix(base: string): string {
  return `${base}:observer:`;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** One strict decoder for every payload: building one per message cost more than the JSON parse. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a raw device payload: size limit, UTF-8, JSON, then the schema. Never throws. */
export function parsePayload<T>(schema: z.ZodType<T>, payload: Buffer, maxBytes: number): ParseResult<T> {
  if (payload.length > maxBytes) return { ok: false, error: `payload of ${payload.length} bytes exceeds ${maxBytes}` };
  let text: string;
  try {
    text = UTF8.decode(payload);
  } catch {
    return { ok: false, error: 'payload is not valid UTF-8' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'payload is not valid JSON' };
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : '(root)';
    return { ok: false, error: `${where}: ${issue.message}` };
  }
  return { ok: true, value: result.data };
}

export function parseDeviceEvent(payload: Buffer): ParseResult<DeviceEvent> {
  const result = parsePayload(deviceEventSchema, payload, MAX_SNAPSHOT_BYTES + 1024);
  // Only snapshots may be large; anything else that big is hostile.
  if (result.ok && result.value.type !== 'snapshot' && payload.length > MAX_EVENT_BYTES) {
    return { ok: false, error: `payload of ${payload.length} bytes exceeds ${MAX_EVENT_BYTES}` };
  }
  return result;
}
export function parseDeviceStatus(payload: Buffer): ParseResult<DeviceStatus> {
  return parsePayload(deviceStatusSchema, payload, MAX_EVENT_BYTES);
}
export function parseCommand(payload: Buffer): ParseResult<Command> {
  return parsePayload(commandSchema, payload, MAX_EVENT_BYTES);
}
