// Remote unlock never weakens a door's rules: the vault (card + PIN, two people) opens from the API
// only when a second account, a manager who is not the one who asked, confirms in time; an emergency
// unlock needs a reason and raises an alarm; every remote unlock raises an event guards see.
// The real controller and app, the firmware simulator on the embedded broker.
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import { REMOTE_UNLOCK_CONFIRM_MS } from '../../src/services/unlock-requests.js';
import { startApi, type TestAccount, type TestApi } from '../helpers/api.js';
import { waitFor } from '../helpers/ports.js';

const V1 = '/api/v1';

describe('remote unlock of a door that needs two factors or two people', () => {
  let api: TestApi;
  let sim: Simulator;
  let manager2: TestAccount;

  beforeAll(async () => {
    // The lab by card alone: the one-factor door. The vault keeps card + PIN and two people.
    api = await startApi({ edit: (raw) => (raw.areas.find((a: { id: string }) => a.id === 'lab').factors = ['card']) });
    manager2 = await api.signIn('test-manager-2', 'manager');
    sim = await Simulator.start({ site: api.controller.ctx.site, url: api.controller.brokerUrl, secrets: loadSecrets(api.dataDir), ca: readCa(api.dataDir) });
    await waitFor(
      () => api.controller.doors.state('lab-main')?.lock === 'locked' && api.controller.doors.state('vault-door')?.lock === 'locked',
      5000,
      'doors locked',
    );
  });

  afterAll(async () => {
    await sim?.stop();
    await api?.close();
  });

  const as = (account: TestAccount, method: 'GET' | 'POST', url: string, body?: unknown) =>
    api.app.inject({ method, url, ...(body !== undefined ? { payload: body as object } : {}), headers: { authorization: `Bearer ${account.token}` } });
  const vaultRecords = () =>
    api
      .db()
      .prepare(
        `SELECT seq, reason, decision, detail FROM entry_log WHERE door_id = 'vault-door' AND (reason IN ('remote-unlock', 'emergency-unlock') OR decision = 'granted') ORDER BY seq`,
      )
      .all() as { seq: number; reason: string; decision: string | null; detail: string }[];
  const vaultUnlocks = () => sim.observed('vault-lock').filter((o) => o.command.command === 'unlock').length;
  const events = async (type: string) =>
    (await api.call('guard', 'GET', `${V1}/events?type=${type}`)).json().items as {
      type: string;
      category: string;
      severity: string;
      source: string;
      detail: Record<string, unknown>;
      ackedAt: string | null;
    }[];

  async function relockVault(): Promise<void> {
    const locked = sim.expectCommand('vault-lock', (c) => c.command === 'lock', 3000, 'lock');
    expect((await api.call('manager', 'POST', `${V1}/doors/vault-door/lock`)).statusCode).toBe(200);
    await locked;
  }

  /** Asks for the vault to open; answers the request. */
  async function ask(by: 'guard' | 'manager', note = 'auditors need the 2025 binders'): Promise<{ id: string; expiresAt: string; requestedBy: string }> {
    const res = await api.call(by, 'POST', `${V1}/doors/vault-door/unlock`, { note });
    expect(res.statusCode, res.body).toBe(202);
    return res.json().request;
  }

  it('a guard alone does not open the vault: a request waits for a second account, and guards see it', async () => {
    const records = vaultRecords().length;
    const unlocks = vaultUnlocks();
    const request = await ask('guard');
    expect(request).toMatchObject({ requestedBy: 'test-guard', door: 'vault-door' });
    expect(Date.parse(request.expiresAt) - Date.now()).toBeLessThanOrEqual(REMOTE_UNLOCK_CONFIRM_MS);
    // Nothing released and nothing logged as an opening: the state changes synchronously on a release.
    expect(api.controller.doors.state('vault-door')).toMatchObject({ lock: 'locked', unlockedBy: null });
    expect(vaultRecords()).toHaveLength(records);
    expect(vaultUnlocks()).toBe(unlocks);
    const pending = (await api.call('manager', 'GET', `${V1}/unlock-requests?door=vault-door`)).json().items;
    expect(pending).toContainEqual(expect.objectContaining({ id: request.id, requestedBy: 'test-guard' }));
    expect(await events('remote-unlock-requested')).toContainEqual(
      expect.objectContaining({ category: 'door', source: 'vault-door', detail: expect.objectContaining({ request: request.id, account: 'test-guard' }) }),
    );
    // Asking again answers the same request; a guard may not confirm (not a manager), and may withdraw their own.
    const again = await api.call('guard', 'POST', `${V1}/doors/vault-door/unlock`);
    expect(again.statusCode, again.body).toBe(202);
    expect(again.json().request).toMatchObject({ id: request.id, expiresAt: request.expiresAt });
    expect(api.controller.doors.state('vault-door')?.lock).toBe('locked');
    expect((await api.call('guard', 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/confirm`)).statusCode).toBe(403);
    expect((await api.call('guard', 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/cancel`)).statusCode).toBe(200);
    expect((await api.call('manager', 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/confirm`)).statusCode).toBe(409);
    expect(api.controller.doors.state('vault-door')?.lock).toBe('locked');
  });

  it('the account that asked may not confirm its own request', async () => {
    const request = await ask('manager');
    const res = await api.call('manager', 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/confirm`);
    expect(res.statusCode, res.body).toBe(403);
    expect(api.controller.doors.state('vault-door')).toMatchObject({ lock: 'locked', unlockedBy: null });
    const audit = (await api.call('auditor', 'GET', `${V1}/audit?action=door.unlock-confirm&limit=5`)).json().items;
    expect(audit[0]).toMatchObject({ actor: 'test-manager', outcome: 'denied' });
    expect((await api.call('manager', 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/cancel`)).statusCode).toBe(200);
  });

  it('a second account, a manager, confirms: the record names both and commits before the vault opens', async () => {
    const request = await ask('guard', 'cleaning crew, escorted');
    const unlocked = sim.expectCommand('vault-lock', (c) => c.command === 'unlock', 3000, 'unlock');
    const res = await as(manager2, 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/confirm`, { note: 'called the guard back' });
    expect(res.statusCode, res.body).toBe(200);
    await unlocked;
    const seq = res.json().seq as number;
    expect(api.controller.ctx.store.entryLog.get(seq)).toMatchObject({
      kind: 'door',
      doorId: 'vault-door',
      areaId: 'vault',
      reason: 'remote-unlock',
      detail: {
        account: 'test-guard',
        role: 'guard',
        note: 'cleaning crew, escorted',
        confirmedBy: 'test-manager-2',
        confirmedByRole: 'manager',
        confirmNote: 'called the guard back',
        request: request.id,
      },
    });
    expect(res.json().door.state).toMatchObject({ lock: 'unlocked', unlockedBy: 'command' });
    expect(await events('remote-unlock')).toContainEqual(
      expect.objectContaining({
        category: 'door',
        source: 'vault-door',
        detail: expect.objectContaining({ seq, account: 'test-guard', confirmedBy: 'test-manager-2' }),
      }),
    );
    // Once only.
    expect((await as(manager2, 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/confirm`)).statusCode).toBe(409);
    await relockVault();
  });

  it('a request not confirmed in time cannot be confirmed', async () => {
    const request = await ask('guard');
    const ctx = api.controller.ctx;
    const now = ctx.now;
    ctx.now = () => new Date(Date.now() + REMOTE_UNLOCK_CONFIRM_MS + 1000);
    let res: LightMyRequestResponse;
    try {
      res = await as(manager2, 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/confirm`);
    } finally {
      ctx.now = now;
    }
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().detail).toMatch(/expired/);
    expect(api.controller.doors.state('vault-door')).toMatchObject({ lock: 'locked', unlockedBy: null });
    expect((await as(manager2, 'POST', `${V1}/doors/vault-door/unlock-requests/00000000-0000-4000-8000-000000000000/confirm`)).statusCode).toBe(404);
  });

  it('a one-factor door opens at once, and the remote unlock raises an event a guard sees', async () => {
    const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'unlock');
    const res = await api.call('guard', 'POST', `${V1}/doors/lab-main/unlock`, { note: 'courier' });
    expect(res.statusCode, res.body).toBe(200);
    await unlocked;
    const seq = res.json().seq as number;
    expect(await events('remote-unlock')).toContainEqual(
      expect.objectContaining({
        category: 'door',
        source: 'lab-main',
        detail: { seq, account: 'test-guard', role: 'guard', note: 'courier' },
      }),
    );
    const locked = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 3000, 'lock');
    await api.call('guard', 'POST', `${V1}/doors/lab-main/lock`);
    await locked;
  });

  it('an emergency unlock needs a reason, opens once, is logged with it and raises an alarm', async () => {
    const unlocks = vaultUnlocks();
    for (const body of [undefined, {}, { reason: 'urgent' }, { reason: '          x' }]) {
      const res = await api.call('guard', 'POST', `${V1}/doors/vault-door/emergency-unlock`, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect(vaultUnlocks()).toBe(unlocks);
    expect(api.controller.doors.state('vault-door')?.lock).toBe('locked');
    const reason = 'archivist collapsed inside the vault; paramedics on the way';
    const unlocked = sim.expectCommand('vault-lock', (c) => c.command === 'unlock', 3000, 'unlock');
    const res = await api.call('guard', 'POST', `${V1}/doors/vault-door/emergency-unlock`, { reason });
    expect(res.statusCode, res.body).toBe(200);
    await unlocked;
    const seq = res.json().seq as number;
    expect(api.controller.ctx.store.entryLog.get(seq)).toMatchObject({
      kind: 'door',
      doorId: 'vault-door',
      reason: 'emergency-unlock',
      detail: { account: 'test-guard', role: 'guard', reason },
    });
    const alarms = (await api.call('guard', 'GET', `${V1}/events?type=emergency-unlock&open=true`)).json().items;
    expect(alarms).toContainEqual(
      expect.objectContaining({ category: 'alarm', severity: 'alarm', source: 'vault-door', ackedAt: null, detail: expect.objectContaining({ seq, reason }) }),
    );
    const audit = (await api.call('auditor', 'GET', `${V1}/audit?action=door.emergency-unlock&limit=5`)).json().items;
    expect(audit[0]).toMatchObject({ actor: 'test-guard', outcome: 'ok', target: 'door:vault-door', detail: { seq, reason } });
    await relockVault();
  });

  it('a lockdown refuses remote unlocks of its doors and ends the requests waiting; an emergency unlock still opens', async () => {
    const request = await ask('guard', 'asked before the lockdown');
    const unlocks = vaultUnlocks();
    const labUnlocks = sim.observed('lab-lock').filter((o) => o.command.command === 'unlock').length;
    try {
      expect((await api.call('manager', 'POST', `${V1}/areas/vault/lockdown`)).statusCode).toBe(200);
      expect((await api.call('manager', 'POST', `${V1}/areas/lab/lockdown`)).statusCode).toBe(200);
      const lockdownAudit = (await api.call('auditor', 'GET', `${V1}/audit?action=area.lockdown&limit=5`)).json().items;
      expect(lockdownAudit).toContainEqual(
        expect.objectContaining({ target: 'area:vault', detail: expect.objectContaining({ cancelledRequests: [request.id] }) }),
      );
      // The request asked before the lockdown is cancelled by it: confirming it after does not open the vault.
      const late = await as(manager2, 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/confirm`);
      expect(late.statusCode, late.body).toBe(409);
      expect(late.json().detail).toMatch(/cancelled already by the lockdown of vault/);
      expect((await api.call('manager', 'GET', `${V1}/unlock-requests?door=vault-door`)).json().items).toEqual([]);
      // Neither a one-factor door nor the vault opens, nor takes a new request, while its area is locked down.
      for (const door of ['lab-main', 'vault-door']) {
        const res = await api.call('guard', 'POST', `${V1}/doors/${door}/unlock`, { note: 'let me in' });
        expect(res.statusCode, res.body).toBe(409);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(res.json().detail).toMatch(/^the area is locked down: (lab|vault)/);
      }
      expect((await api.call('manager', 'GET', `${V1}/unlock-requests`)).json().items).toEqual([]);
      expect(vaultUnlocks()).toBe(unlocks);
      expect(sim.observed('lab-lock').filter((o) => o.command.command === 'unlock').length).toBe(labUnlocks);
      expect(api.controller.doors.state('lab-main')).toMatchObject({ lock: 'locked', unlockedBy: null });
      expect(api.controller.doors.state('vault-door')).toMatchObject({ lock: 'locked', unlockedBy: null });
      // Life safety still wins: an emergency unlock opens the vault in a lockdown, with its alarm.
      const unlocked = sim.expectCommand('vault-lock', (c) => c.command === 'unlock', 3000, 'unlock');
      const emergency = await api.call('guard', 'POST', `${V1}/doors/vault-door/emergency-unlock`, { reason: 'smoke in the vault, archivist still inside' });
      expect(emergency.statusCode, emergency.body).toBe(200);
      await unlocked;
      await relockVault();
    } finally {
      await api.call('manager', 'POST', `${V1}/areas/vault/normal`);
      await api.call('manager', 'POST', `${V1}/areas/lab/normal`);
    }
    // Back to normal, the cancelled request stays cancelled.
    expect((await as(manager2, 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/confirm`)).statusCode).toBe(409);
    expect(api.controller.doors.state('vault-door')).toMatchObject({ lock: 'locked' });
  });

  it('a request still waiting when its area is locked down by the controller itself is not confirmed', async () => {
    // The API's lockdown cancels requests; a lockdown that reached the store another way must hold as well.
    const request = await ask('guard');
    const unlocks = vaultUnlocks();
    expect(api.controller.areas.setMode('vault', 'lockdown', { by: 'guard-console' })).toBe(true);
    try {
      const res = await as(manager2, 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/confirm`);
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json().detail).toMatch(/^the area is locked down: vault since .* by guard-console/);
      expect(vaultUnlocks()).toBe(unlocks);
      expect(api.controller.doors.state('vault-door')).toMatchObject({ lock: 'locked', unlockedBy: null });
    } finally {
      expect(api.controller.areas.setMode('vault', 'normal', { by: 'guard-console' })).toBe(true);
    }
    expect((await api.call('guard', 'POST', `${V1}/doors/vault-door/unlock-requests/${request.id}/cancel`)).statusCode).toBe(200);
  });

  it('the account that made an emergency unlock may not acknowledge its alarm; another guard or a manager may', async () => {
    const guard2 = await api.signIn('test-guard-2', 'guard');
    /** An emergency unlock by one account; answers its alarm's id. */
    async function emergencyBy(by: 'guard' | 'manager'): Promise<number> {
      const unlocked = sim.expectCommand('vault-lock', (c) => c.command === 'unlock', 3000, 'unlock');
      const res = await api.call(by, 'POST', `${V1}/doors/vault-door/emergency-unlock`, { reason: 'visitor fainted inside the vault' });
      expect(res.statusCode, res.body).toBe(200);
      await unlocked;
      await relockVault();
      const seq = res.json().seq as number;
      const alarm = (await api.call(by, 'GET', `${V1}/events?type=emergency-unlock&open=true`))
        .json()
        .items.find((e: { detail: { seq?: number } }) => e.detail.seq === seq);
      expect(alarm).toBeDefined();
      return alarm.id as number;
    }
    const ackedBy = async (id: number) =>
      (await api.call('auditor', 'GET', `${V1}/events?type=emergency-unlock`)).json().items.find((e: { id: number }) => e.id === id).ackedBy;

    const byGuard = await emergencyBy('guard');
    const own = await api.call('guard', 'POST', `${V1}/events/${byGuard}/ack`, { note: 'all fine' });
    expect(own.statusCode, own.body).toBe(403);
    expect(own.json().detail).toMatch(/you may not acknowledge an alarm you raised yourself/);
    expect(await ackedBy(byGuard)).toBeNull();
    const audit = (await api.call('auditor', 'GET', `${V1}/audit?action=event.ack&limit=5`)).json().items;
    expect(audit[0]).toMatchObject({ actor: 'test-guard', outcome: 'denied' });
    const other = await as(guard2, 'POST', `${V1}/events/${byGuard}/ack`, { note: 'saw the paramedics leave' });
    expect(other.statusCode, other.body).toBe(200);
    expect(other.json()).toMatchObject({ ackedBy: 'test-guard-2' });

    const byManager = await emergencyBy('manager');
    expect((await api.call('manager', 'POST', `${V1}/events/${byManager}/ack`)).statusCode).toBe(403);
    expect(await ackedBy(byManager)).toBeNull();
    expect((await api.call('guard', 'POST', `${V1}/events/${byManager}/ack`)).statusCode).toBe(200);
    expect(await ackedBy(byManager)).toBe('test-guard');
  });
});
