// GET /api/v1/patrols: guards and above and auditors see each route, the round under way and the
// last rounds with their times (rounds of seconds here, so one ends unwalked during the test).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';
import { waitFor } from '../helpers/ports.js';

describe('GET /api/v1/patrols', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi({
      edit: (raw) => {
        raw.patrols = [
          {
            id: 'night-round',
            name: { en: 'Night round', ja: '夜間巡回' },
            intervalMinutes: 0.05,
            toleranceMinutes: 0.01,
            checkpoints: ['corridor-checkpoint', { device: 'store-checkpoint', afterMinutes: 0.01 }],
          },
        ];
      },
    });
  }, 30_000);
  afterAll(async () => api?.close());

  it('answers guards, managers, admins and auditors; not anonymous callers', async () => {
    for (const role of ['admin', 'manager', 'guard', 'auditor'] as const) expect((await api.call(role, 'GET', '/api/v1/patrols')).statusCode).toBe(200);
    expect((await api.call(null, 'GET', '/api/v1/patrols')).statusCode).toBe(401);
  });

  it('shows the route, the round under way with what is due by when, and the last rounds', async () => {
    const res = await api.call('guard', 'GET', '/api/v1/patrols');
    const [route] = res.json().items;
    expect(route).toMatchObject({
      id: 'night-round',
      name: { en: 'Night round', ja: '夜間巡回' },
      intervalMinutes: 0.05,
      guardRoles: ['security'],
      checkpoints: [
        { device: 'corridor-checkpoint', name: { en: 'Corridor patrol point' }, doorReader: false },
        { device: 'store-checkpoint', afterMinutes: 0.01, doorReader: false },
      ],
    });
    expect(route.current.checkpoints).toHaveLength(2);
    expect(Date.parse(route.current.checkpoints[1].expectedBy) - Date.parse(route.current.dueAt)).toBe(1200);

    // Nobody walks: a round ends incomplete and is listed with its times.
    const ended = await waitFor(
      async () => {
        const r = (await api.call('auditor', 'GET', '/api/v1/patrols?lastRounds=5')).json().items[0];
        return r.lastRounds.length > 0 ? r.lastRounds[0] : undefined;
      },
      10_000,
      'a round ends',
    );
    expect(ended).toMatchObject({
      outcome: 'incomplete',
      startedAt: null,
      checkpoints: [{ device: 'corridor-checkpoint', state: 'missed', at: null }, { state: 'missed' }],
    });
    expect(Date.parse(ended.endedAt) - Date.parse(ended.dueAt)).toBe(3000);
  }, 30_000);
});
