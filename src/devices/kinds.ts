// What each kind of device is: what it reads, which input it reports, which commands it obeys and
// whether a bare GPIO pin can be one. One table serves the site file (which kinds exist, which may be
// wired to GPIO, which need `input:`), the drivers and the firmware simulator. A new kind is a new
// entry in DEVICE_KINDS (src/policy/vocabulary.ts) and here; the compiler asks for both.
import { DEVICE_KINDS, type CredentialKind, type DeviceKind, type InputName } from '../policy/vocabulary.js';
import type { Command } from './protocol.js';

/** A command by name; src/devices/commands.ts declares each one's payload and reply. */
type CommandName = Command['command'];

export interface DeviceKindDefinition {
  /** Credentials it reads and reports as credential events (a reader may double as a keypad). */
  readonly reads: readonly CredentialKind[];
  /**
   * The input it reports as input events: a fixed one, `named` when the site file's `input:` names it
   * (a fire panel, a key switch, a UPS contact), or none. Any device may also report `tamper`.
   */
  readonly input: InputName | 'named' | null;
  /** Commands it obeys; any other is refused (an ack with ok:false). */
  readonly commands: readonly CommandName[];
  /** A bare GPIO pin can be one: one relay output (a kind with commands) or one contact input (a kind with an input). */
  readonly gpio: boolean;
}

export const DEVICE_KIND_DEFINITIONS = {
  reader: { reads: ['card', 'otp', 'bio', 'pin'], input: null, commands: ['indicate'], gpio: false },
  keypad: { reads: ['pin', 'otp'], input: null, commands: ['indicate'], gpio: false },
  lock: { reads: [], input: null, commands: ['unlock', 'lock'], gpio: true },
  contact: { reads: [], input: 'contact', commands: [], gpio: true },
  rex: { reads: [], input: 'rex', commands: [], gpio: true },
  'ir-sensor': { reads: [], input: 'motion', commands: [], gpio: true },
  beam: { reads: [], input: 'beam', commands: [], gpio: true },
  siren: { reads: [], input: null, commands: ['output'], gpio: true },
  camera: { reads: [], input: null, commands: ['snapshot'], gpio: false },
  input: { reads: [], input: 'named', commands: [], gpio: true },
} as const satisfies Record<DeviceKind, DeviceKindDefinition>;

export function kindOf(kind: DeviceKind): DeviceKindDefinition {
  return DEVICE_KIND_DEFINITIONS[kind];
}

/** Kinds a bare GPIO pin can be. */
export const GPIO_KINDS = DEVICE_KINDS.filter((k) => DEVICE_KIND_DEFINITIONS[k].gpio);

/** The input a device reports by default: its kind's, or the one its site-file entry names. */
export function inputOf(device: { kind: DeviceKind; input?: InputName | undefined }): InputName | undefined {
  const input = kindOf(device.kind).input;
  if (input === 'named') return device.input;
  return input ?? undefined;
}

/** Whether a device of this kind carries out a command of this name. */
export function obeys(kind: DeviceKind, command: CommandName): boolean {
  return kindOf(kind).commands.includes(command);
}

/** Whether a device of this kind reads a credential of this kind. */
export function reads(kind: DeviceKind, credential: CredentialKind): boolean {
  return kindOf(kind).reads.includes(credential);
}
