// Spoofing, against the real daemon and its embedded broker: clients without credentials or with
// someone else's, a device publishing on another device's topics (events, status, commands) or
// subscribing to another's commands, and a guard's token calling managers' and admins' endpoints.
// Each is one fault: it survives when it is refused (nothing decided, nothing unlocked, nothing
// leaked) and logged (a security event; for the API, the audit log too).
import type mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { CONTROLLER_USERNAME, controllerClientId, deviceClientId } from '../../src/devices/protocol.js';
import { openDatabase } from '../../src/store/db.js';
import {
  FaultTally,
  cardDoorsSite,
  createAccounts,
  enrolMany,
  launchDaemon,
  prepareSite,
  readEntries,
  readEvents,
  signIn,
  sleep,
  type ApiAccount,
  type DaemonProcess,
  type Holder,
} from '../helpers/faults.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { rawConnect } from '../helpers/mqtt.js';

const tally = new FaultTally('spoofing');

/** A QoS 1 publish the broker may refuse by closing the connection: 'acked' or 'refused'. */
function guardedPublish(client: mqtt.MqttClient, topic: string, payload: string): Promise<'acked' | 'refused'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('refused'), 2000);
    client.once('close', () => {
      clearTimeout(timer);
      resolve('refused');
    });
    client.publish(topic, payload, { qos: 1 }, (err) => {
      clearTimeout(timer);
      resolve(err ? 'refused' : 'acked');
    });
  });
}

function auditRows(dataDir: string, actor: string): Record<string, unknown>[] {
  const db = openDatabase(dataDir, { readonly: true });
  try {
    return db.prepare('SELECT * FROM audit_log WHERE actor = ? ORDER BY seq').all(actor) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

describe('spoofing: refused and logged', () => {
  let prepared: ReturnType<typeof prepareSite>;
  let daemon: DaemonProcess;
  let sim: Simulator;
  let holders: Holder[];
  let guard: ApiAccount;
  let guardToken: string;

  const secret = (id: string) => prepared.secrets.devices[id]!;
  const refusedEvents = (type: string) => readEvents(prepared.dataDir, type);
  const unlocks = (lock: string) => sim.observed(lock).filter((o) => o.command.command === 'unlock').length;

  beforeAll(async () => {
    prepared = prepareSite(cardDoorsSite({ doors: 2, contacts: true }));
    holders = enrolMany(prepared.dataDir, 2, { areas: ['store'] });
    [guard] = (await createAccounts(prepared.dataDir, prepared.site, [{ username: 'spoof-guard', role: 'guard' }])) as [ApiAccount];
    daemon = await launchDaemon({
      dataDir: prepared.dataDir,
      siteFile: prepared.siteFile,
      broker: { kind: 'embedded', port: await freePort() },
      apiPort: await freePort(),
      onCrash: (what) => tally.crash(what),
    });
    guardToken = await signIn(daemon.apiUrl, guard);
    // c2 is left out of the simulation: the raw clients below log in as it.
    sim = await Simulator.start({
      site: prepared.site,
      url: daemon.mqttUrl,
      ca: daemon.ca,
      secrets: prepared.secrets,
      only: prepared.site.devices.map((d) => d.id).filter((id) => id !== 'c2'),
    });
    await waitFor(() => sim.observed('l1').length > 0 && sim.observed('l2').length > 0, 5000, 'locks driven to rest');
  });

  afterAll(async () => {
    await sim?.stop();
    if (daemon && !daemon.exited) await daemon.stop();
    tally.write();
  });

  it("MQTT: logins without or with someone else's credentials are refused and logged", async () => {
    const base = prepared.baseTopic;
    const attempts: { label: string; opts: mqtt.IClientOptions; source: string | null }[] = [
      { label: 'no credentials', opts: { clientId: 'anon' }, source: null },
      {
        label: 'a device with a wrong secret',
        opts: { username: 'c2', password: 'not-the-secret-at-all-xxxxxx', clientId: deviceClientId(base, 'c2') },
        source: 'c2',
      },
      {
        label: 'a device the site does not have',
        opts: { username: 'ghost', password: 'x'.repeat(32), clientId: deviceClientId(base, 'ghost') },
        source: 'ghost',
      },
      {
        label: "a device's secret with another device's client id",
        opts: { username: 'c2', password: secret('c2'), clientId: deviceClientId(base, 'l1') },
        source: 'c2',
      },
      {
        label: "the controller's name with a wrong secret",
        opts: { username: CONTROLLER_USERNAME, password: 'guessed-password-123456', clientId: controllerClientId(base) },
        source: CONTROLLER_USERNAME,
      },
    ];
    for (const a of attempts) {
      await tally.fault(`login: ${a.label}`, async () => {
        const before = (await daemon.health()).counters.rejected;
        const eventsBefore = refusedEvents('mqtt-login-refused').length;
        const { client, error } = await rawConnect(daemon.mqttUrl, { ca: daemon.ca, ...a.opts });
        client?.end(true);
        expect(error, `${a.label} was let in`).toBeDefined();
        await waitFor(async () => (await daemon.health()).counters.rejected > before, 2000, 'the refusal counted');
        // Logged: a security event naming who tried (rate-limited per name, so each attempt here uses its own).
        const logged = await waitFor(
          () =>
            refusedEvents('mqtt-login-refused').slice(eventsBefore)[0] ??
            (a.source ? refusedEvents('mqtt-login-refused').find((e) => e.source === a.source) : undefined),
          2000,
          'mqtt-login-refused event',
        );
        expect(logged).toMatchObject({ category: 'security', severity: 'alarm' });
      });
    }
    // The controller itself was never disturbed.
    expect((await daemon.health()).broker.connected).toBe(true);
  });

  it("MQTT: a device publishing on another device's events, status or commands is refused and logged; nothing is decided or unlocked", async () => {
    const base = prepared.baseTopic;
    const spoofs: { label: string; topic: string; payload: string; check: () => void | Promise<void> }[] = [
      {
        label: 'a card read published as the reader',
        topic: `${base}/devices/r1/events`,
        payload: JSON.stringify({ type: 'credential', credential: { kind: 'card', value: holders[0]!.card }, boot: 9_000_000, seq: 1 }),
        check: () => undefined,
      },
      {
        label: 'the door contact published as closed',
        topic: `${base}/devices/c1/events`,
        payload: JSON.stringify({ type: 'input', input: 'contact', active: true, boot: 9_000_000, seq: 1 }),
        check: () => undefined,
      },
      {
        label: 'a lock declared offline',
        topic: `${base}/devices/l2/status`,
        payload: JSON.stringify({ online: false }),
        check: async () => expect((await daemon.health()).devices.offline).not.toContain('l2'),
      },
      {
        label: 'an unlock command sent to a lock',
        topic: `${base}/devices/l1/commands`,
        payload: JSON.stringify({ id: 'spoof-1', command: 'unlock', durationMs: 60_000 }),
        check: () => expect(sim.lockState('l1')).toBe('locked'),
      },
      {
        label: 'an event published as the controller',
        topic: `${base}/events/alarm`,
        payload: JSON.stringify({ type: 'all-clear' }),
        check: () => undefined,
      },
    ];
    for (const s of spoofs) {
      await tally.fault(`publish: ${s.label}`, async () => {
        const { client, error } = await rawConnect(daemon.mqttUrl, {
          ca: daemon.ca,
          username: 'c2',
          password: secret('c2'),
          clientId: deviceClientId(base, 'c2'),
        });
        expect(error).toBeUndefined();
        const entriesBefore = readEntries(prepared.dataDir).length;
        const unlocksBefore = unlocks('l1') + unlocks('l2');
        const counted = (await daemon.health()).counters.rejected;
        const result = await guardedPublish(client!, s.topic, s.payload);
        client!.end(true);
        // MQTT 3.1.1 has no negative PUBACK: the broker refuses by closing the connection.
        expect(result).toBe('refused');
        await waitFor(async () => (await daemon.health()).counters.rejected > counted, 2000, 'the refusal counted');
        // A genuine read afterwards is the sync point: once it is decided, the spoof would have been.
        const answered = sim.expectCommand('r2', (c) => c.command === 'indicate', 3000, 'r2 answered');
        await sim.swipe('r2', holders[1]!.card);
        await answered;
        const added = readEntries(prepared.dataDir).slice(entriesBefore);
        expect(added.map((e) => e.device_id)).toEqual(['r2']);
        await sleep(100);
        expect(unlocks('l1') + unlocks('l2')).toBe(unlocksBefore + 1); // only the genuine read's
        await s.check();
        // Logged, with who tried and where (one event per device per 10 s: the first is enough here,
        // the counter above counts every one).
        const logged = refusedEvents('mqtt-publish-refused');
        expect(logged.length).toBeGreaterThanOrEqual(1);
        expect(logged.some((e) => e.source === 'c2' && typeof e.detail === 'string' && e.detail.includes('topic not allowed'))).toBe(true);
        await sim.waitFor(() => sim.lockState('l2') === 'locked', 3000, 'l2 relocked');
      });
    }
  });

  it("MQTT: a device subscribing to another device's commands, or to everything, is refused, logged and sees nothing", async () => {
    const base = prepared.baseTopic;
    const { client, error } = await rawConnect(daemon.mqttUrl, { ca: daemon.ca, username: 'c2', password: secret('c2'), clientId: deviceClientId(base, 'c2') });
    expect(error).toBeUndefined();
    const leaked: string[] = [];
    client!.on('message', (topic) => leaked.push(topic));
    for (const topic of [`${base}/devices/l1/commands`, `${base}/devices/+/commands`, `${base}/#`, '#']) {
      await tally.fault(`subscribe: ${topic}`, async () => {
        const counted = (await daemon.health()).counters.rejected;
        const granted = await client!.subscribeAsync(topic, { qos: 1 }).then(
          (g) => g[0]?.qos,
          (err: Error) => (/subscribe error/i.test(err.message) ? 128 : -1),
        );
        expect(granted).toBe(128);
        await waitFor(async () => (await daemon.health()).counters.rejected > counted, 2000, 'the refusal counted');
        expect(refusedEvents('mqtt-subscribe-refused').some((e) => e.source === 'c2')).toBe(true);
      });
    }
    // A real unlock of l1 now: nothing of it reaches the spy.
    const unlocked = sim.expectCommand('l1', (c) => c.command === 'unlock', 3000, 'l1 unlock');
    await sim.swipe('r1', holders[0]!.card);
    await unlocked;
    await sleep(200);
    expect(leaked).toEqual([]);
    await client!.endAsync();
  });

  it("API: a guard's token calling managers' and admins' endpoints is refused (403) and logged", async () => {
    const calls: { method: string; path: string; body?: unknown }[] = [
      { method: 'POST', path: '/api/v1/grants', body: { personId: holders[0]!.personId, areaId: 'store', purpose: 'let me in' } },
      { method: 'POST', path: '/api/v1/grants/1/revoke', body: {} },
      { method: 'POST', path: '/api/v1/grants/1/approve' },
      { method: 'POST', path: '/api/v1/people', body: { name: 'Mallory', affiliation: 'Nowhere', title: 'x' } },
      { method: 'PUT', path: `/api/v1/people/${holders[0]!.personId}/pin`, body: { pin: '1234' } },
      { method: 'POST', path: `/api/v1/people/${holders[0]!.personId}/credentials`, body: { kind: 'card', value: 'EVIL0001' } },
      { method: 'POST', path: '/api/v1/accounts', body: { username: 'mallory', displayName: 'Mallory', role: 'admin' } },
      { method: 'POST', path: '/api/v1/visits', body: {} },
      { method: 'GET', path: '/api/v1/accounts' },
      { method: 'GET', path: '/api/v1/audit' },
    ];
    const before = auditRows(prepared.dataDir, guard.username).length;
    let mutating = 0;
    for (const c of calls) {
      await tally.fault(`API as a guard: ${c.method} ${c.path}`, async () => {
        const res = await fetch(`${daemon.apiUrl}${c.path}`, {
          method: c.method,
          headers: { authorization: `Bearer ${guardToken}`, ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: c.body !== undefined ? JSON.stringify(c.body) : undefined,
        });
        expect(res.status, `${c.method} ${c.path}: ${await res.clone().text()}`).toBe(403);
        if (c.method !== 'GET') {
          mutating++;
          // Every refused change is in the audit log, with who and what.
          // (written once the response has gone: wait for it)
          const rows = await waitFor(
            () => {
              const r = auditRows(prepared.dataDir, guard.username).slice(before);
              return r.length >= mutating ? r : undefined;
            },
            2000,
            'the audit record',
          );
          expect(rows.length).toBe(mutating);
          expect(rows.at(-1)).toMatchObject({ actor: guard.username, role: 'guard', outcome: 'denied' });
          expect(String(rows.at(-1)!.target)).toContain(c.path.split('?')[0]!);
        }
        // And raised as a security event (one per account per 10 s; later ones are folded into the next).
        await waitFor(() => readEvents(prepared.dataDir, 'api-denied').find((e) => e.source === guard.username), 2000, 'api-denied event');
      });
    }
    // Nothing the guard asked for happened.
    const db = openDatabase(prepared.dataDir, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM people WHERE name = 'Mallory'").get()).toEqual({ n: 0 });
      expect(db.prepare("SELECT count(*) AS n FROM accounts WHERE username = 'mallory'").get()).toEqual({ n: 0 });
      expect(db.prepare("SELECT count(*) AS n FROM credentials WHERE value = 'EVIL0001'").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    const verified = await fetch(`${daemon.apiUrl}/api/v1/auth/me`, { headers: { authorization: `Bearer ${guardToken}` } });
    expect(await verified.json()).toMatchObject({ username: guard.username, role: 'guard' });
  });

  it('counted every spoof it tried', () => {
    expect(daemon.exited).toBe(false);
    tally.assertAllSurvived();
    expect(tally.counts.crashes).toBe(0);
  });
});
