// Hardware-in-the-loop: the access policy's multi-step flows through the real daemon, the embedded
// broker and the simulated devices of the example site (lab: card + PIN, vault: card + PIN and two
// persons, lab-main fail-safe with the fire panel, vault-door fail-secure).
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { openDatabase } from '../../src/store/db.js';
import { PeopleStore } from '../../src/store/people.js';
import { VisitStore } from '../../src/store/visits.js';
import { hashPin } from '../../src/store/pin.js';
import { entries, events, enrol, startDaemon, type Daemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/ports.js';
import { cardAndPin } from '../helpers/flows.js';

describe('access flows at the doors of the example site', () => {
  let daemon: Daemon;
  let sim: Simulator;
  const ids: Record<string, string> = {};

  function outcome(device: string): Promise<string> {
    return sim
      .expectCommand(device, (c) => c.command === 'indicate' && c.pattern !== 'pin-required', 5000, `${device} shows the outcome`)
      .then((c) => (c.command === 'indicate' ? c.pattern : ''));
  }

  const lastEntry = () => entries(daemon).at(-1)!;

  beforeAll(async () => {
    daemon = await startDaemon({
      broker: { kind: 'embedded' },
      edit: (raw) => {
        // Always within business hours, so the outcome does not depend on when the tests run; short windows.
        raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '24:00' }] }];
        raw.policy = { ...raw.policy, factorWindowSeconds: 3, escortWindowSeconds: 3, twoPersonWindowSeconds: 3 };
        raw.doors.find((d: { id: string }) => d.id === 'lab-main').heldOpenMs = 1000;
      },
    });
    ids.sato = (
      await enrol(daemon, { name: '佐藤 花子', card: 'A0000001', pin: '2580', duressPin: '2581', areas: ['lab', 'vault'], purpose: '電池プロジェクト' })
    ).personId;
    ids.tanaka = (await enrol(daemon, { name: '田中 健', card: 'A0000002', pin: '1397', areas: ['lab', 'vault'] })).personId;
    ids.lapsed = (await enrol(daemon, { name: 'Old Training', card: 'A0000003', pin: '1111', areas: ['lab'], trainedAt: '2024-01-01T00:00:00Z' })).personId;
    // A visitor with an approved visit and a signed pledge, hosted by Sato.
    const db = openDatabase(daemon.dataDir);
    const people = new PeopleStore(db);
    const visitor = people.addPerson({ kind: 'visitor', name: 'Jane Auditor', affiliation: 'Example Certification Co.' });
    people.addCredential(visitor.id, 'card', 'B0000001');
    people.addCredential(visitor.id, 'pin', await hashPin('8642'));
    const visits = new VisitStore(db);
    const visit = visits.add({
      visitorId: visitor.id,
      purpose: '認証審査',
      hostId: ids.sato,
      areas: ['lab'],
      validFrom: new Date(Date.now() - 3600_000).toISOString(),
      validUntil: new Date(Date.now() + 3600_000).toISOString(),
    });
    visits.approve(visit.id, 'manager-1');
    visits.recordPledge(visit.id, new Date().toISOString());
    db.close();
    ids.visitor = visitor.id;
    sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets, heartbeatMs: 2000 });
    await waitFor(() => sim.observed('lab-lock').length > 0 && sim.observed('vault-lock').length > 0, 5000, 'locks driven to rest');
  });

  afterAll(async () => {
    await sim?.stop();
    await daemon?.stop();
  });

  it('card + PIN: a wrong PIN is denied, the right one opens; a PIN alone never does', async () => {
    let shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'A0000002', '0000');
    expect(await shown).toBe('denied');
    expect(lastEntry()).toMatchObject({ decision: 'denied', reason: 'wrong-pin', person_id: ids.tanaka });

    shown = outcome('lab-reader');
    await sim.pin('lab-keypad', '1397');
    expect(await shown).toBe('denied');
    expect(lastEntry()).toMatchObject({ decision: 'denied', reason: 'second-factor-alone', person_id: null });

    const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'lab unlock');
    shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'A0000002', '1397');
    expect(await shown).toBe('granted');
    await unlocked;
    expect(lastEntry()).toMatchObject({ decision: 'granted', person_id: ids.tanaka, factors: '["card","pin"]' });
  });

  it('a card with no PIN in time is logged as second-factor-timeout', async () => {
    const shown = outcome('lab-reader');
    await sim.swipe('lab-reader', 'A0000002');
    expect(await shown).toBe('denied');
    expect(lastEntry()).toMatchObject({ decision: 'denied', reason: 'second-factor-timeout', person_id: ids.tanaka });
  });

  it('lapsed annual training suspends access by itself', async () => {
    const shown = outcome('lab-reader');
    await sim.swipe('lab-reader', 'A0000003');
    expect(await shown).toBe('denied');
    expect(lastEntry()).toMatchObject({ reason: 'training-lapsed', person_id: ids.lapsed });
  });

  it('three wrong PINs lock the card out with an event; then even the right PIN is refused', async () => {
    for (let i = 0; i < 3; i++) {
      const shown = outcome('lab-reader');
      await cardAndPin(sim, 'lab', 'A0000002', '9999');
      expect(await shown).toBe('denied');
    }
    const lockout = await waitFor(
      () => events(daemon, 'pin-lockout').find((e) => JSON.parse(e.detail as string).personId === ids.tanaka),
      2000,
      'pin-lockout event',
    );
    expect(JSON.parse(lockout.detail as string)).toMatchObject({ attempts: 3 });
    const shown = outcome('lab-reader');
    await sim.swipe('lab-reader', 'A0000002');
    expect(await shown).toBe('denied');
    expect(lastEntry()).toMatchObject({ reason: 'pin-locked-out', person_id: ids.tanaka });
  });

  it('a duress PIN opens like any other but raises a silent duress alarm', async () => {
    const before = events(daemon, 'duress').length;
    const reader = sim.observed('lab-reader').length;
    const shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'A0000001', '2581');
    expect(await shown).toBe('granted');
    const entry = lastEntry();
    expect(entry).toMatchObject({ decision: 'granted', person_id: ids.sato });
    expect(JSON.parse(entry.detail as string)).toMatchObject({ duress: true });
    await waitFor(() => events(daemon, 'duress').length > before, 2000, 'duress alarm');
    // Silent: the reader never showed an alarm.
    expect(
      sim
        .observed('lab-reader')
        .slice(reader)
        .filter((o) => o.command.command === 'indicate' && o.command.pattern === 'alarm'),
    ).toEqual([]);
  });

  it('two-person rule: one person alone waits and is refused in time; two different holders open together, linked', async () => {
    const vaultLock = sim.observed('vault-lock').length;
    let shown = outcome('vault-reader');
    await cardAndPin(sim, 'vault', 'A0000001', '2580');
    expect(await shown).toBe('denied');
    expect(lastEntry()).toMatchObject({ reason: 'two-person-timeout', person_id: ids.sato });

    // Tanaka was locked out above; use Sato and a fresh holder.
    const suzuki = (await enrol(daemon, { name: '鈴木 一郎', card: 'A0000004', pin: '3690', areas: ['lab', 'vault'] })).personId;
    const unlocked = sim.expectCommand('vault-lock', (c) => c.command === 'unlock', 5000, 'vault unlock');
    shown = outcome('vault-reader');
    await cardAndPin(sim, 'vault', 'A0000001', '2580');
    await cardAndPin(sim, 'vault', 'A0000004', '3690');
    expect(await shown).toBe('granted');
    await unlocked;
    const [a, b] = entries(daemon).slice(-2);
    expect(a).toMatchObject({ decision: 'granted', door_id: 'vault-door', person_id: ids.sato, linked_seq: b!.seq, linked_person_id: suzuki });
    expect(b).toMatchObject({ decision: 'granted', door_id: 'vault-door', person_id: suzuki, linked_seq: a!.seq, linked_person_id: ids.sato });
    expect(
      sim
        .observed('vault-lock')
        .slice(vaultLock)
        .filter((o) => o.command.command === 'unlock'),
    ).toHaveLength(1);
  });

  it("an escorted visitor: alone refused in time; with an access holder of the area both enter, linked, with the visit's purpose", async () => {
    let shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'B0000001', '8642');
    expect(await shown).toBe('denied');
    expect(lastEntry()).toMatchObject({ reason: 'escort-timeout', person_id: ids.visitor });

    shown = outcome('lab-reader');
    await cardAndPin(sim, 'lab', 'B0000001', '8642');
    await cardAndPin(sim, 'lab', 'A0000001', '2580');
    expect(await shown).toBe('granted');
    const [visitorEntry, escortEntry] = entries(daemon)
      .slice(-2)
      .sort((x, y) => (x.person_id === ids.visitor ? -1 : y.person_id === ids.visitor ? 1 : 0));
    expect(visitorEntry).toMatchObject({
      decision: 'granted',
      person_name: 'Jane Auditor',
      affiliation: 'Example Certification Co.',
      purpose: '認証審査',
      linked_person_id: ids.sato,
    });
    expect(escortEntry).toMatchObject({ decision: 'granted', person_id: ids.sato, linked_person_id: ids.visitor, linked_seq: visitorEntry!.seq });
  });

  it('a door held open past its limit raises door-held-open and logs it', async () => {
    const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'unlock');
    await cardAndPin(sim, 'lab', 'A0000001', '2580');
    await unlocked;
    expect(await sim.door('lab-main').open()).toBe(true);
    await waitFor(() => events(daemon, 'door-held-open').find((e) => e.source === 'lab-main'), 4000, 'door-held-open');
    expect(
      entries(daemon)
        .filter((e) => e.kind === 'door' && e.reason === 'door-held-open')
        .at(-1),
    ).toMatchObject({ door_id: 'lab-main' });
    const relocked = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 3000, 'relock on close');
    await sim.door('lab-main').close();
    await relocked;
    await waitFor(() => events(daemon, 'door-held-open-cleared').length > 0, 2000, 'held-open cleared');
  });

  it("the fire panel releases the lab's fail-safe door at once and leaves the fail-secure vault locked; all logged", async () => {
    const vaultBefore = sim.observed('vault-lock').length;
    const released = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'emergency unlock');
    await sim.input('fire-panel', true);
    expect(await released).toMatchObject({ durationMs: 3_600_000 });
    await waitFor(() => events(daemon, 'area-emergency-release').find((e) => e.source === 'lab'), 2000, 'emergency event');
    const log = entries(daemon);
    expect(log.find((e) => e.kind === 'mode' && e.reason === 'mode-emergency' && e.area_id === 'lab')).toBeDefined();
    expect(log.find((e) => e.kind === 'door' && e.reason === 'emergency-release' && e.door_id === 'lab-main')).toBeDefined();
    // Opening the released door is not "forced".
    const forced = events(daemon, 'door-forced').length;
    await sim.door('lab-main').open();
    await sim.door('lab-main').close();
    expect(
      sim
        .observed('vault-lock')
        .slice(vaultBefore)
        .filter((o) => o.command.command === 'unlock'),
    ).toEqual([]);

    const relocked = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 3000, 'relock after the emergency');
    await sim.input('fire-panel', false);
    await relocked;
    expect(events(daemon, 'door-forced').length).toBe(forced);
    expect(entries(daemon).find((e) => e.kind === 'mode' && e.reason === 'mode-normal' && e.area_id === 'lab')).toBeDefined();
  });

  it('UPS contacts and tamper switches raise their alarms and their restorations', async () => {
    await sim.input('ups-mains', true);
    await sim.input('ups-mains', false);
    await sim.input('ups-battery', true);
    await sim.input('lab-reader', true, 'tamper');
    await waitFor(
      () => events(daemon, 'primary-power-restored').length > 0 && events(daemon, 'standby-power-trouble').length > 0 && events(daemon, 'tamper').length > 0,
      3000,
      'power and tamper events',
    );
    expect(events(daemon, 'primary-power-failed')).toHaveLength(1);
    expect(events(daemon, 'tamper')[0]).toMatchObject({ source: 'lab-reader', severity: 'alarm' });
  });

  it('SIGHUP reloads the site file: policy changes apply with configuration-entered/left; topology changes are refused', async () => {
    const raw = parse(readFileSync(daemon.siteFile, 'utf8'));
    raw.policy.pinAttempts = 5;
    writeFileSync(daemon.siteFile, stringify(raw));
    process.kill(daemon.pid, 'SIGHUP');
    const left = await waitFor(() => events(daemon, 'configuration-left')[0], 3000, 'configuration-left');
    expect(JSON.parse(left.detail as string)).toEqual({ applied: true, changed: ['policy'] });
    expect(events(daemon, 'configuration-entered')).toHaveLength(1);

    raw.doors[0].unlockMs = 7000;
    writeFileSync(daemon.siteFile, stringify(raw));
    process.kill(daemon.pid, 'SIGHUP');
    const rejected = await waitFor(() => events(daemon, 'configuration-rejected')[0], 3000, 'configuration-rejected');
    expect(JSON.parse(rejected.detail as string).reason).toMatch(/restart the controller/);

    writeFileSync(daemon.siteFile, 'site: [broken');
    process.kill(daemon.pid, 'SIGHUP');
    await waitFor(() => events(daemon, 'configuration-rejected').length === 2, 3000, 'second rejection');
    expect(JSON.parse(events(daemon, 'configuration-rejected')[1]!.detail as string).reason).toMatch(/invalid site file/);
    expect(daemon.proc.exitCode).toBeNull();
  });
});
