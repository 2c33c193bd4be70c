// Per-kind behaviour of a simulated device: which commands it obeys, what it reports, its state.
// Wire-independent: the simulator hands it a `send` function for the device's own connection.
import {
  parseCommand,
  type Command,
  type CredentialKind,
  type DeviceEvent,
  type IndicatePattern,
  type InputName,
} from '../src/devices/protocol.js';
import type { DeviceConfig, DeviceKind } from '../src/site/schema.js';
import { snapshotJpeg } from './jpeg.js';

/** An event before the device stamps it with boot and seq. */
export type EventBody = DeviceEvent extends infer E ? (E extends DeviceEvent ? Omit<E, 'boot' | 'seq'> : never) : never;

export interface Observed {
  command: Command;
  /** Receive time, ms since epoch. */
  at: number;
}
export interface InvalidCommand {
  payload: string;
  error: string;
  at: number;
}

/** Commands each kind obeys; anything else valid is acknowledged with ok:false. */
export const kindCommands: Record<DeviceKind, readonly Command['command'][]> = {
  reader: ['indicate'],
  keypad: ['indicate'],
  lock: ['unlock', 'lock'],
  contact: [],
  rex: [],
  'ir-sensor': [],
  beam: [],
  siren: ['output'],
  camera: ['snapshot'],
  input: [],
};

/** Credentials each kind can read (a reader may double as a keypad, as the site file allows). */
export const kindCredentials: Partial<Record<DeviceKind, readonly CredentialKind[]>> = {
  reader: ['card', 'otp', 'bio', 'pin'],
  keypad: ['pin', 'otp'],
};

/** The protocol input a device reports by default, if any. */
export function inputOf(device: DeviceConfig): InputName | undefined {
  switch (device.kind) {
    case 'contact':
      return 'contact';
    case 'rex':
      return 'rex';
    case 'ir-sensor':
      return 'motion';
    case 'beam':
      return 'beam';
    case 'input':
      return device.input;
    default:
      return undefined;
  }
}

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
  /** A valid command arrived (after it was applied). */
  received(command: Command, ok: boolean): void;
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

  /** Serialises an event with boot and this device's next seq (caller-given boot/seq win). */
  stamp(body: EventBody | Record<string, unknown>): Buffer {
    return Buffer.from(JSON.stringify({ boot: this.ctx.boot, seq: ++this.seq, ...body }));
  }

  credential(kind: CredentialKind, value: string): Promise<void> {
    const kinds = kindCredentials[this.config.kind];
    if (!kinds?.includes(kind)) throw new Error(`${this.id} is a ${this.config.kind} and cannot read a ${kind} credential`);
    return this.emit({ type: 'credential', credential: { kind, value } });
  }

  input(active: boolean, name = inputOf(this.config)): Promise<void> {
    if (!name) throw new Error(`${this.id} is a ${this.config.kind} without an input (name one explicitly)`);
    this.inputs.set(name, active);
    this.ctx.changed();
    return this.emit({ type: 'input', input: name, active });
  }

  /** Handles a payload from the commands topic: validate, record, obey, acknowledge. */
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
    this.observed.push({ command, at });
    const supported = kindCommands[this.config.kind].includes(command.command);
    this.ctx.log(`${this.id} ← ${describeCommand(command)}${supported ? '' : ` (a ${this.config.kind} cannot do that)`}`);
    const fail = (p: Promise<void>) => p.catch((err: Error) => this.ctx.log(`${this.id}: cannot publish: ${err.message}`));
    if (!supported) {
      fail(this.emit({ type: 'ack', command: command.id, ok: false, error: `${command.command} is not supported by a ${this.config.kind}` }));
    } else {
      this.apply(command);
      fail(this.emit({ type: 'ack', command: command.id, ok: true }));
      if (command.command === 'snapshot') {
        const data = snapshotJpeg(++this.shots).toString('base64');
        fail(this.emit({ type: 'snapshot', command: command.id, contentType: 'image/jpeg', data }));
      }
    }
    this.ctx.received(command, supported);
    this.ctx.changed();
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
