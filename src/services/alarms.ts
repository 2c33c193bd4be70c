// Alarms as guards answer them: the list, one alarm with its history, acknowledging (who, when,
// note), clearing (who, when, cause, note; refused while the cause persists) and the figures
// (counts by kind and cause, median and p90 response time). Each change and its audit record
// commit together; then the alarm desk stops its escalation and the change goes out on the bus.
import type { AlarmChanged } from '../controller/bus.js';
import { step, type AlarmEffect, type AlarmMachine, type AlarmSettings } from '../policy/alarm.js';
import { isAlarmType, type ClearCause, type EventType } from '../policy/vocabulary.js';
import type { AlarmFilter, AlarmHistoryRecord, AlarmRecord } from '../store/alarms.js';
import type { Store } from '../store/index.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { notFound, ServiceError } from './errors.js';
import { visibleCategories } from './events.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';
import { snapshotSummary, type SnapshotSummary } from './snapshots.js';

export type { AlarmRecord, AlarmHistoryRecord };
/** One alarm with its history and the pictures its cameras took. */
export type AlarmDetail = AlarmRecord & { history: AlarmHistoryRecord[]; snapshots: SnapshotSummary[] };

export interface AlarmStats {
  from: string | null;
  to: string | null;
  total: number;
  byKind: Record<string, number>;
  byCause: Record<string, number>;
  /** Raised to acknowledged, in seconds; null when none was acknowledged. */
  responseSeconds: { count: number; median: number | null; p90: number | null };
  /** Raised to cleared, in seconds. */
  clearSeconds: { count: number; median: number | null; p90: number | null };
}

/** The value at quantile q of sorted values (nearest rank), null for none. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const seconds = (ms: readonly number[]) => ({
  count: ms.length,
  median: ms.length ? quantile(ms, 0.5)! / 1000 : null,
  p90: ms.length ? quantile(ms, 0.9)! / 1000 : null,
});

/** The machine's state of a stored alarm. */
function machineOf(a: AlarmRecord): AlarmMachine {
  return {
    phase: a.state === 'active' ? 'raised' : a.state,
    raisedAt: Date.parse(a.at),
    level: a.level,
    escalateAt: null,
    ackedAt: a.ackedAt ? Date.parse(a.ackedAt) : null,
    ackedBy: a.ackedBy,
    clearedAt: a.clearedAt ? Date.parse(a.clearedAt) : null,
    clearedBy: a.clearedBy,
    cause: a.cause,
  };
}

/**
 * Stores the acknowledgement of an alarm with its history row (inside the caller's transaction):
 * the events API's acknowledgement of an alarm comes this way too.
 */
export function storeAlarmAck(store: Pick<Store, 'alarms'>, alarm: Pick<AlarmRecord, 'id' | 'at'>, by: string, at: string, note: string | null): boolean {
  if (!store.alarms.acknowledge(alarm.id, by, at, note, Date.parse(at) - Date.parse(alarm.at))) return false;
  store.alarms.addHistory(alarm.id, { at, state: 'acknowledged', by, note, cause: null, level: null });
  return true;
}

export class AlarmService {
  constructor(private readonly deps: ServiceDeps) {}

  private categories(actor: Pick<Actor, 'role'>): readonly string[] {
    return visibleCategories[actor.role];
  }

  list(actor: Pick<Actor, 'role'>, filter: AlarmFilter): { items: AlarmRecord[]; nextBefore: number | null } {
    if (filter.kind && !isAlarmType(filter.kind)) throw new ServiceError('invalid', `"${filter.kind}" is not an alarm kind`);
    return this.deps.store.alarms.query({ ...filter, categories: this.categories(actor) });
  }

  get(actor: Pick<Actor, 'role'>, id: number): AlarmDetail {
    const alarm = this.visible(actor, id);
    // The pictures the covering cameras took (GET /snapshots/{id} serves each).
    return { ...alarm, history: this.deps.store.alarms.history(id), snapshots: this.deps.store.snapshots.ofEvent(id).map(snapshotSummary) };
  }

  acknowledge(actor: Actor, id: number, note: string | null): AlarmDetail {
    const { store } = this.deps;
    const alarm = this.visible(actor, id);
    const at = this.now();
    const out = step(machineOf(alarm), { kind: 'ack', at: at.getTime(), by: actor.username, note }, this.settings());
    this.refused(out.effects, alarm);
    const iso = at.toISOString();
    store.transaction(() => {
      if (!storeAlarmAck(store, alarm, actor.username, iso, note)) throw new ServiceError('conflict', 'acknowledged already');
      recordChange(store, actor, 'alarm.ack', `alarm:${id}`, { type: alarm.type, ...(note ? { note } : {}) });
    });
    this.tellDesk({ alarmId: id, type: alarm.type as EventType, state: 'acknowledged', at: iso, by: actor.username, ...(note ? { note } : {}) });
    return this.get(actor, id);
  }

  clear(actor: Actor, id: number, cause: ClearCause, note: string | null): AlarmDetail {
    const { store } = this.deps;
    const alarm = this.visible(actor, id);
    // Only the running controller knows whether the door is still open: no clearing without it.
    const desk = running(this.deps).alarmDesk;
    const at = this.now();
    const out = step(
      machineOf(alarm),
      { kind: 'clear', at: at.getTime(), by: actor.username, cause, note, causePresent: alarm.state === 'cleared' ? null : desk.causePresent(alarm) },
      this.settings(),
    );
    this.refused(out.effects, alarm);
    const iso = at.toISOString();
    const acked = out.effects.some((e) => e.kind === 'acknowledged');
    store.transaction(() => {
      if (acked && !storeAlarmAck(store, alarm, actor.username, iso, null)) throw new ServiceError('conflict', 'acknowledged meanwhile: try again');
      if (!store.alarms.clear(id, actor.username, iso, cause, note, at.getTime() - Date.parse(alarm.at))) throw new ServiceError('conflict', 'cleared already');
      store.alarms.addHistory(id, { at: iso, state: 'cleared', by: actor.username, note, cause, level: null });
      recordChange(store, actor, 'alarm.clear', `alarm:${id}`, { type: alarm.type, cause, ...(note ? { note } : {}) });
    });
    const type = alarm.type as EventType;
    if (acked) this.tellDesk({ alarmId: id, type, state: 'acknowledged', at: iso, by: actor.username });
    this.tellDesk({ alarmId: id, type, state: 'cleared', at: iso, by: actor.username, cause, ...(note ? { note } : {}) });
    return this.get(actor, id);
  }

  stats(actor: Pick<Actor, 'role'>, from?: string, to?: string): AlarmStats {
    const s = this.deps.store.alarms.stats({ from, to, categories: this.categories(actor) });
    return {
      from: from ?? null,
      to: to ?? null,
      total: Object.values(s.byKind).reduce((a, b) => a + b, 0),
      byKind: s.byKind,
      byCause: s.byCause,
      responseSeconds: seconds(s.responseMs),
      clearSeconds: seconds(s.clearMs),
    };
  }

  private visible(actor: Pick<Actor, 'role'>, id: number): AlarmRecord {
    const alarm = this.deps.store.alarms.get(id);
    if (!alarm || !this.categories(actor).includes(alarm.category)) throw notFound('alarm');
    return alarm;
  }

  private refused(effects: AlarmEffect[], alarm: AlarmRecord): void {
    const r = effects.find((e) => e.kind === 'refused');
    if (!r) return;
    if (r.why === 'cause-present')
      throw new ServiceError('conflict', `alarm ${alarm.id} (${alarm.type}) cannot be cleared while its cause persists: ${r.detail}`);
    if (r.why === 'acknowledged-already') throw new ServiceError('conflict', `acknowledged already by ${alarm.ackedBy} at ${alarm.ackedAt}`);
    throw new ServiceError('conflict', `cleared already by ${alarm.clearedBy} at ${alarm.clearedAt}`);
  }

  private tellDesk(change: AlarmChanged): void {
    const controller = this.deps.controller;
    // Without a controller in this process (the CLI) nobody escalates here: the daemon's desk sees the row at its next tick.
    if (controller) controller.alarmDesk.answered(change);
  }

  private settings(): AlarmSettings {
    const site = this.deps.site?.() ?? this.deps.controller?.ctx.site;
    const a = site?.alarms ?? { escalateAfterSeconds: 120, repeatEverySeconds: undefined };
    return { escalateAfterMs: a.escalateAfterSeconds * 1000, repeatEveryMs: (a.repeatEverySeconds ?? a.escalateAfterSeconds) * 1000 };
  }

  private now(): Date {
    return this.deps.controller?.ctx.now() ?? this.deps.now();
  }
}
