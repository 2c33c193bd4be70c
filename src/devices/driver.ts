// One interface for every transport: the controller drives MQTT and GPIO devices alike. A driver
// only carries commands out and events in; the hub matches answers to commands (command-replies.ts).
import type { DeviceKind, InputName, Transport } from '../policy/vocabulary.js';
import type { Acknowledgement, Sent } from './commands.js';
import type { Command, DeviceEvent, DeviceStatus } from './protocol.js';
import type { HttpCameraWiring } from './http-camera.js';

/** A lock's or a siren's answer: today's callers rely on this shape (see `Acknowledgement`). */
export type CommandResult = Acknowledgement;

/** Something a driver refused before it reached the controller: malformed, unknown device, replay... */
export interface RejectedInput {
  deviceId?: string;
  topic?: string;
  reason: string;
}

export interface DriverListener {
  /**
   * A validated event from a known device, answers to commands (`ack`, `snapshot`) included.
   * `receivedAt` is the driver's clock, ms since epoch.
   */
  event(deviceId: string, event: DeviceEvent, receivedAt: number): void;
  /** A device reported its status (MQTT: retained status or last will; GPIO: always online once started). */
  status(deviceId: string, status: DeviceStatus): void;
  /** Input the driver threw away. */
  rejected(info: RejectedInput): void;
}

/** How a device is reached (the site file's `transport:`); src/devices/transports.ts has a driver for each. */
export type TransportName = Transport;

/**
 * A device as the drivers need it: the site file's device entry satisfies this. Declared here so
 * the wire does not import the site file's schema (the site imports the protocol: one way only).
 */
export interface DeviceWiring {
  id: string;
  kind: DeviceKind;
  transport: TransportName;
  /** GPIO only: the pin (before the chip's offset), its polarity and debounce. */
  gpio?: { pin: number; activeLow: boolean; debounceMs: number };
  /** For `input` devices: which protocol input the pin reports. */
  input?: InputName;
  /** HTTP cameras only: the snapshot URL, its auth and timeout (the login is in the secrets file). */
  http?: HttpCameraWiring;
}

export interface DeviceDriver {
  readonly transport: TransportName;
  start(listener: DriverListener): Promise<void>;
  /**
   * Hands a command to its device. Resolves `{ok:true}` once it has left (its answer, if any, comes
   * back through the listener as an event, echoing `command.id`), or with why it could not be sent
   * or carried out. Never rejects.
   */
  deliver(deviceId: string, command: Command): Promise<Sent>;
  stop(): Promise<void>;
}
