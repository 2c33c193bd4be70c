// What the controller publishes before its MQTT client is first on the broker (events raised while
// it starts: a reminder that fell due while it was down, a start-up alarm) is kept and sent, in
// order, at the first connect; past EARLY_PUBLISHES the oldest go, counted. Real aedes, real mqtt.js.
import { createServer, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { EARLY_PUBLISHES, MqttDriver } from '../../src/devices/mqtt-driver.js';
import { waitFor } from '../helpers/ports.js';

const BASE = 'early-test';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('publishes before the first connect', () => {
  it('are sent in order once connected, the oldest dropped past the bound', async () => {
    // The controller's connect is held until the observer listens, so nothing can slip past it.
    let letIn: () => void = () => {};
    const opened = new Promise<void>((r) => {
      letIn = r;
    });
    const broker = await Aedes.createBroker();
    broker.preConnect = (_client, packet, done) => {
      if (packet.clientId === 'observer') done(null, true);
      else void opened.then(() => done(null, true));
    };
    const sockets = new Set<Socket>();
    const srv = createServer((s) => {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      broker.handle(s);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    });

    const driver = new MqttDriver({ connection: { url: `mqtt://127.0.0.1:${port}`, username: 'controller', password: 'x' }, baseTopic: BASE, deviceIds: [] });
    cleanups.push(() => driver.stop());
    const extra = 5;
    // Before start: the client does not exist yet (extensions raise events before the driver starts).
    driver.publishEvent('reminder', { n: 0 });
    await driver.start({ event: () => {}, status: () => {}, rejected: () => {} });
    for (let n = 1; n < EARLY_PUBLISHES + extra; n++) driver.publishEvent('reminder', { n });
    expect(driver.earlyDropped).toBe(extra);

    const observer = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'observer', reconnectPeriod: 0 });
    cleanups.push(() => observer.endAsync());
    const seen: number[] = [];
    observer.on('message', (topic, payload) => {
      if (topic === `${BASE}/events/reminder`) seen.push((JSON.parse(payload.toString()) as { n: number }).n);
    });
    await observer.subscribeAsync(`${BASE}/events/#`, { qos: 1 });
    letIn();
    await driver.waitConnected(10_000);
    await waitFor(() => seen.length >= EARLY_PUBLISHES, 10_000, 'the early publishes');
    expect(seen).toEqual(Array.from({ length: EARLY_PUBLISHES }, (_, i) => i + extra));

    // Once connected, a publish goes straight out.
    driver.publishEvent('reminder', { n: -1 });
    await waitFor(() => seen.at(-1) === -1, 5000, 'a publish after the connect');
    expect(seen).toHaveLength(EARLY_PUBLISHES + 1);
  });
});
