// An alarm's lifecycle goes out on MQTT {base}/events/alarm (issue 11, "alarms that leave the box"):
// the in-process controller on a Mosquitto of the test's own (open, so a plain subscriber can read
// what a monitoring tool would), the alarm answered through the service the API calls.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.js';
import { EVENT_TYPES } from '../../src/policy/vocabulary.js';
import { createServices, type Services } from '../../src/services/index.js';
import { prepareData } from '../helpers/daemon.js';
import { mosquittoBinary, startOwnMosquitto, type OwnMosquitto } from '../helpers/mosquitto.js';
import { freePort, waitFor } from '../helpers/ports.js';

const hasMosquitto = mosquittoBinary() !== undefined;
if (!hasMosquitto && process.env.CI === 'true') throw new Error('mosquitto is not installed: the alarm MQTT test cannot run (CI=true: this is a failure)');

describe.skipIf(!hasMosquitto)('alarm lifecycle on MQTT', () => {
  let broker: OwnMosquitto;
  let controller: Controller;
  let services: Services;
  let subscriber: mqtt.MqttClient;
  let base: string;
  const got: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tobira-alarm-mqtt-'));
    writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
    broker = await startOwnMosquitto(join(dir, 'mosquitto.conf'), port);
    const prepared = prepareData({ edit: (raw) => (raw.mqtt = { ...(raw.mqtt as object), allowOpenBroker: true }) });
    base = prepared.baseTopic;
    subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    subscriber.on('message', (_topic, payload) => got.push(JSON.parse(payload.toString()) as Record<string, unknown>));
    await subscriber.subscribeAsync(`${base}/events/alarm`, { qos: 1 });
    controller = await Controller.start({
      site: prepared.site,
      dataDir: prepared.dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'external', url: broker.url },
    });
    services = createServices({ store: controller.ctx.store, now: () => new Date(), controller });
    await waitFor(() => controller.health().broker.connected, 5000, 'controller on the broker');
  });

  afterAll(async () => {
    await subscriber?.endAsync();
    await controller?.stop();
    await broker?.stop();
  });

  it('raised, acknowledged and cleared each go out, beside the raised event itself', async () => {
    const id = controller.ctx.alarms.raise({ ...EVENT_TYPES['lock-fault'], type: 'lock-fault', source: 'lab-main' }).id!;
    const guard = { username: 'guard-1', role: 'guard' as const, address: '127.0.0.1' };
    services.alarms.acknowledge(guard, id, 'locksmith called');
    services.alarms.clear(guard, id, 'fault', 'strike replaced');
    const mine = () => got.filter((m) => m.event === 'alarm.changed' && m.alarmId === id);
    await waitFor(() => mine().length >= 3, 3000, 'alarm.changed on MQTT');
    expect(mine()).toEqual([
      expect.objectContaining({ state: 'raised', type: 'lock-fault', level: 0 }),
      expect.objectContaining({ state: 'acknowledged', by: 'guard-1', note: 'locksmith called' }),
      expect.objectContaining({ state: 'cleared', by: 'guard-1', cause: 'fault', note: 'strike replaced' }),
    ]);
    expect(got.some((m) => m.type === 'lock-fault' && m.id === id && m.category === 'alarm')).toBe(true);
  });
});
