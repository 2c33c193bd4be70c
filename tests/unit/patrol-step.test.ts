// The patrol round machine, driven by checks and ticks: no daemon, no clock.
import { describe, expect, it } from 'vitest';
import { initialPatrol, nextDeadline, step, type PatrolEffect, type PatrolInput, type PatrolRoute, type PatrolState } from '../../src/policy/patrol.js';
import { patrolRouteRules, patrolsSchema } from '../../src/site/patrols.js';

const MIN = 60_000;
// Rounds every 60 min; A expected at once, B 20 min in; 5 min tolerance.
const route: PatrolRoute = {
  id: 'night',
  checkpoints: [
    { device: 'cp-a', afterMs: 0 },
    { device: 'cp-b', afterMs: 20 * MIN },
  ],
  intervalMs: 60 * MIN,
  toleranceMs: 5 * MIN,
};
const T0 = 1_000 * 60 * MIN; // a round is due here

function run(inputs: PatrolInput[], state: PatrolState = initialPatrol(route, T0)): { state: PatrolState; effects: PatrolEffect[] } {
  const effects: PatrolEffect[] = [];
  for (const input of inputs) {
    const r = step(route, state, input);
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}
const kinds = (effects: PatrolEffect[]) =>
  effects.map((e) =>
    e.type === 'round-ended' ? `ended:${e.summary.outcome}` : e.type === 'missed' ? `missed:${e.device}:${e.reason}` : `${e.type}:${e.device}`,
  );
const check = (device: string, at: number, by: string | null = 'guard-1'): PatrolInput => ({ type: 'check', device, at, by });
const tick = (at: number): PatrolInput => ({ type: 'tick', at });

describe('a patrol round', () => {
  const table: { name: string; inputs: PatrolInput[]; effects: string[] }[] = [
    {
      name: 'both checkpoints in time: completed',
      inputs: [tick(T0), check('cp-a', T0 + MIN), check('cp-b', T0 + 21 * MIN)],
      effects: ['checked:cp-a', 'checked:cp-b', 'ended:completed'],
    },
    { name: 'nothing before the round is due', inputs: [tick(T0 - MIN)], effects: [] },
    { name: 'a check long before the round is due is no check', inputs: [check('cp-a', T0 - 30 * MIN)], effects: ['ignored:cp-a'] },
    { name: 'a guard may begin within the tolerance before it is due', inputs: [check('cp-a', T0 - 4 * MIN)], effects: ['checked:cp-a'] },
    { name: 'an early start must be at the first checkpoint', inputs: [check('cp-b', T0 - 4 * MIN)], effects: ['ignored:cp-b'] },
    { name: 'first checkpoint not checked by due + tolerance: missed (late)', inputs: [tick(T0 + 5 * MIN)], effects: ['missed:cp-a:late'] },
    { name: 'the alarm goes off once per checkpoint', inputs: [tick(T0 + 5 * MIN), tick(T0 + 6 * MIN)], effects: ['missed:cp-a:late'] },
    { name: 'exactly at the deadline is still in time for the check', inputs: [check('cp-a', T0 + 5 * MIN - 1)], effects: ['checked:cp-a'] },
    {
      name: 'a late check still counts, marked late, and the round completes',
      inputs: [tick(T0 + 6 * MIN), check('cp-a', T0 + 7 * MIN), check('cp-b', T0 + 22 * MIN)],
      effects: ['missed:cp-a:late', 'checked:cp-a', 'checked:cp-b', 'ended:completed'],
    },
    {
      name: 'a check that arrives after its deadline without a tick first raises the alarm, then counts',
      inputs: [check('cp-a', T0 + 10 * MIN)],
      effects: ['missed:cp-a:late', 'checked:cp-a'],
    },
    {
      name: 'skipping a checkpoint: it is missed (skipped) and the round is incomplete',
      inputs: [check('cp-b', T0 + 2 * MIN)],
      effects: ['missed:cp-a:skipped', 'checked:cp-b', 'ended:incomplete'],
    },
    {
      name: 'going back to a checkpoint already passed is no check',
      inputs: [check('cp-a', T0 + MIN), check('cp-a', T0 + 2 * MIN)],
      effects: ['checked:cp-a', 'ignored:cp-a'],
    },
    {
      name: 'the next round falls due unfinished: the round ends incomplete and the next one opens',
      inputs: [check('cp-a', T0 + MIN), tick(T0 + 25 * MIN), tick(T0 + 60 * MIN)],
      effects: ['checked:cp-a', 'missed:cp-b:late', 'ended:incomplete'],
    },
    {
      name: 'a completed round: the next one is due one interval after the last',
      inputs: [check('cp-a', T0), check('cp-b', T0 + 20 * MIN), tick(T0 + 64 * MIN), tick(T0 + 65 * MIN)],
      effects: ['checked:cp-a', 'checked:cp-b', 'ended:completed', 'missed:cp-a:late'],
    },
    {
      name: 'a badge at a device not on the route is no check',
      inputs: [check('cp-x', T0 + MIN)],
      effects: ['ignored:cp-x'],
    },
  ];
  for (const t of table) {
    it(t.name, () => {
      expect(kinds(run(t.inputs).effects)).toEqual(t.effects);
    });
  }

  it('the round summary carries each checkpoint with its time, guard and lateness', () => {
    const { effects } = run([tick(T0 + 6 * MIN), check('cp-a', T0 + 7 * MIN, 'p1'), check('cp-b', T0 + 21 * MIN, null)]);
    const ended = effects.find((e) => e.type === 'round-ended');
    expect(ended).toEqual({
      type: 'round-ended',
      summary: {
        route: 'night',
        dueAt: T0,
        startedAt: T0 + 7 * MIN,
        endedAt: T0 + 21 * MIN,
        outcome: 'completed',
        checkpoints: [
          { device: 'cp-a', at: T0 + 7 * MIN, by: 'p1', late: true, missed: null },
          { device: 'cp-b', at: T0 + 21 * MIN, by: null, late: false, missed: null },
        ],
      },
    });
  });

  it('the next deadline: the round due, then each checkpoint, then the round after', () => {
    let s = initialPatrol(route, T0);
    expect(nextDeadline(route, s)).toBe(T0);
    s = run([tick(T0)], s).state;
    expect(nextDeadline(route, s)).toBe(T0 + 5 * MIN);
    s = run([check('cp-a', T0 + MIN)], s).state;
    expect(nextDeadline(route, s)).toBe(T0 + 25 * MIN);
    s = run([tick(T0 + 25 * MIN)], s).state;
    expect(nextDeadline(route, s)).toBe(T0 + 60 * MIN);
    s = run([check('cp-b', T0 + 26 * MIN)], s).state;
    expect(s.phase).toBe('waiting');
    expect(nextDeadline(route, s)).toBe(T0 + 60 * MIN);
  });

  it('after a long stall, rounds wholly in the past are not replayed one by one', () => {
    const { state, effects } = run([tick(T0), tick(T0 + 10 * 60 * MIN + MIN)]);
    expect(effects.filter((e) => e.type === 'round-ended')).toHaveLength(1);
    expect(state.dueAt).toBe(T0 + 10 * 60 * MIN);
    expect(state.phase).toBe('open');
  });
});

describe('patrols in the site file', () => {
  const base = { id: 'night', intervalMinutes: 60, toleranceMinutes: 5, checkpoints: ['cp-a', { device: 'cp-b', afterMinutes: 20 }] };
  it('takes a route and gives the machine its times in ms', () => {
    const [parsed] = patrolsSchema.parse([base]);
    expect(parsed!.guardRoles).toEqual(['security']);
    expect(patrolRouteRules(parsed!)).toEqual(route);
  });
  it.each([
    ['an interval over 4 hours', { ...base, intervalMinutes: 241 }],
    [
      'checkpoints out of order',
      {
        ...base,
        checkpoints: [
          { device: 'cp-a', afterMinutes: 30 },
          { device: 'cp-b', afterMinutes: 10 },
        ],
      },
    ],
    ['a checkpoint twice', { ...base, checkpoints: ['cp-a', 'cp-a'] }],
    ['a checkpoint expected after the next round is due', { ...base, checkpoints: [{ device: 'cp-a', afterMinutes: 56 }] }],
    ['no checkpoints', { ...base, checkpoints: [] }],
  ])('refuses %s', (_, r) => {
    expect(patrolsSchema.safeParse([r]).success).toBe(false);
  });
});
