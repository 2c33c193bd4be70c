// Every command the controller sends a device, declared once: its payload, what the device answers
// and which wait applies. A new command (a safe's dial, an OSDP reader's LED) is a new entry here and
// in protocol.ts's payloads; the answers are matched in command-replies.ts, the same for every transport.
import type { z } from 'zod';
import { commandSchema, type Command } from './protocol.js';
import type { Image } from './image.js';

export type CommandName = Command['command'];
/** The command of one name, with its id. */
export type CommandOf<N extends CommandName> = Extract<Command, { command: N }>;

/**
 * What a device answers:
 * - `none`: nothing. Sent at most once: a lost beep costs nothing, an acknowledged one costs four
 *   more messages per read through the broker (protocol: indicate).
 * - `acknowledgement`: an `ack` event, ok or refused with an error.
 * - `image`: a `snapshot` event with the picture; an `ack` ok:true may come first, ok:false refuses.
 */
export type ReplyKind = 'none' | 'acknowledgement' | 'image';

/** The waits for an answer, by name, in ms. */
export interface CommandTimeouts {
  /** `mqtt.commandTimeoutMs` in the site file. */
  acknowledgement: number;
  /** A picture of up to 2 MiB crosses the broker behind everything else: never shorter than `IMAGE_TIMEOUT_MS`. */
  image: number;
}
export type TimeoutName = keyof CommandTimeouts;

export const IMAGE_TIMEOUT_MS = 10_000;

/** The named waits for a site: an acknowledgement waits `mqtt.commandTimeoutMs`. */
export function commandTimeouts(mqtt: { commandTimeoutMs: number }): CommandTimeouts {
  return { acknowledgement: mqtt.commandTimeoutMs, image: Math.max(IMAGE_TIMEOUT_MS, mqtt.commandTimeoutMs) };
}

export interface CommandDefinition<N extends CommandName = CommandName> {
  /** The payload on the wire (with its id), as protocol.ts declares it. */
  payload: z.ZodType<CommandOf<N>>;
  reply: ReplyKind;
  /** The wait for the answer; none when nothing answers. */
  timeout?: TimeoutName;
}

function payloadOf<N extends CommandName>(name: N): z.ZodType<CommandOf<N>> {
  const schema = commandSchema.options.find((o) => o.shape.command.value === name);
  if (!schema) throw new Error(`protocol.ts declares no "${name}" command`);
  return schema as unknown as z.ZodType<CommandOf<N>>;
}

export const commands = {
  unlock: { payload: payloadOf('unlock'), reply: 'acknowledgement', timeout: 'acknowledgement' },
  lock: { payload: payloadOf('lock'), reply: 'acknowledgement', timeout: 'acknowledgement' },
  output: { payload: payloadOf('output'), reply: 'acknowledgement', timeout: 'acknowledgement' },
  indicate: { payload: payloadOf('indicate'), reply: 'none' },
  snapshot: { payload: payloadOf('snapshot'), reply: 'image', timeout: 'image' },
} as const satisfies { [N in CommandName]: CommandDefinition<N> };

/**
 * A command that failed. `unconfirmed`: no acknowledgement came in time, so the device may or may not
 * have carried it out (the ack can be stuck in the same backlog); any other failure means it did not:
 * the device refused it or it was never sent. `timeout` names the wait that ran out.
 */
export type CommandFailure = { ok: false; error: string; unconfirmed?: true; timeout?: TimeoutName };

/** Handed to the transport (`none`): nobody waits for more. */
export type Sent = { ok: true } | CommandFailure;
/** Carried out, or refused, or unconfirmed. Lock and unlock callers rely on exactly this shape. */
export type Acknowledgement = { ok: true } | CommandFailure;
export type ImageReply = { ok: true; image: Image } | CommandFailure;

export interface Replies {
  none: Sent;
  acknowledgement: Acknowledgement;
  image: ImageReply;
}

/** What `send` resolves with for a command of this name (a union of names: any of their replies). */
export type ReplyOf<N extends CommandName> = Replies[(typeof commands)[N]['reply']];

export function definitionOf(name: CommandName): CommandDefinition {
  return commands[name] as CommandDefinition;
}
