// The alarm desk: every alarm raised (an event whose type the registry marks alarm) gets its
// lifecycle (policy/alarm.ts). While nobody acknowledges it, it escalates after
// `alarms.escalateAfterSeconds` and again every `repeatEverySeconds`: each step is logged in
// alarm_history, goes out on the bus (`alarm.changed`: MQTT `{base}/events/alarm`, webhooks) as the
// second channel, and switches on the louder outputs (`alarms.escalationOutputs`) until answered.
// It also turns repeated denials at one door into an alarm, and says whether an alarm's cause is
// still present (a door still held open or forced, a device still offline or tampered with), which
// the clear refuses on.
import { countDenial, nextDeadline, raisedAlarm, step, type AlarmMachine, type AlarmSettings } from '../policy/alarm.js';
import { CONTROLLER_DENIALS, EVENT_TYPES, isAlarmType, type EventType } from '../policy/vocabulary.js';
import type { AlarmRecord } from '../store/alarms.js';
import type { AlarmChanged, RaisedEvent } from './bus.js';
import type { Context, Extension } from './context.js';
import type { Doors } from './doors.js';

/** Says why an alarm's cause is still present, or null when it is gone. */
export type CauseCheck = (alarm: { type: string; source: string | null; detail: Record<string, unknown> | null }) => string | null;

interface Watched {
  type: EventType;
  machine: AlarmMachine;
  timer?: NodeJS.Timeout;
}

export class AlarmDesk implements Extension {
  readonly name = 'alarm-desk';
  /** Alarms nobody has answered yet, by id: the ones that can escalate. */
  private readonly watched = new Map<number, Watched>();
  /** Alarms escalated and not answered: the escalation outputs stay on while any is. */
  private readonly escalated = new Set<number>();
  /** Recent denial times per door. */
  private readonly denials = new Map<string, number[]>();
  /** Devices whose offline or tamper condition has not cleared yet. */
  private readonly offline = new Set<string>();
  private readonly tampered = new Set<string>();
  private readonly causeChecks = new Map<string, CauseCheck>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly ctx: Context,
    doors: Doors,
  ) {
    const door: CauseCheck = ({ source }) => {
      const state = source ? doors.state(source) : undefined;
      if (!state) return null;
      if (state.alarm === 'held') return `door "${source}" is still held open: close it first`;
      if (state.alarm === 'forced') return `door "${source}" is still forced open: close it first`;
      return null;
    };
    this.causeChecks.set('door-forced', door);
    this.causeChecks.set('door-held-open', door);
    this.causeChecks.set('device-offline', ({ source }) => (source && this.offline.has(source) ? `device "${source}" is still offline` : null));
    this.causeChecks.set('tamper', ({ source }) => (source && this.tampered.has(source) ? `device "${source}" is still open (tamper)` : null));
  }

  /** Another feature (zones) tells how to see whether its alarms' cause persists. */
  registerCause(type: EventType, check: CauseCheck): void {
    this.causeChecks.set(type, check);
  }

  /** Why the alarm cannot be cleared yet, or null. */
  causePresent(alarm: Pick<AlarmRecord, 'type' | 'source' | 'detail'>): string | null {
    return this.causeChecks.get(alarm.type)?.(alarm) ?? null;
  }

  settings(): AlarmSettings {
    const a = this.ctx.site.alarms;
    return { escalateAfterMs: a.escalateAfterSeconds * 1000, repeatEveryMs: (a.repeatEverySeconds ?? a.escalateAfterSeconds) * 1000 };
  }

  start(): void {
    const { bus } = this.ctx;
    this.unsubscribe.push(
      bus.on('raised', (e) => this.onRaised(e), this.name),
      bus.on(
        'entry',
        (r) => {
          if (r.kind === 'decision' && r.decision === 'denied' && r.doorId && !CONTROLLER_DENIALS.has(r.reason ?? '')) this.onDenied(r.doorId);
        },
        this.name,
      ),
    );
    // Alarms left unanswered by the last run still escalate.
    const settings = this.settings();
    try {
      for (const a of this.ctx.store.alarms.unanswered()) {
        if (!isAlarmType(a.type)) continue;
        const raisedAt = Date.parse(a.at);
        const machine = { ...raisedAlarm(raisedAt, settings), level: a.level };
        machine.escalateAt = raisedAt + settings.escalateAfterMs + a.level * settings.repeatEveryMs;
        this.watch(a.id, a.type, machine);
      }
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: 'alarms', during: 'reading unanswered alarms' });
    }
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const w of this.watched.values()) clearTimeout(w.timer);
    this.watched.clear();
  }

  reload(): void {
    // New escalation times apply to the deadlines set from now on: re-arm with the new settings.
    const settings = this.settings();
    for (const [id, w] of this.watched) {
      w.machine = { ...w.machine, escalateAt: w.machine.raisedAt + settings.escalateAfterMs + w.machine.level * settings.repeatEveryMs };
      this.arm(id, w);
    }
  }

  /**
   * The service answered an alarm (acknowledged or cleared it, already stored): escalation stops,
   * the outputs go quiet when no other escalated alarm is left, and the change goes out.
   */
  answered(change: AlarmChanged): void {
    const w = this.watched.get(change.alarmId);
    if (w) clearTimeout(w.timer);
    this.watched.delete(change.alarmId);
    if (this.escalated.delete(change.alarmId) && this.escalated.size === 0) this.outputs(false);
    this.ctx.bus.emit('alarm.changed', change);
  }

  private onRaised(e: RaisedEvent): void {
    if (e.type === 'device-offline' && e.source) this.offline.add(e.source);
    if (e.type === 'device-online' && e.source) this.offline.delete(e.source);
    if (e.type === 'tamper' && e.source) this.tampered.add(e.source);
    if (e.type === 'tamper-cleared' && e.source) this.tampered.delete(e.source);
    // An event the store could not keep has no id: nothing to acknowledge or clear.
    if (!isAlarmType(e.type) || e.id === null) return;
    const id = e.id;
    try {
      this.ctx.store.alarms.addHistory(id, { at: e.at, state: 'raised', by: null, note: null, cause: null, level: 0 });
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: 'alarms', during: 'alarm raised', detail: { alarmId: id } });
    }
    this.watch(id, e.type, raisedAlarm(Date.parse(e.at), this.settings()));
    this.ctx.bus.emit('alarm.changed', { alarmId: id, type: e.type, state: 'raised', at: e.at, level: 0 });
  }

  private onDenied(doorId: string): void {
    const { count, withinMinutes } = this.ctx.site.alarms.repeatedDenials;
    const at = this.ctx.now().getTime();
    const r = countDenial(this.denials.get(doorId) ?? [], at, count, withinMinutes * 60_000);
    this.denials.set(doorId, r.times);
    if (r.alarm) {
      this.ctx.alarms.raise({ ...EVENT_TYPES['repeated-denials'], type: 'repeated-denials', source: doorId, detail: { door: doorId, count, withinMinutes } });
    }
  }

  private watch(id: number, type: EventType, machine: AlarmMachine): void {
    const w: Watched = { type, machine };
    this.watched.set(id, w);
    this.arm(id, w);
  }

  private arm(id: number, w: Watched): void {
    clearTimeout(w.timer);
    const due = nextDeadline(w.machine);
    if (due === null) return;
    w.timer = setTimeout(() => this.tick(id), Math.max(0, due - this.ctx.now().getTime()));
    w.timer.unref?.();
  }

  private tick(id: number): void {
    const w = this.watched.get(id);
    if (!w) return;
    // Answered meanwhile by a path that did not tell the desk (another process on the database)?
    let stored: AlarmRecord | undefined;
    try {
      stored = this.ctx.store.alarms.get(id);
    } catch {
      stored = undefined;
    }
    if (stored && stored.state !== 'active') {
      this.watched.delete(id);
      if (this.escalated.delete(id) && this.escalated.size === 0) this.outputs(false);
      return;
    }
    const nowMs = this.ctx.now().getTime();
    const out = step(w.machine, { kind: 'tick', at: nowMs }, this.settings());
    w.machine = out.state;
    for (const e of out.effects) {
      if (e.kind !== 'escalated') continue;
      const at = new Date(nowMs).toISOString();
      try {
        this.ctx.store.transaction(() => {
          this.ctx.store.alarms.escalate(id, e.level);
          this.ctx.store.alarms.addHistory(id, { at, state: 'escalated', by: null, note: null, cause: null, level: e.level });
        });
      } catch (err) {
        this.ctx.storageFaults.report(err, { source: 'alarms', during: 'alarm escalated', detail: { alarmId: id } });
      }
      this.ctx.log.warn({ alarmId: id, type: w.type, level: e.level }, `alarm ${id} (${w.type}) not acknowledged: escalated to level ${e.level}`);
      this.escalated.add(id);
      this.outputs(true);
      this.ctx.bus.emit('alarm.changed', { alarmId: id, type: w.type, state: 'escalated', at, level: e.level });
    }
    this.arm(id, w);
  }

  /** The louder outputs: on at every escalation step (repeated, in case one was missed), off when answered. */
  private outputs(on: boolean): void {
    for (const device of this.ctx.site.alarms.escalationOutputs) {
      this.ctx.devices.send(device, { command: 'output', on }).then(
        (r) => {
          if (!r.ok) this.ctx.log.warn({ device, on, error: r.error }, 'escalation output did not answer');
        },
        (err: unknown) => this.ctx.log.warn({ err, device, on }, 'escalation output failed'),
      );
    }
  }
}
