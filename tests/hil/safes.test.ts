// The example's document safe through the controller itself (in-process, real broker and simulator):
// two holders come into the vault (card + PIN, two persons), then the dial switch, the key switch and
// the door contact report as the simulated safe's devices. Only both locks after a holder's entry is an
// authorised opening; one lock only, or nobody authenticated, is an alarm; so is movement at the approach out of hours.
// An HTTP camera served by this test covers the safe (`covers.safes`): a safe alarm takes its picture.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator, snapshotJpeg } from '../../firmware-sim/index.js';
import { Controller } from '../../src/controller/controller.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import type { EntryRecord } from '../../src/store/entry-log.js';
import type { StoredEvent } from '../../src/store/events.js';
import { enrol, prepareData, type RawSite } from '../helpers/daemon.js';
import { cardAndPin } from '../helpers/flows.js';
import { freePort, waitFor } from '../helpers/ports.js';

/** An IP camera without a login: each request gets a new JPEG; what it served is kept for the checks. */
function startSafeCamera(): Promise<{ server: Server; url: string; requests: IncomingMessage[]; served: Buffer[] }> {
  const requests: IncomingMessage[] = [];
  const served: Buffer[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    const jpeg = snapshotJpeg(served.length + 1);
    served.push(jpeg);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length }).end(jpeg);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/snapshot.jpg`, requests, served })),
  );
}

describe('the document safe', () => {
  let controller: Controller;
  let sim: Simulator;
  let camera: Awaited<ReturnType<typeof startSafeCamera>>;
  let dataDirOf = '';
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    camera = await startSafeCamera();
    const { dataDir, site } = prepareData({
      edit: (raw) => {
        // The vault never in business hours (grants here are out-of-hours ones), and a motion sensor at the safe's approach.
        raw.schedules = [{ id: 'weekdays', weekly: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '00:00', to: '00:00' }] }];
        raw.devices.push({ id: 'doc-safe-pir', kind: 'input', input: 'motion', transport: 'mqtt' });
        raw.safes[0].approach = 'doc-safe-pir';
        raw.devices.push({
          id: 'safe-cam',
          kind: 'camera',
          transport: 'http',
          http: { url: camera.url, auth: 'none', timeoutMs: 3000 },
          covers: { safes: ['doc-safe'] },
        });
      },
    });
    dataDirOf = dataDir;
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    // Holders of the safe: a grant for doc-safe besides the vault's.
    ids.sato = (await enrol({ dataDir }, { name: '佐藤 花子', card: 'A0000001', pin: '2580', areas: ['vault', 'doc-safe'], purpose: '契約書保管' })).personId;
    ids.tanaka = (await enrol({ dataDir }, { name: '田中 健', card: 'A0000002', pin: '1397', areas: ['vault', 'doc-safe'] })).personId;
    sim = await Simulator.start({ site, url: controller.brokerUrl, ca: readCa(dataDir), secrets: loadSecrets(dataDir) });
    await waitFor(() => controller.doors.state('vault-door')?.lock === 'locked', 5000, 'vault locked');
  });

  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
    camera?.server.close();
  });

  const events = (type: string): StoredEvent[] => controller.ctx.store.events.recent(100, type);
  const safeRecords = (): EntryRecord[] => controller.ctx.store.entryLog.recent(50, { doorId: 'doc-safe' });

  /** Both holders come into the vault: each granted entry counts as an authentication for the safe. */
  async function enterVault(): Promise<void> {
    await waitFor(() => controller.doors.state('vault-door')?.lock === 'locked', 8000, 'vault locked before the entry');
    const unlocked = sim.expectCommand('vault-lock', (c) => c.command === 'unlock', 5000, 'vault unlock');
    await cardAndPin(sim, 'vault', 'A0000001', '2580');
    await cardAndPin(sim, 'vault', 'A0000002', '1397');
    await unlocked;
    await waitFor(() => controller.safes.get('doc-safe')?.state === 'authenticated', 3000, 'safe authenticated');
  }

  async function openAndClose(locks: ('doc-safe-dial' | 'doc-safe-key')[]): Promise<void> {
    for (const lock of locks) await sim.input(lock, true);
    await waitFor(() => (controller.safes.get('doc-safe')?.locksOpen.length ?? 0) === locks.length, 3000, 'locks reported');
    await sim.input('doc-safe-contact', true);
    await waitFor(() => controller.safes.get('doc-safe')?.contactOpen === true, 3000, 'safe open');
    await sim.input('doc-safe-contact', false);
    for (const lock of locks) await sim.input(lock, false);
    await waitFor(() => controller.safes.get('doc-safe')?.state === 'closed' && controller.safes.get('doc-safe')?.locksOpen.length === 0, 3000, 'closed');
  }

  it('movement at the approach out of hours: safe-approach-out-of-hours', async () => {
    await sim.input('doc-safe-pir', true);
    await waitFor(() => events('safe-approach-out-of-hours').length === 1, 3000, 'approach alarm');
    expect(events('safe-approach-out-of-hours')[0]).toMatchObject({ source: 'doc-safe', severity: 'alarm', detail: { safeId: 'doc-safe', areaId: 'vault' } });
    await sim.input('doc-safe-pir', false);
  });

  it('starts closed', () => {
    expect(controller.safes.get('doc-safe')).toMatchObject({ state: 'closed', locks: ['dial', 'key'], contactOpen: false });
  });

  it('holders in the vault, dial and key open: an authorised opening in the entry log, then its closing', async () => {
    await enterVault();
    await openAndClose(['doc-safe-dial', 'doc-safe-key']);
    await waitFor(() => safeRecords().some((r) => r.reason === 'safe-closed'), 3000, 'closing logged');
    const [closed, opened] = safeRecords();
    expect(opened).toMatchObject({
      kind: 'door',
      reason: 'safe-opened',
      areaId: 'vault',
      deviceId: 'doc-safe-contact',
      detail: { safe: 'doc-safe', locks: ['dial', 'key'], source: 'door' },
    });
    // The last holder to authenticate opened it, with their affiliation and grant's purpose.
    expect(opened?.personId).toBe(ids.tanaka);
    expect(opened).toMatchObject({ personName: '田中 健', affiliation: 'R&D', purpose: 'project work' });
    expect(closed).toMatchObject({ reason: 'safe-closed', detail: { safe: 'doc-safe', authorised: true } });
    expect(events('safe-opened-unauthorised')).toEqual([]);
  });

  it('one lock only, even after the holders came in: safe-opened-unauthorised', async () => {
    await enterVault();
    await openAndClose(['doc-safe-dial']);
    await waitFor(() => events('safe-opened-unauthorised').length === 1, 3000, 'alarm');
    expect(events('safe-opened-unauthorised')[0]).toMatchObject({
      source: 'doc-safe',
      severity: 'alarm',
      detail: { safeId: 'doc-safe', areaId: 'vault', reason: 'locks-not-open', locksOpen: ['dial'], holder: ids.tanaka },
    });
    expect(safeRecords()[1]).toMatchObject({ reason: 'safe-opened-unauthorised', detail: { reason: 'locks-not-open' } });
  });

  it('the alarm takes a picture from the camera covering the safe, stored with its digest in the entry log', async () => {
    const alarm = events('safe-opened-unauthorised')[0]!;
    await waitFor(() => controller.ctx.store.snapshots.ofEvent(alarm.id).some((p) => p.evidenceSeq !== null), 5000, 'the picture of the alarm');
    const [picture] = controller.ctx.store.snapshots.ofEvent(alarm.id);
    expect(controller.ctx.store.snapshots.ofEvent(alarm.id)).toHaveLength(1);
    expect(picture).toMatchObject({ camera: 'safe-cam', contentType: 'image/jpeg', eventId: alarm.id });
    // The bytes on disk are one picture the camera served, and the digest is theirs.
    const bytes = readFileSync(join(dataDirOf, 'snapshots', picture!.file));
    expect(camera.served.some((jpeg) => jpeg.equals(bytes))).toBe(true);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(picture!.sha256).toBe(sha256);
    const evidence = controller.ctx.store.entryLog.recent(200).find((r) => r.seq === picture!.evidenceSeq);
    expect(evidence).toMatchObject({
      kind: 'evidence',
      reason: 'snapshot',
      deviceId: 'safe-cam',
      areaId: 'vault',
      detail: { eventId: alarm.id, alarm: 'safe-opened-unauthorised', sha256, file: picture!.file },
    });
  });

  it('both locks with no holder authenticated (the last entry was spent on an opening): safe-opened-unauthorised', async () => {
    expect(controller.safes.get('doc-safe')?.state).toBe('closed');
    await openAndClose(['doc-safe-dial', 'doc-safe-key']);
    await waitFor(() => events('safe-opened-unauthorised').length === 2, 3000, 'alarm');
    expect(events('safe-opened-unauthorised')[0]).toMatchObject({ detail: { reason: 'no-holder', locksOpen: ['dial', 'key'], holder: null } });
  });
});

/** The controller in-process with the simulator, on the example site as `edit` changes it; sato and tanaka hold doc-safe. */
async function startSafeSite(edit: (raw: RawSite) => void): Promise<{ controller: Controller; sim: Simulator; ids: Record<string, string> }> {
  const { dataDir, site } = prepareData({ edit });
  const controller = await Controller.start({
    site,
    dataDir,
    log: pino({ level: 'silent' }),
    broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
  });
  const ids = {
    sato: (await enrol({ dataDir }, { name: '佐藤 花子', card: 'A0000001', pin: '2580', areas: ['vault', 'doc-safe'], purpose: '契約書保管' })).personId,
    tanaka: (await enrol({ dataDir }, { name: '田中 健', card: 'A0000002', pin: '1397', areas: ['vault', 'doc-safe'] })).personId,
  };
  const sim = await Simulator.start({ site, url: controller.brokerUrl, ca: readCa(dataDir), secrets: loadSecrets(dataDir) });
  await waitFor(() => controller.doors.state('vault-door')?.lock === 'locked', 5000, 'vault locked');
  return { controller, sim, ids };
}

/** Sato then tanaka come into the vault (card + PIN, two persons): each granted entry authenticates them for the safe. */
async function enterVault(controller: Controller, sim: Simulator): Promise<void> {
  await waitFor(() => controller.doors.state('vault-door')?.lock === 'locked', 8000, 'vault locked before the entry');
  const unlocked = sim.expectCommand('vault-lock', (c) => c.command === 'unlock', 5000, 'vault unlock');
  await cardAndPin(sim, 'vault', 'A0000001', '2580');
  await cardAndPin(sim, 'vault', 'A0000002', '1397');
  await unlocked;
  await waitFor(() => controller.safes.get('doc-safe')?.state === 'authenticated', 3000, 'safe authenticated');
}

// The keypad lock: a PIN alone says nobody's name, so it opens only as the PIN of a holder who came in
// through the vault door within the window (latest first), checked as the doors check PINs.
describe('a safe with a keypad lock (keypad + key)', () => {
  let controller: Controller;
  let sim: Simulator;
  let ids: Record<string, string>;

  beforeAll(async () => {
    ({ controller, sim, ids } = await startSafeSite((raw) => {
      raw.devices.push({ id: 'doc-safe-keypad', kind: 'keypad', transport: 'mqtt' });
      raw.safes[0].locks = ['keypad', 'key'];
      raw.safes[0].keypad = 'doc-safe-keypad';
    }));
  });

  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
  });

  const events = (type: string): StoredEvent[] => controller.ctx.store.events.recent(100, type);
  const safeRecords = (): EntryRecord[] => controller.ctx.store.entryLog.recent(50, { doorId: 'doc-safe' });
  const safe = () => controller.safes.get('doc-safe');

  /** Types a PIN at the safe's keypad and waits for its answer (the keypad shows granted or denied). */
  async function typePin(pin: string, expect: 'granted' | 'denied'): Promise<void> {
    const shown = sim.expectCommand('doc-safe-keypad', (c) => c.command === 'indicate' && c.pattern === expect, 5000, `safe keypad shows ${expect}`);
    await sim.pin('doc-safe-keypad', pin);
    await shown;
  }

  async function keyAndDoor(): Promise<void> {
    await sim.input('doc-safe-key', true);
    await waitFor(() => safe()?.locksOpen.includes('key') === true, 3000, 'key reported');
    await sim.input('doc-safe-contact', true);
    await waitFor(() => safe()?.contactOpen === true, 3000, 'safe open');
    await sim.input('doc-safe-contact', false);
    await sim.input('doc-safe-key', false);
    await waitFor(() => safe()?.state === 'closed' && safe()?.locksOpen.length === 0, 3000, 'closed');
  }

  it('the PIN of a holder who came in (not the latest one), then the key: an authorised opening by that holder, at the keypad', async () => {
    await enterVault(controller, sim);
    expect(safe()?.locksOpen).toEqual([]);
    // Tanaka came in last and is tried first; the PIN is sato's.
    await typePin('2580', 'granted');
    expect(safe()?.locksOpen).toEqual(['keypad']);
    await keyAndDoor();
    await waitFor(() => safeRecords().some((r) => r.reason === 'safe-closed'), 3000, 'closing logged');
    const [closed, opened] = safeRecords();
    expect(opened).toMatchObject({ reason: 'safe-opened', personId: ids.sato, personName: '佐藤 花子', purpose: '契約書保管' });
    expect(opened?.detail).toMatchObject({ safe: 'doc-safe', locks: ['keypad', 'key'], source: 'keypad' });
    expect(closed).toMatchObject({ reason: 'safe-closed', detail: { authorised: true } });
    expect(events('safe-pin-refused')).toEqual([]);
    expect(events('safe-opened-unauthorised')).toEqual([]);
  });

  it('a wrong PIN opens nothing: safe-pin-refused, then the key and the door are an alarm (locks-not-open)', async () => {
    await enterVault(controller, sim);
    await typePin('0000', 'denied');
    expect(events('safe-pin-refused')[0]).toMatchObject({
      source: 'doc-safe',
      category: 'access',
      severity: 'warning',
      detail: { safeId: 'doc-safe', reason: 'wrong-pin', personId: ids.tanaka, lockedUntil: null },
    });
    expect(JSON.stringify(events('safe-pin-refused'))).not.toContain('0000');
    expect(safe()?.locksOpen).toEqual([]);
    await keyAndDoor();
    await waitFor(() => events('safe-opened-unauthorised').length === 1, 3000, 'alarm');
    expect(events('safe-opened-unauthorised')[0]).toMatchObject({
      detail: { safeId: 'doc-safe', reason: 'locks-not-open', locksOpen: ['key'], holder: ids.tanaka },
    });
    expect(safeRecords()[1]).toMatchObject({ reason: 'safe-opened-unauthorised', detail: { reason: 'locks-not-open' } });
  });

  it("a holder's right PIN with nobody authenticated for the safe opens nothing (no-holder)", async () => {
    expect(safe()?.state).toBe('closed');
    await typePin('2580', 'denied');
    expect(events('safe-pin-refused')[0]).toMatchObject({ detail: { reason: 'no-holder', personId: null } });
    expect(safe()?.locksOpen).toEqual([]);
  });

  it("wrong PINs at the safe count toward the latest holder's lockout, as at the doors; then even their right PIN opens nothing", async () => {
    await enterVault(controller, sim);
    const attempts = controller.ctx.site.policy.pinAttempts;
    for (let i = 0; i < attempts; i++) await typePin('0000', 'denied');
    await waitFor(() => events('pin-lockout').length === 1, 3000, 'lockout');
    expect(events('pin-lockout')[0]).toMatchObject({ source: 'doc-safe', detail: { personId: ids.tanaka, attempts, safe: 'doc-safe' } });
    expect(controller.ctx.store.people.standing(ids.tanaka!).lockedOutUntil).not.toBeNull();
    await typePin('1397', 'denied');
    expect(events('safe-pin-refused')[0]).toMatchObject({ detail: { reason: 'pin-locked-out', personId: ids.tanaka } });
    expect(safe()?.locksOpen).toEqual([]);
    // Sato is not locked out: her PIN still opens the keypad lock.
    await typePin('2580', 'granted');
    expect(safe()?.locksOpen).toEqual(['keypad']);
  });
});

// A safe left open: heldOpenMs at its schema minimum, so the alarm comes in a second.
describe('a safe left open', () => {
  let controller: Controller;
  let sim: Simulator;
  let ids: Record<string, string>;

  beforeAll(async () => {
    ({ controller, sim, ids } = await startSafeSite((raw) => {
      raw.safes[0].heldOpenMs = 1000;
    }));
  });

  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
  });

  const events = (type: string): StoredEvent[] => controller.ctx.store.events.recent(100, type);
  const safeRecords = (): EntryRecord[] => controller.ctx.store.entryLog.recent(50, { doorId: 'doc-safe' });

  it('opened authorised and left open past heldOpenMs: safe-held-open once; closing is logged', async () => {
    await enterVault(controller, sim);
    await sim.input('doc-safe-dial', true);
    await sim.input('doc-safe-key', true);
    await waitFor(() => controller.safes.get('doc-safe')?.locksOpen.length === 2, 3000, 'locks reported');
    await sim.input('doc-safe-contact', true);
    await waitFor(() => safeRecords()[0]?.reason === 'safe-opened', 3000, 'opening logged');
    expect(safeRecords()[0]).toMatchObject({ personId: ids.tanaka });
    await waitFor(() => controller.safes.get('doc-safe')?.state === 'held-open', 5000, 'held open');
    const held = events('safe-held-open');
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ source: 'doc-safe', severity: 'alarm', detail: { safeId: 'doc-safe', areaId: 'vault', heldOpenMs: 1000 } });
    // Still open: nothing more is raised for the same opening.
    await new Promise((r) => setTimeout(r, 1500));
    expect(events('safe-held-open')).toHaveLength(1);
    await sim.input('doc-safe-contact', false);
    await waitFor(() => safeRecords()[0]?.reason === 'safe-closed', 3000, 'closing logged');
    expect(safeRecords()[0]).toMatchObject({ reason: 'safe-closed', detail: { safe: 'doc-safe', authorised: true } });
    expect(controller.safes.get('doc-safe')?.state).toBe('closed');
    expect(events('safe-opened-unauthorised')).toEqual([]);
  });
});
