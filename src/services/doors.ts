// Doors: their live state, and the commands guards and managers give them. A remote unlock opens a
// door once (confirmed by a second account where the door's area asks two factors or two people);
// an emergency unlock opens any door once with a reason; a lock ends an unlock early. Every opening
// is logged in the entry log and audited in one transaction before the lock opens, and raises an
// event guards see.
import { labelText, type Door, type Label } from '../site/schema.js';
import type { DoorStateShown } from '../controller/bus.js';
import type { Controller } from '../controller/controller.js';
import { shownState } from '../controller/doors.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import { byOf, running } from './running.js';
import { needsSecondAccount, UnlockRequests, type UnlockRequest } from './unlock-requests.js';

export interface Names {
  en: string;
  ja: string;
}

export const namesOf = (l: Label | undefined, fallback: string): Names =>
  l === undefined ? { en: fallback, ja: fallback } : { en: labelText(l, 'en'), ja: labelText(l, 'ja') };

export interface DoorView {
  id: string;
  name: Names;
  area: string;
  failMode: 'secure' | 'safe';
  unlockMs: number;
  heldOpenMs: number;
  devices: {
    entryReader: string | null;
    keypad: string | null;
    exitReader: string | null;
    lock: string;
    contact: string | null;
    rex: string | null;
  };
  state: DoorStateShown;
}

/** A remote unlock: the door opened (logged at `seq`), or a request now waits for a second account. */
export type UnlockOutcome = { opened: true; seq: number; door: DoorView } | { opened: false; request: UnlockRequest };

const emergencyRefusal = () => new ServiceError('conflict', 'the door is released for an emergency');

export class DoorService {
  private requestBook?: UnlockRequests;

  constructor(private readonly deps: ServiceDeps) {}

  private get controller(): Controller {
    return running(this.deps);
  }

  /** Remote unlocks waiting for confirmation: kept in memory (a restart drops them). */
  private get requests(): UnlockRequests {
    if (!this.requestBook) {
      const controller = this.controller;
      this.requestBook = new UnlockRequests(() => controller.ctx.now());
    }
    return this.requestBook;
  }

  list(filter: { area?: string; alarm?: boolean } = {}): DoorView[] {
    return this.controller.ctx.site.doors
      .filter((d) => !filter.area || d.area === filter.area)
      .map((d) => this.view(d))
      .filter((d) => filter.alarm === undefined || (d.state.alarm !== null) === filter.alarm);
  }

  get(doorId: string): DoorView {
    return this.view(this.door(doorId));
  }

  /** Remote unlocks waiting for a second account's confirmation. */
  pendingRequests(doorId?: string): UnlockRequest[] {
    return this.requests.pending().filter((r) => !doorId || r.doorId === doorId);
  }

  /**
   * Unlocks a door once, or, where its area asks two factors or two people, asks to: asking again
   * while one's own request waits answers that request (its window is not extended).
   */
  unlock(actor: Actor, doorId: string, note: string | null): UnlockOutcome {
    const { store } = this.deps;
    const controller = this.controller;
    const door = this.door(doorId);
    if (controller.doors.state(door.id)?.emergency) throw emergencyRefusal();
    this.refuseWhileLockedDown(door);
    const who = { account: actor.username, role: actor.role, ...(note ? { note } : {}) };
    if (needsSecondAccount(this.area(door.area))) {
      const waiting = this.requests.pendingFor(door.id, actor.username);
      if (waiting) {
        store.transaction(() => recordChange(store, actor, 'door.unlock', `door:${door.id}`, { request: waiting.id, pending: true, again: true }));
        return { opened: false, request: waiting };
      }
      const request = this.requests.open({ doorId: door.id, requestedBy: actor.username, role: actor.role, note });
      try {
        store.transaction(() =>
          recordChange(store, actor, 'door.unlock', `door:${door.id}`, {
            request: request.id,
            pending: true,
            expiresAt: request.expiresAt.toISOString(),
            ...(note ? { note } : {}),
          }),
        );
      } catch (err) {
        this.requests.settle(request, 'cancelled', 'storage');
        throw err;
      }
      controller.ctx.alarms.raise({
        category: 'door',
        type: 'remote-unlock-requested',
        severity: 'warning',
        source: door.id,
        detail: { request: request.id, ...who, expiresAt: request.expiresAt.toISOString() },
      });
      return { opened: false, request };
    }
    const seq = this.logThenRelease(actor, 'door.unlock', door, { reason: 'remote-unlock', detail: who, audit: note ? { note } : {}, by: byOf(actor) });
    controller.ctx.alarms.raise({ category: 'door', type: 'remote-unlock', severity: 'info', source: door.id, detail: { seq, ...who } });
    return { opened: true, seq, door: this.view(door) };
  }

  /** A manager other than the one who asked confirms a waiting remote unlock: the door opens once. */
  confirm(actor: Actor, doorId: string, requestId: string, note: string | null): { seq: number; door: DoorView } {
    const controller = this.controller;
    const door = this.door(doorId);
    const request = this.pendingRequest(door.id, requestId);
    if (request.requestedBy === actor.username)
      throw new ServiceError('forbidden', 'the account that asked may not confirm its own remote unlock: another manager must');
    if (controller.doors.state(door.id)?.emergency) throw emergencyRefusal();
    this.refuseWhileLockedDown(door);
    const detail = {
      account: request.requestedBy,
      role: request.role,
      ...(request.note ? { note: request.note } : {}),
      confirmedBy: actor.username,
      confirmedByRole: actor.role,
      ...(note ? { confirmNote: note } : {}),
      request: request.id,
    };
    // Settled before the commit: a second confirmation racing this one finds it taken.
    this.requests.settle(request, 'confirmed', actor.username);
    let seq: number;
    try {
      seq = this.logThenRelease(actor, 'door.unlock-confirm', door, {
        reason: 'remote-unlock',
        detail,
        audit: { request: request.id, requestedBy: request.requestedBy, ...(note ? { note } : {}) },
        by: `api:${request.requestedBy}+${actor.username}`,
      });
    } catch (err) {
      this.requests.reopen(request);
      throw err;
    }
    controller.ctx.alarms.raise({ category: 'door', type: 'remote-unlock', severity: 'info', source: door.id, detail: { seq, ...detail } });
    return { seq, door: this.view(door) };
  }

  /** The account that asked withdraws its request, or a manager turns it down. */
  cancel(actor: Actor, doorId: string, requestId: string, note: string | null): UnlockRequest {
    const { store } = this.deps;
    const door = this.door(doorId);
    const request = this.pendingRequest(door.id, requestId);
    if (request.requestedBy !== actor.username && actor.role !== 'manager') throw new ServiceError('forbidden', 'a guard may withdraw only their own request');
    store.transaction(() =>
      recordChange(store, actor, 'door.unlock-cancel', `door:${door.id}`, {
        request: request.id,
        requestedBy: request.requestedBy,
        ...(note ? { note } : {}),
      }),
    );
    this.requests.settle(request, 'cancelled', actor.username);
    return request;
  }

  /** One account opens any door once, with a reason: logged first, and an alarm stays open until acknowledged. */
  emergencyUnlock(actor: Actor, doorId: string, reason: string): { seq: number; door: DoorView } {
    const controller = this.controller;
    const door = this.door(doorId);
    if (controller.doors.state(door.id)?.emergency) throw emergencyRefusal();
    const detail = { account: actor.username, role: actor.role, reason };
    const seq = this.logThenRelease(actor, 'door.emergency-unlock', door, {
      reason: 'emergency-unlock',
      detail,
      audit: { reason },
      by: `${byOf(actor)} (emergency)`,
    });
    controller.ctx.alarms.raise({ category: 'alarm', type: 'emergency-unlock', severity: 'alarm', source: door.id, detail: { seq, ...detail } });
    return { seq, door: this.view(door) };
  }

  /** Locks a door now (ends an unlock early); waits for the lock to acknowledge. */
  async lock(actor: Actor, doorId: string, note: string | null): Promise<DoorView> {
    const { store } = this.deps;
    const controller = this.controller;
    const door = this.door(doorId);
    if (controller.doors.state(door.id)?.emergency)
      throw new ServiceError('conflict', 'the door is released for an emergency: end it first (POST /areas/{id}/normal)');
    store.transaction(() => recordChange(store, actor, 'door.lock', `door:${door.id}`, note ? { note } : null));
    await controller.doors.lockNow(door.id);
    return this.view(door);
  }

  /** The requests still waiting for these doors' confirmation (an area about to be locked down). */
  waitingFor(doorIds: ReadonlySet<string>): UnlockRequest[] {
    return this.requests.pending().filter((r) => doorIds.has(r.doorId));
  }

  /** Cancels every request still waiting for these doors: none may be confirmed after a lockdown. */
  cancelWaitingFor(doorIds: ReadonlySet<string>, by: string): void {
    this.requests.cancelPendingFor(doorIds, by);
  }

  view(d: Door): DoorView {
    const s = this.controller.doors.state(d.id);
    return {
      id: d.id,
      name: namesOf(d.name, d.id),
      area: d.area,
      failMode: d.failMode,
      unlockMs: d.unlockMs,
      heldOpenMs: d.heldOpenMs,
      devices: {
        entryReader: d.entryReader ?? null,
        keypad: d.keypad ?? null,
        exitReader: d.exitReader ?? null,
        lock: d.lock,
        contact: d.contact ?? null,
        rex: d.rex ?? null,
      },
      // The same function shapes `door.changed` on the live stream.
      state: shownState(s),
    };
  }

  private door(id: string): Door {
    const d = this.controller.ctx.index.doors.get(id);
    if (!d) throw notFound('door');
    return d;
  }

  private area(id: string) {
    const a = this.controller.ctx.index.areas.get(id);
    if (!a) throw notFound('area');
    return a;
  }

  /**
   * A remote unlock (asked or confirmed) does not open a door of an area locked down: keeping doors
   * shut is what the lockdown is for. An emergency unlock still does: a life-safety override, already an alarm.
   */
  private refuseWhileLockedDown(door: Door): void {
    const mode = this.deps.store.areas.mode(door.area);
    if (mode.mode !== 'lockdown') return;
    const since = mode.changedAt ? ` since ${mode.changedAt}${mode.changedBy ? ` by ${mode.changedBy}` : ''}` : '';
    throw new ServiceError(
      'conflict',
      `the area is locked down: ${door.area}${since}; no remote unlock until it is back to normal (POST /areas/${door.area}/normal)`,
    );
  }

  /** A request of the door that may still be settled; not-found, or a conflict saying why it may not. */
  private pendingRequest(doorId: string, requestId: string): UnlockRequest {
    const found = this.requests.find(doorId, requestId);
    if (found.ok) return found.request;
    if (found.why === 'unknown') throw notFound('unlock request');
    if (found.why === 'expired')
      throw new ServiceError('conflict', `the request expired at ${found.request!.expiresAt.toISOString()}: the door stays locked; ask again`);
    throw new ServiceError('conflict', `the request was ${found.request!.settled!.how} already by ${found.request!.settled!.by}`);
  }

  /**
   * Writes the audit record and the door's entry-log record in one transaction, then opens the door
   * for its unlock time: nothing opens unless both committed. logDoorEvent never throws (it raises
   * storage-fault): a record that did not land shows as an unchanged head, and nothing opens.
   */
  private logThenRelease(
    actor: Actor,
    action: string,
    door: Door,
    o: {
      reason: string;
      detail: Record<string, unknown>;
      audit: Record<string, unknown>;
      by: string;
    },
  ): number {
    const { store } = this.deps;
    const controller = this.controller;
    const log = store.entryLog;
    let seq: number;
    try {
      seq = store.transaction(() => {
        const next = log.nextSeq;
        recordChange(store, actor, action, `door:${door.id}`, { seq: next, ...o.audit });
        controller.doors.logDoorEvent(door.id, o.reason, null, null, o.detail);
        if (log.count !== next) throw new ServiceError('unavailable', 'the entry log cannot be written: the door stays locked');
        return next;
      });
    } catch (err) {
      // A failure at the outer commit (disk full in WAL mode) rolls back a record the log's head already counted.
      log.resync();
      if (err instanceof ServiceError) throw err;
      controller.ctx.storageFaults.report(err, { source: door.id, during: action });
      throw new ServiceError('unavailable', 'the entry log cannot be written: the door stays locked');
    }
    controller.doors.release(door.id, { kind: 'command', by: o.by });
    return seq;
  }
}
