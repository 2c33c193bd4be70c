// Safes through the API (the real controller and fastify app, in-process): every role reads each
// safe's locks and state, and one safe with its last openings from the entry log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';

const V1 = '/api/v1';

describe('safes API', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await startApi();
  });

  afterAll(async () => {
    await api?.close();
  });

  it('GET /safes lists the example document safe, closed, for every role that reads', async () => {
    for (const role of ['admin', 'manager', 'guard', 'auditor'] as const) {
      const res = await api.call(role, 'GET', `${V1}/safes`);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().items).toEqual([
        expect.objectContaining({
          id: 'doc-safe',
          name: { en: 'Document safe', ja: '文書金庫' },
          area: 'vault',
          holders: 'safe',
          locks: ['dial', 'key'],
          state: 'closed',
          contactOpen: false,
          locksOpen: [],
          openedBy: null,
          custodian: 1001,
          delegates: [1002],
        }),
      ]);
    }
    expect((await api.call(null, 'GET', `${V1}/safes`)).statusCode).toBe(401);
  });

  it('GET /safes/{id} shows the last openings and closings, newest first; an unknown safe is 404', async () => {
    // Both locks without a holder's authentication, then closed: an unauthorised opening and its closing.
    const ctx = api.controller.ctx;
    const input = (deviceId: string, inputName: 'dial' | 'key' | 'contact', active: boolean) =>
      ctx.bus.emit('device.event', {
        deviceId,
        event: { type: 'input', input: inputName, active },
        receivedAt: Date.now(),
        occurredAt: Date.now(),
      });
    input('doc-safe-dial', 'dial', true);
    input('doc-safe-key', 'key', true);
    input('doc-safe-contact', 'contact', true);
    const open = await api.call('guard', 'GET', `${V1}/safes/doc-safe`);
    expect(open.json()).toMatchObject({ state: 'open-alarm', contactOpen: true, locksOpen: ['dial', 'key'] });
    input('doc-safe-contact', 'contact', false);
    const res = await api.call('auditor', 'GET', `${V1}/safes/doc-safe`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ state: 'closed' });
    expect(res.json().lastOpenings.map((o: { reason: string }) => o.reason)).toEqual(['safe-closed', 'safe-opened-unauthorised']);
    expect(ctx.store.events.recent(5, 'safe-opened-unauthorised')[0]).toMatchObject({ source: 'doc-safe', detail: { reason: 'no-holder' } });
    expect((await api.call('guard', 'GET', `${V1}/safes/attic`)).statusCode).toBe(404);
  });
});
