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

// Reminders ahead of the due date on MQTT. The lock's history is made through the real entry points,
// with the controller's wall clock moved (ClockSources.wall): installed a year before the due date,
// its code rotated an hour later, so the 7-day reminder falls at a local midnight (Asia/Tokyo, no
// daylight saving). The controller then runs from just before that midnight: the reminder is
// raised by its own timer while it is on the broker, and a restart does not raise it again.
describe.skipIf(!hasMosquitto)('a dial-code reminder ahead of the due date on MQTT, once across restarts', () => {
  const HOUR = 3_600_000;
  const DAY = 86_400_000;
  const TOKYO = 9 * HOUR;
  let broker: OwnMosquitto;
  let prepared: ReturnType<typeof prepareData>;
  let subscriber: mqtt.MqttClient;
  let controller: Controller | undefined;
  const got: { topic: string; message: Record<string, unknown> }[] = [];
  const manager = { username: 'manager-1', role: 'manager' as const, address: '127.0.0.1' };

  // The 7-day reminder's moment: tomorrow's local midnight; the due date 7 local days after it; the
  // rotation a year before the due date, at local noon.
  const today = new Date(Date.now() + TOKYO);
  const remindAt = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1) - TOKYO;
  const due = new Date(remindAt + TOKYO + 7 * DAY);
  const dueAt = due.getTime() - TOKYO;
  const rotatedAt = Date.UTC(due.getUTCFullYear() - 1, due.getUTCMonth(), due.getUTCDate(), 3);
  /** The controller's clock from the 'runs' tests on: 5 s before the reminder's moment at the first start. */
  let offset = 0;

  /** The controller on the test's broker, its wall clock `offsetMs` from the real one. */
  async function start(offsetMs: number): Promise<Controller> {
    const c = await Controller.start({
      site: prepared.site,
      dataDir: prepared.dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'external', url: broker.url },
      clock: { wall: () => Date.now() + offsetMs },
    });
    await waitFor(() => c.health().broker.connected, 5000, 'controller on the broker');
    return c;
  }
  const reminders = () => got.filter((g) => g.message.type === 'reminder' && g.message.source === 'doc-safe');
  const stored = () => controller!.ctx.store.events.recent(100, 'reminder').filter((e) => e.source === 'doc-safe');
  const daysBefore = (g: { message: Record<string, unknown> }) => (g.message.detail as { daysBefore?: number }).daysBefore;

  beforeAll(async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tobira-reminder-ahead-'));
    writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
    broker = await startOwnMosquitto(join(dir, 'mosquitto.conf'), port);
    prepared = prepareData({ edit: (raw) => (raw.mqtt = { ...(raw.mqtt as object), allowOpenBroker: true }) });
    subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
    subscriber.on('message', (topic, payload) => got.push({ topic, message: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await subscriber.subscribeAsync(`${prepared.baseTopic}/events/reminder`, { qos: 1 });
  });

  afterAll(async () => {
    await controller?.stop();
    await subscriber?.endAsync();
    await broker?.stop();
  });

  it('the lock installed a year before its due date and rotated an hour later', async () => {
    expect(prepared.site.site.timezone).toBe('Asia/Tokyo');
    // Installed (first seen) an hour before the rotation.
    controller = await start(rotatedAt - HOUR - Date.now());
    await controller.stop();
    // An hour later, the rotation is recorded through the service the API calls.
    controller = await start(rotatedAt + 60_000 - Date.now());
    const c = controller;
    const services = createServices({ store: c.ctx.store, now: () => c.ctx.now(), controller: c });
    const view = services.dialLocks.rotate(manager, 'doc-safe', { rotatedAt: new Date(rotatedAt).toISOString(), by: '1001', reason: 'yearly' });
    expect(view).toMatchObject({ rotationMonths: 12, remindDays: [30, 7, 1], dueReasons: [], dueAt: new Date(dueAt).toISOString() });
    await controller.stop();
    controller = undefined;
    expect(reminders()).toEqual([]);
  });

  it('running across the 7-day mark, the controller sends the reminder on {base}/events/reminder with the lock', async () => {
    offset = remindAt - 5000 - Date.now();
    controller = await start(offset);
    expect(controller.ctx.now().getTime()).toBeLessThan(remindAt);
    expect(reminders()).toEqual([]);
    await waitFor(() => reminders().length > 0, 10_000, 'reminder on MQTT');
    expect(reminders()).toEqual([
      {
        topic: `${prepared.baseTopic}/events/reminder`,
        message: expect.objectContaining({
          category: 'reminder',
          type: 'reminder',
          source: 'doc-safe',
          detail: expect.objectContaining({ kind: 'dial-rotation', lock: 'doc-safe', daysBefore: 7, dueAt: new Date(dueAt).toISOString(), dueReasons: [] }),
        }),
      },
    ]);
    expect(Date.parse(stored()[0]!.at)).toBeGreaterThanOrEqual(remindAt);
    const c = controller;
    const services = createServices({ store: c.ctx.store, now: () => c.ctx.now(), controller: c });
    expect(services.dialLocks.get('doc-safe')).toMatchObject({ overdue: false, dueReasons: [] });
    expect(services.reminders.list()).toEqual([expect.objectContaining({ kind: 'dial-rotation', subject: 'dial-lock:doc-safe', overdue: false })]);
    await controller.stop();
    controller = undefined;
  });

  it('a restart does not send the same reminder again', async () => {
    controller = await start(offset);
    expect(controller.ctx.now().getTime()).toBeGreaterThan(remindAt);
    // What a start delivers goes out at once (the reminder above arrived within a second of its moment).
    await new Promise((r) => setTimeout(r, 1500));
    expect(reminders()).toHaveLength(1);
    expect(stored()).toHaveLength(1);
    await controller.stop();
    controller = undefined;
  });

  // Known gap: a reminder whose moment passed while the controller was down is raised at the next
  // start (in the event list, and recorded as delivered), but the extensions start before the MQTT
  // client exists (MqttDriver.publishEvent drops what comes before the first connect), so it never
  // reaches {base}/events/reminder, and the next restart does not try again.
  it('a reminder that fell due while the controller was down is raised at the next start', async () => {
    // Down from just after the 7-day mark until a minute after the 1-day mark.
    offset = remindAt + 6 * DAY + 60_000 - Date.now();
    controller = await start(offset);
    expect(stored().map((e) => (e.detail as { daysBefore?: number }).daysBefore)).toEqual([1, 7]);
  });

  it.fails('KNOWN GAP: ...and reaches MQTT (it is dropped: raised before the controller is on the broker)', async () => {
    await waitFor(() => reminders().some((g) => daysBefore(g) === 1), 3000, 'the 1-day reminder on MQTT');
  });
});
