// Hardware-in-the-loop: who may escort a visitor in. The escort is the visit's host, still in good
// standing when the visitor is decided (and again in the commit), and authenticated at that door
// within the escort window. Someone set to `left`, or whose grant was revoked, after going in
// escorts no one; neither does a colleague who is not the host.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { Controller } from '../../src/controller/controller.js';
import type { EntryRecord } from '../../src/store/entry-log.js';
import { openDatabase } from '../../src/store/db.js';
import { PeopleStore } from '../../src/store/people.js';
import { VisitStore } from '../../src/store/visits.js';
import { hashPin } from '../../src/store/pin.js';
import { entries, enrol, prepareData, revokeGrant, startDaemon, type Daemon } from '../helpers/daemon.js';
import { cardAndPin } from '../helpers/flows.js';
import { freePort, waitFor } from '../helpers/ports.js';

const ESCORT_WINDOW_SECONDS = 5;

/** A visitor with an approved, current visit to the lab with a signed pledge, hosted by `hostId`. */
function addVisitor(people: PeopleStore, visits: VisitStore, o: { name: string; card: string; pinHash?: string; hostId: string }): string {
  const visitor = people.addPerson({ kind: 'visitor', name: o.name, affiliation: 'Example Certification Co.' });
  people.addCredential(visitor.id, 'card', o.card);
  if (o.pinHash) people.addCredential(visitor.id, 'pin', o.pinHash);
  const visit = visits.add({
    visitorId: visitor.id,
    purpose: '認証審査',
    hostId: o.hostId,
    areas: ['lab'],
    validFrom: new Date(Date.now() - 3600_000).toISOString(),
    validUntil: new Date(Date.now() + 3600_000).toISOString(),
  });
  visits.approve(visit.id, 'manager-1');
  visits.recordPledge(visit.id, new Date().toISOString());
  return visitor.id;
}

describe('escorts at the lab door (daemon, broker, simulated devices)', () => {
  let daemon: Daemon;
  let sim: Simulator;
  const ids: Record<string, string> = {};
  const grants: Record<string, number[]> = {};

  function outcome(device: string): Promise<string> {
    return sim
      .expectCommand(device, (c) => c.command === 'indicate' && c.pattern !== 'pin-required', (ESCORT_WINDOW_SECONDS + 3) * 1000, `${device} shows the outcome`)
      .then((c) => (c.command === 'indicate' ? c.pattern : ''));
  }

  const lastOf = (personId: string) =>
    entries(daemon)
      .filter((e) => e.person_id === personId)
      .at(-1)!;
  const unlocks = () => sim.observed('lab-lock').filter((o) => o.command.command === 'unlock').length;

  /** An access holder goes in at the lab door: granted, the door unlocks; returns their record. */
  async function holderEntersLab(card: string, pin: string, personId: string): Promise<Record<string, unknown>> {
    const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'lab unlock for the holder');
    const shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', card, pin);
    expect(await shown).toBe('granted');
    await unlocked;
    const record = lastOf(personId);
    expect(record).toMatchObject({ decision: 'granted', door_id: 'lab-main' });
    return record;
  }

  /** What the API does for PATCH /people/:id { status: left }: the status, and every grant revoked. */
  function setLeft(key: string): void {
    const db = openDatabase(daemon.dataDir);
    try {
      const people = new PeopleStore(db);
      db.transaction(() => {
        people.setPersonStatus(ids[key]!, 'left');
        for (const g of grants[key]!) people.revokeGrant(g, 'test-manager');
      })();
    } finally {
      db.close();
    }
  }

  beforeAll(async () => {
    daemon = await startDaemon({
      broker: { kind: 'embedded' },
      edit: (raw) => {
        raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }] }];
        raw.policy = { ...raw.policy, factorWindowSeconds: 5, escortWindowSeconds: ESCORT_WINDOW_SECONDS };
      },
    });
    // One host per case, so no case's recent holders escort another's visitor.
    for (const [key, card, pin] of [
      ['happy', 'A1000001', '2580'],
      ['left', 'A1000002', '2581'],
      ['revoked', 'A1000003', '2582'],
      ['absent', 'A1000004', '2583'],
      ['colleague', 'A1000005', '2584'],
      ['late', 'A1000006', '2585'],
      ['gone', 'A1000007', '2586'],
    ] as const) {
      const e = await enrol(daemon, { name: `Host ${key}`, card, pin, areas: ['lab'] });
      ids[key] = e.personId;
      grants[key] = e.grantIds;
    }
    // Each visitor's PIN 8642, salted apart (a credential's value is unique).
    const pinHash = await Promise.all([0, 1, 2, 3, 4, 5].map(() => hashPin('8642')));
    const db = openDatabase(daemon.dataDir);
    try {
      const people = new PeopleStore(db);
      const visits = new VisitStore(db);
      ids.visitorHappy = addVisitor(people, visits, { name: 'Visitor Happy', card: 'B1000001', pinHash: pinHash[0], hostId: ids.happy! });
      ids.visitorLeft = addVisitor(people, visits, { name: 'Visitor Left', card: 'B1000002', pinHash: pinHash[1], hostId: ids.left! });
      ids.visitorRevoked = addVisitor(people, visits, { name: 'Visitor Revoked', card: 'B1000003', pinHash: pinHash[2], hostId: ids.revoked! });
      // Hosted by someone who never comes to the door: a colleague tries to escort.
      ids.visitorAbsent = addVisitor(people, visits, { name: 'Visitor Absent Host', card: 'B1000004', pinHash: pinHash[3], hostId: ids.absent! });
      ids.visitorLate = addVisitor(people, visits, { name: 'Visitor Late Host', card: 'B1000005', pinHash: pinHash[4], hostId: ids.late! });
      ids.visitorGone = addVisitor(people, visits, { name: 'Visitor Gone Host', card: 'B1000006', pinHash: pinHash[5], hostId: ids.gone! });
    } finally {
      db.close();
    }
    sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets, heartbeatMs: 2000 });
    await waitFor(() => sim.observed('lab-lock').length > 0, 5000, 'locks driven to rest');
  });

  afterAll(async () => {
    await sim?.stop();
    await daemon?.stop();
  });

  it("the host goes in first, the visitor follows within the window: granted, linked to the host's record", async () => {
    const host = await holderEntersLab('A1000001', '2580', ids.happy!);
    const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'lab unlock for the visitor');
    const shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'B1000001', '8642');
    expect(await shown).toBe('granted');
    await unlocked;
    expect(lastOf(ids.visitorHappy!)).toMatchObject({
      decision: 'granted',
      reason: 'granted',
      purpose: '認証審査',
      linked_seq: host.seq,
      linked_person_id: ids.happy,
    });
  });

  it('a host set to `left` (grants revoked) after going in escorts no one: the visitor alone is refused', async () => {
    await holderEntersLab('A1000002', '2581', ids.left!);
    setLeft('left');
    const before = unlocks();
    const shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'B1000002', '8642');
    expect(await shown).toBe('denied');
    const record = lastOf(ids.visitorLeft!);
    expect(record).toMatchObject({ decision: 'denied', reason: 'escort-not-valid', linked_seq: null });
    expect(JSON.parse(record.detail as string)).toEqual({ escort: { personId: ids.left, reason: 'person-inactive' } });
    expect(unlocks()).toBe(before);
  });

  it('a host who went in and out again escorts no one: the visitor waits for them and is refused', async () => {
    await holderEntersLab('A1000007', '2586', ids.gone!);
    // Out at the exit reader (one factor to leave): in good standing, but no longer there.
    const left = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'lab unlock for the host leaving');
    await sim.swipe('lab-exit-reader', 'A1000007');
    await left;
    await waitFor(() => lastOf(ids.gone!).direction === 'out', 3000, 'the exit recorded');
    const before = unlocks();
    const shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'B1000006', '8642');
    expect(await shown).toBe('denied');
    expect(lastOf(ids.visitorGone!)).toMatchObject({ decision: 'denied', reason: 'escort-timeout', linked_seq: null });
    expect(unlocks()).toBe(before);
  });

  it('a host whose grant was revoked after going in escorts no one', async () => {
    await holderEntersLab('A1000003', '2582', ids.revoked!);
    revokeGrant(daemon, grants.revoked![0]!);
    const before = unlocks();
    const shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'B1000003', '8642');
    expect(await shown).toBe('denied');
    const record = lastOf(ids.visitorRevoked!);
    expect(record).toMatchObject({ decision: 'denied', reason: 'escort-not-valid' });
    expect(JSON.parse(record.detail as string)).toEqual({ escort: { personId: ids.revoked, reason: 'no-grant' } });
    expect(unlocks()).toBe(before);
  });

  it("an access holder who is not the visit's host escorts no one, going in first or after the visitor", async () => {
    // First: the colleague went in just before.
    await holderEntersLab('A1000005', '2584', ids.colleague!);
    let before = unlocks();
    let shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'B1000004', '8642');
    expect(await shown).toBe('denied');
    let record = lastOf(ids.visitorAbsent!);
    expect(record).toMatchObject({ decision: 'denied', reason: 'escort-not-host' });
    expect(JSON.parse(record.detail as string)).toEqual({ escort: { personId: ids.colleague } });
    expect(unlocks()).toBe(before);

    // After (the colleague's entry above is out of the window by now): the visitor waits, the
    // colleague comes and goes in alone; the visitor waits on and is refused.
    const asked = sim.expectCommand('lab-keypad', (c) => c.command === 'indicate' && c.pattern === 'pin-required', 3000, 'the visitor waits for an escort');
    await cardAndPin(sim, 'lab', 'B1000004', '8642');
    await asked;
    before = unlocks();
    const colleague = await holderEntersLab('A1000005', '2584', ids.colleague!);
    expect(colleague).toMatchObject({ linked_seq: null, linked_person_id: null });
    expect(unlocks()).toBe(before + 1);
    shown = outcome('lab-reader');
    expect(await shown).toBe('denied');
    record = lastOf(ids.visitorAbsent!);
    expect(record).toMatchObject({ decision: 'denied', reason: 'escort-not-host' });
    expect(record.seq as number).toBeGreaterThan(colleague.seq as number);
  });

  it('the visitor first: a host who has left comes after, is refused, and the visitor is refused naming why', async () => {
    setLeft('late');
    const asked = sim.expectCommand('lab-keypad', (c) => c.command === 'indicate' && c.pattern === 'pin-required', 3000, 'the visitor waits for an escort');
    await cardAndPin(sim, 'lab', 'B1000005', '8642');
    await asked;
    const before = unlocks();
    let shown = outcome('lab-reader');
    await sim.swipe('lab-reader', 'A1000006');
    expect(await shown).toBe('denied');
    expect(lastOf(ids.late!)).toMatchObject({ decision: 'denied', reason: 'person-inactive' });
    shown = outcome('lab-reader');
    expect(await shown).toBe('denied');
    const record = lastOf(ids.visitorLate!);
    expect(record).toMatchObject({ decision: 'denied', reason: 'escort-not-valid' });
    expect(JSON.parse(record.detail as string)).toEqual({ escort: { personId: ids.late, reason: 'person-inactive' } });
    expect(unlocks()).toBe(before);
  });
});

describe("an escort revoked between the visitor's decision and its commit (controller in process)", () => {
  let controller: Controller;
  let hostGrant: number;
  let hostId: string;
  let visitorId: string;
  const records: EntryRecord[] = [];
  let seq = 0;

  beforeAll(async () => {
    // Card only at the lab, so the whole decision runs in one turn; always open.
    const { dataDir, site } = prepareData({
      edit: (raw) => {
        raw.areas = raw.areas.map((a: { id: string }) => (a.id === 'lab' ? { ...a, factors: ['card'], antiPassback: 'off', schedule: undefined } : a));
      },
    });
    const host = await enrol({ dataDir }, { name: 'Sato Hanako', card: '04A1B2C3', areas: ['lab'] });
    hostId = host.personId;
    hostGrant = host.grantIds[0]!;
    const db = openDatabase(dataDir);
    try {
      visitorId = addVisitor(new PeopleStore(db), new VisitStore(db), { name: 'Jane Auditor', card: '0B0B0B0B', hostId });
    } finally {
      db.close();
    }
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    controller.ctx.bus.on('entry', (r) => records.push(r));
  });

  afterAll(async () => {
    await controller?.stop();
  });

  function read(card: string): void {
    const now = Date.now();
    controller.ctx.bus.emit('device.event', {
      deviceId: 'lab-reader',
      event: { type: 'credential', credential: { kind: 'card', value: card }, boot: 1, seq: ++seq },
      receivedAt: now,
      occurredAt: now,
    });
  }

  it('the escort is decided again in the commit: the visitor is refused with escort-not-valid', async () => {
    read('04A1B2C3');
    const host = await waitFor(() => records.find((r) => r.personId === hostId), 3000, 'the host goes in');
    expect(host).toMatchObject({ decision: 'granted' });

    read('0B0B0B0B');
    // Runs after the visitor's decision (a promise job of the read) and before the group commit's
    // flush (queued by the decision, after this): the revocation lands in between.
    setImmediate(() => controller.ctx.store.people.revokeGrant(hostGrant));
    const visitor = await waitFor(() => records.find((r) => r.personId === visitorId), 3000, "the visitor's decision");
    expect(visitor).toMatchObject({ decision: 'denied', reason: 'escort-not-valid', detail: { escort: { personId: hostId, reason: 'no-grant' } } });
  });
});
