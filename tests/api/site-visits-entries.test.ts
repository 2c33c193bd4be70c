// Visits, the site (areas, doors, devices, events, commands), the entry log, the live stream and
// /metrics through the API: the real controller and app, the firmware simulator on the broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Simulator } from '../../firmware-sim/index.js';
import { writeExport } from '../../src/services/entry-export.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { openDatabase } from '../../src/store/db.js';
import { loadLogKey, publicKeyPem } from '../../src/store/log-key.js';
import type { Role } from '../../src/store/accounts.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { enrol } from '../helpers/daemon.js';
import { waitFor } from '../helpers/ports.js';
import { readCa } from '../../src/devices/tls.js';
import type { EventType } from '../../src/policy/vocabulary.js';
import { readSse } from '../helpers/sse.js';

const ROLES: Role[] = ['admin', 'manager', 'guard', 'auditor'];
const V1 = '/api/v1';

describe('visits, site, entries, stream and metrics', () => {
  let api: TestApi;
  let sim: Simulator;
  let escortId: string;

  beforeAll(async () => {
    // The lab by card alone, so a visitor (who has only a card) can pass with an escort.
    api = await startApi({ edit: (raw) => (raw.areas.find((a: { id: string }) => a.id === 'lab').factors = ['card']) });
    ({ personId: escortId } = await enrol(
      { dataDir: api.dataDir },
      { name: 'Escort Ito', affiliation: 'R&D', card: 'E0000001', areas: ['lab'], purpose: 'project alpha' },
    ));
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

  const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();
  const visitBody = (over: Record<string, unknown> = {}) => ({
    visitor: { name: 'Visitor Suzuki', affiliation: 'Acme KK' },
    purpose: 'design review of project alpha',
    hostId: escortId,
    areas: ['lab'],
    validFrom: iso(-60_000),
    validUntil: iso(2 * 3_600_000),
    ...over,
  });

  /** A visit brought to a stage by the roles that may do each step. */
  async function visitAt(stage: 'created' | 'approved' | 'pledged' | 'checked-in', body: Record<string, unknown> = {}): Promise<number> {
    const created = await api.call('manager', 'POST', `${V1}/visits`, visitBody(body));
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as number;
    const steps: [string, string, unknown][] = [];
    if (stage !== 'created') steps.push(['auditor', 'approve', undefined]);
    if (stage === 'pledged' || stage === 'checked-in') steps.push(['guard', 'pledge', { signedAt: iso(-1000) }]);
    if (stage === 'checked-in') steps.push(['guard', 'check-in', undefined]);
    for (const [role, step, b] of steps) {
      const res = await api.call(role as Role, 'POST', `${V1}/visits/${id}/${step}`, b);
      expect(res.statusCode, res.body).toBe(200);
    }
    return id;
  }

  const raiseAlarm = (type: EventType = 'intrusion', category: 'alarm' | 'system' = 'alarm') =>
    api.controller.ctx.alarms.raise({ category, type, severity: 'alarm', source: 'lab', detail: { test: true } }).id!;
  const setMode = (area: string, mode: 'normal' | 'lockdown' | 'emergency') => {
    if (api.controller.ctx.store.areas.mode(area).mode !== mode) api.controller.areas.setMode(area, mode, { by: 'test' });
  };

  /** A swipe at the lab reader and the outcome shown there. */
  async function swipe(card: string, expect: (p: string) => boolean = (p) => p !== 'pin-required'): Promise<string> {
    const shown = sim.expectCommand('lab-reader', (c) => c.command === 'indicate' && expect(c.pattern), 3000, 'an indication');
    await sim.swipe('lab-reader', card);
    const c = await shown;
    return c.command === 'indicate' ? c.pattern : '';
  }

  describe('who may call what', () => {
    type Case = {
      method: 'GET' | 'POST';
      url: string;
      roles: Role[];
      /** For an allowed role: the real target and body (a fresh visit, event, or state to change). */
      prepare?: (role: Role) => Promise<{ url?: string; body?: unknown }>;
      body?: unknown;
    };
    const cases: Case[] = [
      { method: 'GET', url: `${V1}/visits`, roles: ['manager', 'guard', 'auditor'] },
      {
        method: 'GET',
        url: `${V1}/visits/1`,
        roles: ['manager', 'guard', 'auditor'],
        prepare: async () => ({ url: `${V1}/visits/${await visitAt('created')}` }),
      },
      { method: 'POST', url: `${V1}/visits`, roles: ['manager'], prepare: async () => ({ body: visitBody() }) },
      {
        method: 'POST',
        url: `${V1}/visits/1/approve`,
        roles: ['manager', 'auditor'],
        prepare: async () => ({ url: `${V1}/visits/${await visitAt('created')}/approve` }),
      },
      {
        method: 'POST',
        url: `${V1}/visits/1/pledge`,
        roles: ['guard', 'manager'],
        body: { signedAt: iso() },
        prepare: async () => ({ url: `${V1}/visits/${await visitAt('approved')}/pledge` }),
      },
      {
        method: 'POST',
        url: `${V1}/visits/1/check-in`,
        roles: ['guard', 'manager'],
        prepare: async () => ({ url: `${V1}/visits/${await visitAt('pledged')}/check-in` }),
      },
      {
        method: 'POST',
        url: `${V1}/visits/1/check-out`,
        roles: ['guard', 'manager'],
        prepare: async () => ({ url: `${V1}/visits/${await visitAt('checked-in')}/check-out` }),
      },
      { method: 'POST', url: `${V1}/visits/1/cancel`, roles: ['manager'], prepare: async () => ({ url: `${V1}/visits/${await visitAt('approved')}/cancel` }) },
      { method: 'GET', url: `${V1}/areas`, roles: ROLES },
      { method: 'GET', url: `${V1}/doors`, roles: ROLES },
      { method: 'GET', url: `${V1}/devices`, roles: ROLES },
      { method: 'GET', url: `${V1}/events`, roles: ROLES },
      { method: 'POST', url: `${V1}/doors/vault-door/unlock`, roles: ['guard', 'manager'] },
      { method: 'POST', url: `${V1}/doors/vault-door/lock`, roles: ['guard', 'manager'] },
      {
        method: 'POST',
        url: `${V1}/areas/vault/lockdown`,
        roles: ['guard', 'manager'],
        prepare: async () => {
          setMode('vault', 'normal');
          return {};
        },
      },
      {
        method: 'POST',
        url: `${V1}/areas/vault/release`,
        roles: ['guard', 'manager'],
        prepare: async () => {
          setMode('vault', 'normal');
          return {};
        },
      },
      {
        method: 'POST',
        url: `${V1}/areas/vault/normal`,
        roles: ['guard', 'manager'],
        prepare: async () => {
          setMode('vault', 'lockdown');
          return {};
        },
      },
      { method: 'POST', url: `${V1}/events/1/ack`, roles: ['guard', 'manager'], prepare: async () => ({ url: `${V1}/events/${raiseAlarm()}/ack` }) },
      { method: 'GET', url: `${V1}/entries`, roles: ['manager', 'auditor', 'guard'] },
      { method: 'GET', url: `${V1}/entries/export?format=jsonl`, roles: ['auditor', 'manager'] },
      { method: 'GET', url: `${V1}/entries/verify`, roles: ['auditor', 'manager'] },
    ];
    const table = cases.flatMap((c) => ROLES.map((role) => [`${c.method} ${c.url.replace(V1, '')} as ${role}`, c, role] as const));

    it.each(table)('%s', async (_name, c, role) => {
      const allowed = c.roles.includes(role);
      const target = allowed && c.prepare ? await c.prepare(role) : {};
      const res = await api.call(role, c.method, target.url ?? c.url, target.body ?? c.body);
      if (allowed) {
        expect(res.statusCode, res.body).toBeGreaterThanOrEqual(200);
        expect(res.statusCode, res.body).toBeLessThan(300);
      } else {
        expect(res.statusCode, res.body).toBe(403);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(res.json()).toMatchObject({ status: 403, title: 'Forbidden', detail: expect.stringMatching(new RegExp(`^an? ${role} may not [a-z]`)) });
      }
    });

    it('refused mutations are audited as denied; anonymous calls are 401', async () => {
      expect((await api.call(null, 'GET', `${V1}/doors`)).statusCode).toBe(401);
      expect((await api.call('auditor', 'POST', `${V1}/doors/lab-main/unlock`)).statusCode).toBe(403);
      const audit = (await api.call('auditor', 'GET', `${V1}/audit?action=door.unlock&limit=50`)).json().items as { actor: string; outcome: string }[];
      expect(audit).toContainEqual(expect.objectContaining({ actor: 'test-auditor', outcome: 'denied' }));
      setMode('vault', 'normal');
    });
  });

  describe('areas, doors and devices', () => {
    it('lists areas with both names, rules and mode; doors with live state; devices with their supervision state', async () => {
      const areas = (await api.call('guard', 'GET', `${V1}/areas`)).json();
      expect(areas.total).toBe(2);
      expect(areas.items.find((a: { id: string }) => a.id === 'vault')).toMatchObject({
        name: { en: 'Document vault', ja: '文書保管庫' },
        parent: 'lab',
        rules: { factors: ['card', 'pin'], twoPerson: true, antiPassback: 'off' },
        mode: { mode: 'normal' },
        occupancy: null,
      });
      expect(areas.items.find((a: { id: string }) => a.id === 'lab')).toMatchObject({
        rules: { antiPassback: 'soft' },
        occupancy: { count: expect.any(Number) },
      });
      expect((await api.call('guard', 'GET', `${V1}/areas?parent=lab`)).json().items.map((a: { id: string }) => a.id)).toEqual(['vault']);

      const doors = (await api.call('auditor', 'GET', `${V1}/doors?area=lab`)).json();
      expect(doors.items).toHaveLength(1);
      expect(doors.items[0]).toMatchObject({
        id: 'lab-main',
        name: { en: 'Lab main door', ja: '研究室正面扉' },
        failMode: 'safe',
        state: { emergency: false, alarm: null },
      });
      expect(['locked', 'unlocked']).toContain(doors.items[0].state.lock);

      await sim.waitFor(() => sim.isOnline('lab-lock'), 3000, 'lab-lock online');
      await waitFor(() => api.controller.supervision.devices().get('lab-lock')?.online === true, 3000, 'lab-lock seen');
      const devices = (await api.call('admin', 'GET', `${V1}/devices?kind=lock`)).json();
      expect(devices.items.map((d: { id: string }) => d.id).sort()).toEqual(['lab-lock', 'vault-lock']);
      expect(devices.items.find((d: { id: string }) => d.id === 'lab-lock')).toMatchObject({
        transport: 'mqtt',
        status: 'online',
        doors: [{ doorId: 'lab-main', role: 'lock' }],
      });
      const paged = (await api.call('admin', 'GET', `${V1}/devices?limit=3&offset=3`)).json();
      expect(paged).toMatchObject({ total: api.controller.ctx.site.devices.length, limit: 3, offset: 3 });
      expect(paged.items).toHaveLength(3);
      expect((await api.call('guard', 'GET', `${V1}/doors/nope`)).statusCode).toBe(404);
    });

    it('unlock once: the entry-log record commits before the lock is told to open', async () => {
      // What the log holds (committed, on disk) at the very moment the unlock command leaves for the lock.
      let recordAtCommand: { reason: string | null; detail: unknown } | undefined;
      const devices = api.controller.ctx.devices;
      const send = devices.send.bind(devices);
      devices.send = (id, command) => {
        if (id === 'lab-lock' && command.command === 'unlock' && !recordAtCommand) {
          const disk = new Database(join(api.dataDir, 'tobira.db'), { readonly: true });
          try {
            recordAtCommand = disk.prepare('SELECT reason, detail FROM entry_log ORDER BY seq DESC LIMIT 1').get() as typeof recordAtCommand;
          } finally {
            disk.close();
          }
        }
        return send(id, command);
      };
      const off = () => {
        devices.send = send;
      };
      try {
        const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'unlock');
        const res = await api.call('guard', 'POST', `${V1}/doors/lab-main/unlock`, { note: 'courier at the door' });
        expect(res.statusCode, res.body).toBe(200);
        await unlocked;
        const seq = res.json().seq as number;
        expect(api.controller.ctx.store.entryLog.get(seq)).toMatchObject({
          kind: 'door',
          doorId: 'lab-main',
          areaId: 'lab',
          reason: 'remote-unlock',
          detail: { account: 'test-guard', role: 'guard', note: 'courier at the door' },
        });
        expect(recordAtCommand).toMatchObject({ reason: 'remote-unlock' });
        expect(res.json().door.state).toMatchObject({ lock: 'unlocked', unlockedBy: 'command' });
        await sim.waitFor(() => sim.lockState('lab-lock') === 'unlocked', 2000, 'unlocked');
        const audit = (await api.call('auditor', 'GET', `${V1}/audit?action=door.unlock&limit=5`)).json().items;
        expect(audit[0]).toMatchObject({ actor: 'test-guard', outcome: 'ok', target: 'door:lab-main', detail: { seq } });
      } finally {
        off();
      }
      const locked = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 3000, 'lock');
      expect((await api.call('manager', 'POST', `${V1}/doors/lab-main/lock`)).json().state.lock).toBe('locked');
      await locked;
    });

    it('lockdown, emergency release and normal through the API, each logged and audited; no unlock during an emergency', async () => {
      const down = await api.call('guard', 'POST', `${V1}/areas/lab/lockdown`, { roles: ['security'] });
      expect(down.statusCode, down.body).toBe(200);
      expect(down.json().mode).toMatchObject({ mode: 'lockdown', allowedRoles: ['security'], changedBy: 'api:test-guard' });
      expect(api.controller.ctx.store.entryLog.recent(1)[0]).toMatchObject({
        kind: 'mode',
        areaId: 'lab',
        reason: 'mode-lockdown',
        detail: { by: 'api:test-guard', allowedRoles: ['security'] },
      });
      expect(await swipe('E0000001')).toBe('denied');
      expect(api.controller.ctx.store.entryLog.recent(1)[0]).toMatchObject({ reason: 'area-locked-down' });

      expect((await api.call('manager', 'POST', `${V1}/areas/lab/release`)).json().mode.mode).toBe('emergency');
      await sim.waitFor(() => sim.lockState('lab-lock') === 'unlocked', 3000, 'released');
      const refused = await api.call('guard', 'POST', `${V1}/doors/lab-main/unlock`);
      expect(refused.statusCode).toBe(409);
      expect((await api.call('guard', 'POST', `${V1}/areas/lab/lockdown`)).statusCode).toBe(409);

      expect((await api.call('guard', 'POST', `${V1}/areas/lab/normal`)).json().mode.mode).toBe('normal');
      await sim.waitFor(() => sim.lockState('lab-lock') === 'locked', 3000, 'relocked');
      expect((await api.call('guard', 'POST', `${V1}/areas/lab/normal`)).statusCode).toBe(409);
      const actions = (await api.call('auditor', 'GET', `${V1}/audit?actor=test-guard&limit=100`))
        .json()
        .items.map((r: { action: string; outcome: string }) => `${r.action} ${r.outcome}`);
      expect(actions).toEqual(expect.arrayContaining(['area.lockdown ok', 'area.normal ok', 'door.unlock conflict', 'area.normal conflict']));
      const reasons = api.controller.ctx.store.entryLog.recent(10).map((r) => r.reason);
      expect(reasons).toEqual(expect.arrayContaining(['mode-lockdown', 'mode-emergency', 'emergency-release', 'mode-normal']));
    });
  });

  describe('visits', () => {
    let visitId: number;
    let visitorId: string;

    it('refuses a visit with a bad host, unknown areas or a backwards window, naming the fields', async () => {
      const shape = await api.call('manager', 'POST', `${V1}/visits`, { ...visitBody({ validFrom: 'tomorrow', extra: 1 }), visitor: { name: '' } });
      expect(shape.statusCode).toBe(400);
      expect(shape.json().details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['visitor.name', 'visitor.affiliation', 'validFrom']));
      const backwards = await api.call('manager', 'POST', `${V1}/visits`, visitBody({ validFrom: iso(3_600_000), validUntil: iso(60_000) }));
      expect(backwards.json().details).toEqual([expect.objectContaining({ path: 'validUntil' })]);
      const refs = await api.call('manager', 'POST', `${V1}/visits`, visitBody({ hostId: 'nobody', areas: ['lab', 'moon'] }));
      expect(refs.statusCode).toBe(400);
      expect(refs.json().details).toEqual([
        { path: 'hostId', message: 'no such person' },
        { path: 'areas.1', message: 'no area "moon" on this site' },
      ]);
    });

    it('create → approve → pledge: the card does not open before check-in', async () => {
      const created = await api.call('manager', 'POST', `${V1}/visits`, visitBody({ card: 'v0:00:00:01' }));
      expect(created.statusCode, created.body).toBe(201);
      const v = created.json();
      visitId = v.id;
      visitorId = v.visitor.id;
      expect(v).toMatchObject({
        stage: 'awaiting-approval',
        status: 'current',
        host: { id: escortId, name: 'Escort Ito' },
        card: { value: 'V0000001', status: 'suspended' },
        createdBy: 'test-manager',
      });
      expect(api.controller.ctx.store.people.person(visitorId)).toMatchObject({ kind: 'visitor', name: 'Visitor Suzuki', affiliation: 'Acme KK' });
      expect((await api.call('manager', 'POST', `${V1}/visits`, visitBody({ card: 'V0000001' }))).statusCode).toBe(409);

      expect((await api.call('guard', 'POST', `${V1}/visits/${visitId}/check-in`)).statusCode).toBe(409); // not approved
      const approved = await api.call('auditor', 'POST', `${V1}/visits/${visitId}/approve`);
      expect(approved.json()).toMatchObject({ stage: 'awaiting-pledge', approvedBy: 'test-auditor' });
      expect((await api.call('manager', 'POST', `${V1}/visits/${visitId}/approve`)).statusCode).toBe(409);
      expect((await api.call('guard', 'POST', `${V1}/visits/${visitId}/pledge`, { signedAt: iso(3_600_000) })).json().details[0].path).toBe('signedAt');
      const pledged = await api.call('guard', 'POST', `${V1}/visits/${visitId}/pledge`, { signedAt: iso(-5000) });
      expect(pledged.json()).toMatchObject({ stage: 'ready', purpose: null }); // guards do not see the purpose
      expect((await api.call('manager', 'GET', `${V1}/visits/${visitId}`)).json().purpose).toBe('design review of project alpha');

      expect(await swipe('V0000001')).toBe('denied');
      expect(api.controller.ctx.store.entryLog.recent(1)[0]).toMatchObject({ personId: visitorId, decision: 'denied', reason: 'credential-suspended' });
    });

    it('check-in: the visitor card opens only with an escort; check-out ends it', async () => {
      const checkedIn = await api.call('guard', 'POST', `${V1}/visits/${visitId}/check-in`);
      expect(checkedIn.json()).toMatchObject({ stage: 'checked-in', card: { status: 'active' } });
      await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', 7000, 'lab locked');

      // Alone, the visitor waits for an escort; the door stays shut.
      expect(await swipe('V0000001', () => true)).toBe('pin-required');
      await new Promise((r) => setTimeout(r, 300));
      expect(sim.lockState('lab-lock')).toBe('locked');
      const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'unlock');
      expect(await swipe('E0000001')).toBe('granted');
      await unlocked;
      const pair = api.controller.ctx.store.entryLog.recent(2);
      const visitorRec = pair.find((r) => r.personId === visitorId);
      const escortRec = pair.find((r) => r.personId === escortId);
      expect(visitorRec).toMatchObject({ personId: visitorId, decision: 'granted', linkedPersonId: escortId, detail: { visitId } });
      expect(escortRec).toMatchObject({ personId: escortId, decision: 'granted', linkedPersonId: visitorId });

      const lab = (await api.call('guard', 'GET', `${V1}/areas/lab`)).json();
      expect(lab.occupancy.people).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ personId: visitorId, name: 'Visitor Suzuki' }),
          expect.objectContaining({ personId: escortId, name: 'Escort Ito' }),
        ]),
      );

      const current = (await api.call('guard', 'GET', `${V1}/visits?status=current&hostId=${escortId}`)).json();
      expect(current.items.map((v: { id: number }) => v.id)).toContain(visitId);
      const out = await api.call('guard', 'POST', `${V1}/visits/${visitId}/check-out`);
      expect(out.json()).toMatchObject({ stage: 'checked-out', status: 'ended', card: { status: 'revoked' } });
      expect((await api.call('guard', 'GET', `${V1}/visits?status=current&hostId=${escortId}`)).json().items.map((v: { id: number }) => v.id)).not.toContain(
        visitId,
      );
      expect((await api.call('guard', 'GET', `${V1}/visits?status=ended`)).json().items.map((v: { id: number }) => v.id)).toContain(visitId);
      expect((await api.call('guard', 'POST', `${V1}/visits/${visitId}/check-out`)).statusCode).toBe(409);

      await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', 7000, 'lab locked');
      expect(await swipe('V0000001', () => true)).toBe('denied');
      expect(api.controller.ctx.store.entryLog.recent(1)[0]).toMatchObject({ personId: visitorId, decision: 'denied', reason: 'credential-revoked' });

      const audit = (await api.call('auditor', 'GET', `${V1}/audit?limit=200`)).json().items.filter((r: { target: string }) => r.target === `visit:${visitId}`);
      expect(audit.map((r: { action: string }) => r.action).reverse()).toEqual([
        'visit.create',
        'visit.approve',
        'visit.pledge',
        'visit.check-in',
        'visit.check-out',
      ]);
    });

    it("filters the register by status and by the site's calendar day", async () => {
      const later = await visitAt('created', { validFrom: iso(10 * 86_400_000), validUntil: iso(10 * 86_400_000 + 3_600_000) });
      const upcoming = (await api.call('manager', 'GET', `${V1}/visits?status=upcoming`)).json();
      expect(upcoming.items.map((v: { id: number }) => v.id)).toEqual([later]);
      const day = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' }).format(new Date(Date.now() + 10 * 86_400_000 + 1_800_000));
      const onDay = (await api.call('manager', 'GET', `${V1}/visits?date=${day}`)).json();
      expect(onDay.items.map((v: { id: number }) => v.id)).toEqual([later]);
      const page = (await api.call('manager', 'GET', `${V1}/visits?limit=2&offset=1`)).json();
      expect(page.items).toHaveLength(2);
      expect(page.total).toBeGreaterThan(3);
      expect((await api.call('manager', 'GET', `${V1}/visits?status=sometime`)).json().details[0].path).toBe('status');
      expect((await api.call('manager', 'GET', `${V1}/visits/99999`)).statusCode).toBe(404);
    });
  });

  describe('entry log', () => {
    it('filters, pages newest first by seq, and hides affiliation and purpose from guards', async () => {
      const all = (await api.call('manager', 'GET', `${V1}/entries?doorId=lab-main&limit=1000`)).json().items as { seq: number; doorId: string }[];
      expect(all.length).toBeGreaterThan(5);
      expect(all.every((r) => r.doorId === 'lab-main')).toBe(true);
      const first = (await api.call('manager', 'GET', `${V1}/entries?doorId=lab-main&limit=2`)).json();
      expect(first.items.map((r: { seq: number }) => r.seq)).toEqual(all.slice(0, 2).map((r) => r.seq));
      expect(first.nextBefore).toBe(all[1]!.seq);
      const second = (await api.call('manager', 'GET', `${V1}/entries?doorId=lab-main&limit=2&before=${first.nextBefore}`)).json();
      expect(second.items.map((r: { seq: number }) => r.seq)).toEqual(all.slice(2, 4).map((r) => r.seq));

      const denied = (await api.call('auditor', 'GET', `${V1}/entries?decision=denied`)).json().items as { decision: string }[];
      expect(denied.length).toBeGreaterThan(0);
      expect(denied.every((r) => r.decision === 'denied')).toBe(true);
      const remote = (await api.call('auditor', 'GET', `${V1}/entries?reason=remote-unlock&areaId=lab`)).json().items;
      expect(remote.length).toBeGreaterThan(0);
      expect((await api.call('auditor', 'GET', `${V1}/entries?reason=remote-unlock&to=2000-01-01`)).json().items).toEqual([]);
      expect((await api.call('auditor', 'GET', `${V1}/entries?from=${encodeURIComponent(iso(60_000))}`)).json().items).toEqual([]);

      const asManager = (await api.call('manager', 'GET', `${V1}/entries?personId=${escortId}&decision=granted&limit=1`)).json().items[0];
      expect(asManager).toMatchObject({ personName: 'Escort Ito', affiliation: 'R&D', purpose: 'project alpha' });
      const asGuard = (await api.call('guard', 'GET', `${V1}/entries?personId=${escortId}&decision=granted&limit=1`)).json().items[0];
      expect(asGuard).toMatchObject({ seq: asManager.seq, personName: 'Escort Ito', affiliation: null, purpose: null });

      const bad = await api.call('auditor', 'GET', `${V1}/entries?decision=maybe&limit=0`);
      expect(bad.statusCode).toBe(400);
      expect(bad.json().details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['decision', 'limit']));
    });

    it('exports CSV with the BOM and Japanese headers, the same bytes as `tobira log export`', async () => {
      const res = await api.call('auditor', 'GET', `${V1}/entries/export?format=csv&lang=ja&doorId=lab-main`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      expect(res.headers['content-disposition']).toMatch(/attachment; filename="tobira-entries-.*\.csv"/);
      expect(res.rawPayload.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
      expect(res.body.slice(1).split('\r\n')[0]).toMatch(/^通番,日時,種別,扉,区域,/);
      const db = openDatabase(api.dataDir, { readonly: true });
      let cli = '';
      try {
        const key = loadLogKey(api.dataDir);
        await writeExport(db, { format: 'csv', lang: 'ja', filter: { doorId: 'lab-main' }, publicKey: key ? publicKeyPem(key) : null }, (c) => {
          cli += c;
        });
      } finally {
        db.close();
      }
      expect(res.body).toBe(cli);
      expect(res.body).toContain('remote-unlock');

      const jsonl = await api.call('manager', 'GET', `${V1}/entries/export?format=jsonl`);
      const lines = jsonl.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.at(-1)).toMatchObject({ filter: {}, records: lines.length - 1, publicKey: expect.stringMatching(/BEGIN PUBLIC KEY/) });
      expect(lines[0]).toMatchObject({ seq: 1 });
      const audit = (await api.call('auditor', 'GET', `${V1}/audit?action=entry.export&limit=10`)).json().items;
      expect(audit).toContainEqual(expect.objectContaining({ actor: 'test-auditor', detail: { format: 'csv', lang: 'ja', filter: { doorId: 'lab-main' } } }));
      expect((await api.call('auditor', 'GET', `${V1}/entries/export?format=xml`)).json().details[0].path).toBe('format');
    });

    it("verifies the chain with the data directory's key", async () => {
      const res = (await api.call('auditor', 'GET', `${V1}/entries/verify`)).json();
      expect(res).toMatchObject({ ok: true, records: api.controller.ctx.store.entryLog.count, publicKey: expect.stringMatching(/BEGIN PUBLIC KEY/) });
    });

    it('verifies in worker threads while a card read is decided; a request made meanwhile joins the running one', async () => {
      // Enough records for the walk to take a while (door events, through the controller's own log).
      const store = api.controller.ctx.store;
      const { entryLog } = store;
      const at = iso(-1000);
      // Signed every 1,000 as the log keeper would (it never sees these appends): more unsigned
      // records than the last checkpoint allowed would be a break of their own.
      const key = loadLogKey(api.dataDir)!;
      store.transaction(() => {
        for (let i = 0; i < 200_000; i++) {
          entryLog.append({ at, kind: 'door', doorId: 'bulk', reason: 'rex', detail: { i } });
          if (i % 1000 === 999) store.checkpoints.write(key, { kind: 'periodic', at });
        }
      });
      const before = entryLog.count;
      let verified = false;
      const first = api.call('auditor', 'GET', `${V1}/entries/verify`).then((r) => {
        verified = true;
        return r;
      });
      const second = api.call('manager', 'GET', `${V1}/entries/verify`);
      await new Promise((r) => setTimeout(r, 20));
      await swipe('E0000001', () => true);
      expect(verified, 'the card read was decided while the verification ran').toBe(false);
      const [a, b] = await Promise.all([first, second]);
      expect(a.statusCode).toBe(200);
      expect(a.json()).toMatchObject({ ok: true, checkpoints: expect.any(Number), publicKey: expect.stringMatching(/BEGIN PUBLIC KEY/) });
      expect(a.json().records).toBeGreaterThanOrEqual(before);
      expect(b.json()).toEqual(a.json());
      // Once it is over, the next request verifies afresh (and now covers the card read).
      expect((await api.call('auditor', 'GET', `${V1}/entries/verify`)).json()).toMatchObject({ ok: true, records: entryLog.count });
    }, 60_000);
  });

  describe('events', () => {
    it('lists open alarms per role; an acknowledgement records who, when and why, once', async () => {
      const id = raiseAlarm('door-forced');
      const systemId = raiseAlarm('storage-fault', 'system');
      const open = (await api.call('guard', 'GET', `${V1}/events?open=true&limit=1000`)).json().items as { id: number }[];
      expect(open.map((e) => e.id)).toContain(id);
      expect(open.map((e) => e.id)).toContain(systemId); // a guard answers system alarms too
      expect((await api.call('admin', 'GET', `${V1}/events?open=true&limit=1000`)).json().items.map((e: { id: number }) => e.id)).toEqual(
        expect.arrayContaining([systemId]),
      );
      expect((await api.call('admin', 'GET', `${V1}/events?category=alarm`)).json().items).toEqual([]);
      expect((await api.call('guard', 'POST', `${V1}/events/${id + 100_000}/ack`)).statusCode).toBe(404);

      const ack = await api.call('guard', 'POST', `${V1}/events/${id}/ack`, { note: 'checked on camera: cleaner' });
      expect(ack.statusCode, ack.body).toBe(200);
      expect(ack.json()).toMatchObject({ id, type: 'door-forced', ackedBy: 'test-guard', ackNote: 'checked on camera: cleaner', ackedAt: expect.any(String) });
      expect((await api.call('manager', 'POST', `${V1}/events/${id}/ack`)).statusCode).toBe(409);
      expect((await api.call('guard', 'GET', `${V1}/events?open=true&limit=1000`)).json().items.map((e: { id: number }) => e.id)).not.toContain(id);
      const page = (await api.call('manager', 'GET', `${V1}/events?type=door-forced&limit=1`)).json();
      expect(page.items[0].id).toBe(id);
      const audit = (await api.call('auditor', 'GET', `${V1}/audit?action=event.ack&actor=test-guard&limit=5`)).json().items;
      expect(audit[0]).toMatchObject({ actor: 'test-guard', target: `event:${id}`, detail: { note: 'checked on camera: cleaner' } });
      expect((await api.call('guard', 'POST', `${V1}/events/${id}/ack`, { note: '' })).json().details[0].path).toBe('note');
    });
  });

  describe('live stream', () => {
    let base: string;
    beforeAll(async () => {
      const address = await api.app.listen({ port: 0, host: '127.0.0.1' });
      base = address.replace('localhost', '127.0.0.1');
    });

    type SseEvent = { event: string; data: Record<string, unknown> };
    async function open(query: string, headers: Record<string, string> = {}) {
      const abort = new AbortController();
      const res = await fetch(`${base}${V1}/stream${query}`, { headers, signal: abort.signal });
      const events: SseEvent[] = [];
      const reading = readSse(res.body, ({ event, data }) => {
        if (event && data) events.push({ event, data: JSON.parse(data) });
      });
      return {
        res,
        events,
        until: (pred: (e: SseEvent) => boolean, what: string) => waitFor(() => events.find(pred), 3000, what),
        close: async () => {
          abort.abort();
          await reading;
        },
      };
    }

    it('refuses a missing or unknown token', async () => {
      expect((await fetch(`${base}${V1}/stream`)).status).toBe(401);
      expect((await fetch(`${base}${V1}/stream?token=nope`)).status).toBe(401);
    });

    const listeners = () => {
      const emitter = (api.controller.ctx.bus as unknown as { emitter: { listenerCount(n: string): number } }).emitter;
      return emitter.listenerCount('entry') + emitter.listenerCount('raised');
    };

    it('delivers raised events and decisions to a guard (no affiliation or purpose), and only system events to an admin', async () => {
      const baseline = listeners();
      const guard = await open(`?token=${encodeURIComponent(api.accounts.guard.token)}`);
      const admin = await open('', { authorization: `Bearer ${api.accounts.admin.token}` });
      const manager = await open(`?token=${encodeURIComponent(api.accounts.manager.token)}`);
      try {
        expect(guard.res.status).toBe(200);
        expect(guard.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const alarm = raiseAlarm('intrusion');
        const system = raiseAlarm('storage-fault', 'system');
        await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', 7000, 'lab locked');
        expect(await swipe('E0000001')).toBe('granted');

        const decision = await guard.until((e) => e.event === 'entry' && e.data.personId === escortId, 'a decision for the guard');
        expect(decision.data).toMatchObject({ decision: 'granted', personName: 'Escort Ito', affiliation: null, purpose: null });
        await guard.until((e) => e.event === 'raised' && e.data.id === alarm, 'the alarm for the guard');
        const full = await manager.until((e) => e.event === 'entry' && e.data.personId === escortId, 'a decision for the manager');
        expect(full.data).toMatchObject({ affiliation: 'R&D', purpose: 'project alpha' });
        await manager.until((e) => e.event === 'raised' && e.data.id === system, 'the system event for the manager');
        await admin.until((e) => e.event === 'raised' && e.data.id === system, 'the system event for the admin');

        await guard.until((e) => e.event === 'raised' && e.data.id === system, 'the system event for the guard');
        expect(admin.events.some((e) => e.event === 'entry' || (e.event === 'raised' && e.data.category === 'alarm'))).toBe(false);
        expect(listeners()).toBe(baseline + 6); // entry and raised, per stream
      } finally {
        await Promise.all([guard.close(), admin.close(), manager.close()]);
      }
      await waitFor(() => listeners() === baseline, 2000, "the streams' listeners removed");
    });

    it('closing the server ends the streams still open', async () => {
      const other = await startApi();
      try {
        const address = await other.app.listen({ port: 0, host: '127.0.0.1' });
        const res = await fetch(`${address}${V1}/stream`, { headers: { authorization: `Bearer ${other.accounts.auditor.token}` } });
        let text = '';
        const reading = (async () => {
          for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) text += Buffer.from(c).toString();
        })();
        await waitFor(() => text.includes(': connected'), 2000, 'connected');
        await other.app.close();
        await reading;
        expect(text).toMatch(/event: end\ndata: \{"reason":"server-shutting-down"/);
      } finally {
        await other.close();
      }
    });

    it('a session that must change its password, or has ended, gets no stream', async () => {
      const acct = await api.signIn('stream.logout', 'guard');
      expect((await api.app.inject({ method: 'POST', url: `${V1}/auth/logout`, headers: { authorization: `Bearer ${acct.token}` } })).statusCode).toBe(204);
      expect((await fetch(`${base}${V1}/stream?token=${encodeURIComponent(acct.token)}`)).status).toBe(401);
      const fresh = await api.auth.createAccount('test', { username: 'stream.fresh', displayName: 'Fresh', role: 'guard' });
      const login = await api.app.inject({
        method: 'POST',
        url: `${V1}/auth/login`,
        payload: { username: 'stream.fresh', password: fresh.oneTimePassword, totp: await api.code(new URL(fresh.totpUri!).searchParams.get('secret')!) },
      });
      const restricted = await fetch(`${base}${V1}/stream`, { headers: { authorization: `Bearer ${login.json().token}` } });
      expect(restricted.status).toBe(403);
    });
  });

  describe('metrics', () => {
    it('serves Prometheus text without signing in', async () => {
      const res = await api.call(null, 'GET', '/metrics');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      for (const name of [
        'tobira_decisions_total',
        'tobira_decision_latency_seconds_bucket',
        'tobira_devices_online',
        'tobira_devices_offline',
        'tobira_alarms_open',
        'tobira_entry_log_records',
      ]) {
        expect(res.body).toContain(name);
      }
      const value = (line: RegExp) => Number(line.exec(res.body)?.[1]);
      expect(value(/^tobira_decisions_total\{result="granted"\} (\d+)$/m)).toBe(api.controller.ctx.counters.granted);
      expect(value(/^tobira_decisions_total\{result="denied"\} (\d+)$/m)).toBe(api.controller.ctx.counters.denied);
      expect(value(/^tobira_decision_latency_seconds_count (\d+)$/m)).toBeGreaterThan(0);
      expect(value(/^tobira_entry_log_records (\d+)$/m)).toBe(api.controller.ctx.store.entryLog.count);
      const open = api.db().prepare("SELECT count(*) FROM events WHERE severity = 'alarm' AND acked_at IS NULL").pluck().get();
      expect(value(/^tobira_alarms_open (\d+)$/m)).toBe(open);
      expect(value(/^tobira_devices_online (\d+)$/m)).toBeGreaterThan(5);
      // The WAL as the checkpointer found it: the same figures as the controller holds.
      const wal = api.controller.walStats();
      expect(value(/^tobira_wal_peak_bytes (\d+)$/m)).toBe(wal.walPeakBytes);
      expect(value(/^tobira_wal_truncations_total (\d+)$/m)).toBe(wal.truncations);
      expect(res.body).toMatch(/^tobira_wal_bytes \d+$/m);
    });
  });

  describe('verification catches an edit', () => {
    it('reports the edited record', async () => {
      const raw = new Database(join(api.dataDir, 'tobira.db'));
      try {
        raw.exec('DROP TRIGGER entry_log_no_update');
        raw.prepare("UPDATE entry_log SET person_name = 'Someone Else' WHERE seq = (SELECT min(seq) FROM entry_log WHERE person_name IS NOT NULL)").run();
      } finally {
        raw.close();
      }
      const res = (await api.call('manager', 'GET', `${V1}/entries/verify`)).json();
      expect(res.ok).toBe(false);
      expect(res.breakAt.problem).toMatch(/edited/);
    });
  });
});
