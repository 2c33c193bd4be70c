// The alarm zone's state machine without a daemon: each row feeds inputs from a starting mode and
// expects the mode and effects after them. Time is the inputs' `at`; deadlines are ticks.
import { describe, expect, it } from 'vitest';
import { initialZone, nextDeadline, step, type ZoneEffect, type ZoneInput, type ZoneMode, type ZoneSettings, type ZoneState } from '../../src/policy/zone.js';

const settings: ZoneSettings = { minActiveMs: 400, entryDelayMs: 0, outputMs: 60_000, chatterChanges: 6, chatterWindowMs: 10_000 };
const T = 1_800_000_000_000;

function run(state: ZoneState, inputs: ZoneInput[], s: ZoneSettings = settings): { state: ZoneState; effects: ZoneEffect[] } {
  const effects: ZoneEffect[] = [];
  for (const input of inputs) {
    const out = step(state, input, s);
    state = out.state;
    effects.push(...out.effects);
  }
  return { state, effects };
}

const on = (at: number, sensor = 'beam'): ZoneInput => ({ type: 'sensor', sensor, active: true, at });
const off = (at: number, sensor = 'beam'): ZoneInput => ({ type: 'sensor', sensor, active: false, at });
const tick = (at: number): ZoneInput => ({ type: 'tick', at });
const types = (effects: ZoneEffect[]) => effects.map((e) => (e.type === 'sound' ? `sound-${e.on ? 'on' : 'off'}` : e.type));

interface Row {
  name: string;
  from: 'disarmed' | 'armed';
  inputs: ZoneInput[];
  settings?: Partial<ZoneSettings>;
  mode: ZoneMode;
  effects: string[];
}

const rows: Row[] = [
  { name: 'disarmed: a long trip does nothing', from: 'disarmed', inputs: [on(T), tick(T + 500), off(T + 600)], mode: 'disarmed', effects: [] },
  {
    name: 'armed: a trip held minActiveMs is an intrusion and sounds',
    from: 'armed',
    inputs: [on(T), tick(T + 400)],
    mode: 'tripped',
    effects: ['intrusion', 'sound-on'],
  },
  { name: 'armed: a trip shorter than minActiveMs is ignored', from: 'armed', inputs: [on(T), off(T + 399), tick(T + 1000)], mode: 'armed', effects: [] },
  {
    name: 'armed: one held long enough counts even when its end comes before the tick',
    from: 'armed',
    inputs: [on(T), off(T + 450)],
    mode: 'tripped',
    effects: ['intrusion', 'sound-on'],
  },
  { name: 'armed: before the deadline nothing yet', from: 'armed', inputs: [on(T), tick(T + 399)], mode: 'armed', effects: [] },
  {
    name: 'tripped: a second sensor raises nothing more',
    from: 'armed',
    inputs: [on(T), tick(T + 400), on(T + 500, 'pir'), tick(T + 1000)],
    mode: 'tripped',
    effects: ['intrusion', 'sound-on'],
  },
  {
    name: 'entry delay: the trip waits, then trips at the deadline',
    from: 'armed',
    settings: { entryDelayMs: 5000 },
    inputs: [on(T), tick(T + 400), tick(T + 5399)],
    mode: 'entry-delay',
    effects: ['entry-delay'],
  },
  {
    name: 'entry delay: past the deadline it is an intrusion',
    from: 'armed',
    settings: { entryDelayMs: 5000 },
    inputs: [on(T), tick(T + 400), tick(T + 5400)],
    mode: 'tripped',
    effects: ['entry-delay', 'intrusion', 'sound-on'],
  },
  {
    name: 'entry delay: a disarm inside it stops the alarm',
    from: 'armed',
    settings: { entryDelayMs: 5000 },
    inputs: [on(T), tick(T + 400), { type: 'disarm', at: T + 2000, by: 'entry', personId: 'p1', entrySeq: 7 }, tick(T + 6000)],
    mode: 'disarmed',
    effects: ['entry-delay', 'disarmed'],
  },
  {
    name: 'tripped: a disarm silences the outputs',
    from: 'armed',
    inputs: [on(T), tick(T + 400), { type: 'disarm', at: T + 1000, by: 'api:kato' }],
    mode: 'disarmed',
    effects: ['intrusion', 'sound-on', 'disarmed', 'sound-off'],
  },
  {
    name: 'tripped: the outputs stop after outputMs',
    from: 'armed',
    inputs: [on(T), tick(T + 400), tick(T + 60_400)],
    mode: 'tripped',
    effects: ['intrusion', 'sound-on', 'sound-off'],
  },
  { name: 'disarmed: arm', from: 'disarmed', inputs: [{ type: 'arm', at: T, by: 'schedule' }], mode: 'armed', effects: ['armed'] },
  { name: 'armed: arm again changes nothing', from: 'armed', inputs: [{ type: 'arm', at: T, by: 'schedule' }], mode: 'armed', effects: [] },
  { name: 'disarmed: disarm again changes nothing', from: 'disarmed', inputs: [{ type: 'disarm', at: T, by: 'api:kato' }], mode: 'disarmed', effects: [] },
  {
    name: 'a sensor active when the zone arms counts only after a fresh activation',
    from: 'disarmed',
    inputs: [on(T), tick(T + 500), { type: 'arm', at: T + 600, by: 'empty' }, tick(T + 2000), off(T + 2100), on(T + 3000), tick(T + 3400)],
    mode: 'tripped',
    effects: ['armed', 'intrusion', 'sound-on'],
  },
  {
    name: 'chatter: short pulses past the limit raise one fault, never an intrusion',
    from: 'armed',
    inputs: Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? on(T + i * 100) : off(T + i * 100))),
    mode: 'armed',
    effects: ['sensor-fault'],
  },
  {
    name: 'chatter: a faulted sensor held active is not trusted; quiet for a window clears the fault',
    from: 'armed',
    inputs: [...Array.from({ length: 7 }, (_, i) => (i % 2 === 0 ? on(T + i * 100) : off(T + i * 100))), tick(T + 2000), tick(T + 10_600)],
    mode: 'armed',
    effects: ['sensor-fault', 'sensor-fault-cleared'],
  },
];

describe('zone step', () => {
  for (const row of rows) {
    it(row.name, () => {
      const s = { ...settings, ...row.settings };
      const { state, effects } = run(initialZone(row.from, T - 10_000), row.inputs, s);
      expect(state.mode).toBe(row.mode);
      expect(types(effects)).toEqual(row.effects);
    });
  }

  it('the intrusion names the sensor; the disarm names the person and the entry', () => {
    const { effects } = run(initialZone('armed', T), [
      on(T, 'lab-beam'),
      tick(T + 400),
      { type: 'disarm', at: T + 500, by: 'entry:lab-main', personId: 'p1', entrySeq: 42 },
    ]);
    expect(effects).toContainEqual({ type: 'intrusion', sensor: 'lab-beam' });
    expect(effects).toContainEqual({ type: 'disarmed', previous: 'tripped', by: 'entry:lab-main', personId: 'p1', entrySeq: 42 });
  });

  it('nextDeadline: the count of an active sensor, the entry delay, the end of the sound', () => {
    let s = run(initialZone('armed', T), [on(T)]).state;
    expect(nextDeadline(s, settings)).toBe(T + 400);
    s = run(s, [tick(T + 400)]).state;
    expect(nextDeadline(s, settings)).toBe(T + 400 + settings.outputMs);
    const delayed = { ...settings, entryDelayMs: 3000 };
    s = run(initialZone('armed', T), [on(T), tick(T + 400)], delayed).state;
    expect(nextDeadline(s, delayed)).toBe(T + 3400);
    expect(nextDeadline(initialZone('disarmed', T), settings)).toBeNull();
  });
});
