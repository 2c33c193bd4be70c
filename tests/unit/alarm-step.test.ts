// The alarm's lifecycle as a table: each row a state, an input, and what must come out.
import { describe, expect, it } from 'vitest';
import { countDenial, nextDeadline, raisedAlarm, step, type AlarmInput, type AlarmMachine } from '../../src/policy/alarm.js';

const settings = { escalateAfterMs: 60_000, repeatEveryMs: 30_000 };
const T0 = 1_000_000;
const raised = raisedAlarm(T0, settings);
const acked: AlarmMachine = { ...raised, phase: 'acknowledged', escalateAt: null, ackedAt: T0 + 5_000, ackedBy: 'g1' };
const cleared: AlarmMachine = { ...acked, phase: 'cleared', clearedAt: T0 + 9_000, clearedBy: 'g1', cause: 'test' };
const clear = (at: number, causePresent: string | null = null): AlarmInput => ({
  kind: 'clear',
  at,
  by: 'g2',
  cause: 'false-alarm',
  note: 'cat',
  causePresent,
});

describe('alarm lifecycle', () => {
  const rows: [string, AlarmMachine, AlarmInput, Partial<AlarmMachine>, unknown[]][] = [
    ['tick before the deadline does nothing', raised, { kind: 'tick', at: T0 + 59_999 }, { phase: 'raised', level: 0 }, []],
    [
      'tick at the deadline escalates to level 1',
      raised,
      { kind: 'tick', at: T0 + 60_000 },
      { level: 1, escalateAt: T0 + 90_000 },
      [{ kind: 'escalated', level: 1 }],
    ],
    [
      'a late tick escalates once and sets the next from now',
      raised,
      { kind: 'tick', at: T0 + 500_000 },
      { level: 1, escalateAt: T0 + 530_000 },
      [{ kind: 'escalated', level: 1 }],
    ],
    ['tick when acknowledged does nothing', acked, { kind: 'tick', at: T0 + 999_999 }, { level: 0, phase: 'acknowledged' }, []],
    [
      'ack records who and the response time, and stops escalation',
      raised,
      { kind: 'ack', at: T0 + 12_000, by: 'g1', note: 'on my way' },
      { phase: 'acknowledged', ackedBy: 'g1', ackedAt: T0 + 12_000, escalateAt: null },
      [{ kind: 'acknowledged', by: 'g1', note: 'on my way', responseMs: 12_000 }],
    ],
    ['ack twice is refused', acked, { kind: 'ack', at: T0 + 1, by: 'g2', note: null }, { ackedBy: 'g1' }, [{ kind: 'refused', why: 'acknowledged-already' }]],
    [
      'ack after clear is refused',
      cleared,
      { kind: 'ack', at: T0 + 1, by: 'g2', note: null },
      { phase: 'cleared' },
      [{ kind: 'refused', why: 'cleared-already' }],
    ],
    [
      'clear after ack records the cause and time to clear',
      acked,
      clear(T0 + 20_000),
      { phase: 'cleared', clearedBy: 'g2', cause: 'false-alarm', ackedBy: 'g1' },
      [{ kind: 'cleared', by: 'g2', cause: 'false-alarm', note: 'cat', clearMs: 20_000 }],
    ],
    [
      'clear straight from raised acknowledges first',
      raised,
      clear(T0 + 7_000),
      { phase: 'cleared', ackedBy: 'g2', ackedAt: T0 + 7_000, escalateAt: null },
      [
        { kind: 'acknowledged', by: 'g2', note: null, responseMs: 7_000 },
        { kind: 'cleared', by: 'g2', cause: 'false-alarm', note: 'cat', clearMs: 7_000 },
      ],
    ],
    [
      'clear while the cause persists is refused and changes nothing',
      acked,
      clear(T0 + 20_000, 'door front is still held open'),
      { phase: 'acknowledged', clearedAt: null },
      [{ kind: 'refused', why: 'cause-present', detail: 'door front is still held open' }],
    ],
    ['clear twice is refused', cleared, clear(T0 + 20_000), { clearedBy: 'g1', cause: 'test' }, [{ kind: 'refused', why: 'cleared-already' }]],
  ];
  for (const [name, state, input, expected, effects] of rows) {
    it(name, () => {
      const out = step(state, input, settings);
      expect(out.state).toMatchObject(expected);
      expect(out.effects).toEqual(effects);
    });
  }

  it('escalates again every repeat until answered, one level higher each time', () => {
    let s = raised;
    const levels: number[] = [];
    for (let t = T0; t <= T0 + 150_000; t += 1_000) {
      const out = step(s, { kind: 'tick', at: t }, settings);
      s = out.state;
      for (const e of out.effects) if (e.kind === 'escalated') levels.push(e.level);
    }
    // 60 s, then 90, 120, 150.
    expect(levels).toEqual([1, 2, 3, 4]);
    s = step(s, { kind: 'ack', at: T0 + 151_000, by: 'g1', note: null }, settings).state;
    expect(nextDeadline(s)).toBeNull();
    expect(step(s, { kind: 'tick', at: T0 + 999_000 }, settings).effects).toEqual([]);
  });

  it('the deadline is data: nextDeadline of a raised alarm is its escalation time', () => {
    expect(nextDeadline(raised)).toBe(T0 + 60_000);
    expect(nextDeadline(cleared)).toBeNull();
  });
});

describe('repeated denials', () => {
  it('N within M minutes fires once, then counts again', () => {
    let times: number[] = [];
    const fired: number[] = [];
    for (const at of [0, 10, 20, 30, 40, 50, 60]) {
      const r = countDenial(times, at * 1000, 3, 60_000);
      times = r.times;
      if (r.alarm) fired.push(at);
    }
    expect(fired).toEqual([20, 50]);
  });
  it('denials spread wider than the window never fire', () => {
    let times: number[] = [];
    for (const at of [0, 61, 122, 183]) {
      const r = countDenial(times, at * 1000, 2, 60_000);
      times = r.times;
      expect(r.alarm).toBe(false);
    }
  });
});
