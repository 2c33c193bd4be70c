// A code holder's revocation, end to end: the controller (real broker, SQLite) with its API over real
// HTTP and the firmware simulator. A holder of the document safe, on its dial code's ledger, opens it
// with dial and key; a manager revokes their grant for the safe; at once the dial lock is due with
// `holder-lost-access` and the holder is off the ledger, and their next try at the safe is an alarm.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import type { EntryRecord } from '../../src/store/entry-log.js';
import type { StoredEvent } from '../../src/store/events.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { enrol } from '../helpers/daemon.js';
import { cardAndPin } from '../helpers/flows.js';
import { waitFor } from '../helpers/ports.js';

describe("a dial-code holder's revocation through the API", () => {
  let api: TestApi;
  let sim: Simulator;
  let base: string;
  /** The safe's holder (grants for the vault and doc-safe) the colleague who makes the vault's second person has a grant for the vault only. */
  let holder: { personId: string; grantIds: number[] };

  beforeAll(async () => {
    api = await startApi();
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(api.app.server.address() as AddressInfo).port}/api/v1`;
    holder = await enrol({ dataDir: api.dataDir }, { name: '鈴木 一郎', card: 'B0000001', pin: '4826', areas: ['vault', 'doc-safe'], purpose: '契約書保管' });
    await enrol({ dataDir: api.dataDir }, { name: '山田 次郎', card: 'B0000002', pin: '7315', areas: ['vault'] });
    const { controller } = api;
    sim = await Simulator.start({ site: controller.ctx.site, url: controller.brokerUrl, ca: readCa(api.dataDir), secrets: loadSecrets(api.dataDir) });
    await waitFor(() => controller.doors.state('vault-door')?.lock === 'locked', 5000, 'vault locked');
  });

  afterAll(async () => {
    await sim?.stop();
    await api?.close();
  });

  /** One API request over HTTP, signed in as the role's account. */
  // biome-ignore lint/suspicious/noExplicitAny: the response body is what the assertions check, as with fastify's inject().json()
  async function http(role: 'manager' | 'auditor', method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${api.accounts[role].token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  }

  const safe = () => api.controller.safes.get('doc-safe');
  const safeRecords = (): EntryRecord[] => api.controller.ctx.store.entryLog.recent(50, { doorId: 'doc-safe' });
  const events = (type: string): StoredEvent[] => api.controller.ctx.store.events.recent(100, type);
  const ledger = async (): Promise<string[]> =>
    (await http('auditor', 'GET', '/dial-locks/doc-safe/holders')).json.items.map((h: { personId: string }) => h.personId);

  /** Both come into the vault (card + PIN, two persons), the holder last; returns once both entries are in the log. */
  async function enterVault(): Promise<void> {
    const { controller } = api;
    await waitFor(() => controller.doors.state('vault-door')?.lock === 'locked', 8000, 'vault locked before the entry');
    const since = controller.ctx.store.entryLog.nextSeq;
    const unlocked = sim.expectCommand('vault-lock', (c) => c.command === 'unlock', 5000, 'vault unlock');
    await cardAndPin(sim, 'vault', 'B0000002', '7315');
    await cardAndPin(sim, 'vault', 'B0000001', '4826');
    await unlocked;
    await waitFor(
      () => controller.ctx.store.entryLog.recent(10, { doorId: 'vault-door' }).filter((r) => r.seq >= since && r.decision === 'granted').length === 2,
      3000,
      'both entries logged',
    );
  }

  /** Dial, key, door open and closed again, as the simulated safe's devices report them. */
  async function openWithDialAndKey(): Promise<void> {
    await sim.input('doc-safe-dial', true);
    await sim.input('doc-safe-key', true);
    await waitFor(() => safe()?.locksOpen.length === 2, 3000, 'dial and key reported');
    await sim.input('doc-safe-contact', true);
    await waitFor(() => safe()?.contactOpen === true, 3000, 'safe open');
    await sim.input('doc-safe-contact', false);
    await sim.input('doc-safe-dial', false);
    await sim.input('doc-safe-key', false);
    await waitFor(() => safe()?.state === 'closed' && safe()?.locksOpen.length === 0, 3000, 'closed');
  }

  it('a rotation recorded and the holder on the ledger: the holder opens the safe with dial and key', async () => {
    const rotated = await http('manager', 'POST', '/dial-locks/doc-safe/rotations', { rotatedAt: new Date().toISOString(), by: '1001', reason: 'installed' });
    expect(rotated.status, JSON.stringify(rotated.json)).toBe(200);
    expect(rotated.json).toMatchObject({ dueReasons: [], overdue: false });
    const added = await http('manager', 'POST', '/dial-locks/doc-safe/holders', { personId: holder.personId });
    expect(added.status, JSON.stringify(added.json)).toBe(201);
    expect(await ledger()).toEqual([holder.personId]);

    await enterVault();
    expect(safe()?.state).toBe('authenticated');
    await openWithDialAndKey();
    await waitFor(() => safeRecords()[0]?.reason === 'safe-closed', 3000, 'closing logged');
    expect(safeRecords()[1]).toMatchObject({
      reason: 'safe-opened',
      personId: holder.personId,
      personName: '鈴木 一郎',
      detail: { safe: 'doc-safe', locks: ['dial', 'key'], source: 'door' },
    });
    expect(events('safe-opened-unauthorised')).toEqual([]);
  });

  it('revoking the grant for the safe makes the rotation due at once and takes the holder off the ledger', async () => {
    const grantId = holder.grantIds[1]!;
    const revoked = await http('manager', 'POST', `/grants/${grantId}/revoke`, { reason: 'moved to another team' });
    expect(revoked.status, JSON.stringify(revoked.json)).toBe(200);
    const lock = await http('auditor', 'GET', '/dial-locks/doc-safe');
    expect(lock.status).toBe(200);
    expect(lock.json.dueReasons).toContain('holder-lost-access');
    expect(lock.json.overdue).toBe(true);
    expect(Date.parse(lock.json.dueAt)).toBeLessThanOrEqual(Date.now());
    expect(await ledger()).not.toContain(holder.personId);
    // The overdue alarm names the new reason (reminder category: MQTT {base}/events/reminder).
    expect(events('rotation-overdue')[0]).toMatchObject({ source: 'doc-safe', detail: { dueReasons: ['holder-lost-access'] } });
  });

  it("the same person's next try at the safe is not authorised: their vault entry no longer counts for it", async () => {
    await enterVault();
    expect(safe()?.state).toBe('closed');
    await openWithDialAndKey();
    await waitFor(() => events('safe-opened-unauthorised').length === 1, 3000, 'alarm');
    expect(events('safe-opened-unauthorised')[0]).toMatchObject({
      source: 'doc-safe',
      detail: { safeId: 'doc-safe', reason: 'no-holder', locksOpen: ['dial', 'key'], holder: null },
    });
    const last = await http('auditor', 'GET', '/safes/doc-safe');
    expect(last.json.lastOpenings.map((o: { reason: string }) => o.reason).slice(0, 3)).toEqual(['safe-closed', 'safe-opened-unauthorised', 'safe-closed']);
  });
});
