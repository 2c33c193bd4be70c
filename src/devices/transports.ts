// How the controller reaches devices, by the site file's `transport:`. A new transport (OSDP over
// RS-485, another site's controller) is an entry here: the controller asks the table, not `if`s.
import type { DeviceDriver, DeviceWiring, TransportName } from './driver.js';
import { GpioDriver, checkGpioAvailable, onoffPinLayer, type PinLayer } from './gpio.js';
import type { MqttDriver } from './mqtt-driver.js';
import { HttpCameraDriver, type CameraLogin } from './http-camera.js';

export interface TransportEnv {
  /** GPIO: the sysfs number of the chip's first line (the site file's gpio.chipBase). */
  chipBase: number;
  /** GPIO: each lock's fail mode, by device id (a fail-safe lock is driven the other way). */
  lockFailModes: ReadonlyMap<string, 'secure' | 'safe'>;
  /** The controller's own link to the broker: MQTT devices are reached through it. */
  mqtt: MqttDriver;
  /** The GPIO pin layer; onoff's sysfs pins unless a test hands in a fake. */
  gpioPins?: PinLayer;
  /** HTTP cameras' logins by device id, from the secrets file (never the site file). */
  cameraLogins?: Readonly<Record<string, CameraLogin>>;
}

export interface Transport {
  /**
   * Why this machine cannot reach these devices (at least one), asked before anything is opened;
   * undefined when it can.
   */
  unavailable?(devices: readonly DeviceWiring[], env: Pick<TransportEnv, 'gpioPins'>): string | undefined;
  /** The driver for the site's devices on this transport (maybe none); undefined when it needs none. */
  driver(devices: readonly DeviceWiring[], env: TransportEnv): DeviceDriver | undefined;
}

export const transports: Record<TransportName, Transport> = {
  // Always, devices or not: the link also carries the controller's own events and checkpoints.
  mqtt: { driver: (_devices, env) => env.mqtt },
  gpio: {
    unavailable(devices, env) {
      if (env.gpioPins) return undefined;
      const missing = checkGpioAvailable();
      return missing && `this machine has no usable GPIO: ${missing}; the site wires ${devices.map((d) => d.id).join(', ')} to GPIO pins`;
    },
    driver(devices, env) {
      if (devices.length === 0) return undefined;
      return new GpioDriver({ devices: [...devices], chipBase: env.chipBase, lockFailModes: env.lockFailModes, pins: env.gpioPins ?? onoffPinLayer() });
    },
  },
  // IP cameras with a snapshot URL: asked only for pictures, each fetch under its own timeout.
  http: {
    driver(devices, env) {
      if (devices.length === 0) return undefined;
      return new HttpCameraDriver({ devices, logins: env.cameraLogins ?? {} });
    },
  },
};

/** The site's devices by transport, every transport listed (maybe with none). */
export function devicesByTransport(devices: readonly DeviceWiring[]): Record<TransportName, DeviceWiring[]> {
  const by = Object.fromEntries(Object.keys(transports).map((t) => [t, [] as DeviceWiring[]])) as Record<TransportName, DeviceWiring[]>;
  for (const d of devices) by[d.transport].push(d);
  return by;
}

/** Why the site's devices cannot all be reached from this machine (one line per transport), or undefined. */
export function unavailableTransports(by: Record<TransportName, DeviceWiring[]>, env: Pick<TransportEnv, 'gpioPins'>): string | undefined {
  const problems = (Object.keys(transports) as TransportName[])
    .filter((t) => by[t].length > 0)
    .map((t) => transports[t].unavailable?.(by[t], env))
    .filter((p): p is string => !!p);
  return problems.length ? problems.join('; ') : undefined;
}

/** One driver per transport that needs one, in the table's order (stopped in reverse). */
export function transportDrivers(by: Record<TransportName, DeviceWiring[]>, env: TransportEnv): { driver: DeviceDriver; deviceIds: string[] }[] {
  const drivers: { driver: DeviceDriver; deviceIds: string[] }[] = [];
  for (const t of Object.keys(transports) as TransportName[]) {
    const driver = transports[t].driver(by[t], env);
    if (driver) drivers.push({ driver, deviceIds: by[t].map((d) => d.id) });
  }
  return drivers;
}
