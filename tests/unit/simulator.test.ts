import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import jpeg from 'jpeg-js';
import { Simulator } from '../../firmware-sim/index.js';
import { deviceEventSchema, snapshotEventSchema, Topics, type Command } from '../../src/devices/protocol.js';
import type { Secrets } from '../../src/devices/secrets.js';
import { loadSiteFile } from '../../src/site/load.js';
import { ensureDeviceTls } from '../../src/devices/tls.js';
import { seedDeviceTls } from '../helpers/daemon.js';

const site = loadSiteFile(new URL('../../examples/site.yaml', import.meta.url).pathname);
const topics = new Topics(site.mqtt.baseTopic);
// Device links are MQTT over TLS: the brokers here serve a data directory's certificate.
const tlsDir = mkdtempSync(join(tmpdir(), 'tobira-sim-tls-'));
seedDeviceTls(tlsDir);
const link = ensureDeviceTls(tlsDir);
const ca = link.ca;
const tlsServer = (handle: (socket: never) => void) => tls.createServer({ cert: link.cert, key: link.key }, handle as never);
const secrets: Secrets = {
  version: 1,
  controller: { username: 'tobira-controller', password: 'controller-secret-0123456789' },
  devices: Object.fromEntries(site.devices.map((d) => [d.id, `secret-of-${d.id}-0123456789`])),
};

interface Message {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** A plain mqtt.js client playing the controller: records everything under the base topic. */
class Controller {
  readonly messages: Message[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => this.messages.push({ topic, payload, retain: packet.retain }));
  }
  static async connect(url: string): Promise<Controller> {
    const client = await mqtt.connectAsync(url, { ca, protocolVersion: 4, clientId: `test-controller-${Math.random()}`, reconnectPeriod: 0 });
    const c = new Controller(client);
    await client.subscribeAsync([topics.allDeviceEvents, topics.allDeviceStatus], { qos: 1 });
    return c;
  }
  /** The first message on `topic` (matching `where`) at or after index `from`. */
  async next(topic: string, from: number, where: (m: Message) => boolean = () => true, timeoutMs = 2000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find((m) => m.topic === topic && where(m));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no message on ${topic} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  async command(deviceId: string, command: Command): Promise<void> {
    await this.client.publishAsync(topics.device(deviceId, 'commands'), JSON.stringify(command), { qos: 1 });
  }
  json(m: Message): Record<string, unknown> {
    return JSON.parse(m.payload.toString('utf8')) as Record<string, unknown>;
  }
}

let broker: Aedes;
let server: tls.Server;
let url: string;
let sim: Simulator;
let ctl: Controller;

beforeAll(async () => {
  broker = await Aedes.createBroker();
  server = tlsServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `mqtts://127.0.0.1:${(server.address() as AddressInfo).port}`;
  ctl = await Controller.connect(url);
  sim = await Simulator.start({ site, url, ca, secrets, heartbeatMs: 150 });
});

afterAll(async () => {
  await sim?.stop();
  await ctl?.client.endAsync();
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('firmware simulator', () => {
  it('connects every MQTT device and publishes a retained online status', async () => {
    expect(sim.deviceIds.sort()).toEqual(
      site.devices
        .filter((d) => d.transport === 'mqtt')
        .map((d) => d.id)
        .sort(),
    );
    const status = await ctl.next(topics.device('lab-lock', 'status'), 0);
    expect(ctl.json(status)).toEqual({ online: true, firmware: 'tobira-sim/1' });
    expect(sim.isOnline('lab-lock')).toBe(true);
  });

  it('publishes a swipe on the reader events topic with boot and seq', async () => {
    const from = ctl.messages.length;
    await sim.swipe('lab-reader', '04A1B2C3');
    await sim.swipe('lab-reader', '04A1B2C4');
    const topic = topics.device('lab-reader', 'events');
    const first = deviceEventSchema.parse(ctl.json(await ctl.next(topic, from)));
    const second = deviceEventSchema.parse(ctl.json(await ctl.next(topic, from, (m) => m.payload.includes('04A1B2C4'))));
    expect(first).toMatchObject({ type: 'credential', credential: { kind: 'card', value: '04A1B2C3' }, boot: sim.boot });
    expect(sim.boot).toBeGreaterThan(1_700_000_000);
    expect(second.seq).toBe(first.seq! + 1);
    expect(ctl.messages.slice(from).filter((m) => m.topic === topics.device('lab-keypad', 'events'))).toHaveLength(0);

    await sim.pin('lab-keypad', '1234');
    const pin = deviceEventSchema.parse(ctl.json(await ctl.next(topics.device('lab-keypad', 'events'), from)));
    expect(pin).toMatchObject({ type: 'credential', credential: { kind: 'pin', value: '1234' }, seq: 1 });
    expect(() => sim.swipe('lab-lock', '04')).toThrow(/lab-lock is a lock/);
  });

  it('acknowledges unlock, then relocks by itself after durationMs', async () => {
    const from = ctl.messages.length;
    const expectation = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 1000, 'lab-lock unlocked');
    const sentAt = Date.now();
    await ctl.command('lab-lock', { id: 'c-unlock-1', command: 'unlock', durationMs: 300 });
    expect(await expectation).toEqual({ id: 'c-unlock-1', command: 'unlock', durationMs: 300 });
    const ack = deviceEventSchema.parse(ctl.json(await ctl.next(topics.device('lab-lock', 'events'), from)));
    expect(ack).toMatchObject({ type: 'ack', command: 'c-unlock-1', ok: true, boot: sim.boot });
    expect(sim.lockState('lab-lock')).toBe('unlocked');
    expect(sim.observed('lab-lock').at(-1)!.at).toBeGreaterThanOrEqual(sentAt);

    await sim.waitFor(() => sim.lockState('lab-lock') === 'locked', 2000, 'lab-lock relocked');
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(290);
  });

  it("stamps every event with its clock's `at`; a skewed clock shows in it", async () => {
    const from = ctl.messages.length;
    const topic = topics.device('lab-reader', 'events');
    const before = Date.now();
    await sim.swipe('lab-reader', 'A7000001');
    const read = deviceEventSchema.parse(ctl.json(await ctl.next(topic, from, (m) => m.payload.includes('A7000001'))));
    expect(read.at).toBeGreaterThanOrEqual(before);
    expect(read.at).toBeLessThanOrEqual(Date.now());
    sim.skewClock('lab-reader', -60_000);
    try {
      await sim.swipe('lab-reader', 'A7000002');
      const late = deviceEventSchema.parse(ctl.json(await ctl.next(topic, from, (m) => m.payload.includes('A7000002'))));
      expect(late.at).toBeLessThanOrEqual(Date.now() - 59_000);
      expect(sim.info('lab-reader').clockOffsetMs).toBe(-60_000);
    } finally {
      sim.skewClock('lab-reader', 0);
    }
  });

  it('refuses an unlock past its expiresAt (ack ok:false, "expired"), stays locked, obeys one still valid', async () => {
    const from = ctl.messages.length;
    const events = topics.device('lab-lock', 'events');
    await ctl.command('lab-lock', { id: 'c-expired', command: 'unlock', durationMs: 5000, expiresAt: Date.now() - 1500 });
    const nack = ctl.json(await ctl.next(events, from, (m) => m.payload.includes('c-expired')));
    expect(nack).toMatchObject({ type: 'ack', command: 'c-expired', ok: false });
    expect(nack.error).toMatch(/^expired 1[5-9]\d\d ms ago$/);
    expect(sim.lockState('lab-lock')).toBe('locked');
    expect(sim.observed('lab-lock').at(-1)).toMatchObject({ command: { id: 'c-expired' }, error: nack.error });

    await ctl.command('lab-lock', { id: 'c-valid', command: 'unlock', durationMs: 200, expiresAt: Date.now() + 2000 });
    expect(ctl.json(await ctl.next(events, from, (m) => m.payload.includes('c-valid')))).toMatchObject({ ok: true });
    expect(sim.lockState('lab-lock')).toBe('unlocked');
    await sim.waitFor(() => sim.lockState('lab-lock') === 'locked', 2000, 'relocked');

    // Its own clock decides: ahead by 10 s, a command valid for 2 more seconds has expired.
    sim.skewClock('lab-lock', 10_000);
    try {
      await ctl.command('lab-lock', { id: 'c-skewed', command: 'unlock', durationMs: 200, expiresAt: Date.now() + 2000 });
      expect(ctl.json(await ctl.next(events, from, (m) => m.payload.includes('c-skewed')))).toMatchObject({
        ok: false,
        error: expect.stringMatching(/^expired/),
      });
      expect(sim.lockState('lab-lock')).toBe('locked');
    } finally {
      sim.skewClock('lab-lock', 0);
    }
  });

  it('delayCommands holds commands back, in order, then handles them (a backlog on the way to the device)', async () => {
    sim.delayCommands('lab-lock', 300);
    try {
      const sentAt = Date.now();
      await ctl.command('lab-lock', { id: 'c-late-1', command: 'unlock', durationMs: 60_000, expiresAt: Date.now() + 100 });
      await ctl.command('lab-lock', { id: 'c-late-2', command: 'lock' });
      await sim.waitFor(() => sim.observed('lab-lock').some((o) => o.command.id === 'c-late-2'), 2000, 'both handled');
      const [first, second] = sim.observed('lab-lock').slice(-2);
      expect(first).toMatchObject({ command: { id: 'c-late-1' }, error: expect.stringMatching(/^expired/) });
      expect(first!.at - sentAt).toBeGreaterThanOrEqual(290);
      expect(second).toMatchObject({ command: { id: 'c-late-2' } });
      expect(sim.lockState('lab-lock')).toBe('locked');
    } finally {
      sim.delayCommands('lab-lock', 0);
    }
  });

  it('lock cancels the relock timer; unsupported commands get ok:false; invalid ones are ignored', async () => {
    const from = ctl.messages.length;
    await ctl.command('lab-lock', { id: 'c-unlock-2', command: 'unlock', durationMs: 60_000 });
    await sim.waitFor(() => sim.lockState('lab-lock') === 'unlocked', 1000, 'unlocked');
    await ctl.command('lab-lock', { id: 'c-lock-2', command: 'lock' });
    await sim.waitFor(() => sim.lockState('lab-lock') === 'locked', 1000, 'locked at once');

    await ctl.command('lab-reader', { id: 'c-bad-kind', command: 'unlock', durationMs: 1000 });
    const nack = ctl.json(await ctl.next(topics.device('lab-reader', 'events'), from, (m) => m.payload.includes('c-bad-kind')));
    expect(nack).toMatchObject({ type: 'ack', command: 'c-bad-kind', ok: false });
    expect(nack.error).toMatch(/not supported by a reader/);

    await ctl.command('lab-reader', { id: 'c-ind', command: 'indicate', pattern: 'granted' });
    await sim.waitFor(() => sim.info('lab-reader').indication === 'granted', 1000, 'indication');
    // Indications are not acknowledged: nothing on the reader's events topic names the command.
    await new Promise((r) => setTimeout(r, 100));
    expect(ctl.messages.slice(from).some((m) => m.payload.includes('c-ind'))).toBe(false);

    await ctl.client.publishAsync(topics.device('lab-lock', 'commands'), '{"id":"x","command":"unlock","durationMs":5}', { qos: 1 });
    await sim.waitFor(() => sim.invalidCommands('lab-lock').length === 1, 1000, 'invalid command recorded');
    expect(sim.invalidCommands('lab-lock')[0]!.error).toMatch(/durationMs/);
    expect(sim.lockState('lab-lock')).toBe('locked');
    await new Promise((r) => setTimeout(r, 100));
    expect(ctl.messages.slice(from).some((m) => m.payload.includes('"command":"x"'))).toBe(false);
  });

  it('expectCommand sees only later commands unless given since, and names what it waited for', async () => {
    const before = Date.now();
    await ctl.command('lab-siren', { id: 'c-siren-on', command: 'output', on: true });
    await sim.waitFor(() => sim.observed('lab-siren').length === 1, 1000, 'siren command');
    await expect(sim.expectCommand('lab-siren', (c) => c.command === 'output', 100, 'siren switched')).rejects.toThrow(
      /lab-siren: no siren switched within 100 ms; observed no commands/,
    );
    const seen = await sim.expectCommand('lab-siren', (c) => c.command === 'output', 100, 'siren switched', { since: before });
    expect(seen).toEqual({ id: 'c-siren-on', command: 'output', on: true });
    expect(sim.info('lab-siren').output).toBe(true);
  });

  it('a locked door does not open; force() publishes contact active; close() inactive', async () => {
    const contact = topics.device('lab-contact', 'events');
    const door = sim.door('lab-main');
    expect(sim.lockState('lab-lock')).toBe('locked');
    const from = ctl.messages.length;
    expect(await door.open()).toBe(false);
    expect(door.isOpen).toBe(false);

    await door.force();
    expect(door.isOpen).toBe(true);
    const opened = deviceEventSchema.parse(ctl.json(await ctl.next(contact, from)));
    expect(opened).toMatchObject({ type: 'input', input: 'contact', active: true });
    await door.close();
    const closed = deviceEventSchema.parse(ctl.json(await ctl.next(contact, from, (m) => m.payload.includes('"active":false'))));
    expect(closed.seq).toBe(opened.seq! + 1);
    expect(ctl.messages.slice(from).filter((m) => m.topic === contact)).toHaveLength(2);

    await ctl.command('lab-lock', { id: 'c-unlock-3', command: 'unlock', durationMs: 2000 });
    await sim.waitFor(() => sim.lockState('lab-lock') === 'unlocked', 1000, 'unlocked');
    expect(await door.open()).toBe(true);
    await door.close();
  });

  it('rex and beam publish active then inactive', async () => {
    const from = ctl.messages.length;
    await sim.pressRex('lab-rex');
    await sim.trip('lab-beam');
    await ctl.next(topics.device('lab-rex', 'events'), from, (m) => m.payload.includes('"active":false'));
    const rex = ctl.messages
      .slice(from)
      .filter((m) => m.topic === topics.device('lab-rex', 'events'))
      .map((m) => ctl.json(m));
    expect(rex).toMatchObject([
      { input: 'rex', active: true },
      { input: 'rex', active: false },
    ]);
    const beam = await ctl.next(topics.device('lab-beam', 'events'), from, (m) => m.payload.includes('"active":false'));
    expect(ctl.json(beam)).toMatchObject({ type: 'input', input: 'beam', active: false });
  });

  it('camera answers snapshot with an ack and a JPEG that differs per shot', async () => {
    const from = ctl.messages.length;
    const topic = topics.device('lab-camera', 'events');
    await ctl.command('lab-camera', { id: 'snap-1', command: 'snapshot' });
    await ctl.command('lab-camera', { id: 'snap-2', command: 'snapshot' });
    const ack = ctl.json(await ctl.next(topic, from, (m) => m.payload.includes('"ack"')));
    expect(ack).toMatchObject({ type: 'ack', command: 'snap-1', ok: true });
    const shots = await Promise.all(
      ['snap-1', 'snap-2'].map(async (id) =>
        snapshotEventSchema.parse(ctl.json(await ctl.next(topic, from, (m) => m.payload.includes('"snapshot"') && m.payload.includes(id)))),
      ),
    );
    expect(shots[0]!.seq).toBe((ack.seq as number) + 1);
    const images = shots.map((s) => Buffer.from(s.data, 'base64'));
    for (const image of images) {
      expect([image[0], image[1]]).toEqual([0xff, 0xd8]);
      const decoded = jpeg.decode(image);
      expect([decoded.width, decoded.height]).toEqual([64, 48]);
    }
    expect(images[0]!.equals(images[1]!)).toBe(false);
  });

  it('replay re-publishes the last event byte for byte', async () => {
    const topic = topics.device('lab-exit-reader', 'events');
    const from = ctl.messages.length;
    await sim.swipe('lab-exit-reader', 'CAFE0001');
    await sim.replay('lab-exit-reader');
    await ctl.next(topic, from, () => ctl.messages.slice(from).filter((m) => m.topic === topic).length === 2);
    const [original, replayed] = ctl.messages.slice(from).filter((m) => m.topic === topic);
    expect(replayed!.payload.equals(original!.payload)).toBe(true);
    expect(ctl.json(original!)).toMatchObject({ credential: { value: 'CAFE0001' }, boot: sim.boot });
  });

  it('publishAs puts an event on another device topic; sendRaw sends garbage', async () => {
    const from = ctl.messages.length;
    const result = await sim.publishAs('lab-reader', 'vault-reader', { type: 'credential', credential: { kind: 'card', value: 'SPOOF' } });
    expect(result).toBe('acked'); // this test broker has no ACL
    const spoof = ctl.json(await ctl.next(topics.device('vault-reader', 'events'), from));
    expect(spoof).toMatchObject({ type: 'credential', credential: { value: 'SPOOF' }, boot: sim.boot });
    await sim.sendRaw('lab-reader', topics.device('lab-reader', 'events'), 'not json');
    const raw = await ctl.next(topics.device('lab-reader', 'events'), from, (m) => m.payload.toString() === 'not json');
    expect(raw.payload.toString()).toBe('not json');
  });

  it('heartbeats re-publish the status until silenced', async () => {
    const topic = topics.device('vault-keypad', 'status');
    let from = ctl.messages.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(ctl.messages.slice(from).filter((m) => m.topic === topic).length).toBeGreaterThanOrEqual(2);
    sim.silence('vault-keypad', true);
    await new Promise((r) => setTimeout(r, 50));
    from = ctl.messages.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(ctl.messages.slice(from).filter((m) => m.topic === topic)).toHaveLength(0);
    expect(sim.isOnline('vault-keypad')).toBe(true);
    sim.silence('vault-keypad', false);
  });

  it('goOffline fires the retained last will; goOnline comes back', async () => {
    const topic = topics.device('vault-reader', 'status');
    const from = ctl.messages.length;
    await sim.goOffline('vault-reader');
    const will = await ctl.next(topic, from, (m) => m.payload.toString() === '{"online":false}');
    expect(ctl.json(will)).toEqual({ online: false });
    expect(sim.isOnline('vault-reader')).toBe(false);
    await expect(sim.swipe('vault-reader', '01')).rejects.toThrow(/offline/);

    // A newcomer gets the will as the retained status.
    const late = await mqtt.connectAsync(url, { ca, protocolVersion: 4, reconnectPeriod: 0 });
    const retained = new Promise<{ payload: string; retain: boolean }>((resolve) =>
      late.on('message', (_t, payload, packet) => resolve({ payload: payload.toString(), retain: packet.retain })),
    );
    await late.subscribeAsync(topic, { qos: 1 });
    expect(await retained).toEqual({ payload: '{"online":false}', retain: true });
    await late.endAsync();

    await new Promise((r) => setTimeout(r, 1200)); // longer than reconnectPeriod: it must stay down
    expect(
      ctl.messages
        .slice(from)
        .filter((m) => m.topic === topic)
        .map((m) => ctl.json(m).online),
    ).toEqual([false]);

    await sim.goOnline('vault-reader');
    const back = await ctl.next(topic, from, (m) => m.payload.includes('"online":true'));
    expect(ctl.json(back)).toEqual({ online: true, firmware: 'tobira-sim/1' });
    await sim.swipe('vault-reader', '02');
  });

  it('a device that does not trust the CA is refused: the TLS handshake fails', async () => {
    // Without the CA (only the public ones) the broker's certificate is not trusted.
    await expect(Simulator.start({ site, url, secrets, only: ['lab-reader'], startTimeoutMs: 1500 })).rejects.toThrow(
      /lab-reader: .*(self-signed|unable to verify|certificate)/,
    );
    // Trusting another CA is no better.
    const otherDir = mkdtempSync(join(tmpdir(), 'tobira-sim-othertls-'));
    const other = ensureDeviceTls(otherDir).ca;
    await expect(Simulator.start({ site, url, ca: other, secrets, only: ['lab-reader'], startTimeoutMs: 1500 })).rejects.toThrow(
      /lab-reader: .*(self-signed|unable to verify|certificate)/,
    );
  });

  it('start() rejects naming the devices that cannot log in', async () => {
    const strict = await Aedes.createBroker({
      authenticate: (_client, username, password, done) => done(null, username === 'lab-reader' && password?.toString() === 'right-secret-0123456789'),
    });
    const strictServer = tlsServer(strict.handle);
    await new Promise<void>((resolve) => strictServer.listen(0, '127.0.0.1', resolve));
    const strictUrl = `mqtts://127.0.0.1:${(strictServer.address() as AddressInfo).port}`;
    try {
      const wrong: Secrets = { ...secrets, devices: { ...secrets.devices, 'lab-reader': 'right-secret-0123456789', 'lab-lock': 'wrong-secret-0123456789' } };
      await expect(Simulator.start({ site, url: strictUrl, ca, secrets: wrong, only: ['lab-reader', 'lab-lock'], startTimeoutMs: 1500 })).rejects.toThrow(
        /1 device did not come online:\n {2}lab-lock: .*Not authorized/,
      );
      const ok = await Simulator.start({ site, url: strictUrl, ca, secrets: wrong, only: ['lab-reader'], startTimeoutMs: 1500 });
      expect(ok.deviceIds).toEqual(['lab-reader']);
      expect(ok.boot).toBeGreaterThan(sim.boot);
      await ok.stop();
    } finally {
      await new Promise<void>((resolve) => strict.close(() => resolve()));
      await new Promise<void>((resolve) => strictServer.close(() => resolve()));
    }
  });
});
