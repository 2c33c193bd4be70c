// Runs each door's state machine (src/policy/door.ts): feeds it the contact, REX, releases,
// emergencies, the lock's answers and the time, and carries out its effects: lock commands, door
// events in the entry log, alarms. One timer per door, for the machine's earliest deadline.
import {
  type DoorEffect,
  type DoorInput,
  type DoorMachine,
  type DoorSettings,
  type DoorView,
  type Release,
  doorStep,
  doorView,
  initialDoor,
  nextDeadline,
} from '../policy/door.js';
import { EVENT_TYPES } from '../policy/vocabulary.js';
import type { InputEvent } from '../devices/protocol.js';
import type { Door } from '../site/schema.js';
import type { DoorStateShown } from './bus.js';
import type { Context, Extension } from './context.js';

export type { Release };
/** What a door is now, as GET /doors shows it. */
export type DoorState = DoorView;

/** A door's state as GET /doors shows it (and `door.changed` carries it); unknown before the door started. */
export function shownState(v: DoorView | undefined): DoorStateShown {
  return v
    ? { lock: v.lock, open: v.open, unlockedBy: v.unlockedBy?.kind ?? null, alarm: v.alarm, emergency: v.emergency }
    : { lock: 'unknown', open: null, unlockedBy: null, alarm: null, emergency: false };
}

const sameState = (a: DoorStateShown, b: DoorStateShown) =>
  a.lock === b.lock && a.open === b.open && a.unlockedBy === b.unlockedBy && a.alarm === b.alarm && a.emergency === b.emergency;

interface DoorRuntime {
  door: Door;
  machine: DoorMachine;
  timer?: NodeJS.Timeout;
  /** The state last announced on the bus (`door.changed`). */
  shown?: DoorStateShown;
}

export class Doors implements Extension {
  readonly name = 'doors';
  private readonly runtime = new Map<string, DoorRuntime>();
  private readonly unsubscribe: (() => void)[] = [];
  /** Drops what the door's access flow waits for; the access flow is made after the doors. */
  private cancelPending: (doorId: string) => void = () => {};
  private stopped = false;
  /** Doors stepped since the last announcement: their state goes on the bus once the step's work is done. */
  private readonly stepped = new Set<DoorRuntime>();
  private announcing?: NodeJS.Immediate;

  constructor(private readonly ctx: Context) {
    for (const door of ctx.site.doors) this.runtime.set(door.id, { door, machine: initialDoor() });
  }

  /** Who drops a door's pending access (a second factor, a second person) when an emergency begins. */
  cancelsPendingWith(fn: (doorId: string) => void): void {
    this.cancelPending = fn;
  }

  state(doorId: string): DoorState | undefined {
    const rt = this.runtime.get(doorId);
    return rt && doorView(rt.machine);
  }

  /** Whether the lock's latest command failed or went unanswered (Home Assistant shows the lock jammed). */
  lockFault(doorId: string): boolean {
    return this.runtime.get(doorId)?.machine.lock.is === 'fault';
  }

  async start(): Promise<void> {
    const { bus } = this.ctx;
    if (this.ctx.site.policy.unlockCommandTtlMs === 0) {
      this.ctx.log.warn('policy.unlockCommandTtlMs is 0: unlock commands carry no expiry, so a lock obeys one however late it arrives');
    }
    this.unsubscribe.push(
      bus.on(
        'device.event',
        ({ deviceId, event }) => {
          if (event.type === 'input') this.onInput(deviceId, event);
        },
        this.name,
      ),
      bus.on(
        'device.status',
        ({ deviceId, status }) => {
          const door = this.ctx.index.doorOfLock(deviceId);
          const rt = door && this.runtime.get(door.id);
          if (rt) this.feed(rt, { on: 'lock-link', online: status.online, at: this.nowMs() });
        },
        this.name,
      ),
    );
    // Not awaited: readiness must not wait on locks that are not connected yet.
    for (const rt of this.runtime.values()) this.feed(rt, { on: 'start', at: this.nowMs() });
  }

  /** Leaves every lock locked (an emergency release ends with the controller: hardware takes over). */
  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    this.stopped = true;
    await Promise.all([...this.runtime.values()].flatMap((rt) => this.feed(rt, { on: 'shutdown', at: this.nowMs() })));
    for (const rt of this.runtime.values()) this.arm(rt, null);
  }

  /** Unlocks a door for its unlock time. The caller has already committed the reason to the entry log. */
  release(doorId: string, by: Release): void {
    const rt = this.runtime.get(doorId);
    if (rt) this.feed(rt, { on: 'release', by, at: this.nowMs() });
  }

  /** Locks a door now (a guard's command, a lockdown); resolves when the lock has answered. */
  async lockNow(doorId: string): Promise<void> {
    const rt = this.runtime.get(doorId);
    if (rt) await Promise.all(this.feed(rt, { on: 'lock-now', at: this.nowMs() }));
  }

  /**
   * Emergency release: fail-safe doors unlock at once and stay unlocked until it ends, whatever else is
   * happening; fail-secure doors (vaults, safes) stay locked. Works without the log: it is life safety.
   * Whether the door's release changed.
   */
  setEmergency(doorId: string, on: boolean): boolean {
    const rt = this.runtime.get(doorId);
    if (!rt) return false;
    const was = rt.machine.phase.is === 'emergency';
    this.feed(rt, { on: 'emergency', active: on, at: this.nowMs() });
    return was !== (rt.machine.phase.is === 'emergency');
  }

  /** Door events go in the entry log with the decisions. Never throws. */
  logDoorEvent(
    doorId: string,
    reason: string,
    deviceId: string | null,
    direction: 'in' | 'out' | null = null,
    detail: Record<string, unknown> | null = null,
  ): void {
    const door = this.runtime.get(doorId)?.door;
    if (!door) return;
    const { store } = this.ctx;
    try {
      const record = store.transaction(() => {
        const rec = store.entryLog.append({
          at: this.ctx.now().toISOString(),
          kind: 'door',
          doorId: door.id,
          areaId: door.area,
          direction,
          reason,
          deviceId,
          detail,
        });
        if (deviceId) store.sequences.persist(deviceId);
        return rec;
      });
      this.ctx.bus.emit('entry', record);
    } catch (err) {
      store.entryLog.resync();
      this.ctx.storageFaults.report(err, { source: door.id, during: reason });
    }
  }

  private onInput(deviceId: string, event: InputEvent): void {
    for (const { door, role } of this.ctx.index.rolesOf(deviceId)) {
      const rt = this.runtime.get(door.id);
      if (!rt) continue;
      if (role === 'contact' && event.input === 'contact') this.feed(rt, { on: 'contact', open: event.active, device: deviceId, at: this.nowMs() });
      if (role === 'rex' && event.input === 'rex' && event.active) this.feed(rt, { on: 'rex', device: deviceId, at: this.nowMs() });
    }
  }

  /** One step of the door's machine, its effects carried out in order; the commands it sent, answered. */
  private feed(rt: DoorRuntime, input: DoorInput): Promise<void>[] {
    const { state, effects } = doorStep(rt.machine, input, this.settings(rt.door));
    rt.machine = state;
    const answered: Promise<void>[] = [];
    for (const effect of effects) {
      const sent = this.run(rt, effect);
      if (sent) answered.push(sent);
    }
    // Announced after this turn of the event loop, not here: the decision path (release, lock
    // command) pays one set insertion, and a burst of steps becomes one message per door.
    this.stepped.add(rt);
    this.announcing ??= setImmediate(() => this.announce());
    return answered;
  }

  /** Puts each stepped door's state on the bus (`door.changed`) when it differs from the last one announced. */
  private announce(): void {
    this.announcing = undefined;
    const doors = [...this.stepped];
    this.stepped.clear();
    for (const rt of doors) {
      const state = shownState(doorView(rt.machine));
      if (rt.shown && sameState(rt.shown, state)) continue;
      rt.shown = state;
      this.ctx.bus.emit('door.changed', { doorId: rt.door.id, state });
    }
  }

  private run(rt: DoorRuntime, e: DoorEffect): Promise<void> | undefined {
    const { door } = rt;
    switch (e.do) {
      case 'send':
        return this.ctx.devices.send(door.lock, e.command).then((result) => {
          this.feed(rt, { on: 'answer', attempt: e.attempt, sent: e.sent, result, at: this.nowMs() });
        });
      case 'record':
        this.logDoorEvent(door.id, e.reason, e.device, e.direction, e.detail);
        return;
      case 'raise': {
        const event = { ...EVENT_TYPES[e.type], type: e.type, source: door.id, detail: e.detail };
        if (e.limit) this.ctx.alarms.raiseLimited(e.limit.key, e.limit.windowMs, event);
        else this.ctx.alarms.raise(event);
        return;
      }
      case 'cancel-pending':
        this.cancelPending(door.id);
        return;
      case 'note':
        this.ctx.log[e.level]({ door: door.id, lock: door.lock, ...e.detail }, e.msg);
        return;
      case 'wake':
        // The state's own deadline, not the effect's: an effect run before this one may have stepped the door again.
        this.arm(rt, nextDeadline(rt.machine));
        return;
    }
  }

  private arm(rt: DoorRuntime, at: number | null): void {
    clearTimeout(rt.timer);
    rt.timer = undefined;
    if (at === null || this.stopped) return;
    rt.timer = setTimeout(
      () => {
        rt.timer = undefined;
        // At least the deadline it was set for: a timer may fire a millisecond before the clock says so.
        this.feed(rt, { on: 'tick', at: Math.max(this.nowMs(), at) });
      },
      Math.max(0, at - this.nowMs()),
    );
  }

  /** Read at each step: a site reload changes the policy at once (doors need a restart). */
  private settings(door: Door): DoorSettings {
    return {
      lock: door.lock,
      unlockMs: door.unlockMs,
      heldOpenMs: door.heldOpenMs,
      failMode: door.failMode,
      unlockTtlMs: this.ctx.site.policy.unlockCommandTtlMs,
    };
  }

  private nowMs(): number {
    return this.ctx.now().getTime();
  }
}
