// Hardware-in-the-loop: camera evidence. The simulator's camera covers the lab's zone; three cover the lab door: the simulator's MQTT
// camera (answers with a real JPEG), a second MQTT camera that holds every command (never answers in
// time), and an HTTP camera served by this test that answers with a digest challenge and then hangs.
// An intrusion, a denial and a forced door take pictures; the stuck cameras raise camera-fault and never hold up
// the unlock that follows; the pictures are stored 0600 with their digest in the entry log, and
// `tobira log verify` catches a swapped one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Simulator, snapshotJpeg } from '../../firmware-sim/index.js';
import { CLI, entries, events, enrol, prepareData, startDaemon, type Daemon, type RawSite } from '../helpers/daemon.js';
import { waitFor } from '../helpers/ports.js';
import { cardAndPin } from '../helpers/flows.js';
import { parseDigestChallenge } from '../../src/devices/http-camera.js';

const REALM = 'ipcam';
const NONCE = 'abc123nonce';
const LOGIN = { username: 'viewer', password: 'camera-secret-1' };

/** An IP camera that asks for digest auth, then never sends the picture (the request hangs). */
function startStuckCamera(): Promise<{ server: Server; url: string; requests: IncomingMessage[]; hanging: ServerResponse[] }> {
  const requests: IncomingMessage[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    if (!req.headers.authorization) {
      res.writeHead(401, { 'www-authenticate': `Digest realm="${REALM}", nonce="${NONCE}", qop="auth", algorithm=MD5` }).end();
      return;
    }
    hanging.push(res); // answered 401 once; now it times out
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/snapshot.jpg`, requests, hanging })),
  );
}

function logVerify(dataDir: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [CLI, 'log', 'verify', '--data', dataDir], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('camera evidence', () => {
  let daemon: Daemon;
  let sim: Simulator;
  let ipcam: Awaited<ReturnType<typeof startStuckCamera>>;

  beforeAll(async () => {
    ipcam = await startStuckCamera();
    const edit = (raw: RawSite) => {
      raw.devices.find((d: { id: string }) => d.id === 'lab-camera').covers = { doors: ['lab-main'], zones: ['lab-night'] };
      // The lab is out of hours all the time, so its zone is armed from the start.
      raw.schedules.push({ id: 'never', weekly: [{ days: ['sun'], from: '00:00', to: '00:01' }] });
      raw.areas.find((a: { id: string }) => a.id === 'lab').schedule = 'never';
      raw.devices.push({ id: 'lab-doorcam', kind: 'camera', transport: 'mqtt', covers: { doors: ['lab-main'] } });
      raw.devices.push({
        id: 'lab-ipcam',
        kind: 'camera',
        transport: 'http',
        http: { url: ipcam.url, auth: 'digest', timeoutMs: 4000 },
        covers: { doors: ['lab-main'] },
      });
    };
    const prepared = prepareData({ edit });
    // The camera's login lives in the secrets file, never in the site file.
    const secretsFile = join(prepared.dataDir, 'secrets.json');
    const secrets = JSON.parse(readFileSync(secretsFile, 'utf8'));
    writeFileSync(secretsFile, JSON.stringify({ ...secrets, cameras: { 'lab-ipcam': LOGIN } }), { mode: 0o600 });
    daemon = await startDaemon({ broker: { kind: 'embedded' }, dataDir: prepared.dataDir, baseTopic: prepared.baseTopic, edit });
    await enrol(daemon, { name: 'Camera Tester', card: 'CA11E7A0', pin: '1357', areas: ['lab'], outOfHours: true });
    sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets });
    await waitFor(() => sim.lockState('lab-lock') === 'locked' && sim.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
    // Online, but every command it gets is handled far too late: it never answers in time.
    sim.delayCommands('lab-doorcam', 60_000);
  });

  afterAll(async () => {
    for (const res of ipcam?.hanging ?? []) res.destroy();
    ipcam?.server.close();
    await sim?.stop();
    await daemon?.stop();
  });

  it('an intrusion in the armed zone takes a picture from the camera covering the zone, linked to the alarm', async () => {
    await sim.input('lab-beam', true);
    await waitFor(() => events(daemon, 'intrusion').length === 1, 5000, 'intrusion');
    await sim.input('lab-beam', false);
    await waitFor(() => entries(daemon).some((e) => e.kind === 'evidence'), 5000, 'the intrusion evidence');
    const intrusion = events(daemon, 'intrusion')[0]!;
    const evidence = entries(daemon).filter((e) => e.kind === 'evidence');
    expect(evidence).toHaveLength(1);
    expect(evidence[0]).toMatchObject({ device_id: 'lab-camera', linked_seq: null, area_id: 'lab' });
    expect(JSON.parse(evidence[0]!.detail as string)).toMatchObject({ eventId: intrusion.id, alarm: 'intrusion', zoneId: 'lab-night' });
  });

  it('a denial at the covered door asks every camera; the stuck ones never delay the unlock that follows, and raise camera-fault', async () => {
    const asked = sim.expectCommand('lab-camera', (c) => c.command === 'snapshot', 5000, 'lab-camera asked for a picture');
    await sim.swipe('lab-reader', 'DEADBEEF');
    await asked;
    // The HTTP camera was challenged (401), answered with a valid digest, and now hangs.
    await waitFor(() => ipcam.hanging.length === 1, 5000, 'the HTTP camera to get the authenticated request');
    const auth = parseDigestChallenge(ipcam.requests[1]!.headers.authorization!)!;
    const h = (s: string) => createHash('md5').update(s).digest('hex');
    const ha1 = h(`${LOGIN.username}:${REALM}:${LOGIN.password}`);
    const ha2 = h(`GET:/snapshot.jpg`);
    expect(auth.response).toBe(h(`${ha1}:${NONCE}:${auth.nc}:${auth.cnonce}:auth:${ha2}`));
    expect(auth.username).toBe(LOGIN.username);

    // While both stuck cameras still hold their requests, a holder is let in at the same door.
    const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 5000, 'lab-lock unlock');
    await cardAndPin(sim, 'lab', 'CA11E7A0', '1357');
    await unlocked;
    expect(events(daemon, 'camera-fault')).toEqual([]);
    expect(entries(daemon).filter((e) => e.decision === 'granted')).toHaveLength(1);

    // Then each stuck camera is reported, once, by name.
    await waitFor(() => events(daemon, 'camera-fault').length === 2, 15_000, 'camera-fault from both stuck cameras');
    const faults = events(daemon, 'camera-fault');
    expect(faults.map((f) => f.source).sort()).toEqual(['lab-doorcam', 'lab-ipcam']);
    expect(faults.every((f) => f.severity === 'warning')).toBe(true);
    expect(String(faults.find((f) => f.source === 'lab-ipcam')!.detail)).toContain('HTTP timeout');
  }, 40_000);

  it('the picture is kept 0600 under snapshots/, its digest in an evidence record linked to the denial', async () => {
    const denial = entries(daemon).find((e) => e.decision === 'denied')!;
    await waitFor(() => entries(daemon).some((e) => e.kind === 'evidence' && e.linked_seq === denial.seq), 5000, 'the evidence record');
    const evidence = entries(daemon).filter((e) => e.kind === 'evidence' && e.linked_seq === denial.seq);
    expect(evidence).toHaveLength(1);
    expect(evidence[0]).toMatchObject({ linked_seq: denial.seq, device_id: 'lab-camera', door_id: 'lab-main', reason: 'snapshot' });
    const detail = JSON.parse(evidence[0]!.detail as string);
    const db = daemon.db();
    const row = db.prepare('SELECT * FROM snapshots WHERE entry_seq = ?').get(denial.seq) as Record<string, unknown>;
    db.close();
    expect(row).toMatchObject({ camera: 'lab-camera', entry_seq: denial.seq, evidence_seq: evidence[0]!.seq, sha256: detail.sha256, file: detail.file });
    const path = join(daemon.dataDir, 'snapshots', detail.file);
    const data = readFileSync(path);
    expect(data.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8])); // a real JPEG from the simulator
    expect(createHash('sha256').update(data).digest('hex')).toBe(detail.sha256);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(daemon.dataDir, 'snapshots')).mode & 0o777).toBe(0o700);
  });

  it('a forced door (an alarm) takes a picture linked to its event', async () => {
    const before = entries(daemon).filter((e) => e.kind === 'evidence').length;
    await waitFor(() => sim.lockState('lab-lock') === 'locked', 10_000, 'the lab door locked again');
    await sim.input('lab-contact', true);
    await waitFor(() => events(daemon, 'door-forced').length === 1, 5000, 'door-forced');
    await waitFor(() => entries(daemon).filter((e) => e.kind === 'evidence').length === before + 1, 5000, 'the alarm evidence');
    await sim.input('lab-contact', false);
    const forced = events(daemon, 'door-forced')[0]!;
    const db = daemon.db();
    const rows = db.prepare('SELECT * FROM snapshots WHERE event_id = ?').all(forced.id) as Record<string, unknown>[];
    db.close();
    expect(rows.map((r) => r.camera)).toEqual(['lab-camera']);
  });

  it('`tobira log verify` re-hashes the pictures and catches a swapped one', async () => {
    const ok = logVerify(daemon.dataDir);
    expect(ok.out).toMatch(/entry log OK: .*3 pictures match their digests/);
    expect(ok.status).toBe(0);
    const evidence = entries(daemon).filter((e) => e.kind === 'evidence');
    const { file } = JSON.parse(evidence[0]!.detail as string);
    // Another real picture, as someone with access to the data directory would swap in.
    writeFileSync(join(daemon.dataDir, 'snapshots', file), snapshotJpeg(99));
    const broken = logVerify(daemon.dataDir);
    expect(broken.status).toBe(1);
    expect(broken.out).toContain(`evidence BROKEN at record ${evidence[0]!.seq}`);
    expect(broken.out).toContain('swapped');
  });
});
