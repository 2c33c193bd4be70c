// Dial-code reminders leave the box on MQTT {base}/events/reminder: the in-process controller on a
// Mosquitto of the test's own (open, so a plain subscriber reads what a monitoring tool would).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.js';
import { createServices, type Services } from '../../src/services/index.js';
import { prepareData } from '../helpers/daemon.js';
import { mosquittoBinary, startOwnMosquitto, type OwnMosquitto } from '../helpers/mosquitto.js';
import { freePort, waitFor } from '../helpers/ports.js';

const hasMosquitto = mosquittoBinary() !== undefined;
if (!hasMosquitto && process.env.CI === 'true') throw new Error('mosquitto is not installed: the reminder MQTT test cannot run (CI=true: this is a failure)');

describe.skipIf(!hasMosquitto)('dial-code reminders on MQTT', () => {
  let broker: OwnMosquitto;
  let controller: Controller;
  let services: Services;
  let subscriber: mqtt.MqttClient;
  const got: { topic: string; message: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tobira-reminder-mqtt-'));
    writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
    broker = await startOwnMosquitto(join(dir, 'mosquitto.conf'), port);
    const prepared = prepareData({ edit: (raw) => (raw.mqtt = { ...(raw.mqtt as object), allowOpenBroker: true }) });
    subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    subscriber.on('message', (topic, payload) => got.push({ topic, message: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await subscriber.subscribeAsync(`${prepared.baseTopic}/events/reminder`, { qos: 1 });
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

  it('a leak report raises rotation-overdue at once on {base}/events/reminder', async () => {
    const manager = { username: 'manager-1', role: 'manager' as const, address: '127.0.0.1' };
    services.dialLocks.reportLeak(manager, 'doc-safe', { note: 'the slip was left on the desk' });
    const leak = () =>
      got.find((g) => g.message.type === 'rotation-overdue' && (g.message.detail as { dueReasons?: string[] })?.dueReasons?.includes('leak-reported'));
    await waitFor(() => leak() !== undefined, 3000, 'rotation-overdue on MQTT');
    expect(leak()).toMatchObject({
      topic: expect.stringMatching(/\/events\/reminder$/),
      message: { category: 'reminder', source: 'doc-safe', severity: 'alarm' },
    });
    expect(JSON.stringify(got)).not.toContain('"code"');
  });
});
