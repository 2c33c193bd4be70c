// Home Assistant's login on the embedded broker (issue 11): it reads the discovery configs, tobira's
// states for it and the controller's status, and nothing else. It cannot read unlock commands or
// card reads, and cannot publish anything but its own birth message.
import mqtt from 'mqtt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type BrokerRefusal, type EmbeddedBroker } from '../../src/devices/broker.js';
import { HomeAssistantTopics, homeAssistantClientIdPrefix } from '../../src/devices/homeassistant.js';
import { mosquittoAclFile } from '../../src/devices/mosquitto.js';
import { controllerClientId, deviceClientId, Topics } from '../../src/devices/protocol.js';
import { ensureSecrets, type Secrets } from '../../src/devices/secrets.js';
import { ensureDeviceTls } from '../../src/devices/tls.js';
import { dataDirCa, seedDeviceTls } from '../helpers/daemon.js';
import { rawConnect } from '../helpers/mqtt.js';

const BASE = 'hab';
const PREFIX = 'homeassistant';
const topics = new Topics(BASE);
const ha = new HomeAssistantTopics(BASE, PREFIX, 'tobira');

describe("Home Assistant's login on the embedded broker", () => {
  let broker: EmbeddedBroker;
  let secrets: Secrets;
  let ca: string;
  let dataDir: string;
  let url: string;
  let controller: mqtt.MqttClient;
  let reader: mqtt.MqttClient;
  const refused: BrokerRefusal[] = [];

  const start = (homeAssistant?: { discoveryPrefix: string }) =>
    startEmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      baseTopic: BASE,
      secrets,
      tls: ensureDeviceTls(dataDir),
      homeAssistant,
      onRefused: (r) => refused.push(r),
    });
  const asHomeAssistant = (clientId = `${homeAssistantClientIdPrefix(BASE)}ha`) =>
    rawConnect(url, { ca, clientId, username: secrets.homeassistant!.username, password: secrets.homeassistant!.password });

  beforeAll(async () => {
    secrets = ensureSecrets(mkdtempSync(join(tmpdir(), 'tobira-ha-')), ['lab-reader', 'lab-lock']).secrets;
    dataDir = mkdtempSync(join(tmpdir(), 'tobira-ha-tls-'));
    seedDeviceTls(dataDir);
    ca = dataDirCa(dataDir);
    broker = await start({ discoveryPrefix: PREFIX });
    url = `mqtts://127.0.0.1:${broker.port}`;
    controller = await mqtt.connectAsync(url, {
      ca,
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: controllerClientId(BASE),
      username: secrets.controller.username,
      password: secrets.controller.password,
    });
    const hub = await asHomeAssistant();
    reader = hub.client!;
  });
  afterAll(async () => {
    await reader?.endAsync(true);
    await controller?.endAsync(true);
    await broker?.close();
  });

  it('the secrets file holds the login', () => {
    expect(secrets.homeassistant).toMatchObject({ username: 'tobira-homeassistant', password: expect.stringMatching(/^.{16,}$/) });
  });

  it('reads the discovery configs, the states and the controller status the controller published', async () => {
    const got = new Map<string, string>();
    reader.on('message', (t, p) => got.set(t, p.toString()));
    const granted = await reader.subscribeAsync([`${PREFIX}/#`, `${ha.stateRoot}/#`, topics.controllerStatus], { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1]);
    await controller.publishAsync(ha.config('lock', 'lab-main_lock'), '{"state_topic":"hab/ha/lock/lab-main"}', { qos: 1, retain: true });
    await controller.publishAsync(ha.lock('lab-main'), 'LOCKED', { qos: 1, retain: true });
    await controller.publishAsync(topics.controllerStatus, '{"online":true}', { qos: 1, retain: true });
    await expect.poll(() => got.size).toBe(3);
    expect(got.get(ha.lock('lab-main'))).toBe('LOCKED');
  });

  it('cannot read unlock commands, card reads, device status, log checkpoints, or everything at once', async () => {
    const before = refused.length;
    const filters = [
      topics.device('lab-lock', 'commands'),
      `${BASE}/devices/+/commands`,
      topics.device('lab-reader', 'events'),
      topics.allDeviceEvents,
      topics.allDeviceStatus,
      topics.events('access'),
      topics.checkpoints,
      `${BASE}/#`,
      '#',
      `+/ha/#`,
    ];
    const answers: string[] = [];
    for (const f of filters)
      answers.push(
        await reader.subscribeAsync(f, { qos: 1 }).then(
          () => 'granted',
          (err: Error) => `refused: ${err.message}`,
        ),
      );
    expect(answers).toEqual(filters.map(() => expect.stringMatching(/^refused/)));
    expect(reader.connected).toBe(true);
    expect(refused.slice(before).map((r) => [r.what, r.topic])).toEqual(filters.map((f) => ['subscribe', f]));
    // And nothing leaks through the subscriptions it holds: an unlock command goes to the lock alone.
    const leaked: string[] = [];
    reader.on('message', (t) => leaked.push(t));
    await controller.publishAsync(topics.device('lab-lock', 'commands'), '{"type":"unlock"}', { qos: 1 });
    await controller.publishAsync(ha.lock('lab-main'), 'UNLOCKED', { qos: 1, retain: true });
    await expect.poll(() => leaked).toContain(ha.lock('lab-main'));
    expect(leaked).not.toContain(topics.device('lab-lock', 'commands'));
  });

  it('publishes nothing: a publish is refused and the connection closed', async () => {
    for (const topic of [
      ha.refusedCommands('lab-main_lock'), // the lock's command topic: no unlock from Home Assistant
      topics.device('lab-lock', 'commands'),
      topics.device('lab-reader', 'events'),
      ha.config('lock', 'fake_lock'),
      ha.lock('lab-main'),
      topics.controllerStatus,
    ]) {
      const conn = await asHomeAssistant(`${homeAssistantClientIdPrefix(BASE)}writer`);
      const client = conn.client!;
      const before = refused.length;
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.publish(topic, 'UNLOCK', { qos: 1 });
      await closed;
      await client.endAsync(true);
      expect(refused.slice(before)).toEqual([expect.objectContaining({ what: 'publish', username: 'tobira-homeassistant', topic })]);
    }
    // The retained state it tried to overwrite is still the controller's.
    const check = await asHomeAssistant(`${homeAssistantClientIdPrefix(BASE)}check`);
    const seen = new Promise<string>((resolve) => check.client!.on('message', (t, p) => t === ha.lock('lab-main') && resolve(p.toString())));
    await check.client!.subscribeAsync(ha.lock('lab-main'), { qos: 1 });
    expect(await seen).toBe('UNLOCKED');
    await check.client!.endAsync(true);
  });

  it('may announce itself on its own status topic (its MQTT integration does by default)', async () => {
    const before = refused.length;
    await reader.publishAsync(ha.haStatus, 'online', { qos: 1 });
    expect(reader.connected).toBe(true);
    expect(refused.slice(before)).toEqual([]);
  });

  it('needs a client id of its own under the prefix, and cannot take a device’s', async () => {
    for (const clientId of [homeAssistantClientIdPrefix(BASE), deviceClientId(BASE, 'lab-lock'), 'ha']) {
      const conn = await asHomeAssistant(clientId);
      await conn.client?.endAsync(true);
      expect(conn.client).toBeUndefined();
    }
    expect(refused.at(-1)).toMatchObject({
      what: 'login',
      reason: `Home Assistant must use a client id starting with ${BASE}:homeassistant: and a name of its own`,
    });
  });

  it('is refused while discovery is off in the site file', async () => {
    const off = await start();
    try {
      const conn = await rawConnect(`mqtts://127.0.0.1:${off.port}`, {
        ca,
        clientId: `${homeAssistantClientIdPrefix(BASE)}ha`,
        username: secrets.homeassistant!.username,
        password: secrets.homeassistant!.password,
      });
      await conn.client?.endAsync(true);
      expect(conn.client).toBeUndefined();
      expect(refused.at(-1)).toMatchObject({ what: 'login', reason: 'Home Assistant discovery is not enabled in the site file' });
    } finally {
      await off.close();
    }
  });

  it('tobira mqtt-acl gives it the same rights on Mosquitto', () => {
    const acl = mosquittoAclFile(BASE, 'tobira-controller', ['lab-lock'], 'tobira-observer', { username: 'tobira-homeassistant', discoveryPrefix: PREFIX });
    const block = acl.split('\n\n').find((b) => b.startsWith('user tobira-homeassistant'));
    expect(block?.split('\n')).toEqual([
      'user tobira-homeassistant',
      `topic read ${PREFIX}/#`,
      `topic read ${BASE}/ha/#`,
      `topic read ${BASE}/controller/status`,
      `topic write ${PREFIX}/status`,
    ]);
    expect(acl.split('\n\n')[1]).toContain(`topic write ${PREFIX}/#`);
    expect(mosquittoAclFile(BASE, 'tobira-controller', ['lab-lock'], 'tobira-observer')).not.toContain('homeassistant');
  });
});
