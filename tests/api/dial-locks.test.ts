// Dial locks through the API (the real controller and fastify app, in-process): the rotation record,
// leak reports, the code holders' ledger, reminders; every refusal (a code in a body, a non-holder
// as code holder); a code holder's revocation making the rotation due at once.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Role } from '../../src/store/accounts.js';
import { startApi, type TestApi } from '../helpers/api.js';
import type { RawSite } from '../helpers/daemon.js';

const v1 = (path: string) => `/api/v1${path}`;
const daysFromNow = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

/** The example's document safe (dial + key, in the vault) asks for a shorter rotation. */
function withSafe(raw: RawSite): void {
  const r = raw as unknown as { safes: { id: string; rotationMonths?: number }[] };
  const safe = r.safes.find((s) => s.id === 'doc-safe');
  if (!safe) throw new Error('the example site has no doc-safe');
  safe.rotationMonths = 6;
}

describe('dial locks API', () => {
  let api: TestApi;

  /** A staff member in good standing, with a grant for the safe when `grant` says so. */
  function staff(name: string, grant: boolean): { personId: string; grantId: number | null } {
    const { store } = api.controller.ctx;
    const p = store.people.addPerson({ name, affiliation: 'Docs', title: 'Archivist' });
    store.people.addTraining(p.id, daysFromNow(-10), 'Security');
    store.people.addPledge(p.id, daysFromNow(-10), 'NDA');
    const g = grant ? store.people.addGrant({ personId: p.id, areaId: 'doc-safe', purpose: 'documents', grantedBy: 'cli' }) : null;
    return { personId: p.id, grantId: g?.id ?? null };
  }
  const lock = async () => (await api.call('auditor', 'GET', v1('/dial-locks/doc-safe'))).json();

  beforeAll(async () => {
    api = await startApi({ edit: withSafe });
  });
  afterAll(async () => api?.close());

  it('a newly installed dial lock is due at once, with its reminder in the list', async () => {
    const res = await api.call('auditor', 'GET', v1('/dial-locks'));
    expect(res.statusCode, res.body).toBe(200);
    const [l] = res.json().items;
    expect(l).toMatchObject({ id: 'doc-safe', area: 'vault', lastRotatedAt: null, dueReasons: ['installed'], overdue: true, rotationMonths: 6, holders: 0 });
    const reminders = (await api.call('guard', 'GET', v1('/reminders'))).json().items;
    expect(reminders).toEqual([expect.objectContaining({ kind: 'dial-rotation', subject: 'dial-lock:doc-safe', overdue: true, reasons: ['installed'] })]);
    // The overdue alarm was raised on the reminder category (MQTT {base}/events/reminder).
    const events = api.db().prepare("SELECT category, source FROM events WHERE type = 'rotation-overdue'").all();
    expect(events).toEqual([{ category: 'reminder', source: 'doc-safe' }]);
  });

  it('recording a rotation: due rotationMonths later, audited; auditors and guards may not', async () => {
    expect(
      (await api.call('auditor', 'POST', v1('/dial-locks/doc-safe/rotations'), { rotatedAt: daysFromNow(0), by: '1001', reason: 'installed' })).statusCode,
    ).toBe(403);
    expect(
      (await api.call('guard', 'POST', v1('/dial-locks/doc-safe/rotations'), { rotatedAt: daysFromNow(0), by: '1001', reason: 'installed' })).statusCode,
    ).toBe(403);
    const rotatedAt = new Date().toISOString();
    const res = await api.call('manager', 'POST', v1('/dial-locks/doc-safe/rotations'), { rotatedAt, by: '1001', reason: 'installed' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ lastRotatedAt: rotatedAt, lastRotatedBy: '1001', dueReasons: [], overdue: false });
    expect(Date.parse(res.json().dueAt)).toBeGreaterThan(Date.now() + 150 * 86_400_000);
    expect((await api.call('guard', 'GET', v1('/reminders'))).json().items).toEqual([]);
    const audit = api.db().prepare("SELECT actor, detail FROM audit_log WHERE action = 'dial-lock.rotate' AND outcome = 'ok'").all() as {
      actor: string;
      detail: string;
    }[];
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actor).toBe('test-manager');
  });

  it.each([
    ['/rotations', { rotatedAt: daysFromNow(0), by: '1001', reason: 'scheduled', code: '12-34-56' }, 'code'],
    ['/rotations', { rotatedAt: daysFromNow(0), by: '1001', reason: 'new one is 12 34 56' }, 'reason'],
    ['/rotations', { rotatedAt: daysFromNow(0), by: '1001', reason: 'scheduled', combination: [12, 34, 56] }, 'combination'],
    ['/leak-reports', { note: 'slip said 123456' }, 'note'],
    ['/leak-reports', { note: 'seen', digits: '1' }, 'digits'],
    ['/holders', { personId: 'p-1', code: 'x' }, 'code'],
  ])('a dial code in the body of %s is refused (400) and nothing is recorded', async (path, body, where) => {
    const okCount = "SELECT count(*) AS n FROM audit_log WHERE action LIKE 'dial-lock.%' AND outcome = 'ok'";
    const before = api.db().prepare(okCount).get();
    const res = await api.call('manager', 'POST', v1(`/dial-locks/doc-safe${path}`), body);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().detail ?? res.json().title).toMatch(/dial code/);
    expect(JSON.stringify(res.json())).toContain(where);
    expect(res.body).not.toMatch(/12-34-56|123456/);
    expect(api.db().prepare(okCount).get()).toEqual(before);
    // The refused attempt is audited, without the code.
    expect(JSON.stringify(api.db().prepare("SELECT * FROM audit_log WHERE action LIKE 'dial-lock.%'").all())).not.toMatch(/12-34-56|12 34 56|123456/);
  });

  it.each(['/rotations', '/leak-reports', '/holders'])('a hostile 5,000-deep body on %s is refused (400), never a 5xx', async (path) => {
    // Sent as raw text: the server parses it (JSON.parse copes); the code search must too.
    const res = await api.app.inject({
      method: 'POST',
      url: v1(`/dial-locks/doc-safe${path}`),
      payload: `${'['.repeat(5000)}${']'.repeat(5000)}`,
      headers: { authorization: `Bearer ${api.accounts.manager.token}`, 'content-type': 'application/json' },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().detail ?? res.json().title).toMatch(/nests more than 16 levels/);
  });

  it('a rotation in the future or before the last one is refused', async () => {
    expect((await api.call('manager', 'POST', v1('/dial-locks/doc-safe/rotations'), { rotatedAt: daysFromNow(2), by: 'x', reason: 'y' })).statusCode).toBe(400);
    expect((await api.call('manager', 'POST', v1('/dial-locks/doc-safe/rotations'), { rotatedAt: daysFromNow(-30), by: 'x', reason: 'y' })).statusCode).toBe(
      400,
    );
    expect((await api.call('manager', 'POST', v1('/dial-locks/nope/rotations'), { rotatedAt: daysFromNow(0), by: 'x', reason: 'y' })).statusCode).toBe(404);
  });

  it('a non-holder as code holder is refused with the reason; a holder is added', async () => {
    const outsider = staff('Outsider', false);
    const res = await api.call('manager', 'POST', v1('/dial-locks/doc-safe/holders'), { personId: outsider.personId });
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json().detail).toMatch(/not an access holder of safe "doc-safe" \(no-grant\)/);
    expect((await api.call('manager', 'POST', v1('/dial-locks/doc-safe/holders'), { personId: 'no-such-person' })).statusCode).toBe(400);

    const holder = staff('Holder', true);
    const added = await api.call('manager', 'POST', v1('/dial-locks/doc-safe/holders'), { personId: holder.personId });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json()).toMatchObject({ personId: holder.personId, name: 'Holder', addedBy: 'test-manager' });
    expect((await api.call('manager', 'POST', v1('/dial-locks/doc-safe/holders'), { personId: holder.personId })).statusCode).toBe(409);
    expect((await api.call('auditor', 'GET', v1('/dial-locks/doc-safe/holders'))).json().items.map((h: { personId: string }) => h.personId)).toEqual([
      holder.personId,
    ]);
  });

  it("a code holder's revocation makes the rotation due at once and takes them off the ledger", async () => {
    expect((await lock()).dueReasons).toEqual([]);
    const holder = staff('Leaver', true);
    expect((await api.call('manager', 'POST', v1('/dial-locks/doc-safe/holders'), { personId: holder.personId })).statusCode).toBe(201);
    const revoked = await api.call('manager', 'POST', v1(`/grants/${holder.grantId}/revoke`), { reason: 'moved to another team' });
    expect(revoked.statusCode, revoked.body).toBe(200);
    const after = await lock();
    expect(after).toMatchObject({ dueReasons: ['holder-lost-access'], overdue: true });
    expect(Date.parse(after.dueAt)).toBeLessThanOrEqual(Date.now());
    const holders = (await api.call('auditor', 'GET', v1('/dial-locks/doc-safe/holders'))).json().items.map((h: { personId: string }) => h.personId);
    expect(holders).not.toContain(holder.personId);
    expect((await api.call('guard', 'GET', v1('/reminders'))).json().items).toEqual([
      expect.objectContaining({ subject: 'dial-lock:doc-safe', overdue: true, reasons: ['holder-lost-access'] }),
    ]);
    const alarms = api.db().prepare("SELECT count(*) AS n FROM events WHERE type = 'rotation-overdue'").get() as { n: number };
    expect(alarms.n).toBe(2);
  });

  it('a leak report makes it due at once; a rotation after it clears it; taking a holder off makes it due', async () => {
    await api.call('manager', 'POST', v1('/dial-locks/doc-safe/rotations'), { rotatedAt: new Date().toISOString(), by: '1001', reason: 'holder left' });
    expect((await lock()).dueReasons).toEqual([]);
    const leak = await api.call('manager', 'POST', v1('/dial-locks/doc-safe/leak-reports'), { note: 'the slip was left on the desk' });
    expect(leak.statusCode, leak.body).toBe(200);
    expect(leak.json()).toMatchObject({ dueReasons: ['leak-reported'], overdue: true });
    await new Promise((r) => setTimeout(r, 5));
    await api.call('manager', 'POST', v1('/dial-locks/doc-safe/rotations'), { rotatedAt: new Date().toISOString(), by: '1001', reason: 'leak' });
    expect((await lock()).dueReasons).toEqual([]);

    const [h] = (await api.call('auditor', 'GET', v1('/dial-locks/doc-safe/holders'))).json().items;
    await new Promise((r) => setTimeout(r, 5));
    const del = await api.call('manager', 'DELETE', v1(`/dial-locks/doc-safe/holders/${h.personId}`));
    expect(del.statusCode, del.body).toBe(200);
    expect(del.json().dueReasons).toEqual(['holder-lost-access']);
    expect((await api.call('manager', 'DELETE', v1(`/dial-locks/doc-safe/holders/${h.personId}`))).statusCode).toBe(404);
  });

  it('a reload that moves the safe or changes its custodian makes the rotation due at once', async () => {
    await api.call('manager', 'POST', v1('/dial-locks/doc-safe/rotations'), { rotatedAt: new Date().toISOString(), by: '1001', reason: 'holder removed' });
    expect((await lock()).dueReasons).toEqual([]);
    await new Promise((r) => setTimeout(r, 5));
    const site = api.controller.ctx.site;
    expect(api.controller.reload({ ...site, safes: site.safes.map((s) => ({ ...s, delegates: [...s.delegates].reverse() })) }).applied).toBe(true);
    expect((await lock()).dueReasons).toEqual([]);
    const moved = site.safes.map((s) => (s.id === 'doc-safe' ? { ...s, location: 'vault, east wall', custodian: 1003 } : s));
    expect(api.controller.reload({ ...site, safes: moved }).applied).toBe(true);
    expect(await lock()).toMatchObject({ location: 'vault, east wall', custodian: '1003', dueReasons: ['moved', 'custodian-changed'], overdue: true });
  });

  /** Records a rotation now (a few ms after anything before it) so the lock starts with no reason due. */
  async function rotateNow(reason: string): Promise<void> {
    await new Promise((r) => setTimeout(r, 5));
    const res = await api.call('manager', 'POST', v1('/dial-locks/doc-safe/rotations'), { rotatedAt: new Date().toISOString(), by: '1001', reason });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().dueReasons).toEqual([]);
  }
  const ledger = async (): Promise<string[]> =>
    (await api.call('auditor', 'GET', v1('/dial-locks/doc-safe/holders'))).json().items.map((h: { personId: string }) => h.personId);
  const lostAccessNotes = (personId: string) =>
    (
      api.db().prepare("SELECT note FROM dial_due_triggers WHERE lock_id = 'doc-safe' AND reason = 'holder-lost-access' AND person_id = ?").all(personId) as {
        note: string;
      }[]
    ).map((t) => t.note);

  it('a code holder set to left through PATCH /people makes the rotation due at once and is off the ledger', async () => {
    await rotateNow('custodian changed');
    const leaver = staff('Leaves the firm', true);
    expect((await api.call('manager', 'POST', v1('/dial-locks/doc-safe/holders'), { personId: leaver.personId })).statusCode).toBe(201);
    expect(await ledger()).toContain(leaver.personId);
    const overdueBefore = (api.db().prepare("SELECT count(*) AS n FROM events WHERE type = 'rotation-overdue'").get() as { n: number }).n;

    const left = await api.call('manager', 'PATCH', v1(`/people/${leaver.personId}`), { status: 'left' });
    expect(left.statusCode, left.body).toBe(200);
    const after = await lock();
    expect(after).toMatchObject({ dueReasons: ['holder-lost-access'], overdue: true });
    expect(Date.parse(after.dueAt)).toBeLessThanOrEqual(Date.now());
    expect(await ledger()).not.toContain(leaver.personId);
    // Taken off for the status (checked before the grants that leaving revokes), once.
    expect(lostAccessNotes(leaver.personId)).toEqual(['person-inactive']);
    expect((await api.call('guard', 'GET', v1('/reminders'))).json().items).toEqual([
      expect.objectContaining({ subject: 'dial-lock:doc-safe', overdue: true, reasons: ['holder-lost-access'] }),
    ]);
    const overdue = api.db().prepare("SELECT detail FROM events WHERE type = 'rotation-overdue' ORDER BY id").all() as { detail: string }[];
    expect(overdue).toHaveLength(overdueBefore + 1);
    expect(JSON.parse(overdue.at(-1)!.detail)).toMatchObject({ lock: 'doc-safe', dueReasons: ['holder-lost-access'] });
  });

  // The rule: "Managers change ledgers; guards record key loans and returns; auditors read."
  // Admins run accounts, not ledgers (as for people and grants): they read, and change nothing here.
  it.each([
    ['POST', '/dial-locks/doc-safe/rotations', { rotatedAt: new Date().toISOString(), by: '1001', reason: 'scheduled' }],
    ['POST', '/dial-locks/doc-safe/leak-reports', { note: 'the slip was left on the desk' }],
    ['POST', '/dial-locks/doc-safe/holders', { personId: 'p-anyone' }],
    ['DELETE', '/dial-locks/doc-safe/holders/p-anyone', undefined],
  ] as const)('%s %s: guards, auditors and admins are refused (403), nothing recorded', async (method, path, body) => {
    const count = (sql: string) => (api.db().prepare(sql).get() as { n: number }).n;
    const before = [
      count('SELECT count(*) AS n FROM dial_rotations'),
      count('SELECT count(*) AS n FROM dial_due_triggers'),
      count('SELECT count(*) AS n FROM dial_code_holders'),
    ];
    for (const role of ['guard', 'auditor', 'admin'] as Role[]) {
      const res = await api.call(role, method, v1(path), body);
      expect(res.statusCode, `${role}: ${res.body}`).toBe(403);
    }
    expect([
      count('SELECT count(*) AS n FROM dial_rotations'),
      count('SELECT count(*) AS n FROM dial_due_triggers'),
      count('SELECT count(*) AS n FROM dial_code_holders'),
    ]).toEqual(before);
  });

  it('auditors, managers and admins read the dial locks and the code holders; guards read only the reminders', async () => {
    for (const path of ['/dial-locks', '/dial-locks/doc-safe', '/dial-locks/doc-safe/holders', '/dial-locks/doc-safe/holders?format=csv']) {
      for (const role of ['auditor', 'manager', 'admin'] as Role[]) expect((await api.call(role, 'GET', v1(path))).statusCode, `${role} ${path}`).toBe(200);
      expect((await api.call('guard', 'GET', v1(path))).statusCode, `guard ${path}`).toBe(403);
    }
    for (const role of ['guard', 'auditor', 'manager', 'admin'] as Role[]) expect((await api.call(role, 'GET', v1('/reminders'))).statusCode).toBe(200);
  });
});

// Access that ends by itself (a training lapsing, a grant running out) is found by the controller's
// hourly sweep: the test keeps the callback the controller arms with setInterval and runs it, as
// the timer would an hour later, after the holders' training and grant have really lapsed.
describe('dial locks: the hourly sweep of code holders', () => {
  let api: TestApi;
  let sweep: (() => void) | undefined;

  beforeAll(async () => {
    const realSetInterval = globalThis.setInterval;
    const spy = vi.spyOn(globalThis, 'setInterval').mockImplementation(((fn: () => void, ms?: number, ...args: unknown[]) => {
      if (ms === 3_600_000 && String(fn).includes('holderCheck')) sweep = fn;
      return realSetInterval(fn, ms, ...args);
    }) as typeof setInterval);
    try {
      api = await startApi({ edit: withSafe });
    } finally {
      spy.mockRestore();
    }
  });
  afterAll(async () => api?.close());

  it('a training that lapses and a grant that runs out take both holders off the ledger and make the rotation due', async () => {
    expect(sweep, 'the dial locks arm an hourly sweep').toBeTypeOf('function');
    const { store } = api.controller.ctx;
    const lapsesAt = Date.now() + 1500;
    // Training valid 12 months (the example's policy): completed 12 months before it lapses.
    const trainedAt = new Date(lapsesAt);
    trainedAt.setUTCFullYear(trainedAt.getUTCFullYear() - 1);
    expect(api.controller.ctx.site.policy.trainingValidityMonths).toBe(12);

    const trained = store.people.addPerson({ name: 'Training lapses', affiliation: 'Docs', title: 'Archivist' });
    store.people.addTraining(trained.id, trainedAt.toISOString(), 'Security');
    store.people.addPledge(trained.id, daysFromNow(-10), 'NDA');
    store.people.addGrant({ personId: trained.id, areaId: 'doc-safe', purpose: 'documents', grantedBy: 'cli' });

    const shortGrant = store.people.addPerson({ name: 'Grant runs out', affiliation: 'Docs', title: 'Archivist' });
    store.people.addTraining(shortGrant.id, daysFromNow(-10), 'Security');
    store.people.addPledge(shortGrant.id, daysFromNow(-10), 'NDA');
    store.people.addGrant({
      personId: shortGrant.id,
      areaId: 'doc-safe',
      purpose: 'documents',
      validUntil: new Date(lapsesAt).toISOString(),
      grantedBy: 'cli',
    });

    for (const p of [trained, shortGrant]) {
      const res = await api.call('manager', 'POST', v1('/dial-locks/doc-safe/holders'), { personId: p.id });
      expect(res.statusCode, res.body).toBe(201);
    }
    const rotated = await api.call('manager', 'POST', v1('/dial-locks/doc-safe/rotations'), {
      rotatedAt: new Date().toISOString(),
      by: '1001',
      reason: 'installed',
    });
    expect(rotated.json().dueReasons).toEqual([]);

    await new Promise((r) => setTimeout(r, Math.max(0, lapsesAt - Date.now()) + 200));
    const ledger = async () => (await api.call('auditor', 'GET', v1('/dial-locks/doc-safe/holders'))).json().items.map((h: { personId: string }) => h.personId);
    // Nothing tells the controller that time passed: until the sweep runs, both are still listed.
    expect(await ledger()).toEqual([trained.id, shortGrant.id]);
    expect((await api.call('auditor', 'GET', v1('/dial-locks/doc-safe'))).json().dueReasons).toEqual([]);

    sweep!();
    const after = (await api.call('auditor', 'GET', v1('/dial-locks/doc-safe'))).json();
    expect(after).toMatchObject({ dueReasons: ['holder-lost-access'], overdue: true, holders: 0 });
    expect(Date.parse(after.dueAt)).toBeLessThanOrEqual(Date.now());
    expect(await ledger()).toEqual([]);
    const notes = api.db().prepare("SELECT person_id AS personId, note FROM dial_due_triggers WHERE reason = 'holder-lost-access' ORDER BY id").all();
    expect(notes).toEqual(
      expect.arrayContaining([
        { personId: trained.id, note: 'training-lapsed' },
        { personId: shortGrant.id, note: 'grant-expired' },
      ]),
    );
    expect(notes).toHaveLength(2);
    const overdue = api.db().prepare("SELECT detail FROM events WHERE type = 'rotation-overdue' ORDER BY id DESC LIMIT 1").get() as { detail: string };
    expect(JSON.parse(overdue.detail)).toMatchObject({ lock: 'doc-safe', dueReasons: ['holder-lost-access'] });
  });
});
