// The controller's clock (ctx.now): the wall clock, never earlier than the last logged record, and
// watched for jumps against the monotonic clock. Decisions, schedules and log times all read it.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Alarms } from './alarms.js';
import type { Bus } from './bus.js';
import type { Extension } from './context.js';
import { EVENT_TYPES } from '../policy/vocabulary.js';

/** How often the wall clock is compared with the monotonic clock. */
export const CLOCK_CHECK_MS = 5000;
/** A wall clock ahead of the elapsed time by more than this jumped forwards. */
export const FORWARD_JUMP_MS = 60_000;
/**
 * A wall clock behind the elapsed time by more than this jumped backwards. NTP slews small errors
 * (at most 0.5 ms a second) and steps only big ones, so anything past this noise floor is a step.
 */
export const BACKWARD_JUMP_MS = 100;
/** One clock-drift event per device at most this often (the next says how many were folded in). */
export const DRIFT_EVENT_WINDOW_MS = 15 * 60_000;

export interface ClockSources {
  /** The wall clock, ms since the epoch (Date.now unless a test moves it). */
  wall?: () => number;
  /** A monotonic clock in ms (performance.now unless a test moves it). */
  monotonic?: () => number;
}

export interface ClockJump {
  at: string;
  direction: 'backwards' | 'forwards';
  /** Wall-clock change minus elapsed time: negative backwards. */
  byMs: number;
}

export class GatewayClock implements Extension {
  readonly name = 'clock';
  private readonly wall: () => number;
  private readonly monotonic: () => number;
  private timer?: NodeJS.Timeout;
  private last?: { wall: number; mono: number };
  /** Times ctx.now was held at the last record's time because the wall clock was earlier. */
  clamped = 0;
  private clamping = false;
  jumps = 0;
  lastJump: ClockJump | null = null;
  /** Set once the alarms exist (they read this clock). */
  report?: { log: Logger; alarms: Pick<Alarms, 'raise'> };

  constructor(
    /** The last logged record's time, ms (null: an empty log). */
    private readonly lastLoggedAt: () => number | null,
    sources: ClockSources = {},
    private readonly checkEveryMs = CLOCK_CHECK_MS,
  ) {
    this.wall = sources.wall ?? Date.now;
    this.monotonic = sources.monotonic ?? (() => performance.now());
  }

  /** The wall clock, or the last logged record's time if the wall clock is earlier: never goes back past the log. */
  now(): Date {
    const wall = this.wall();
    const floor = this.lastLoggedAt();
    if (floor !== null && wall < floor) {
      this.clamped++;
      if (!this.clamping) {
        this.clamping = true;
        this.report?.log.warn(
          { wall: new Date(wall).toISOString(), lastRecordAt: new Date(floor).toISOString(), behindMs: floor - wall },
          'the wall clock is earlier than the last logged record: decisions use the record’s time until the clock catches up',
        );
      }
      return new Date(floor);
    }
    if (this.clamping) {
      this.clamping = false;
      this.report?.log.info({ clamped: this.clamped }, 'the wall clock has caught up with the last logged record');
    }
    return new Date(wall);
  }

  start(): void {
    this.last = { wall: this.wall(), mono: this.monotonic() };
    this.timer = setInterval(() => this.check(), this.checkEveryMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Compares the wall clock's progress with the elapsed monotonic time since the last check. */
  check(): ClockJump | undefined {
    const now = { wall: this.wall(), mono: this.monotonic() };
    const last = this.last;
    this.last = now;
    if (!last) return undefined;
    const byMs = Math.round(now.wall - last.wall - (now.mono - last.mono));
    if (byMs >= -BACKWARD_JUMP_MS && byMs <= FORWARD_JUMP_MS) return undefined;
    const jump: ClockJump = { at: new Date(now.wall).toISOString(), direction: byMs < 0 ? 'backwards' : 'forwards', byMs };
    this.jumps++;
    this.lastJump = jump;
    const detail = { direction: jump.direction, byMs, before: new Date(last.wall).toISOString(), after: jump.at, elapsedMs: Math.round(now.mono - last.mono) };
    this.report?.log.error(detail, `the wall clock jumped ${jump.direction} by ${Math.abs(byMs)} ms`);
    this.report?.alarms.raise({ ...EVENT_TYPES['clock-jump'], type: 'clock-jump', source: 'gateway', detail });
    return jump;
  }
}

/**
 * Devices' `at` stamps against the gateway's clock at receipt: a device further off than the site's
 * bound (policy.clockDriftSeconds) raises `clock-drift`, at most once per device per window.
 */
export class DeviceClockWatch implements Extension {
  readonly name = 'device-clocks';
  private off?: () => void;
  /** Stamps found off by more than the bound, by device (since the controller started). */
  readonly drifted = new Map<string, number>();

  constructor(
    private readonly deps: {
      bus: Bus;
      alarms: Pick<Alarms, 'raiseLimited'>;
      boundSeconds: () => number;
    },
  ) {}

  start(): void {
    this.off = this.deps.bus.on(
      'device.event',
      ({ deviceId, deviceAt, receivedAt }) => {
        if (deviceAt === undefined) return;
        const differenceMs = deviceAt - receivedAt;
        const boundSeconds = this.deps.boundSeconds();
        if (Math.abs(differenceMs) <= boundSeconds * 1000) return;
        this.drifted.set(deviceId, (this.drifted.get(deviceId) ?? 0) + 1);
        this.deps.alarms.raiseLimited(`clock-drift:${deviceId}`, DRIFT_EVENT_WINDOW_MS, {
          ...EVENT_TYPES['clock-drift'],
          type: 'clock-drift',
          source: deviceId,
          detail: {
            device: deviceId,
            deviceAt: new Date(deviceAt).toISOString(),
            gatewayAt: new Date(receivedAt).toISOString(),
            differenceMs,
            direction: differenceMs > 0 ? 'ahead' : 'behind',
            boundSeconds,
          },
        });
      },
      'device-clocks',
    );
  }

  stop(): void {
    this.off?.();
  }
}
