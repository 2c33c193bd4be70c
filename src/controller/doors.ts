// Doors: the decision path from a credential to an unlock, and each door's state machine.
// Order matters: the entry-log record commits before any unlock command is sent.
import { decideAccess } from '../policy/access.js';
import type { CredentialEvent, InputEvent } from '../devices/protocol.js';
import type { Door } from '../site/schema.js';
import type { EntryInput, EntryRecord } from '../store/entry-log.js';
import type { Context, Extension } from './context.js';

export interface DoorState {
  lock: 'locked' | 'unlocked' | 'unknown';
  open: boolean | null;
  /** Why the lock is open now: a grant (with its entry-log seq), a REX press, or nothing. */
  unlockedBy: { kind: 'grant'; seq: number } | { kind: 'rex' } | null;
  openedSinceUnlock: boolean;
  alarm: 'forced' | 'held' | null;
}

interface DoorRuntime {
  door: Door;
  state: DoorState;
  /** Bumped by every lock or unlock command: an acknowledgement only counts if nothing was sent since. */
  generation: number;
  relockTimer?: NodeJS.Timeout;
  heldTimer?: NodeJS.Timeout;
}

export class Doors implements Extension {
  readonly name = 'doors';
  private readonly runtime = new Map<string, DoorRuntime>();
  private readonly unsubscribe: (() => void)[] = [];
  /** Locks known to be online; a lock coming online is driven to rest once. */
  private readonly lockOnline = new Map<string, boolean>();

  constructor(private readonly ctx: Context) {
    for (const door of ctx.site.doors) {
      this.runtime.set(door.id, {
        door,
        state: { lock: 'unknown', open: null, unlockedBy: null, openedSinceUnlock: false, alarm: null },
        generation: 0,
      });
    }
  }

  state(doorId: string): DoorState | undefined {
    return this.runtime.get(doorId)?.state;
  }

  async start(): Promise<void> {
    const { bus } = this.ctx;
    this.unsubscribe.push(
      bus.on('device.event', ({ deviceId, event }) => {
        if (event.type === 'credential') this.onCredential(deviceId, event);
        else if (event.type === 'input') this.onInput(deviceId, event);
      }),
      // A lock that (re)appears is driven to its resting state: its state is unknown until then.
      // Only on the transition: a heartbeat (the same status again) must not cut an unlock short.
      bus.on('device.status', ({ deviceId, status }) => {
        const door = this.ctx.index.doorOfLock(deviceId);
        if (!door) return;
        const wasOnline = this.lockOnline.get(deviceId) ?? false;
        this.lockOnline.set(deviceId, status.online);
        if (status.online && !wasOnline) void this.driveToRest(this.runtime.get(door.id)!, 'lock came online');
      }),
    );
    // Not awaited: readiness must not wait on locks that are not connected yet. Each lock is
    // driven again when its device reports online.
    for (const rt of this.runtime.values()) void this.driveToRest(rt, 'start');
  }

  /** Leaves every lock locked. */
  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    await Promise.all(
      [...this.runtime.values()].map(async (rt) => {
        this.clearTimers(rt);
        await this.driveToRest(rt, 'shutdown');
      }),
    );
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

  private onCredential(deviceId: string, event: CredentialEvent): void {
    for (const { door, role } of this.ctx.index.rolesOf(deviceId)) {
      if (role === 'entryReader' || role === 'keypad') this.decide(this.runtime.get(door.id)!, deviceId, event, 'in');
      else if (role === 'exitReader') this.decide(this.runtime.get(door.id)!, deviceId, event, 'out');
    }
  }

  private decide(rt: DoorRuntime, deviceId: string, event: CredentialEvent, direction: 'in' | 'out'): void {
    const { store, counters } = this.ctx;
    const now = this.ctx.now();
    let record: EntryRecord;
    try {
      record = store.db.transaction(() => {
        const credential = store.people.findCredential(event.credential.kind, event.credential.value);
        const person = credential ? store.people.person(credential.personId) : undefined;
        const grants = person ? store.people.grants(person.id, rt.door.area) : [];
        const decision = decideAccess({ now, credential, person, grants });
        const entry: EntryInput = {
          at: now.toISOString(), kind: 'decision', doorId: rt.door.id, areaId: rt.door.area, direction,
          personId: person?.id ?? null, personName: person?.name ?? null, affiliation: person?.affiliation ?? null,
          purpose: decision.granted ? decision.grant.purpose : null, factors: [event.credential.kind],
          decision: decision.granted ? 'granted' : 'denied', reason: decision.reason,
          deviceId, deviceBoot: event.boot ?? null, deviceSeq: event.seq ?? null,
          // An unknown card's number is kept so a guard can see what was tried; known ones are linked by person.
          detail: credential ? null : { credential: { kind: event.credential.kind, value: event.credential.kind === 'card' ? event.credential.value : '(hidden)' } },
        };
        const appended = store.entryLog.append(entry);
        store.sequences.persist(deviceId);
        return appended;
      })();
    } catch (err) {
      // Nothing committed, so nothing opens: fail secure, say so, stay up.
      store.entryLog.resync();
      counters.storageFaults++;
      this.ctx.alarms.raiseLimited('storage-fault', 10_000, {
        category: 'system', type: 'storage-fault', severity: 'alarm', source: rt.door.id,
        detail: { error: (err as Error).message, during: 'access decision' },
      });
      void this.ctx.devices.send(deviceId, { command: 'indicate', pattern: 'denied' });
      return;
    }
    this.ctx.bus.emit('entry', record);
    if (record.decision === 'granted') {
      counters.granted++;
      this.unlock(rt, { kind: 'grant', seq: record.seq });
      void this.ctx.devices.send(deviceId, { command: 'indicate', pattern: 'granted' });
    } else {
      counters.denied++;
      void this.ctx.devices.send(deviceId, { command: 'indicate', pattern: 'denied' });
      this.ctx.alarms.raise({
        category: 'access', type: 'access-denied', severity: 'warning', source: rt.door.id,
        detail: { seq: record.seq, reason: record.reason, personId: record.personId, device: deviceId },
      });
    }
  }

  private unlock(rt: DoorRuntime, by: NonNullable<DoorState['unlockedBy']>): void {
    this.clearTimers(rt, 'relock');
    rt.state.lock = 'unlocked';
    rt.state.unlockedBy = by;
    rt.state.openedSinceUnlock = false;
    rt.generation++;
    const durationMs = rt.door.unlockMs;
    void this.ctx.devices.send(rt.door.lock, { command: 'unlock', durationMs }).then((r) => {
      if (!r.ok) this.lockFault(rt, 'unlock', r.error);
    });
    // The lock relocks itself after durationMs; the controller follows and confirms.
    rt.relockTimer = setTimeout(() => {
      if (!rt.state.openedSinceUnlock && by.kind === 'grant') {
        this.ctx.alarms.raise({ category: 'door', type: 'granted-not-opened', severity: 'info', source: rt.door.id, detail: { seq: by.seq } });
      }
      if (!rt.state.open) void this.relock(rt);
    }, durationMs);
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
        this.ctx.alarms.raise({ category: 'alarm', type: 'door-held-open', severity: 'alarm', source: rt.door.id, detail: { heldOpenMs: rt.door.heldOpenMs } });
      }, rt.door.heldOpenMs);
    } else if (!open && wasOpen === true) {
      this.clearTimers(rt, 'held');
      if (rt.state.alarm) this.ctx.alarms.raise({ category: 'door', type: `${rt.state.alarm === 'forced' ? 'door-forced' : 'door-held-open'}-cleared`, severity: 'info', source: rt.door.id });
      rt.state.alarm = null;
      // Relock as soon as the door closes after an entry, not when the timer runs out.
      if (rt.state.lock !== 'locked') void this.relock(rt);
    }
  }

  /** REX is an exit from inside: it opens even when the log cannot be written (logDoorEvent never throws). */
  private onRex(rt: DoorRuntime, deviceId: string): void {
    this.logDoorEvent(rt, 'rex', deviceId, 'out');
    this.unlock(rt, { kind: 'rex' });
  }

  private logDoorEvent(rt: DoorRuntime, reason: string, deviceId: string, direction: 'in' | 'out' | null = null): void {
    const { store } = this.ctx;
    try {
      const record = store.db.transaction(() => {
        const r = store.entryLog.append({ at: this.ctx.now().toISOString(), kind: 'door', doorId: rt.door.id, areaId: rt.door.area, direction, reason, deviceId });
        store.sequences.persist(deviceId);
        return r;
      })();
      this.ctx.bus.emit('entry', record);
    } catch (err) {
      store.entryLog.resync();
      this.ctx.counters.storageFaults++;
      this.ctx.alarms.raiseLimited('storage-fault', 10_000, {
        category: 'system', type: 'storage-fault', severity: 'alarm', source: rt.door.id, detail: { error: (err as Error).message, during: reason },
      });
    }
  }

  private lockFault(rt: DoorRuntime, command: string, error: string, why?: string): void {
    this.ctx.alarms.raise({
      category: 'alarm', type: 'lock-fault', severity: 'alarm', source: rt.door.id,
      detail: { lock: rt.door.lock, command, error, ...(why ? { during: why } : {}) },
    });
  }

  private clearTimers(rt: DoorRuntime, which: 'relock' | 'held' | 'all' = 'all'): void {
    if (which !== 'held' && rt.relockTimer) clearTimeout(rt.relockTimer);
    if (which !== 'relock' && rt.heldTimer) clearTimeout(rt.heldTimer);
    if (which !== 'held') rt.relockTimer = undefined;
    if (which !== 'relock') rt.heldTimer = undefined;
  }
}
