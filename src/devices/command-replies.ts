// Matches what devices answer to the commands that wait for it, for every transport: an MQTT device's
// ack or picture arrives as an event through the broker, a GPIO pin's as an event from its driver.
// Each waiting command has its named timeout; an answer to no waiting command (an old one, a forged
// id) is ignored; one that cannot be the answer (wrong kind, from another device, a bad picture) is
// refused and named in the error should the wait run out.
import { commands, type CommandFailure, type CommandName, type CommandTimeouts, type Replies, type ReplyOf, type TimeoutName } from './commands.js';
import { toImage } from './image.js';
import type { AckEvent, SnapshotEvent } from './protocol.js';

/** What became of an answer. */
export type Answered =
  /** It settled its command. */
  | { outcome: 'settled' }
  /** The camera took the command; its picture is still to come. */
  | { outcome: 'acknowledged' }
  /** No command waits for this id: late, already answered, never sent. */
  | { outcome: 'unknown' }
  /** A command waits for this id, but this cannot be its answer. */
  | { outcome: 'refused'; reason: string };

type WaitingKind = Exclude<keyof Replies, 'none'>;

interface Waiting {
  deviceId: string;
  name: CommandName;
  kind: WaitingKind;
  timer: NodeJS.Timeout;
  resolve(reply: Replies[WaitingKind]): void;
  /** An image command the device took (ack ok:true). */
  acknowledged: boolean;
  /** The last answer refused, for the timeout's error. */
  refused?: string;
}

export class CommandReplies {
  private readonly waiting = new Map<string, Waiting>();

  constructor(private readonly timeouts: CommandTimeouts) {}

  /** Commands still waiting for their answer. */
  get size(): number {
    return this.waiting.size;
  }

  /** Starts waiting for the answer to command `id`, sent (or about to be) to `deviceId`. */
  expect<N extends CommandName>(id: string, deviceId: string, name: N): Promise<ReplyOf<N>> {
    const definition = commands[name];
    if (definition.reply === 'none' || !('timeout' in definition)) throw new Error(`nothing answers "${name}": there is no reply to wait for`);
    if (this.waiting.has(id)) throw new Error(`command id "${id}" is already waiting`);
    const kind = definition.reply;
    const timeout = definition.timeout;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.timedOut(id, timeout), this.timeouts[timeout]);
      this.waiting.set(id, { deviceId, name, kind, timer, resolve: resolve as (r: Replies[WaitingKind]) => void, acknowledged: false });
    });
  }

  /** Ends a wait with a failure of its own (never sent, controller stopping); false if none waited. */
  fail(id: string, failure: CommandFailure): boolean {
    return this.settle(id, failure);
  }

  /** Fails every waiting command, e.g. when the controller stops. */
  failAll(error: string): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, { ok: false, error });
  }

  /** Takes an `ack` or `snapshot` event from `deviceId` (after its replay check). */
  answer(deviceId: string, event: AckEvent | SnapshotEvent, receivedAt: number): Answered {
    const w = this.waiting.get(event.command);
    if (!w) return { outcome: 'unknown' };
    if (w.deviceId !== deviceId) {
      // Not remembered for the timeout: the addressed device has not answered wrongly.
      return { outcome: 'refused', reason: `answers command ${event.command}, which was sent to "${w.deviceId}"` };
    }
    if (event.type === 'ack') {
      if (!event.ok) {
        this.settle(event.command, { ok: false, error: event.error ?? 'device refused' });
        return { outcome: 'settled' };
      }
      if (w.kind === 'image') {
        w.acknowledged = true;
        return { outcome: 'acknowledged' };
      }
      this.settle(event.command, { ok: true });
      return { outcome: 'settled' };
    }
    if (w.kind !== 'image') return this.refuse(w, `a snapshot does not answer "${w.name}"`);
    const image = toImage(event.contentType, Buffer.from(event.data, 'base64'), receivedAt, event.at);
    if (!image.ok) return this.refuse(w, image.error);
    this.settle(event.command, image);
    return { outcome: 'settled' };
  }

  private refuse(w: Waiting, reason: string): Answered {
    w.refused = reason;
    return { outcome: 'refused', reason };
  }

  private timedOut(id: string, timeout: TimeoutName): void {
    const w = this.waiting.get(id);
    if (!w) return;
    const ms = this.timeouts[timeout];
    const refused = w.refused ? `; refused: ${w.refused}` : '';
    if (w.kind === 'acknowledgement') {
      this.settle(id, { ok: false, error: `no acknowledgement within ${ms} ms (${timeout} timeout${refused})`, unconfirmed: true, timeout });
    } else {
      const what = w.refused ? 'no valid image' : 'no image';
      const taken = w.acknowledged ? '; the device acknowledged the command' : '';
      this.settle(id, { ok: false, error: `${what} within ${ms} ms (${timeout} timeout${taken}${refused})`, timeout });
    }
  }

  private settle(id: string, reply: Replies[WaitingKind]): boolean {
    const w = this.waiting.get(id);
    if (!w) return false;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    w.resolve(reply);
    return true;
  }
}
