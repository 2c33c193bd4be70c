// Each door's state machine: release for the unlock time, relock on close, forced and held-open
// alarms, REX from inside, emergency release of fail-safe doors, lock faults.
import type { CommandResult } from '../devices/driver.js';
import type { CommandBody, InputEvent } from '../devices/protocol.js';
import type { Door } from '../site/schema.js';
import type { Context, Extension } from './context.js';

/** Why a door's lock is open now. */
export type Release = { kind: 'grant'; seq: number } | { kind: 'rex' } | { kind: 'emergency' } | { kind: 'command'; by: string };

export interface DoorState {
  lock: 'locked' | 'unlocked' | 'unknown';
  open: boolean | null;
  unlockedBy: Release | null;
  openedSinceUnlock: boolean;
  alarm: 'forced' | 'held' | null;
  emergency: boolean;
}

interface DoorRuntime {
  door: Door;
  state: DoorState;
  /** Bumped by every lock or unlock command: an acknowledgement only counts if nothing was sent since. */
  generation: number;
  relockTimer?: NodeJS.Timeout;
  heldTimer?: NodeJS.Timeout;
  emergencyTimer?: NodeJS.Timeout;
}

/** The longest unlock a lock accepts; an emergency release is renewed before it runs out. */
const EMERGENCY_UNLOCK_MS = 3_600_000;
const EMERGENCY_RENEW_MS = 50 * 60_000;

export class Doors implements Extension {
  readonly name = 'doors';
  private readonly runtime = new Map<string, DoorRuntime>();
  private readonly unsubscribe: (() => void)[] = [];
  /** Locks known to be online; a lock coming online is driven to its resting state once. */
  private readonly lockOnline = new Map<string, boolean>();

  constructor(private readonly ctx: Context) {
    for (const door of ctx.site.doors) {
      this.runtime.set(door.id, {
        door,
        state: { lock: 'unknown', open: null, unlockedBy: null, openedSinceUnlock: false, alarm: null, emergency: false },
        generation: 0,
      });
    }
  }

  state(doorId: string): DoorState | undefined {
    return this.runtime.get(doorId)?.state;
  }

  async start(): Promise<void> {
    const { bus } = this.ctx;
    if (this.ctx.site.policy.unlockCommandTtlMs === 0) {
      this.ctx.log.warn('policy.unlockCommandTtlMs is 0: unlock commands carry no expiry, so a lock obeys one however late it arrives');
    }
    this.unsubscribe.push(
      bus.on('device.event', ({ deviceId, event }) => {
        if (event.type === 'input') this.onInput(deviceId, event);
      }),
      // Only on the transition: a heartbeat (the same status again) must not cut an unlock short.
      bus.on('device.status', ({ deviceId, status }) => {
        const door = this.ctx.index.doorOfLock(deviceId);
        if (!door) return;
        const wasOnline = this.lockOnline.get(deviceId) ?? false;
        this.lockOnline.set(deviceId, status.online);
        if (status.online && !wasOnline) {
          const rt = this.runtime.get(door.id)!;
          if (rt.state.emergency) this.sendEmergencyUnlock(rt);
          else void this.driveToRest(rt, 'lock came online');
        }
      }),
    );
    // Not awaited: readiness must not wait on locks that are not connected yet.
    for (const rt of this.runtime.values()) if (!rt.state.emergency) void this.driveToRest(rt, 'start');
  }

  /** Leaves every lock locked (an emergency release ends with the controller: hardware takes over). */
  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await Promise.all(
      [...this.runtime.values()].map(async (rt) => {
        this.clearTimers(rt);
        rt.state.emergency = false;
        await this.driveToRest(rt, 'shutdown');
      }),
    );
  }

  /** Unlocks a door for its unlock time. The caller has already committed the reason to the entry log. */
  release(doorId: string, by: Release): void {
    const rt = this.runtime.get(doorId);
    if (!rt || rt.state.emergency) return;
    this.clearTimers(rt, 'relock');
    rt.state.lock = 'unlocked';
    rt.state.unlockedBy = by;
    rt.state.openedSinceUnlock = false;
    const generation = ++rt.generation;
    const durationMs = rt.door.unlockMs;
    // Valid for a short while only: behind a backlog, an unlock that reaches the lock after the person
    // has gone would open the door for whoever is standing there. The lock refuses it once expired.
    const ttlMs = this.ctx.site.policy.unlockCommandTtlMs;
    const command: CommandBody = ttlMs > 0
      ? { command: 'unlock', durationMs, expiresAt: this.ctx.now().getTime() + ttlMs }
      : { command: 'unlock', durationMs };
    void this.ctx.devices.send(rt.door.lock, command).then((r) => {
      if (!r.ok) this.unlockFailed(rt, generation, by, r);
    });
    // The lock relocks itself after durationMs; the controller follows and confirms.
    rt.relockTimer = setTimeout(() => {
      if (!rt.state.openedSinceUnlock && by.kind === 'grant') {
        this.ctx.alarms.raise({ category: 'door', type: 'granted-not-opened', severity: 'info', source: rt.door.id, detail: { seq: by.seq } });
      }
      if (!rt.state.open) void this.relock(rt);
    }, durationMs);
  }

  /**
   * An unlock failed. Refused by the lock (expired, jammed...) or never sent: the door did not unlock, so
   * it must not count as released (an opening is then forced); the lock is confirmed locked at once. No
   * acknowledgement in time: the lock may have unlocked all the same (the ack can be stuck in a backlog),
   * so the door stays released until its unlock time runs out, then relocks as usual.
   */
  private unlockFailed(rt: DoorRuntime, generation: number, by: Release, result: Extract<CommandResult, { ok: false }>): void {
    const { error } = result;
    this.lockFault(rt, 'unlock', error, undefined, { release: by });
    // A later lock or unlock command decides the state now.
    if (rt.generation !== generation || result.unconfirmed) return;
    this.ctx.log.debug({ door: rt.door.id, lock: rt.door.lock, error, release: by }, 'unlock refused or not sent: the door stays locked');
    this.clearTimers(rt, 'relock');
    rt.state.lock = 'unknown';
    rt.state.unlockedBy = null;
    rt.state.openedSinceUnlock = false;
    if (!rt.state.open) void this.relock(rt);
  }

  /** Locks a door now (a guard's command, a lockdown). */
  lockNow(doorId: string): Promise<void> {
    const rt = this.runtime.get(doorId);
    if (!rt || rt.state.emergency) return Promise.resolve();
    return this.relock(rt);
  }

  /**
   * Emergency release: fail-safe doors unlock at once and stay unlocked until it ends, whatever else is
   * happening; fail-secure doors (vaults, safes) stay locked. Works without the log: it is life safety.
   */
  setEmergency(doorId: string, on: boolean): boolean {
    const rt = this.runtime.get(doorId);
    if (!rt || rt.door.failMode !== 'safe' || rt.state.emergency === on) return false;
    rt.state.emergency = on;
    this.clearTimers(rt);
    if (on) {
      rt.state.alarm = null;
      this.sendEmergencyUnlock(rt);
    } else {
      rt.state.unlockedBy = null;
      if (!rt.state.open) void this.relock(rt);
    }
    return true;
  }

  /** Never expires (no `expiresAt`): life safety, and a late emergency release is still wanted. */
  private sendEmergencyUnlock(rt: DoorRuntime): void {
    rt.state.lock = 'unlocked';
    rt.state.unlockedBy = { kind: 'emergency' };
    rt.generation++;
    void this.ctx.devices.send(rt.door.lock, { command: 'unlock', durationMs: EMERGENCY_UNLOCK_MS }).then((r) => {
      if (!r.ok) this.lockFault(rt, 'unlock', r.error, 'emergency release');
    });
    if (rt.emergencyTimer) clearTimeout(rt.emergencyTimer);
    rt.emergencyTimer = setTimeout(() => rt.state.emergency && this.sendEmergencyUnlock(rt), EMERGENCY_RENEW_MS);
  }

  /** Resting state: locked. Fail-safe doors differ only in what the hardware does without power. */
  private async driveToRest(rt: DoorRuntime, why: string): Promise<void> {
    this.clearTimers(rt);
    rt.state.unlockedBy = null;
    const generation = ++rt.generation;
    const result = await this.ctx.devices.send(rt.door.lock, { command: 'lock' });
    // A grant may have unlocked the door while this lock command was in flight: the later command wins.
    if (rt.generation !== generation) return;
    rt.state.lock = result.ok ? 'locked' : 'unknown';
    if (result.ok) this.ctx.log.info({ door: rt.door.id, lock: rt.door.lock, failMode: rt.door.failMode, why }, 'lock driven to resting state: locked');
    else if (why === 'start') {
      // A lock not connected yet is supervision's to report (device-offline), not a lock fault.
      this.ctx.log.warn({ door: rt.door.id, lock: rt.door.lock, error: result.error }, 'lock not reached at start; it is locked when it comes online');
    } else this.lockFault(rt, 'lock', result.error, why);
  }

  private async relock(rt: DoorRuntime): Promise<void> {
    this.clearTimers(rt, 'relock');
    rt.state.unlockedBy = null;
    const generation = ++rt.generation;
    const r = await this.ctx.devices.send(rt.door.lock, { command: 'lock' });
    if (rt.generation !== generation) return;
    rt.state.lock = r.ok ? 'locked' : 'unknown';
    if (!r.ok) this.lockFault(rt, 'lock', r.error);
  }

  private onInput(deviceId: string, event: InputEvent): void {
    for (const { door, role } of this.ctx.index.rolesOf(deviceId)) {
      const rt = this.runtime.get(door.id)!;
      if (role === 'contact' && event.input === 'contact') this.onContact(rt, event.active, deviceId);
      if (role === 'rex' && event.input === 'rex' && event.active) this.onRex(rt, deviceId);
    }
  }

  private onContact(rt: DoorRuntime, open: boolean, deviceId: string): void {
    const wasOpen = rt.state.open;
    rt.state.open = open;
    if (open && wasOpen !== true) {
      if (rt.state.emergency) return; // released for evacuation: openings are expected
      if (rt.state.lock === 'unlocked' && rt.state.unlockedBy) {
        rt.state.openedSinceUnlock = true;
      } else {
        // Opened with no grant and no REX behind it: forced, whatever the lock last said.
        rt.state.alarm = 'forced';
        this.logDoorEvent(rt, 'door-forced', deviceId);
        this.ctx.alarms.raise({ category: 'alarm', type: 'door-forced', severity: 'alarm', source: rt.door.id, detail: { device: deviceId } });
      }
      rt.heldTimer = setTimeout(() => {
        rt.state.alarm = 'held';
        this.logDoorEvent(rt, 'door-held-open', deviceId);
        this.ctx.alarms.raise({ category: 'alarm', type: 'door-held-open', severity: 'alarm', source: rt.door.id, detail: { heldOpenMs: rt.door.heldOpenMs } });
      }, rt.door.heldOpenMs);
    } else if (!open && wasOpen === true) {
      this.clearTimers(rt, 'held');
      if (rt.state.alarm) this.ctx.alarms.raise({ category: 'door', type: `${rt.state.alarm === 'forced' ? 'door-forced' : 'door-held-open'}-cleared`, severity: 'info', source: rt.door.id });
      rt.state.alarm = null;
      // Relock as soon as the door closes after an entry, not when the timer runs out.
      if (!rt.state.emergency && rt.state.lock !== 'locked') void this.relock(rt);
    }
  }

  /** REX is an exit from inside: it opens even when the log cannot be written (logDoorEvent never throws). */
  private onRex(rt: DoorRuntime, deviceId: string): void {
    if (rt.state.emergency) return;
    this.logDoorEvent(rt, 'rex', deviceId, 'out');
    this.release(rt.door.id, { kind: 'rex' });
  }

  /** Door events go in the entry log with the decisions. Never throws. */
  logDoorEvent(rt: DoorRuntime | string, reason: string, deviceId: string | null, direction: 'in' | 'out' | null = null, detail: Record<string, unknown> | null = null): void {
    const r = typeof rt === 'string' ? this.runtime.get(rt) : rt;
    if (!r) return;
    const { store } = this.ctx;
    try {
      const record = store.db.transaction(() => {
        const rec = store.entryLog.append({ at: this.ctx.now().toISOString(), kind: 'door', doorId: r.door.id, areaId: r.door.area, direction, reason, deviceId, detail });
        if (deviceId) store.sequences.persist(deviceId);
        return rec;
      })();
      this.ctx.bus.emit('entry', record);
    } catch (err) {
      store.entryLog.resync();
      this.ctx.counters.storageFaults++;
      this.ctx.alarms.raiseLimited('storage-fault', 10_000, {
        category: 'system', type: 'storage-fault', severity: 'alarm', source: r.door.id, detail: { error: (err as Error).message, during: reason },
      });
    }
  }

  /** One lock-fault alarm per lock per 10 s: an overloaded loop must not feed itself with alarms. */
  private lockFault(rt: DoorRuntime, command: string, error: string, why?: string, more?: Record<string, unknown>): void {
    this.ctx.alarms.raiseLimited(`lock-fault:${rt.door.lock}`, 10_000, {
      category: 'alarm', type: 'lock-fault', severity: 'alarm', source: rt.door.id,
      detail: { lock: rt.door.lock, command, error, ...(why ? { during: why } : {}), ...more },
    });
  }

  private clearTimers(rt: DoorRuntime, which: 'relock' | 'held' | 'all' = 'all'): void {
    if (which !== 'held' && rt.relockTimer) clearTimeout(rt.relockTimer);
    if (which !== 'relock' && rt.heldTimer) clearTimeout(rt.heldTimer);
    if (which === 'all' && rt.emergencyTimer) clearTimeout(rt.emergencyTimer);
    if (which !== 'held') rt.relockTimer = undefined;
    if (which !== 'relock') rt.heldTimer = undefined;
    if (which === 'all') rt.emergencyTimer = undefined;
  }
}
