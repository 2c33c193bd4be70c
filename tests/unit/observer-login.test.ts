// The embedded broker's observer login (issue 9, finding 13): its client id is `{base}:observer:NAME`.
// With a bare `{base}:observer` prefix, the observer could connect as `{base}:observer-cam`, the
// client id of a device named `observer-cam`, and knock that device off the broker.
import mqtt from 'mqtt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type BrokerRefusal, type EmbeddedBroker } from '../../src/devices/broker.js';
import { deviceClientId, observerClientIdPrefix } from '../../src/devices/protocol.js';
import { ensureSecrets, type Secrets } from '../../src/devices/secrets.js';
import { ensureDeviceTls } from '../../src/devices/tls.js';
import { dataDirCa, seedDeviceTls } from '../helpers/daemon.js';
import { rawConnect } from '../helpers/mqtt.js';

const BASE = 'obs';

describe('the observer login on the embedded broker', () => {
  let broker: EmbeddedBroker;
  let secrets: Secrets;
  let ca: string;
  let url: string;
  const refused: BrokerRefusal[] = [];

  beforeAll(async () => {
    secrets = ensureSecrets(mkdtempSync(join(tmpdir(), 'tobira-obs-')), ['observer-cam']).secrets;
    const dataDir = mkdtempSync(join(tmpdir(), 'tobira-obs-tls-'));
    seedDeviceTls(dataDir);
    ca = dataDirCa(dataDir);
    broker = await startEmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      baseTopic: BASE,
      secrets,
      tls: ensureDeviceTls(dataDir),
      onRefused: (r) => refused.push(r),
    });
    url = `mqtts://127.0.0.1:${broker.port}`;
  });
  afterAll(() => broker?.close());

  const asObserver = (clientId: string) => rawConnect(url, { ca, clientId, username: secrets.observer!.username, password: secrets.observer!.password });

  it('the prefix ends in a separator', () => {
    expect(observerClientIdPrefix(BASE)).toBe(`${BASE}:observer:`);
  });

  it('cannot take the client id of a device named observer-cam, which stays connected', async () => {
    const cam = await mqtt.connectAsync(url, {
      ca,
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: deviceClientId(BASE, 'observer-cam'),
      username: 'observer-cam',
      password: secrets.devices['observer-cam'],
    });
    try {
      let kicked = false;
      cam.on('close', () => (kicked = true));
      const taking = await asObserver(deviceClientId(BASE, 'observer-cam'));
      await taking.client?.endAsync(true);
      expect(taking.client).toBeUndefined();
      expect(taking.error?.message).toMatch(/not authorized|Not authorized/i);
      expect(refused.at(-1)).toMatchObject({
        what: 'login',
        username: 'tobira-observer',
        reason: `observer must use a client id starting with ${BASE}:observer: and a name of its own`,
      });
      // The device's session is untouched: it still gets a round trip through the broker.
      await cam.publishAsync(`${BASE}/devices/observer-cam/status`, '{"online":true}', { qos: 1 });
      expect(kicked).toBe(false);
      expect(cam.connected).toBe(true);
    } finally {
      await cam.endAsync(true);
    }
  });

  it('connects with a client id under the prefix; the prefix alone names no one', async () => {
    const ok = await asObserver(`${observerClientIdPrefix(BASE)}offsite`);
    expect(ok.error).toBeUndefined();
    await ok.client?.endAsync(true);
    const bare = await asObserver(observerClientIdPrefix(BASE));
    await bare.client?.endAsync(true);
    expect(bare.client).toBeUndefined();
  });
});
