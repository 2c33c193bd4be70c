// Device links over TLS (issue 9): the embedded broker and a Mosquitto configured by `tobira mqtt-acl`
// serve MQTT over TLS with the data directory's CA; a device that does not trust it is refused; the
// read-only observer reads the log checkpoints and nothing else; plain MQTT only when asked; an open
// external broker is refused at start (exit 2) unless the site allows it, and found open after a
// reconnect it raises a security alarm and stops device input from opening doors; after every reconnect,
// and while a probe cannot be finished, that input waits until a probe finds the broker closed.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { deviceClientId, observerClientIdPrefix, Topics } from '../../src/devices/protocol.js';
import { CLI, events, prepareData, type RawSite, spawnStart, startDaemon, type Daemon } from '../helpers/daemon.js';
import { allowOpenBroker, ownMosquitto } from '../helpers/faults.js';
import { mosquittoBinary, startAclMosquitto, type AclMosquitto } from '../helpers/mosquitto.js';
import { rawConnect } from '../helpers/mqtt.js';
import { freePort, waitFor } from '../helpers/ports.js';

const hasMosquitto = mosquittoBinary() !== undefined;
if (!hasMosquitto) {
  if (process.env.CI === 'true') throw new Error('mosquitto is not installed: the Mosquitto TLS tests cannot run (CI=true: this is a failure)');
  console.warn('\n!!! mosquitto is not installed: SKIPPING the Mosquitto TLS and open-broker tests\n');
}

/** `tobira start` that is expected to refuse: resolves with its exit code and output. */
async function startRefused(o: {
  siteFile: string;
  dataDir: string;
  broker: { port: number } | { url: string };
}): Promise<{ code: number | null; output: string }> {
  const { proc, output } = spawnStart({ ...o, apiPort: await freePort(), logLevel: 'info' });
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  return { code, output: output() };
}

/**
 * How many messages a client subscribed to `topic` with `login` receives while the controller talks:
 * a lab lock comes online, and the daemon publishes a lock command to it and a device event.
 */
async function received(daemon: Daemon, login: mqtt.IClientOptions, topic: string): Promise<number> {
  const reader = await mqtt.connectAsync(daemon.mqttUrl, { ca: daemon.ca, protocolVersion: 4, reconnectPeriod: 0, ...login });
  try {
    let got = 0;
    // The retained checkpoint is the one thing the observer may read.
    reader.on('message', (t) => (got += t.endsWith('/log/checkpoints') ? 0 : 1));
    // aedes refuses the SUBACK (mqtt.js rejects); Mosquitto grants it and filters delivery.
    await reader.subscribeAsync(topic, { qos: 1 }).catch(() => undefined);
    const sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets, only: ['lab-lock'] });
    try {
      await sim.waitFor(() => sim.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      await sim.stop();
    }
    return got;
  } finally {
    await reader.endAsync(true);
  }
}

const setups = [
  { name: 'the embedded broker', mosquitto: false, run: true },
  { name: 'a Mosquitto configured by `tobira mqtt-acl`', mosquitto: true, run: hasMosquitto },
];

for (const setup of setups) {
  describe.skipIf(!setup.run)(`TLS device links on ${setup.name}`, () => {
    let daemon: Daemon;
    let broker: AclMosquitto | undefined;

    beforeAll(async () => {
      // A checkpoint after every record: the observer has one to read as soon as a card is read.
      const edit = (raw: RawSite) => (raw.log = { ...(raw.log ?? {}), checkpointEveryRecords: 1 });
      const prepared = prepareData({ edit });
      if (setup.mosquitto) broker = await startAclMosquitto(prepared);
      daemon = await startDaemon({
        broker: broker ? { kind: 'external', url: broker.url } : { kind: 'embedded' },
        dataDir: prepared.dataDir,
        baseTopic: prepared.baseTopic,
        edit,
      });
    });

    afterAll(async () => {
      await daemon?.stop();
      await broker?.stop();
    });

    it('serves mqtts; a device that trusts the CA works, one that does not is refused in the TLS handshake', async () => {
      expect(daemon.mqttUrl).toMatch(/^mqtts:\/\//);
      const untrusting = Simulator.start({ site: daemon.site, url: daemon.mqttUrl, secrets: daemon.secrets, only: ['lab-reader'], startTimeoutMs: 2000 });
      await expect(untrusting).rejects.toThrow(/lab-reader: .*(self-signed|unable to verify|certificate)/);

      const sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets, only: ['lab-reader', 'lab-lock'] });
      try {
        // An unknown card at the lab reader: decided (an indication comes back), so the link carries traffic.
        const shown = sim.expectCommand('lab-reader', (c) => c.command === 'indicate', 3000, 'an indication');
        await sim.swipe('lab-reader', 'DEAD0001');
        await shown;
      } finally {
        await sim.stop();
      }
      // A plain (not TLS) client on the TLS port gets nowhere.
      const plain = await rawConnect(daemon.mqttUrl.replace('mqtts:', 'mqtt:'), {
        username: 'lab-reader',
        password: daemon.secrets.devices['lab-reader'],
        clientId: deviceClientId(daemon.baseTopic, 'lab-reader'),
        connectTimeout: 1500,
      });
      expect(plain.client).toBeUndefined();
    });

    it('the observer login reads the retained log checkpoint and nothing else', async () => {
      const observer = daemon.secrets.observer!;
      const topics = new Topics(daemon.baseTopic);
      const login = { username: observer.username, password: observer.password, clientId: `${observerClientIdPrefix(daemon.baseTopic)}offsite` };
      // The card read above made a record, and with it a checkpoint, published retained.
      await waitFor(() => events(daemon).length > 0, 5000, 'the daemon to have recorded something');
      const client = await mqtt.connectAsync(daemon.mqttUrl, { ca: daemon.ca, protocolVersion: 4, reconnectPeriod: 0, ...login });
      try {
        const retained = new Promise<{ body: Record<string, unknown>; retain: boolean }>((resolve) =>
          client.on('message', (_t, payload, packet) => resolve({ body: JSON.parse(payload.toString()) as Record<string, unknown>, retain: packet.retain })),
        );
        await client.subscribeAsync(topics.checkpoints, { qos: 1 });
        const got = await retained;
        expect(got.retain).toBe(true);
        expect(got.body).toMatchObject({ publicKey: expect.stringMatching(/BEGIN PUBLIC KEY/) });
        // It may not publish (not even over the checkpoint).
        // (aedes drops the connection over it, with no PUBACK; Mosquitto acknowledges and discards it.)
        await Promise.race([
          client.publishAsync(topics.checkpoints, '{"forged":true}', { qos: 1, retain: true }).catch(() => undefined),
          new Promise((r) => setTimeout(r, 1000)),
        ]);
      } finally {
        await client.endAsync(true);
      }
      // The retained checkpoint is still the daemon's.
      const again = await mqtt.connectAsync(daemon.mqttUrl, {
        ca: daemon.ca,
        protocolVersion: 4,
        reconnectPeriod: 0,
        ...login,
        clientId: `${login.clientId}-2`,
      });
      try {
        const body = new Promise<string>((resolve) => again.on('message', (_t, p) => resolve(p.toString())));
        await again.subscribeAsync(topics.checkpoints, { qos: 1 });
        expect(await body).not.toContain('forged');
      } finally {
        await again.endAsync(true);
      }
      // What the same check sees with the controller's rights (on Mosquitto; aedes ties the controller
      // login to the daemon's own client id): the check can fail.
      if (setup.mosquitto) {
        expect(
          await received(
            daemon,
            {
              username: daemon.secrets.controller.username,
              password: daemon.secrets.controller.password,
              clientId: `${daemon.baseTopic}:test-auditor`,
            },
            topics.device('lab-lock', 'commands'),
          ),
        ).toBeGreaterThan(0);
      }
      // Mosquitto grants the SUBACK and filters delivery; aedes refuses the SUBACK: either way nothing arrives.
      expect(await received(daemon, { ...login, clientId: `${login.clientId}-3` }, topics.device('lab-lock', 'commands'))).toBe(0);
      expect(await received(daemon, { ...login, clientId: `${login.clientId}-4` }, `${daemon.baseTopic}/#`)).toBe(0);
    });
  });
}

describe('the embedded broker: certificates, plain MQTT only when asked', () => {
  it("`tobira devices --ca` prints the data directory's CA (PEM), whose key is 0600; --secrets shows the observer", () => {
    const prepared = prepareData();
    const out = spawnSync(process.execPath, [CLI, 'devices', '--ca', '--site', prepared.siteFile, '--data', prepared.dataDir], { encoding: 'utf8' });
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    expect(out.stdout).toBe(readFileSync(join(prepared.dataDir, 'mqtt-ca.pem'), 'utf8'));
    const secrets = spawnSync(process.execPath, [CLI, 'devices', '--secrets', '--site', prepared.siteFile, '--data', prepared.dataDir], { encoding: 'utf8' });
    expect(secrets.stdout).toMatch(/username=tobira-observer password=\S{16,}/);
    expect(secrets.stdout).toContain(`/log/checkpoints and nothing else`);
    // The observer's client id has a separator after "observer": it cannot be a device's `{base}:observer-cam`.
    expect(secrets.stdout).toContain(`clientId=${prepared.baseTopic}:observer:NAME (e.g. ${prepared.baseTopic}:observer:offsite)`);
  });

  it('makes the CA and server certificate at first start, private keys mode 0600', async () => {
    const fresh = prepareData();
    // prepareData copies a ready-made set; the daemon makes its own without one.
    for (const f of ['mqtt-ca.pem', 'mqtt-ca.key', 'mqtt-server.pem', 'mqtt-server.key']) rmSync(join(fresh.dataDir, f));
    const daemon = await startDaemon({ broker: { kind: 'embedded' }, dataDir: fresh.dataDir, baseTopic: fresh.baseTopic });
    try {
      expect(statSync(join(fresh.dataDir, 'mqtt-ca.key')).mode & 0o777).toBe(0o600);
      expect(statSync(join(fresh.dataDir, 'mqtt-server.key')).mode & 0o777).toBe(0o600);
      const sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets, only: ['lab-reader'] });
      await sim.stop();
      expect((await daemon.health()).security).toEqual([]);
    } finally {
      await daemon.stop();
    }
  });

  it('serves plain MQTT only with --mqtt-plain-port, with a startup warning and a standing security alarm', async () => {
    const plainPort = await freePort();
    const daemon = await startDaemon({ broker: { kind: 'embedded' }, extraArgs: ['--mqtt-plain-port', String(plainPort)] });
    try {
      expect(daemon.output()).toMatch(/"level":40[^\n]*plain MQTT is served as asked/);
      const health = await daemon.health();
      expect(health.security).toEqual([expect.objectContaining({ type: 'mqtt-plain-listener', detail: { url: `mqtt://127.0.0.1:${plainPort}` } })]);
      expect(events(daemon, 'mqtt-plain-listener')).toEqual([expect.objectContaining({ category: 'security', severity: 'alarm' })]);
      const plain = await rawConnect(`mqtt://127.0.0.1:${plainPort}`, {
        username: 'lab-reader',
        password: daemon.secrets.devices['lab-reader'],
        clientId: deviceClientId(daemon.baseTopic, 'lab-reader'),
      });
      expect(plain.error).toBeUndefined();
      await plain.client?.endAsync();
    } finally {
      await daemon.stop();
    }
  });

  it('a busy broker port: exit 2, and the hint no longer suggests an open broker', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    try {
      const prepared = prepareData();
      const r = await startRefused({ siteFile: prepared.siteFile, dataDir: prepared.dataDir, broker: { port: (busy.address() as { port: number }).port } });
      expect(r.code).toBe(2);
      expect(r.output).toMatch(/already in use/);
      expect(r.output).toMatch(/--mqtt-port N/);
      expect(r.output).toMatch(/tobira mqtt-acl/);
      expect(r.output).not.toMatch(/--mqtt-url mqtt:\/\//);
    } finally {
      busy.close();
    }
  });
});

describe.skipIf(!hasMosquitto)('an open external broker', () => {
  it('an anonymous Mosquitto: the daemon refuses to start (exit 2) and says how to fix it', async () => {
    const broker = await ownMosquitto();
    try {
      const prepared = prepareData();
      const r = await startRefused({ siteFile: prepared.siteFile, dataDir: prepared.dataDir, broker: { url: broker.url } });
      expect(r.code).toBe(2);
      expect(r.output).toMatch(/is open: an anonymous client \(no username\) can connect/);
      expect(r.output).toMatch(/tobira mqtt-acl/);
      expect(r.output).toMatch(/allowOpenBroker/);
    } finally {
      await broker.stop();
    }
  });

  it('the same broker with mqtt.allowOpenBroker: starts, with a standing security alarm', async () => {
    const broker = await ownMosquitto();
    let daemon: Daemon | undefined;
    try {
      daemon = await startDaemon({ broker: { kind: 'external', url: broker.url }, edit: (raw) => allowOpenBroker(raw) });
      const health = await daemon.health();
      expect(health.security).toEqual([expect.objectContaining({ type: 'open-broker', detail: expect.objectContaining({ allowed: true }) })]);
      expect(events(daemon, 'open-broker')).toEqual([expect.objectContaining({ category: 'security', severity: 'alarm' })]);
      expect(daemon.output()).toMatch(/the MQTT broker is open; allowed by the site file/);
    } finally {
      await daemon?.stop();
      await broker.stop();
    }
  });

  it("a device login that can read another device's commands (SUBACK granted, delivery is what tells): exit 2", async () => {
    const prepared = prepareData();
    // An installer's "simplification": every login may read every command topic.
    const broker = await startAclMosquitto({
      ...prepared,
      edit: (lines, dir) => {
        appendFileSync(join(dir, 'acl'), `\npattern read ${prepared.baseTopic}/devices/+/commands\n`);
        return lines;
      },
    });
    try {
      const r = await startRefused({ siteFile: prepared.siteFile, dataDir: prepared.dataDir, broker: { url: broker.url } });
      expect(r.code).toBe(2);
      expect(r.output).toMatch(/receives commands meant for another device/);
      expect(r.output).not.toMatch(/anonymous client/);
    } finally {
      await broker.stop();
    }
  });

  it('a probe that cannot finish (its device login refused): device input that opens doors is refused, not acted on, until a probe finds the broker closed', async () => {
    const prepared = prepareData();
    // The probe reads with the site's first MQTT device's login (lab-reader): Mosquitto does not know it.
    let passwd = '';
    const broker = await startAclMosquitto({
      ...prepared,
      edit: (lines, dir) => {
        passwd = readFileSync(join(dir, 'passwd'), 'utf8');
        writeFileSync(
          join(dir, 'passwd'),
          passwd
            .split('\n')
            .filter((l) => !l.startsWith('lab-reader:'))
            .join('\n'),
        );
        return lines;
      },
    });
    let daemon: Daemon | undefined;
    let sim: Simulator | undefined;
    try {
      // It starts (an unfinished probe is no verdict), refusing that input meanwhile.
      daemon = await startDaemon({ broker: { kind: 'external', url: broker.url }, dataDir: prepared.dataDir, baseTopic: prepared.baseTopic });
      expect(daemon.output()).toMatch(/could not finish the open-broker probe: device input that opens doors is refused/);
      const health = await daemon.health();
      expect(health.broker).toMatchObject({ connected: true, deviceInput: 'refused-until-probed' });
      expect(health.ok).toBe(false);
      expect(health.security).toEqual([]);
      expect(events(daemon, 'open-broker')).toEqual([]);
      sim = await Simulator.start({
        site: daemon.site,
        url: daemon.mqttUrl,
        ca: daemon.ca,
        secrets: daemon.secrets,
        only: ['lab-exit-reader', 'lab-lock', 'fire-panel'],
      });
      await waitFor(() => sim!.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
      // A card read during the window is refused (recorded as rejected), not decided.
      const before = (await daemon.health()).counters.rejected;
      const shown = sim.expectCommand('lab-exit-reader', (c) => c.command === 'indicate', 1500, 'an indication');
      await sim.swipe('lab-exit-reader', 'DEAD0004');
      await expect(shown).rejects.toThrow();
      expect((await daemon.health()).counters.rejected).toBeGreaterThanOrEqual(before + 1);
      // Life safety acts throughout.
      const released = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'the emergency release');
      await sim.input('fire-panel', true);
      await released;
      const relocked = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 3000, 'the relock');
      await sim.input('fire-panel', false);
      await relocked;
      // The probe is retried, and says why.
      await waitFor(
        () => /could not finish the open-broker probe: device input that opens doors stays refused; retrying/.test(daemon!.output()),
        10_000,
        'a retried probe',
      );

      // The installer fixes the password file and restarts Mosquitto: the probe of the new connection finds it closed.
      await broker.stop();
      writeFileSync(join(broker.dir, 'passwd'), passwd);
      await broker.restart();
      await waitFor(async () => (await daemon!.health()).broker.deviceInput === 'acted-on', 15_000, 'device input acted on again');
      expect(daemon.output()).toMatch(/the open-broker probe found the MQTT broker closed: device input is acted on/);
      await waitFor(() => sim!.isOnline('lab-exit-reader'), 10_000, 'the reader back online');
      const again = sim.expectCommand('lab-exit-reader', (c) => c.command === 'indicate', 3000, 'an indication');
      await sim.swipe('lab-exit-reader', 'DEAD0005');
      await again;
    } finally {
      await sim?.stop();
      await daemon?.stop();
      await broker.stop();
    }
  });

  it('found open at a reconnect: a security alarm, and card reads no longer act; closed again, they do', async () => {
    const prepared = prepareData();
    const broker = await startAclMosquitto(prepared);
    const daemon = await startDaemon({ broker: { kind: 'external', url: broker.url }, dataDir: prepared.dataDir, baseTopic: prepared.baseTopic });
    const conf = join(broker.dir, 'mosquitto.conf');
    const closedConf = readFileSync(conf, 'utf8');
    let sim: Simulator | undefined;
    try {
      expect((await daemon.health()).security).toEqual([]);
      sim = await Simulator.start({
        site: daemon.site,
        url: daemon.mqttUrl,
        ca: daemon.ca,
        secrets: daemon.secrets,
        only: ['lab-reader', 'lab-lock', 'lab-rex', 'fire-panel'],
      });
      await waitFor(() => sim!.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
      // The broker comes back from a restart with anonymous access on.
      await broker.stop();
      writeFileSync(conf, closedConf.replace('allow_anonymous false', 'allow_anonymous true'));
      await broker.restart();
      await waitFor(async () => (await daemon.health()).security.some((s) => s.type === 'open-broker'), 15_000, 'the open-broker alarm');
      const open = (await daemon.health()).security.find((s) => s.type === 'open-broker')!;
      expect(open.detail).toMatchObject({ allowed: false, refusingDeviceInput: true });
      expect(events(daemon, 'open-broker')).toHaveLength(1);
      await waitFor(() => ['lab-reader', 'lab-lock', 'lab-rex', 'fire-panel'].every((d) => sim!.isOnline(d)), 10_000, 'the devices back online');
      expect((await daemon.health()).ok).toBe(false);
      // A card read and an exit-button press (anyone could have forged them) are refused, not acted on.
      const before = (await daemon.health()).counters.rejected;
      const shown = sim.expectCommand('lab-reader', (c) => c.command === 'indicate', 1500, 'an indication');
      const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 1500, 'an unlock');
      await sim.swipe('lab-reader', 'DEAD0002');
      await sim.pressRex('lab-rex');
      await expect(shown).rejects.toThrow();
      await expect(unlocked).rejects.toThrow();
      expect((await daemon.health()).counters.rejected).toBeGreaterThanOrEqual(before + 2);
      // Life safety still acts: the fire panel releases the lab's fail-safe door, and its end relocks it.
      const released = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'the emergency release');
      await sim.input('fire-panel', true);
      await released;
      const relocked = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 3000, 'the relock');
      await sim.input('fire-panel', false);
      await relocked;

      // Closed again (and restarted): the next probe clears the condition, reads are decided again.
      await broker.stop();
      writeFileSync(conf, closedConf);
      await broker.restart();
      await waitFor(async () => (await daemon.health()).security.length === 0, 15_000, 'the open-broker condition to clear');
      expect(events(daemon, 'open-broker-cleared')).toHaveLength(1);
      await waitFor(() => sim!.isOnline('lab-reader') && sim!.isOnline('lab-lock'), 10_000, 'the devices back online');
      expect((await daemon.health()).ok).toBe(true);
      const again = sim.expectCommand('lab-reader', (c) => c.command === 'indicate', 3000, 'an indication');
      await sim.swipe('lab-reader', 'DEAD0003');
      await again;
    } finally {
      await sim?.stop();
      await daemon.stop();
      await broker.stop();
    }
  });
});
