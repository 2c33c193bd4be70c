// Dial locks on restricted-area doors through the API (the real controller and fastify app, in-process):
// the door's lock is listed beside the safe's with its rotation due at install, a rotation clears it,
// only an access holder of the door's area may know the code, and the site file's changes (a reload of
// the dial lock's fields, a restart with the door in another area) make it due at once.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.js';
import { createServices } from '../../src/services/index.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { prepareData, type RawSite } from '../helpers/daemon.js';
import { freePort } from '../helpers/ports.js';

const v1 = (path: string) => `/api/v1${path}`;
const daysFromNow = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
const tick = () => new Promise((r) => setTimeout(r, 5));

/** The example's lab main door gets a dial lock, rotated every 3 months. */
function withDoorDial(raw: RawSite): void {
  const door = raw.doors.find((d: { id: string }) => d.id === 'lab-main');
  if (!door) throw new Error('the example site has no lab-main');
  door.dialLock = { custodian: 1001, location: 'lab corridor', rotationMonths: 3 };
}

describe('dial locks on doors, through the API', () => {
  let api: TestApi;

  /** A staff member in good standing, with a grant for `areaId` when given. */
  function staff(name: string, areaId: string | null): string {
    const { store } = api.controller.ctx;
    const p = store.people.addPerson({ name, affiliation: 'Lab', title: 'Researcher' });
    store.people.addTraining(p.id, daysFromNow(-10), 'Security');
    store.people.addPledge(p.id, daysFromNow(-10), 'NDA');
    if (areaId) store.people.addGrant({ personId: p.id, areaId, purpose: 'research', grantedBy: 'cli' });
    return p.id;
  }
  const lock = async () => (await api.call('auditor', 'GET', v1('/dial-locks/lab-main'))).json();
  const rotate = async () => {
    await tick();
    const res = await api.call('manager', 'POST', v1('/dial-locks/lab-main/rotations'), { rotatedAt: new Date().toISOString(), by: '1001', reason: 'test' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().dueReasons).toEqual([]);
  };

  beforeAll(async () => {
    api = await startApi({ edit: withDoorDial });
  });
  afterAll(async () => api?.close());

  it("a door's dial lock is listed beside the safe's, due at once as installed", async () => {
    const res = await api.call('auditor', 'GET', v1('/dial-locks'));
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json().items as Record<string, unknown>[];
    expect(items.map((l) => [l.kind, l.id])).toEqual([
      ['safe', 'doc-safe'],
      ['door', 'lab-main'],
    ]);
    expect(items[0]).toMatchObject({ safe: 'doc-safe' });
    expect(items[0]).not.toHaveProperty('door');
    expect(items[1]).not.toHaveProperty('safe');
    expect(items[1]).toEqual({
      id: 'lab-main',
      kind: 'door',
      door: 'lab-main',
      name: { en: 'Lab main door', ja: '研究室正面扉' },
      area: 'lab',
      location: 'lab corridor',
      custodian: '1001',
      delegates: [],
      rotationMonths: 3,
      remindDays: [30, 7, 1],
      lastRotatedAt: null,
      lastRotatedBy: null,
      dueAt: expect.any(String),
      dueReasons: ['installed'],
      overdue: true,
      holders: 0,
    });
    expect(await lock()).toEqual(items[1]);
    const reminders = (await api.call('guard', 'GET', v1('/reminders'))).json().items;
    expect(reminders).toContainEqual(expect.objectContaining({ kind: 'dial-rotation', subject: 'dial-lock:lab-main', overdue: true, reasons: ['installed'] }));
    const events = api.db().prepare("SELECT category, source FROM events WHERE type = 'rotation-overdue' ORDER BY source").all();
    expect(events).toEqual([
      { category: 'reminder', source: 'doc-safe' },
      { category: 'reminder', source: 'lab-main' },
    ]);
  });

  it('a rotation recorded clears it: due rotationMonths later, off the reminders', async () => {
    await rotate();
    const after = await lock();
    expect(after).toMatchObject({ lastRotatedBy: '1001', dueReasons: [], overdue: false });
    expect(Date.parse(after.dueAt)).toBeGreaterThan(Date.now() + 85 * 86_400_000);
    expect(Date.parse(after.dueAt)).toBeLessThan(Date.now() + 95 * 86_400_000);
    const subjects = (await api.call('guard', 'GET', v1('/reminders'))).json().items.map((r: { subject: string }) => r.subject);
    expect(subjects).toEqual(['dial-lock:doc-safe']);
  });

  it("only an access holder of the door's area may be a code holder", async () => {
    // A holder of the safe in the vault is not a holder of the lab.
    const outsider = staff('Safe Holder', 'doc-safe');
    const res = await api.call('manager', 'POST', v1('/dial-locks/lab-main/holders'), { personId: outsider });
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().detail).toMatch(/not an access holder of area "lab" \(door "lab-main"\) \(no-grant\)/);
    const holder = staff('Lab Holder', 'lab');
    const added = await api.call('manager', 'POST', v1('/dial-locks/lab-main/holders'), { personId: holder });
    expect(added.statusCode, added.body).toBe(201);
    expect((await lock()).holders).toBe(1);
  });

  it("a reload that changes the door's dial-lock location or custodian makes it due at once", async () => {
    expect((await lock()).dueReasons).toEqual([]);
    await tick();
    const site = api.controller.ctx.site;
    const doors = site.doors.map((d) =>
      d.id === 'lab-main' && d.dialLock ? { ...d, dialLock: { ...d.dialLock, location: 'lab, west door', custodian: 1002 } } : d,
    );
    expect(api.controller.reload({ ...site, doors }).applied).toBe(true);
    expect(await lock()).toMatchObject({ location: 'lab, west door', custodian: '1002', dueReasons: ['moved', 'custodian-changed'], overdue: true });
    // Nothing else about the door changed: it still reloads. A door's other fields still need a restart.
    expect(api.controller.reload({ ...site, doors: site.doors.map((d) => ({ ...d, unlockMs: d.unlockMs + 1 })) }).applied).toBe(false);
  });

  it("the door moved to another area (a restart) is due at once, and the old area's holders are off the ledger", async () => {
    await rotate();
    const { dataDir } = api;
    const holders = (await api.call('auditor', 'GET', v1('/dial-locks/lab-main/holders'))).json().items;
    expect(holders).toHaveLength(1);
    await api.close();

    const { site } = prepareData({
      dataDir,
      edit: (raw) => {
        raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }] }];
        withDoorDial(raw);
        const door = raw.doors.find((d: { id: string }) => d.id === 'lab-main');
        door.area = 'vault';
        door.dialLock.location = 'lab, west door';
        door.dialLock.custodian = 1002;
      },
    });
    const controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    try {
      const services = createServices({ store: controller.ctx.store, now: () => new Date(), controller });
      expect(services.dialLocks.get('lab-main')).toMatchObject({
        kind: 'door',
        door: 'lab-main',
        area: 'vault',
        dueReasons: ['moved', 'holder-lost-access'],
        overdue: true,
      });
      // The lab's access holder is no holder of the vault: taken off, and the code is due for that too.
      expect(services.dialLocks.holders('lab-main')).toEqual([]);
    } finally {
      await controller.stop();
    }
  });
});
