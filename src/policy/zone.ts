// An alarm zone's state machine: pure, plain data in and out, deadlines as timestamps in the state
// (like door.ts). The controller's runner (controller/zones.ts) feeds sensor changes, arm and disarm
// commands and ticks, and carries out the effects.
//
//   disarmed ──arm──► armed ──sensor counted──► entry-delay ──deadline──► tripped
//       ▲               │  (no entry delay: straight to tripped)   │              │
//       └────disarm─────┴─────────────────disarm───────────────────┴────disarm────┘
//
// A sensor counts only once it stayed active `minActiveMs`; a shorter pulse is ignored. A sensor that
// changes more than `chatterChanges` times within `chatterWindowMs` is faulted: reported once and not
// trusted until it has been quiet for a whole window, so a flapping beam gives one fault, not a flood.

export type ZoneMode = 'disarmed' | 'armed' | 'entry-delay' | 'tripped';

export interface ZoneSettings {
  minActiveMs: number;
  entryDelayMs: number;
  outputMs: number;
  chatterChanges: number;
  chatterWindowMs: number;
}

export interface SensorState {
  active: boolean;
  /** When it last went active (ms), while active. */
  activeSince: number | null;
  /** It stayed active long enough and was counted (once per activation). */
  counted: boolean;
  /** When it changed, within the last chatter window. */
  changes: number[];
  /** Chattering: reported, and ignored until quiet for a window. */
  faulted: boolean;
}

export interface ZoneState {
  mode: ZoneMode;
  /** When the mode was last entered. */
  since: number;
  /** entry-delay: when it becomes tripped. */
  entryDeadline: number | null;
  /** The sensor that tripped (or started the entry delay). */
  trippedBy: string | null;
  /** Outputs sounding until then; null when silent. */
  soundingUntil: number | null;
  sensors: Record<string, SensorState>;
}

/** Who armed or disarmed: an account, the schedule, the area falling empty, a person's granted entry. */
export interface ZoneActor {
  by: string;
  personId?: string | null;
  entrySeq?: number | null;
}

export type ZoneInput =
  | { type: 'sensor'; sensor: string; active: boolean; at: number }
  | ({ type: 'arm'; at: number } & ZoneActor)
  | ({ type: 'disarm'; at: number } & ZoneActor)
  | { type: 'tick'; at: number };

export type ZoneEffect =
  | ({ type: 'armed' } & ZoneActor)
  | ({ type: 'disarmed'; previous: ZoneMode } & ZoneActor)
  | { type: 'entry-delay'; sensor: string; until: number }
  | { type: 'intrusion'; sensor: string }
  | { type: 'sound'; on: boolean }
  | { type: 'sensor-fault'; sensor: string; changes: number }
  | { type: 'sensor-fault-cleared'; sensor: string };

export interface ZoneStep {
  state: ZoneState;
  effects: ZoneEffect[];
}

export function initialZone(mode: 'disarmed' | 'armed', at: number): ZoneState {
  return { mode, since: at, entryDeadline: null, trippedBy: null, soundingUntil: null, sensors: {} };
}

function sensorOf(state: ZoneState, id: string): SensorState {
  return state.sensors[id] ?? { active: false, activeSince: null, counted: false, changes: [], faulted: false };
}

export function step(state: ZoneState, input: ZoneInput, settings: ZoneSettings): ZoneStep {
  const effects: ZoneEffect[] = [];
  let s: ZoneState = { ...state, sensors: { ...state.sensors } };

  switch (input.type) {
    case 'arm': {
      // Arming an armed or tripped zone changes nothing (a tripped zone is disarmed first).
      if (s.mode !== 'disarmed') break;
      s = { ...s, mode: 'armed', since: input.at, entryDeadline: null, trippedBy: null };
      // A sensor active at arming counts only after a fresh activation: the person leaving is not an intruder.
      for (const [id, sensor] of Object.entries(s.sensors)) s.sensors[id] = { ...sensor, counted: sensor.active };
      effects.push({ type: 'armed', by: input.by, personId: input.personId ?? null, entrySeq: input.entrySeq ?? null });
      break;
    }
    case 'disarm': {
      if (s.mode === 'disarmed') break;
      const previous = s.mode;
      s = { ...s, mode: 'disarmed', since: input.at, entryDeadline: null, trippedBy: null };
      effects.push({ type: 'disarmed', previous, by: input.by, personId: input.personId ?? null, entrySeq: input.entrySeq ?? null });
      if (s.soundingUntil !== null) {
        s.soundingUntil = null;
        effects.push({ type: 'sound', on: false });
      }
      break;
    }
    case 'sensor': {
      // An activation that lasted long enough counts even when its end arrives before the tick did.
      s = countDue(s, input.at, settings, effects);
      const before = sensorOf(s, input.sensor);
      if (before.active === input.active) break;
      const changes = [...before.changes.filter((t) => t > input.at - settings.chatterWindowMs), input.at];
      let sensor: SensorState = {
        ...before,
        active: input.active,
        activeSince: input.active ? input.at : null,
        counted: input.active ? false : before.counted,
        changes,
      };
      if (!sensor.faulted && changes.length > settings.chatterChanges) {
        sensor = { ...sensor, faulted: true };
        effects.push({ type: 'sensor-fault', sensor: input.sensor, changes: changes.length });
      }
      // Inactive before minActiveMs passed: a spike, ignored. Active: counted at its deadline (tick).
      s.sensors[input.sensor] = sensor;
      s = countDue(s, input.at, settings, effects);
      break;
    }
    case 'tick': {
      s = countDue(s, input.at, settings, effects);
      if (s.mode === 'entry-delay' && s.entryDeadline !== null && input.at >= s.entryDeadline) {
        s = trip(s, s.trippedBy ?? '', input.at, settings, effects);
      }
      if (s.soundingUntil !== null && input.at >= s.soundingUntil) {
        s.soundingUntil = null;
        effects.push({ type: 'sound', on: false });
      }
      for (const [id, sensor] of Object.entries(s.sensors)) {
        const last = sensor.changes.at(-1);
        if (sensor.faulted && last !== undefined && input.at - last >= settings.chatterWindowMs) {
          s.sensors[id] = { ...sensor, faulted: false, changes: [] };
          effects.push({ type: 'sensor-fault-cleared', sensor: id });
        }
      }
      break;
    }
  }
  return { state: s, effects };
}

/** Counts every sensor that has now been active `minActiveMs`, and acts on it if the zone is armed. */
function countDue(s: ZoneState, at: number, settings: ZoneSettings, effects: ZoneEffect[]): ZoneState {
  for (const [id, sensor] of Object.entries(s.sensors)) {
    if (!sensor.active || sensor.counted || sensor.activeSince === null || at - sensor.activeSince < settings.minActiveMs) continue;
    s.sensors[id] = { ...sensor, counted: true };
    if (sensor.faulted || s.mode !== 'armed') continue;
    if (settings.entryDelayMs > 0) {
      s = { ...s, mode: 'entry-delay', since: at, entryDeadline: at + settings.entryDelayMs, trippedBy: id };
      effects.push({ type: 'entry-delay', sensor: id, until: s.entryDeadline! });
    } else {
      s = trip(s, id, at, settings, effects);
    }
  }
  return s;
}

function trip(s: ZoneState, sensor: string, at: number, settings: ZoneSettings, effects: ZoneEffect[]): ZoneState {
  effects.push({ type: 'intrusion', sensor });
  if (s.soundingUntil === null) effects.push({ type: 'sound', on: true });
  return { ...s, mode: 'tripped', since: at, entryDeadline: null, trippedBy: sensor, soundingUntil: at + settings.outputMs };
}

/** The earliest time a tick would change something, or null. */
export function nextDeadline(s: ZoneState, settings: ZoneSettings): number | null {
  const times: number[] = [];
  if (s.entryDeadline !== null) times.push(s.entryDeadline);
  if (s.soundingUntil !== null) times.push(s.soundingUntil);
  for (const sensor of Object.values(s.sensors)) {
    if (sensor.active && !sensor.counted && sensor.activeSince !== null) times.push(sensor.activeSince + settings.minActiveMs);
    const last = sensor.changes.at(-1);
    if (sensor.faulted && last !== undefined) times.push(last + settings.chatterWindowMs);
  }
  return times.length ? Math.min(...times) : null;
}
