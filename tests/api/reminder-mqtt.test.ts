// Dial-code reminders leave the box on MQTT {base}/events/reminder: the in-process controller on a
// Mosquitto of the test's own (open, so a plain subscriber reads what a monitoring tool would).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { generate } from 'otplib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/api/server.js';
import { Controller } from '../../src/controller/controller.js';
import { AuthService } from '../../src/services/auth.js';
import { createServices, type Services } from '../../src/services/index.js';
import { TEST_PASSWORD } from '../helpers/api.js';
import { prepareData } from '../helpers/daemon.js';
import { mosquittoBinary, startOwnMosquitto, type OwnMosquitto } from '../helpers/mosquitto.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { readSse } from '../helpers/sse.js';

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
// raised by its own timer while it is on the broker (MQTT and a guard's live stream), and a restart
// does not raise it again.
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

  /**
   * The controller's API over HTTP (on the real clock, which the TOTP login needs), a guard signed
   * in, and the live stream open: returns the `raised` events it delivers.
   */
  async function openStream(c: Controller): Promise<{ raised: Record<string, unknown>[]; close: () => Promise<void> }> {
    const app = await buildServer({ controller: c, log: pino({ level: 'silent' }), now: () => new Date() });
    const base = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
    const auth = new AuthService(c.ctx.store, () => c.ctx.site.api);
    const created = await auth.createAccount('test', { username: 'night-guard', displayName: 'Night guard', role: 'guard' });
    await auth.setPassword(created.account, TEST_PASSWORD, false);
    const secret = new URL(created.totpUri!).searchParams.get('secret')!;
    const totp = await generate({ secret, epoch: Math.floor(Date.now() / 1000) });
    const login = await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'night-guard', password: TEST_PASSWORD, totp }),
    });
    expect(login.status, await login.clone().text()).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const abort = new AbortController();
    const res = await fetch(`${base}/api/v1/stream`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    const raised: Record<string, unknown>[] = [];
    const reading = readSse(res.body, ({ event, data }) => {
      if (event === 'raised' && data) raised.push(JSON.parse(data) as Record<string, unknown>);
    });
    return {
      raised,
      close: async () => {
        abort.abort();
        await reading;
        await app.close();
      },
    };
  }

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

  it('running across the 7-day mark, the controller sends the reminder on {base}/events/reminder and the live stream', async () => {
    offset = remindAt - 5000 - Date.now();
    controller = await start(offset);
    const stream = await openStream(controller);
    expect(controller.ctx.now().getTime()).toBeLessThan(remindAt);
    expect(reminders()).toEqual([]);
    await waitFor(() => reminders().length > 0, 10_000, 'reminder on MQTT');
    // The same event on the live stream (a guard's).
    await waitFor(() => stream.raised.some((e) => e.type === 'reminder'), 3000, 'reminder on the live stream');
    expect(stream.raised.filter((e) => e.type === 'reminder')).toEqual([
      expect.objectContaining({ category: 'reminder', source: 'doc-safe', detail: expect.objectContaining({ lock: 'doc-safe', daysBefore: 7 }) }),
    ]);
    await stream.close();
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

  // Raised while the controller starts, before its client is on the broker: the driver keeps it for
  // the first connect (it used to drop it, and the next restart did not try again).
  it('a reminder that fell due while the controller was down is raised at the next start', async () => {
    // Down from just after the 7-day mark until a minute after the 1-day mark.
    offset = remindAt + 6 * DAY + 60_000 - Date.now();
    controller = await start(offset);
    expect(stored().map((e) => (e.detail as { daysBefore?: number }).daysBefore)).toEqual([1, 7]);
  });

  it('...and reaches MQTT, though raised before the controller was on the broker', async () => {
    await waitFor(() => reminders().some((g) => daysBefore(g) === 1), 3000, 'the 1-day reminder on MQTT');
  });
});
