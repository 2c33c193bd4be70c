// The embedded broker under a backlog: a subscriber that stops reading holds deliveries in flight,
// and tens of thousands of messages nobody subscribes to pile up behind them. With aedes' default
// routing queue this crashed the process with "Maximum call stack size exceeded" once the
// subscriber read again (mqemitter hands queued unmatched messages on recursively).
import mqtt from 'mqtt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/devices/broker.js';
import { Topics, controllerClientId, deviceClientId } from '../../src/devices/protocol.js';
import { ensureSecrets } from '../../src/devices/secrets.js';
import { ensureDeviceTls } from '../../src/devices/tls.js';
import { dataDirCa, seedDeviceTls } from '../helpers/daemon.js';
import { waitFor } from '../helpers/ports.js';

const BASE = 'overload';

describe('embedded broker backlog', () => {
  let broker: EmbeddedBroker | undefined;
  const clients: mqtt.MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => undefined);
    await broker?.close();
  });

  it('routes a backlog of unsubscribed messages behind a stalled subscriber without overflowing the stack', async () => {
    const ids = Array.from({ length: 22 }, (_, i) => `reader-${i}`);
    const { secrets } = ensureSecrets(mkdtempSync(join(tmpdir(), 'tobira-broker-')), ids);
    const refused: unknown[] = [];
    const dataDir = mkdtempSync(join(tmpdir(), 'tobira-broker-tls-'));
    seedDeviceTls(dataDir);
    const ca = dataDirCa(dataDir);
    broker = await startEmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      baseTopic: BASE,
      secrets,
      tls: ensureDeviceTls(dataDir),
      onRefused: (r) => refused.push(r),
    });
    const url = `mqtts://127.0.0.1:${broker.port}`;
    const topics = new Topics(BASE);
    const uncaught: Error[] = [];
    const onUncaught = (err: Error) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const controller = await mqtt.connectAsync(url, {
        ca,
        protocolVersion: 4,
        clientId: controllerClientId(BASE),
        username: secrets.controller.username,
        password: secrets.controller.password,
        reconnectPeriod: 0,
      });
      clients.push(controller);
      let received = 0;
      controller.on('message', () => received++);
      // Events only: the devices' status messages below match no subscription.
      await controller.subscribeAsync(topics.allDeviceEvents, { qos: 0 });
      const devices = await Promise.all(
        ids.map(async (id) => {
          const c = await mqtt.connectAsync(url, {
            ca,
            protocolVersion: 4,
            clientId: deviceClientId(BASE, id),
            username: id,
            password: secrets.devices[id],
            reconnectPeriod: 0,
          });
          clients.push(c);
          return c;
        }),
      );
      const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const [flooder, stuck, ...others] = devices as [mqtt.MqttClient, mqtt.MqttClient, ...mqtt.MqttClient[]];

      // The controller stops reading; big events fill its socket until the broker waits for drain.
      (controller.stream as unknown as { pause(): void }).pause();
      const big = JSON.stringify({ pad: 'x'.repeat(8000) });
      const BIG = 3000;
      for (let i = 0; i < BIG; i++) flooder.publish(topics.device('reader-0', 'events'), big, { qos: 0 });
      await pause(800);
      // Small events in one read: delivered in parallel, each waiting, past the broker's routing limit.
      const SMALL = 300;
      for (let i = 0; i < SMALL; i++) stuck.publish(topics.device('reader-1', 'events'), '{"n":1}', { qos: 0 });
      await pause(300);
      // Then thousands of messages nobody subscribes to, from every other device.
      for (const [i, d] of others.entries()) {
        for (let j = 0; j < 1500; j++) d.publish(topics.device(`reader-${i + 2}`, 'status'), '{"online":true}', { qos: 0 });
      }
      await pause(1000);
      (controller.stream as unknown as { resume(): void }).resume();
      await waitFor(() => received === BIG + SMALL || uncaught.length > 0, 30_000, 'every event delivered after the stall');
      expect(uncaught.map((e) => e.message)).toEqual([]);

      // Still routing: a fresh message gets through.
      const after = new Promise<string>((resolve) => controller.once('message', (_t, p) => resolve(p.toString())));
      stuck.publish(topics.device('reader-1', 'events'), '{"fresh":true}', { qos: 0 });
      expect(await after).toBe('{"fresh":true}');
      expect(received).toBe(BIG + SMALL + 1);
      expect(refused).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  }, 60_000);
});
