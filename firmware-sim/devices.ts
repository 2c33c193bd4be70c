// Per-kind behaviour of a simulated device: which commands it obeys, what it reports, its state.
// Wire-independent: the simulator hands it a `send` function for the device's own connection.
import {
  EXPIRED_ERROR,
  inputOf,
  msPastExpiry,
  obeys,
  parseCommand,
  reads,
  type Command,
  type CredentialKind,
  type DeviceEvent,
  type IndicatePattern,
  type InputName,
} from '../src/devices/protocol.js';
import type { DeviceConfig } from '../src/site/schema.js';
import { snapshotJpeg } from './jpeg.js';

/** An event before the device stamps it with boot, seq and its time. */
export type EventBody = DeviceEvent extends infer E ? (E extends DeviceEvent ? Omit<E, 'boot' | 'seq' | 'at'> : never) : never;

export interface Observed {
  command: Command;
  /** Receive time, ms since epoch. */
  at: number;
  /** Set when the device refused the command (its ack's error): not supported, expired. */
  error?: string;
}
export interface InvalidCommand {
  payload: string;
  error: string;
  at: number;
}

// What each kind reads, reports and obeys is the controller's own table: the simulator cannot drift from it.
export { inputOf };

/** One line for logs and the prompt: "unlock 5000 ms", "indicate granted", "output on". */
export function describeCommand(c: Command): string {
  switch (c.command) {
    case 'unlock':
      return `unlock ${c.durationMs} ms`;
    case 'indicate':
      return `indicate ${c.pattern}`;
    case 'output':
      return `output ${c.on ? 'on' : 'off'}`;
    default:
      return c.command;
  }
}

export interface DeviceContext {
  boot: number;
  /** Publishes an event payload on this device's events topic; resolves on PUBACK. */
  send(payload: Buffer): Promise<void>;
  log(line: string): void;
  /** Something observable changed (command, relock...): wakes up waiters. */
  changed(): void;
  /** A valid command arrived (after it was applied, or refused with `error`). */
  received(command: Command, ok: boolean, error?: string): void;
}

export class SimDevice {
  readonly observed: Observed[] = [];
  readonly invalid: InvalidCommand[] = [];
  lockState: 'locked' | 'unlocked' = 'locked';
  indication?: IndicatePattern;
  output = false;
  readonly inputs = new Map<InputName, boolean>();
  shots = 0;
  seq = 0;
  lastEvent?: Buffer;
  /** The device's clock is this far ahead of the real time (negative: behind): a device whose NTP failed. */
  clockOffsetMs = 0;
  private relockTimer?: NodeJS.Timeout;

  constructor(
    readonly config: DeviceConfig,
    private readonly ctx: DeviceContext,
  ) {}

  get id(): string {
    return this.config.id;
  }

  /** Stamps boot and the next seq, remembers the bytes for replay, publishes. */
  emit(body: EventBody | Record<string, unknown>): Promise<void> {
    const payload = this.stamp(body);
    this.lastEvent = payload;
    return this.ctx.send(payload);
  }

  /** The device's own clock, ms since epoch. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Serialises an event with boot, this device's next seq and its clock's time (caller-given boot/seq/at win). */
  stamp(body: EventBody | Record<string, unknown>): Buffer {
    return Buffer.from(JSON.stringify({ boot: this.ctx.boot, seq: ++this.seq, at: this.now(), ...body }));
  }

  credential(kind: CredentialKind, value: string): Promise<void> {
    if (!reads(this.config.kind, kind)) throw new Error(`${this.id} is a ${this.config.kind} and cannot read a ${kind} credential`);
    return this.emit({ type: 'credential', credential: { kind, value } });
  }

  input(active: boolean, name = inputOf(this.config)): Promise<void> {
    if (!name) throw new Error(`${this.id} is a ${this.config.kind} without an input (name one explicitly)`);
    this.inputs.set(name, active);
    this.ctx.changed();
    return this.emit({ type: 'input', input: name, active });
  }

  /** Handles a payload from the commands topic: validate, record, obey (or refuse), acknowledge. */
  onCommand(payload: Buffer): void {
    const at = Date.now();
    const parsed = parseCommand(payload);
    if (!parsed.ok) {
      this.invalid.push({ payload: payload.toString('utf8').slice(0, 200), error: parsed.error, at });
      this.ctx.log(`${this.id} ← invalid command (${parsed.error}), ignored`);
      this.ctx.changed();
      return;
    }
    const command = parsed.value;
    const error = this.refusal(command);
    this.observed.push({ command, at, ...(error ? { error } : {}) });
    this.ctx.log(`${this.id} ← ${describeCommand(command)}${error ? ` (refused: ${error})` : ''}`);
    const fail = (p: Promise<void>) => p.catch((err: Error) => this.ctx.log(`${this.id}: cannot publish: ${err.message}`));
    // An indication is not acknowledged (protocol: it is sent at most once, nobody waits for it).
    const ack = command.command !== 'indicate';
    if (error) {
      if (ack) fail(this.emit({ type: 'ack', command: command.id, ok: false, error }));
    } else {
      this.apply(command);
      if (ack) fail(this.emit({ type: 'ack', command: command.id, ok: true }));
      if (command.command === 'snapshot') {
        const data = snapshotJpeg(++this.shots).toString('base64');
        fail(this.emit({ type: 'snapshot', command: command.id, contentType: 'image/jpeg', data }));
      }
    }
    this.ctx.received(command, !error, error);
    this.ctx.changed();
  }

  /** Why this device will not carry out a valid command, or undefined if it will. */
  private refusal(command: Command): string | undefined {
    if (!obeys(this.config.kind, command.command)) return `${command.command} is not supported by a ${this.config.kind}`;
    // A late unlock would open the door for whoever stands there now, not for the person it was for.
    // Checked on the device's own clock, as firmware would: expiresAt is the controller's, both keep NTP time.
    const late = msPastExpiry(command, this.now());
    if (late > 0) return `${EXPIRED_ERROR} ${late} ms ago`;
    return undefined;
  }

  private apply(command: Command): void {
    switch (command.command) {
      case 'unlock':
        this.setLock('unlocked');
        this.relockTimer = setTimeout(() => {
          this.relockTimer = undefined;
          this.setLock('locked');
          this.ctx.log(`${this.id} relocked after ${command.durationMs} ms`);
        }, command.durationMs);
        this.relockTimer.unref();
        break;
      case 'lock':
        this.setLock('locked');
        break;
      case 'indicate':
        this.indication = command.pattern;
        break;
      case 'output':
        this.output = command.on;
        break;
      case 'snapshot':
        break;
    }
  }

  private setLock(state: 'locked' | 'unlocked'): void {
    clearTimeout(this.relockTimer);
    this.relockTimer = undefined;
    this.lockState = state;
    this.ctx.changed();
  }

  dispose(): void {
    clearTimeout(this.relockTimer);
    this.relockTimer = undefined;
  }
}
