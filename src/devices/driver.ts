// One interface for every transport: the controller drives MQTT and GPIO devices alike.
import type { CommandBody, DeviceEvent, DeviceStatus } from './protocol.js';

/**
 * `unconfirmed`: no acknowledgement came in time. The device may or may not have carried the command
 * out (the ack can be stuck in the same backlog); any other failure means it did not: the device
 * refused it or it was never sent.
 */
export type CommandResult = { ok: true } | { ok: false; error: string; unconfirmed?: true };

/** Something a driver refused before it reached the controller: malformed, unknown device, replay... */
export interface RejectedInput {
  deviceId?: string;
  topic?: string;
  reason: string;
}

export interface DriverListener {
  /** A validated event from a known device. `receivedAt` is the driver's clock, ms since epoch. */
  event(deviceId: string, event: DeviceEvent, receivedAt: number): void;
  /** A device reported its status (MQTT: retained status or last will; GPIO: always online once started). */
  status(deviceId: string, status: DeviceStatus): void;
  /** Input the driver threw away. */
  rejected(info: RejectedInput): void;
}

export interface DeviceDriver {
  readonly transport: 'mqtt' | 'gpio';
  start(listener: DriverListener): Promise<void>;
  /** Sends a command and resolves when the device acknowledges it, or with an error on timeout. Never rejects. */
  send(deviceId: string, command: CommandBody): Promise<CommandResult>;
  stop(): Promise<void>;
}
