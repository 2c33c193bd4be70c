// The visitor desk's badges through the API: issue (first or replacement), return, who may, what
// each does to the cards at the door (the real controller, the simulator's lab reader), and the
// audit records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import type { Role } from '../../src/store/accounts.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { enrol } from '../helpers/daemon.js';
import { waitFor } from '../helpers/ports.js';

const V1 = '/api/v1';

describe('visitor badges', () => {
  let api: TestApi;
  let sim: Simulator;
  let hostId: string;

  beforeAll(async () => {
    // The lab by card alone, so a visitor's badge is judged at the reader without a PIN.
    api = await startApi({ edit: (raw) => (raw.areas.find((a: { id: string }) => a.id === 'lab').factors = ['card']) });
    ({ personId: hostId } = await enrol({ dataDir: api.dataDir }, { name: 'Host Abe', card: 'B0000001', areas: ['lab'] }));
    sim = await Simulator.start({ site: api.controller.ctx.site, url: api.controller.brokerUrl, secrets: loadSecrets(api.dataDir), ca: readCa(api.dataDir) });
    await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab locked');
  });

  afterAll(async () => {
    await sim?.stop();
    await api?.close();
  });

  const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

  async function visit(stage: 'approved' | 'checked-in', card?: string): Promise<number> {
    const created = await api.call('manager', 'POST', `${V1}/visits`, {
      visitor: { name: 'Visitor Kondo', affiliation: 'Beta KK' },
      purpose: 'supplier audit',
      hostId,
      areas: ['lab'],
      validFrom: iso(-60_000),
      validUntil: iso(3_600_000),
      ...(card ? { card } : {}),
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as number;
    const steps: [Role, string, unknown][] = [
      ['auditor', 'approve', undefined],
      ['guard', 'pledge', { signedAt: iso(-1000) }],
    ];
    if (stage === 'checked-in') steps.push(['guard', 'check-in', undefined]);
    for (const [role, step, body] of steps) {
      const res = await api.call(role, 'POST', `${V1}/visits/${id}/${step}`, body);
      expect(res.statusCode, res.body).toBe(200);
    }
    return id;
  }

  const cardStatus = (value: string) => api.controller.ctx.store.people.findCredential('card', value)?.status;

  /** What the lab reader shows a visitor's card swiped alone: pin-required (waiting for the escort) or denied. */
  async function swipeAlone(card: string): Promise<{ pattern: string; reason: string | null }> {
    await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', 7000, 'lab locked');
    const shown = sim.expectCommand('lab-reader', (c) => c.command === 'indicate', 3000, 'an indication');
    await sim.swipe('lab-reader', card);
    const c = await shown;
    const last = api.controller.ctx.store.entryLog.recent(1)[0];
    return { pattern: c.command === 'indicate' ? c.pattern : '', reason: c.command === 'indicate' && c.pattern === 'denied' ? (last?.reason ?? null) : null };
  }

  it('a badge issued before check-in works only from check-in on', async () => {
    const id = await visit('approved');
    const issued = await api.call('guard', 'POST', `${V1}/visits/${id}/badge`, { card: 'VB000001' });
    expect(issued.statusCode, issued.body).toBe(200);
    expect(issued.json()).toMatchObject({ stage: 'ready', card: { value: 'VB000001', status: 'suspended' }, badgeReturnedAt: null });
    expect((await swipeAlone('VB000001')).reason).toBe('credential-suspended');
    const checkedIn = await api.call('guard', 'POST', `${V1}/visits/${id}/check-in`);
    expect(checkedIn.json()).toMatchObject({ stage: 'checked-in', card: { value: 'VB000001', status: 'active' } });
    expect((await swipeAlone('VB000001')).pattern).toBe('pin-required'); // a working visitor card waits for the escort
  });

  it('a replacement for a lost badge works at once; the lost one stops working', async () => {
    const id = await visit('checked-in', 'VB000002');
    expect(cardStatus('VB000002')).toBe('active');
    const replaced = await api.call('manager', 'POST', `${V1}/visits/${id}/badge`, { card: 'VB000003' });
    expect(replaced.json()).toMatchObject({ stage: 'checked-in', card: { value: 'VB000003', status: 'active' } });
    expect(cardStatus('VB000002')).toBe('revoked');
    expect((await swipeAlone('VB000002')).reason).toBe('credential-revoked');
    expect((await swipeAlone('VB000003')).pattern).toBe('pin-required');
  });

  it('a badge handed back stops working, once; the visit goes on until check-out', async () => {
    const id = await visit('checked-in', 'VB000004');
    const returned = await api.call('guard', 'POST', `${V1}/visits/${id}/badge/return`);
    expect(returned.statusCode, returned.body).toBe(200);
    const v = returned.json();
    expect(v).toMatchObject({ stage: 'checked-in', card: { value: 'VB000004', status: 'revoked' } });
    expect(Date.parse(v.badgeReturnedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await swipeAlone('VB000004')).reason).toBe('credential-revoked');
    const again = await api.call('guard', 'POST', `${V1}/visits/${id}/badge/return`);
    expect(again.statusCode).toBe(409);
    expect(again.json().detail).toMatch(/returned at/);
    expect((await api.call('guard', 'POST', `${V1}/visits/${id}/check-out`)).json()).toMatchObject({
      stage: 'checked-out',
      badgeReturnedAt: v.badgeReturnedAt,
    });
  });

  it('checked out without the badge: not returned until the desk records it; no new badge for an ended visit', async () => {
    const id = await visit('checked-in', 'VB000005');
    const out = await api.call('guard', 'POST', `${V1}/visits/${id}/check-out`);
    expect(out.json()).toMatchObject({ stage: 'checked-out', card: { status: 'revoked' }, badgeReturnedAt: null });
    expect((await api.call('guard', 'POST', `${V1}/visits/${id}/badge`, { card: 'VB000006' })).statusCode).toBe(409);
    expect(cardStatus('VB000006')).toBeUndefined();
    const returned = await api.call('guard', 'POST', `${V1}/visits/${id}/badge/return`);
    expect(returned.statusCode).toBe(200);
    expect(returned.json().badgeReturnedAt).not.toBeNull();
  });

  it('refuses a return with no badge issued, a card someone holds, and roles not at the desk', async () => {
    const id = await visit('approved');
    const none = await api.call('guard', 'POST', `${V1}/visits/${id}/badge/return`);
    expect(none.statusCode).toBe(409);
    expect(none.json().detail).toMatch(/no badge/);
    expect((await api.call('guard', 'POST', `${V1}/visits/${id}/badge`, { card: 'B0000001' })).statusCode).toBe(409); // the host's card
    expect((await api.call('guard', 'POST', `${V1}/visits/${id}/badge`, { card: '' })).json().details[0].path).toBe('card');
    for (const role of ['auditor', 'admin'] as const) {
      expect((await api.call(role, 'POST', `${V1}/visits/${id}/badge`, { card: 'VB000007' })).statusCode).toBe(403);
      expect((await api.call(role, 'POST', `${V1}/visits/${id}/badge/return`)).statusCode).toBe(403);
    }
    expect((await api.call('guard', 'POST', `${V1}/visits/99999/badge`, { card: 'VB000007' })).statusCode).toBe(404);
    expect(cardStatus('VB000007')).toBeUndefined();
  });

  it('each issue and return is in the audit log with who did it', async () => {
    const id = await visit('checked-in');
    await api.call('guard', 'POST', `${V1}/visits/${id}/badge`, { card: 'VB000008' });
    await api.call('guard', 'POST', `${V1}/visits/${id}/badge/return`);
    const audit = (await api.call('auditor', 'GET', `${V1}/audit?limit=200`)).json().items.filter((r: { target: string }) => r.target === `visit:${id}`);
    const badge = audit.filter((r: { action: string }) => r.action.startsWith('visit.badge-')).reverse();
    expect(badge).toMatchObject([
      { action: 'visit.badge-issue', actor: 'test-guard', outcome: 'ok' },
      { action: 'visit.badge-return', actor: 'test-guard', outcome: 'ok' },
    ]);
  });
});
