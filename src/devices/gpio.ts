// GPIO transport: locks, sirens and contacts wired straight to the controller's header pins.
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { commands, type Sent } from './commands.js';
import type { CommandResult, DeviceDriver, DeviceWiring, DriverListener } from './driver.js';
import { inputOf } from './kinds.js';
import type { Command, CommandBody, InputName } from './protocol.js';

export type Level = 0 | 1;

export interface Pin {
  read(): Level;
  write(value: Level): void;
  watch(cb: (value: Level) => void): void;
  /** Stops watching. Must not change an output's level: a locked lock stays locked after we exit. */
  close(): void;
}

export interface PinOptions {
  activeLow: boolean;
  debounceMs: number;
  /** Outputs only: the logical level to drive from the moment the pin becomes an output, so it never glitches. */
  initial?: Level;
}

/** Values are logical: the layer applies activeLow. `gpio` is the sysfs number (chipBase + pin). */
export interface PinLayer {
  open(gpio: number, direction: 'in' | 'out', opts: PinOptions): Pin;
}

export interface GpioDriverOptions {
  devices: DeviceWiring[];
  chipBase: number;
  lockFailModes: ReadonlyMap<string, 'secure' | 'safe'>;
  pins: PinLayer;
}

interface Wired {
  device: DeviceWiring;
  gpio: number;
  /** Set for inputs: the protocol input the pin reports. */
  input?: InputName;
  pin?: Pin;
  last?: Level;
}

export class GpioDriver implements DeviceDriver {
  readonly transport = 'gpio' as const;
  private readonly wired = new Map<string, Wired>();
  private readonly relockTimers = new Map<string, NodeJS.Timeout>();
  private listener: DriverListener | undefined;
  private stopped = false;

  constructor(private readonly opts: GpioDriverOptions) {
    for (const device of opts.devices) {
      if (device.transport !== 'gpio' || !device.gpio) continue;
      const input = inputOf(device);
      if (device.kind === 'input' && !input) throw new Error(`GPIO input device "${device.id}" needs input:`);
      this.wired.set(device.id, { device, gpio: opts.chipBase + device.gpio.pin, ...(input ? { input } : {}) });
    }
  }

  async start(listener: DriverListener): Promise<void> {
    this.listener = listener;
    this.stopped = false;
    try {
      for (const w of this.wired.values()) this.open(w);
    } catch (err) {
      // Half-opened hardware is worse than none: release what we got and let the caller report it.
      this.closeAll();
      throw err;
    }
    const now = Date.now();
    for (const w of this.wired.values()) listener.status(w.device.id, { online: true, firmware: 'gpio' });
    for (const w of this.wired.values()) {
      if (w.input && w.last !== undefined) listener.event(w.device.id, { type: 'input', input: w.input, active: w.last === 1 }, now);
    }
  }

  private open(w: Wired): void {
    const { activeLow, debounceMs } = w.device.gpio!;
    if (w.input) {
      const input = w.input;
      const pin = this.opts.pins.open(w.gpio, 'in', { activeLow, debounceMs });
      w.pin = pin;
      w.last = pin.read();
      pin.watch((value) => {
        // Debouncing can deliver the level we already reported; only changes are events.
        if (this.stopped || value === w.last) return;
        w.last = value;
        this.listener?.event(w.device.id, { type: 'input', input, active: value === 1 }, Date.now());
      });
    } else {
      const initial = w.device.kind === 'lock' ? this.lockLevel(w.device.id, 'locked') : 0;
      w.pin = this.opts.pins.open(w.gpio, 'out', { activeLow, debounceMs, initial });
      // The pin may have been exported already (daemon restart) and kept any level: drive it explicitly.
      w.pin.write(initial);
    }
  }

  /** Fail-secure strikes are energised to unlock; fail-safe maglocks are energised to hold. */
  private lockLevel(id: string, state: 'locked' | 'unlocked'): Level {
    const energised = (this.opts.lockFailModes.get(id) ?? 'secure') === 'secure' ? state === 'unlocked' : state === 'locked';
    return energised ? 1 : 0;
  }

  async deliver(deviceId: string, command: Command): Promise<Sent> {
    const { id, ...body } = command;
    const result = await this.send(deviceId, body as CommandBody);
    if (!result.ok) return result;
    // The pin is driven: that is the acknowledgement, answered the way any device answers.
    if (commands[command.command].reply !== 'none') this.listener?.event(deviceId, { type: 'ack', command: id, ok: true }, Date.now());
    return { ok: true };
  }

  /** Drives the pins for a command now and says whether it could: a pin answers at once. */
  async send(deviceId: string, command: CommandBody): Promise<CommandResult> {
    const w = this.wired.get(deviceId);
    if (!w) return { ok: false, error: `unknown GPIO device "${deviceId}"` };
    if (!w.pin || this.stopped) return { ok: false, error: 'GPIO driver is not running' };
    const kind = w.device.kind;
    if (kind === 'lock' && command.command === 'unlock') {
      const result = this.write(w, this.lockLevel(deviceId, 'unlocked'));
      if (result.ok) {
        // Relock on our own like lock firmware does, so a lost controller tick never leaves a door open.
        this.clearRelock(deviceId);
        const timer = setTimeout(() => this.relock(w), command.durationMs);
        this.relockTimers.set(deviceId, timer);
      }
      return result;
    }
    if (kind === 'lock' && command.command === 'lock') {
      this.clearRelock(deviceId);
      return this.write(w, this.lockLevel(deviceId, 'locked'));
    }
    if (kind === 'siren' && command.command === 'output') return this.write(w, command.on ? 1 : 0);
    return { ok: false, error: `a GPIO ${kind} cannot do "${command.command}"` };
  }

  private relock(w: Wired): void {
    this.relockTimers.delete(w.device.id);
    if (this.stopped) return;
    const result = this.write(w, this.lockLevel(w.device.id, 'locked'));
    // Nobody awaits this write; a lock we cannot drive is reported offline so the controller raises it.
    if (!result.ok) this.listener?.status(w.device.id, { online: false, firmware: 'gpio' });
  }

  private write(w: Wired, level: Level): CommandResult {
    try {
      w.pin!.write(level);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: `GPIO ${w.gpio} write failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  private clearRelock(id: string): void {
    const timer = this.relockTimers.get(id);
    if (timer) clearTimeout(timer);
    this.relockTimers.delete(id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // A door unlocked when we stop would stay unlocked with nobody to relock it: end the unlock now.
    for (const id of [...this.relockTimers.keys()]) {
      this.clearRelock(id);
      const w = this.wired.get(id);
      if (w?.pin) this.write(w, this.lockLevel(id, 'locked'));
    }
    this.closeAll();
  }

  private closeAll(): void {
    for (const w of this.wired.values()) {
      try {
        w.pin?.close();
      } catch {
        // stop() never throws; the process is going away or restarting anyway.
      }
      delete w.pin;
    }
  }
}

// onoff pulls in a native epoll binding: load it only when real GPIO is wanted.
type OnoffModule = typeof import('onoff');
function loadOnoff(): OnoffModule {
  return createRequire(import.meta.url)('onoff') as OnoffModule;
}

/** Real pins through onoff (sysfs GPIO; onoff always uses /sys/class/gpio). */
export function onoffPinLayer(): PinLayer {
  const { Gpio } = loadOnoff();
  return {
    open(gpio, direction, opts) {
      if (direction === 'in') {
        const g = new Gpio(gpio, 'in', 'both', { activeLow: opts.activeLow, debounceTimeout: opts.debounceMs });
        return {
          read: () => g.readSync(),
          write: () => {
            throw new Error(`GPIO ${gpio} is an input`);
          },
          watch: (cb) =>
            g.watch((err, value) => {
              // A failed read has no level to report; the next edge re-reads the pin.
              if (!err) cb(value);
            }),
          // No unexport: a pending debounced read would hit the closed value file and crash the process.
          close: () => g.unwatchAll(),
        };
      }
      // "high"/"low" set the raw (physical) level as the pin becomes an output; plain "out" means raw low,
      // which on an active-low relay board would energise it. reconfigureDirection: false keeps the level
      // of a pin left exported by a previous run.
      const physical = ((opts.initial ?? 0) ^ (opts.activeLow ? 1 : 0)) === 1;
      const g = new Gpio(gpio, physical ? 'high' : 'low', undefined, {
        activeLow: opts.activeLow,
        reconfigureDirection: false,
      });
      return {
        read: () => g.readSync(),
        write: (value) => g.writeSync(value),
        watch: () => {
          throw new Error(`GPIO ${gpio} is an output`);
        },
        // Never unexport an output: the kernel would release the line and the lock could change state.
        close: () => undefined,
      };
    },
  };
}

/** Why this machine cannot drive sysfs GPIO, or undefined when it can. */
export function checkGpioAvailable(sysfsPath = '/sys/class/gpio'): string | undefined {
  if (!existsSync(sysfsPath)) {
    return `no sysfs GPIO at ${sysfsPath}: this machine has no GPIO, or the kernel was built without CONFIG_GPIO_SYSFS`;
  }
  // Same test as onoff's Gpio.accessible, but on the configured path.
  let fd: number | undefined;
  try {
    fd = openSync(join(sysfsPath, 'export'), constants.O_WRONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return `cannot write ${join(sysfsPath, 'export')} (${code}): run as a user in the "gpio" group or as root`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  try {
    loadOnoff();
  } catch (err) {
    return `sysfs GPIO at ${sysfsPath} is present but the onoff module failed to load: ${err instanceof Error ? err.message : String(err)}`;
  }
  return undefined;
}
