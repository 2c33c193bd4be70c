// Hardware-in-the-loop: Home Assistant's login on a real Mosquitto configured by `tobira mqtt-acl`
// (issue 11). The same rights as on the embedded broker: it reads the discovery configs and tobira's
// states for it, never an unlock command or a card read, and what it publishes reaches no one but
// its own birth message. Mosquitto drops a denied message silently, so each check sends a message
// that must arrive after the one that must not.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HomeAssistantTopics, homeAssistantClientIdPrefix } from '../../src/devices/homeassistant.js';
import { controllerClientId, deviceClientId, Topics } from '../../src/devices/protocol.js';
import { loadSecrets, type Secrets } from '../../src/devices/secrets.js';
import { dataDirCa, prepareData } from '../helpers/daemon.js';
import { mosquittoBinary, startAclMosquitto, type AclMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';

describe.skipIf(!mosquittoBinary())("Home Assistant's login on Mosquitto (tobira mqtt-acl)", () => {
  let broker: AclMosquitto;
  let secrets: Secrets;
  let ca: string;
  let topics: Topics;
  let ha: HomeAssistantTopics;
  const clients: mqtt.MqttClient[] = [];
  const connect = async (clientId: string, username: string, password: string) => {
    const c = await mqtt.connectAsync(broker.url, { ca, protocolVersion: 4, reconnectPeriod: 0, clientId, username, password });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const prepared = prepareData({ edit: (raw) => (raw.homeassistant = { enabled: true }) });
    broker = await startAclMosquitto(prepared);
    secrets = loadSecrets(prepared.dataDir);
    ca = dataDirCa(prepared.dataDir);
    topics = new Topics(prepared.baseTopic);
    ha = new HomeAssistantTopics(prepared.baseTopic, 'homeassistant', 'tobira');
  });
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true);
    await broker?.stop();
  });

  it('the ACL written by tobira mqtt-acl holds the login, read-only', () => {
    expect(broker.conf).toContain('acl_file');
    expect(secrets.homeassistant?.username).toBe('tobira-homeassistant');
  });

  it('reads discovery and states; never unlock commands or card reads; publishes nothing that reaches anyone', async () => {
    const base = topics.base;
    const controller = await connect(controllerClientId(base), secrets.controller.username, secrets.controller.password);
    const lock = await connect(deviceClientId(base, 'lab-lock'), 'lab-lock', secrets.devices['lab-lock']!);
    const hass = await connect(`${homeAssistantClientIdPrefix(base)}ha`, secrets.homeassistant!.username, secrets.homeassistant!.password);

    const seenByHa: string[] = [];
    hass.on('message', (t) => seenByHa.push(t));
    // Whatever Mosquitto answers to a denied filter, nothing may come through it.
    for (const f of ['homeassistant/#', `${ha.stateRoot}/#`, topics.controllerStatus, `${base}/devices/+/commands`, topics.allDeviceEvents, `${base}/#`, '#'])
      await hass.subscribeAsync(f, { qos: 1 }).catch(() => undefined);

    await controller.publishAsync(topics.device('lab-lock', 'commands'), '{"command":"unlock"}', { qos: 1 });
    await lock.publishAsync(topics.device('lab-reader', 'events'), '{}', { qos: 1 }).catch(() => undefined);
    await lock.publishAsync(topics.device('lab-lock', 'events'), '{"type":"input"}', { qos: 1 });
    await controller.publishAsync(ha.config('lock', 'lab-main_lock'), '{}', { qos: 1, retain: true });
    await controller.publishAsync(ha.lock('lab-main'), 'LOCKED', { qos: 1, retain: true });
    await waitFor(() => seenByHa.includes(ha.lock('lab-main')), 5000, 'the lock state at Home Assistant');
    expect(seenByHa).toContain(ha.config('lock', 'lab-main_lock'));
    expect(seenByHa.filter((t) => t.startsWith(`${base}/devices/`))).toEqual([]);

    // Its publishes: an unlock to the lock, a forged state, a forged discovery config. None arrives.
    const seenByLock: string[] = [];
    lock.on('message', (_t, p) => seenByLock.push(p.toString()));
    await lock.subscribeAsync(topics.device('lab-lock', 'commands'), { qos: 1 });
    await hass.publishAsync(topics.device('lab-lock', 'commands'), '{"command":"unlock","from":"ha"}', { qos: 1 }).catch(() => undefined);
    await hass.publishAsync(ha.refusedCommands('lab-main_lock'), 'UNLOCK', { qos: 1 }).catch(() => undefined);
    await hass.publishAsync(ha.lock('lab-main'), 'UNLOCKED', { qos: 1, retain: true }).catch(() => undefined);
    await hass.publishAsync(ha.config('lock', 'fake_lock'), '{}', { qos: 1, retain: true }).catch(() => undefined);
    await hass.publishAsync(ha.haStatus, 'online', { qos: 1 });
    await controller.publishAsync(topics.device('lab-lock', 'commands'), '{"command":"lock"}', { qos: 1 });
    await waitFor(() => seenByLock.includes('{"command":"lock"}'), 5000, "the controller's command at the lock");
    expect(seenByLock.some((p) => p.includes('"from":"ha"'))).toBe(false);

    const check = await connect(`${homeAssistantClientIdPrefix(base)}check`, secrets.homeassistant!.username, secrets.homeassistant!.password);
    const retained = new Map<string, string>();
    check.on('message', (t, p) => retained.set(t, p.toString()));
    await check.subscribeAsync([`${ha.stateRoot}/#`, 'homeassistant/+/tobira/#'], { qos: 1 });
    await waitFor(() => retained.get(ha.lock('lab-main')), 5000, 'the retained lock state');
    expect(retained.get(ha.lock('lab-main'))).toBe('LOCKED');
    expect(retained.has(ha.config('lock', 'fake_lock'))).toBe(false);
    expect(retained.has(ha.refusedCommands('lab-main_lock'))).toBe(false);
  });
});
