// Events the controller raised, as each role may see them, and their acknowledgement: an alarm
// stays open until someone acknowledges it, with a note; an emergency unlock's alarm is closed by
// another account than the one that unlocked.
import type { RaisedEvent } from '../controller/bus.js';
import { EVENT_CATEGORIES as eventCategories, EVENT_TYPES, isAlarmType, type EventType } from '../policy/vocabulary.js';
import { storeAlarmAck } from './alarms.js';
import type { EventFilter, EventRecord, StoredEvent } from '../store/events.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';

export { eventCategories };

/**
 * The event categories each role may see (the stream and the event list alike): guards, managers
 * and auditors all (a guard answers refused logins, a lost broker, a storage fault); admins system,
 * security and device. The local operator reads the database file anyway: all.
 */
export const visibleCategories: Record<Actor['role'], readonly RaisedEvent['category'][]> = {
  guard: eventCategories,
  manager: eventCategories,
  auditor: eventCategories,
  admin: ['system', 'security', 'device'],
  'local-operator': eventCategories,
};

/** The category an event of this type is raised in (what decides which roles see it). */
export const categoryOfType = (type: EventType): RaisedEvent['category'] => EVENT_TYPES[type].category;

export type { EventRecord, RaisedEvent };

export class EventService {
  constructor(private readonly deps: ServiceDeps) {}

  /** Events newest first, one page, of the categories the actor's role may see. */
  list(
    actor: Pick<Actor, 'role'>,
    filter: Omit<EventFilter, 'categories'> & { category?: RaisedEvent['category'] },
  ): { items: EventRecord[]; nextBefore: number | null } {
    const { category, ...rest } = filter;
    const categories = visibleCategories[actor.role].filter((c) => !category || c === category);
    return this.deps.store.events.query({ ...rest, categories });
  }

  acknowledge(actor: Actor, eventId: number, note: string | null): EventRecord {
    const { store } = this.deps;
    const event = store.events.get(eventId);
    if (!event || !(visibleCategories[actor.role] as readonly string[]).includes(event.category)) throw notFound('event');
    // The alarm is what holds one account opening a door alone to account: someone else must see it and close it.
    if (event.type === 'emergency-unlock' && event.detail?.account === actor.username) {
      throw new ServiceError('forbidden', 'you may not acknowledge an alarm you raised yourself: another guard or a manager must');
    }
    if (event.ackedAt) throw new ServiceError('conflict', `acknowledged already by ${event.ackedBy} at ${event.ackedAt}`);
    const at = (this.deps.controller?.ctx.now() ?? this.deps.now()).toISOString();
    // An alarm acknowledged here is acknowledged as an alarm (response time, history, escalation stops).
    const alarm = isAlarmType(event.type);
    store.transaction(() => {
      const done = alarm ? storeAlarmAck(store, event, actor.username, at, note) : store.events.acknowledge(event.id, actor.username, at, note);
      if (!done) throw new ServiceError('conflict', 'acknowledged already');
      recordChange(store, actor, 'event.ack', `event:${event.id}`, { type: event.type, severity: event.severity, ...(note ? { note } : {}) });
    });
    if (alarm)
      this.deps.controller?.alarmDesk.answered({
        alarmId: event.id,
        type: event.type as EventType,
        state: 'acknowledged',
        at,
        by: actor.username,
        ...(note ? { note } : {}),
      });
    return store.events.get(event.id)!;
  }

  /** Events after `afterId` in any of `categories`, oldest first (a stream catching up). */
  after(afterId: number, categories: readonly string[], limit: number): StoredEvent[] {
    return this.deps.store.events.after(afterId, categories, limit);
  }

  /** How many events `after` would return, counting no further than `cap`. */
  countAfter(afterId: number, categories: readonly string[], cap: number): number {
    return this.deps.store.events.countAfter(afterId, categories, cap);
  }

  /** The highest event id stored: where a new stream starts. */
  lastId(): number {
    return this.deps.store.events.lastId();
  }

  /** Alarms (severity alarm) nobody has acknowledged. */
  openAlarmCount(): number {
    return this.deps.store.events.openAlarmCount();
  }
}
