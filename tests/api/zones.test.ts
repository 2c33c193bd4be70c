// Alarm zones through the API (the real controller and fastify app, in-process): guards and
// managers arm and disarm, each change audited with its zone event; auditors and admins read only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';

const V1 = '/api/v1';

describe('zones API', () => {
  let api: TestApi;

  beforeAll(async () => {
    // startApi's schedule is open all day: the schedule zone starts disarmed.
    api = await startApi();
  });

  afterAll(async () => {
    await api?.close();
  });

  it('GET /zones lists the example zone with its state, for every role that reads', async () => {
    for (const role of ['admin', 'manager', 'guard', 'auditor'] as const) {
      const res = await api.call(role, 'GET', `${V1}/zones`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().items).toEqual([
        expect.objectContaining({
          id: 'lab-night',
          area: 'lab',
          arm: 'schedule',
          mode: 'disarmed',
          sensors: ['lab-beam'],
          outputs: expect.objectContaining({ intrusion: ['lab-siren'] }),
          minActiveMs: 400,
        }),
      ]);
    }
    expect((await api.call(null, 'GET', `${V1}/zones`)).statusCode).toBe(401);
  });

  it('a guard arms and disarms; again is 409; each change audited and raised as the zone event', async () => {
    const armed = await api.call('guard', 'POST', `${V1}/zones/lab-night/arm`);
    expect(armed.statusCode, armed.body).toBe(200);
    expect(armed.json()).toMatchObject({ id: 'lab-night', mode: 'armed' });
    expect((await api.call('manager', 'POST', `${V1}/zones/lab-night/arm`)).statusCode).toBe(409);
    const disarmed = await api.call('manager', 'POST', `${V1}/zones/lab-night/disarm`);
    expect(disarmed.json()).toMatchObject({ mode: 'disarmed' });
    expect((await api.call('guard', 'POST', `${V1}/zones/lab-night/disarm`)).statusCode).toBe(409);
    expect((await api.call('guard', 'POST', `${V1}/zones/attic/arm`)).statusCode).toBe(404);

    const audit = (await api.call('auditor', 'GET', `${V1}/audit?limit=50`)).json().items as {
      actor: string;
      action: string;
      target: string;
      outcome: string;
    }[];
    expect(audit).toContainEqual(expect.objectContaining({ actor: 'test-guard', action: 'zone.arm', target: 'zone:lab-night', outcome: 'ok' }));
    expect(audit).toContainEqual(expect.objectContaining({ actor: 'test-manager', action: 'zone.disarm', target: 'zone:lab-night', outcome: 'ok' }));
    const events = api.controller.ctx.store.events;
    expect(events.recent(5, 'zone-armed')[0]).toMatchObject({ source: 'lab-night', detail: { zoneId: 'lab-night', by: 'api:test-guard' } });
    expect(events.recent(5, 'zone-disarmed')[0]).toMatchObject({
      source: 'lab-night',
      detail: { zoneId: 'lab-night', by: 'api:test-manager', previous: 'armed' },
    });
  });

  it('auditors and admins may not arm or disarm', async () => {
    for (const role of ['auditor', 'admin'] as const) {
      expect((await api.call(role, 'POST', `${V1}/zones/lab-night/arm`)).statusCode).toBe(403);
      expect((await api.call(role, 'POST', `${V1}/zones/lab-night/disarm`)).statusCode).toBe(403);
    }
    expect((await api.call('guard', 'GET', `${V1}/zones`)).json().items[0].mode).toBe('disarmed');
  });
});
