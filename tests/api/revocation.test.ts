// A manager enrols an access holder through the API, the door opens for them; the grant is revoked
// through the API and the very next card read is denied.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { waitFor } from '../helpers/ports.js';
import { readCa } from '../../src/devices/tls.js';

describe('revocation through the API, at the door', () => {
  let api: TestApi;
  let sim: Simulator;
  beforeAll(async () => {
    api = await startApi();
    sim = await Simulator.start({ site: api.controller.ctx.site, url: api.controller.brokerUrl, secrets: loadSecrets(api.dataDir), ca: readCa(api.dataDir) });
    await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab locked');
  });
  afterAll(async () => {
    await sim?.stop();
    await api?.close();
  });

  async function cardAndPin(): Promise<string> {
    const shown = sim.expectCommand('lab-reader', (c) => c.command === 'indicate' && c.pattern !== 'pin-required', 4000, 'outcome');
    const asked = sim.expectCommand('lab-keypad', (c) => c.command === 'indicate', 4000, 'keypad');
    await sim.swipe('lab-reader', '0A0B0C0D');
    const first = await asked;
    if (first.command === 'indicate' && first.pattern === 'pin-required') await sim.pin('lab-keypad', '8520');
    const c = await shown;
    return c.command === 'indicate' ? c.pattern : '';
  }

  it('opens with the grant, and is denied on the next read after the revoke', async () => {
    const ok = (res: { statusCode: number; body: string }, status = 201) => {
      expect(res.statusCode, res.body).toBe(status);
      return JSON.parse(res.body || 'null');
    };
    const person = ok(await api.call('manager', 'POST', '/api/v1/people', { name: '山田 太郎', affiliation: '材料開発課', title: '主任' }));
    ok(await api.call('manager', 'POST', `/api/v1/people/${person.id}/credentials`, { kind: 'card', value: '0A0B0C0D' }));
    const pin = await api.call('manager', 'PUT', `/api/v1/people/${person.id}/pin`, { pin: '8520' });
    expect([200, 201, 204]).toContain(pin.statusCode);
    expect(pin.body).not.toMatch(/argon2/);
    ok(
      await api.call('manager', 'POST', `/api/v1/people/${person.id}/trainings`, {
        completedAt: new Date(Date.now() - 86_400_000).toISOString(),
        course: '情報管理研修',
      }),
    );
    ok(
      await api.call('manager', 'POST', `/api/v1/people/${person.id}/pledges`, {
        signedAt: new Date(Date.now() - 86_400_000).toISOString(),
        document: '秘密保持誓約書 v1',
      }),
    );
    const grant = ok(await api.call('manager', 'POST', '/api/v1/grants', { personId: person.id, areaId: 'lab', purpose: '新材料評価', outOfHours: true }));

    expect(await cardAndPin()).toBe('granted');
    await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', 7000, 'relocked');

    const revoked = await api.call('manager', 'POST', `/api/v1/grants/${grant.id}/revoke`);
    expect(revoked.statusCode, revoked.body).toBe(200);
    expect(await cardAndPin()).toBe('denied');
    expect(api.controller.ctx.store.entryLog.recent(1)[0]).toMatchObject({ decision: 'denied', reason: 'no-grant', personId: person.id });
    const audit = (await api.call('auditor', 'GET', '/api/v1/audit?action=grant.revoke')).json().items;
    expect(audit[0]).toMatchObject({ actor: 'test-manager', target: `grant:${grant.id}`, outcome: 'ok' });
  });
});
