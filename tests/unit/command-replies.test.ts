// Device commands resolve with the answer their definition declares, matched in one place for every
// transport: the real MQTT driver through the embedded broker to simulated devices (and to raw
// clients playing a misbehaving device), and the GPIO driver on fake pins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import mqtt, { type MqttClient } from 'mqtt';
import { Simulator } from '../../firmware-sim/index.js';
import { snapshotJpeg } from '../../firmware-sim/jpeg.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/devices/broker.js';
import { MqttDriver } from '../../src/devices/mqtt-driver.js';
import { GpioDriver } from '../../src/devices/gpio.js';
import { FakePinLayer } from '../../src/devices/gpio-fake.js';
import { checkImage } from '../../src/devices/image.js';
import { commandTimeouts, type CommandTimeouts } from '../../src/devices/commands.js';
import type { CommandResult, RejectedInput } from '../../src/devices/driver.js';
import { Topics, deviceClientId, parseCommand, type Command } from '../../src/devices/protocol.js';
import { ensureSecrets, type Secrets } from '../../src/devices/secrets.js';
import { ensureDeviceTls } from '../../src/devices/tls.js';
import { loadSiteFile } from '../../src/site/load.js';
import { deviceSchema, type SiteFile } from '../../src/site/schema.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { SequenceStore } from '../../src/store/sequence.js';
import { Bus } from '../../src/controller/bus.js';
import type { Counters } from '../../src/controller/context.js';
import { DeviceHub } from '../../src/controller/device-hub.js';
import { dataDirCa, seedDeviceTls } from '../helpers/daemon.js';

// Long enough for a few QoS 1 round trips on a loaded test machine, short enough to wait out.
const TIMEOUTS: CommandTimeouts = { acknowledgement: 1000, image: 2000 };
// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

const newCounters = (): Counters => ({ granted: 0, denied: 0, rejected: 0, duplicates: 0, storageFaults: 0, listenerFaults: 0 });

describe('image checks', () => {
  it('reads the size of a whole JPEG or PNG and refuses anything else', () => {
    const jpeg = snapshotJpeg(1);
    expect(checkImage('image/jpeg', jpeg)).toEqual({ ok: true, width: 64, height: 48 });
    expect(checkImage('image/png', PNG)).toEqual({ ok: true, width: 1, height: 1 });
    expect(checkImage('image/jpeg', jpeg.subarray(0, jpeg.length - 100))).toEqual({ ok: false, error: expect.stringContaining('truncated') });
    expect(checkImage('image/jpeg', Buffer.from('not a picture'))).toEqual({ ok: false, error: expect.stringContaining('not a JPEG') });
    expect(checkImage('image/png', jpeg)).toEqual({ ok: false, error: expect.stringContaining('not a PNG') });
    expect(checkImage('image/jpeg', Buffer.alloc(0))).toEqual({ ok: false, error: 'empty image' });
    // Start and end markers around nothing: no frame, no picture.
    expect(checkImage('image/jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xd9]))).toMatchObject({ ok: false });
  });

  it('never throws on bytes a device makes up', () => {
    const framed = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.from(b), Buffer.from([0xff, 0xd9])]));
    fc.assert(
      fc.property(
        fc.oneof(
          framed,
          fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
        ),
        fc.constantFrom('image/jpeg' as const, 'image/png' as const),
        (data, type) => {
          const check = checkImage(type, data);
          expect(typeof check.ok).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('waits for an acknowledgement as long as the site says, for a picture at least 10 s', () => {
    expect(commandTimeouts({ commandTimeoutMs: 2000 })).toEqual({ acknowledgement: 2000, image: 10_000 });
    expect(commandTimeouts({ commandTimeoutMs: 30_000 })).toEqual({ acknowledgement: 30_000, image: 30_000 });
  });
});

describe('command replies over MQTT (embedded broker, simulated and raw devices)', () => {
  const BASE = `replies${process.pid}`;
  let site: SiteFile;
  let secrets: Secrets;
  let broker: EmbeddedBroker;
  let db: Db;
  let sim: Simulator;
  let hub: DeviceHub;
  let link: MqttDriver;
  let stopping: Promise<void> | undefined;
  const counters = newCounters();
  const rejected: RejectedInput[] = [];
  const raw = new Map<string, { client: MqttClient; commands: Command[] }>();
  const topics = new Topics(BASE);
  let url: string;
  let ca: string;

  /** A device on its own login that answers only what the test publishes for it. */
  async function rawDevice(id: string): Promise<void> {
    const client = await mqtt.connectAsync(url, {
      ca,
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: deviceClientId(BASE, id),
      username: id,
      password: secrets.devices[id],
    });
    const commands: Command[] = [];
    client.on('message', (_topic, payload) => {
      const parsed = parseCommand(payload);
      if (parsed.ok) commands.push(parsed.value);
    });
    await client.subscribeAsync(topics.device(id, 'commands'), { qos: 1 });
    raw.set(id, { client, commands });
  }
  const answer = (id: string, event: Record<string, unknown>) =>
    raw.get(id)!.client.publishAsync(topics.device(id, 'events'), JSON.stringify(event), { qos: 1 });
  async function received(id: string, count: number): Promise<Command> {
    const { commands } = raw.get(id)!;
    for (let i = 0; i < 600 && commands.length < count; i++) await new Promise((r) => setTimeout(r, 5));
    expect(commands.length).toBe(count);
    return commands[count - 1]!;
  }

  beforeAll(async () => {
    site = loadSiteFile(new URL('../../examples/site.yaml', import.meta.url).pathname);
    site.mqtt.baseTopic = BASE;
    site.devices.push(
      deviceSchema.parse({ id: 'raw-lock', kind: 'lock', transport: 'mqtt' }),
      deviceSchema.parse({ id: 'raw-camera', kind: 'camera', transport: 'mqtt' }),
    );
    const dataDir = mkdtempSync(join(tmpdir(), 'tobira-replies-'));
    seedDeviceTls(dataDir);
    ca = dataDirCa(dataDir);
    secrets = ensureSecrets(
      dataDir,
      site.devices.map((d) => d.id),
    ).secrets;
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, baseTopic: BASE, secrets, tls: ensureDeviceTls(dataDir), onRefused: () => undefined });
    url = `mqtts://127.0.0.1:${broker.port}`;
    db = openDatabase(dataDir);
    const bus = new Bus();
    bus.on('device.rejected', (r) => rejected.push(r));
    const ids = site.devices.map((d) => d.id);
    link = new MqttDriver({
      connection: { url, username: secrets.controller.username, password: secrets.controller.password, inProcess: () => broker.connectInProcess() },
      baseTopic: BASE,
      deviceIds: ids,
    });
    hub = new DeviceHub([{ driver: link, deviceIds: ids }], bus, new SequenceStore(db), counters, TIMEOUTS);
    await hub.start();
    await link.waitConnected(5000);
    sim = await Simulator.start({ site, url, ca, secrets, only: ['lab-lock', 'lab-camera', 'lab-contact', 'lab-reader'] });
    await rawDevice('raw-lock');
    await rawDevice('raw-camera');
  });

  afterAll(async () => {
    for (const { client } of raw.values()) await client.endAsync(true);
    await sim?.stop();
    // As the controller does: a disconnect that does not finish does not hold the test up.
    await Promise.race([stopping ?? hub?.stop(), new Promise((r) => setTimeout(r, 3000))]);
    await broker?.close();
    db?.close();
  });

  it('a lock acknowledges unlock and lock with the shape door callers rely on', async () => {
    // Assignable to today's shape: doors, areas and the API keep working unchanged.
    const unlocked: CommandResult = await hub.send('lab-lock', { command: 'unlock', durationMs: 1000 });
    expect(unlocked).toEqual({ ok: true });
    expect(sim.lockState('lab-lock')).toBe('unlocked');
    const locked: { ok: true } | { ok: false; error: string; unconfirmed?: true } = await hub.send('lab-lock', { command: 'lock' });
    expect(locked).toEqual({ ok: true });
  });

  it("a refusal settles at once with the device's error", async () => {
    expect(await hub.send('lab-contact', { command: 'unlock', durationMs: 1000 })).toEqual({ ok: false, error: 'unlock is not supported by a contact' });
  });

  it('an indication is sent and not waited for', async () => {
    expect(await hub.send('lab-reader', { command: 'indicate', pattern: 'granted' })).toEqual({ ok: true });
  });

  it('a camera answers snapshot with the picture, checked, with its size and hash', async () => {
    const before = Date.now();
    const reply = await hub.send('lab-camera', { command: 'snapshot' });
    expect(reply.ok).toBe(true);
    if (!reply.ok) return;
    const { image } = reply;
    expect(image).toMatchObject({ contentType: 'image/jpeg', width: 64, height: 48 });
    expect([image.data[0], image.data[1]]).toEqual([0xff, 0xd8]);
    expect(image.sha256).toBe(createHash('sha256').update(image.data).digest('hex'));
    expect(image.receivedAt).toBeGreaterThanOrEqual(before);
    expect(image.takenAt).toBeGreaterThan(0);
  });

  it('a command nobody answers fails after its named timeout, unconfirmed', async () => {
    const started = Date.now();
    const reply = await hub.send('raw-lock', { command: 'unlock', durationMs: 1000 });
    expect(reply).toEqual({ ok: false, error: 'no acknowledgement within 1000 ms (acknowledgement timeout)', unconfirmed: true, timeout: 'acknowledgement' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('an answer to an old or unknown command id is ignored; the waiting command takes its own', async () => {
    const old = await received('raw-lock', 1); // the unanswered unlock of the test before
    const seen = counters.rejected;
    const waiting = hub.send('raw-lock', { command: 'lock' });
    const current = await received('raw-lock', 2);
    expect(current.id).not.toBe(old.id);
    await answer('raw-lock', { type: 'ack', command: old.id, ok: false, error: 'late refusal' });
    await answer('raw-lock', { type: 'ack', command: 'never-sent-1', ok: false, error: 'forged' });
    await answer('raw-lock', { type: 'ack', command: current.id, ok: true });
    expect(await waiting).toEqual({ ok: true });
    expect(counters.rejected).toBe(seen);
  });

  it('an answer of the wrong kind, or from another device, is refused and the command keeps waiting', async () => {
    const waiting = hub.send('raw-lock', { command: 'unlock', durationMs: 1000 });
    const { id } = await received('raw-lock', 3);
    const seen = rejected.length;
    await answer('raw-lock', { type: 'snapshot', command: id, contentType: 'image/jpeg', data: snapshotJpeg(2).toString('base64') });
    await answer('raw-camera', { type: 'ack', command: id, ok: false, error: 'not mine to refuse' });
    await answer('raw-lock', { type: 'ack', command: id, ok: true });
    expect(await waiting).toEqual({ ok: true });
    expect(rejected.slice(seen)).toEqual([
      { deviceId: 'raw-lock', reason: 'snapshot refused: a snapshot does not answer "unlock"' },
      { deviceId: 'raw-camera', reason: `ack refused: answers command ${id}, which was sent to "raw-lock"` },
    ]);
  });

  it('a wrong-kind answer is named when the wait runs out', async () => {
    const waiting = hub.send('raw-lock', { command: 'lock' });
    const { id } = await received('raw-lock', 4);
    await answer('raw-lock', { type: 'snapshot', command: id, contentType: 'image/jpeg', data: snapshotJpeg(3).toString('base64') });
    expect(await waiting).toMatchObject({
      ok: false,
      unconfirmed: true,
      timeout: 'acknowledgement',
      error: expect.stringContaining('refused: a snapshot does not answer "lock"'),
    });
  });

  it('a snapshot with a bad picture is refused; the wait for a good one runs out naming why', async () => {
    const waiting = hub.send('raw-camera', { command: 'snapshot' });
    const { id } = await received('raw-camera', 1);
    const seen = rejected.length;
    const jpeg = snapshotJpeg(4);
    await answer('raw-camera', { type: 'ack', command: id, ok: true });
    await answer('raw-camera', { type: 'snapshot', command: id, contentType: 'image/png', data: jpeg.toString('base64') });
    await answer('raw-camera', { type: 'snapshot', command: id, contentType: 'image/jpeg', data: jpeg.subarray(0, jpeg.length - 64).toString('base64') });
    const reply = await waiting;
    expect(reply).toEqual({
      ok: false,
      timeout: 'image',
      error: 'no valid image within 2000 ms (image timeout; the device acknowledged the command; refused: JPEG is truncated (no end-of-image marker))',
    });
    expect(rejected.slice(seen).map((r) => r.reason)).toEqual([
      'snapshot refused: not a PNG (no signature)',
      'snapshot refused: JPEG is truncated (no end-of-image marker)',
    ]);
  });

  it('a good picture after a bad one settles the snapshot', async () => {
    const waiting = hub.send('raw-camera', { command: 'snapshot' });
    const { id } = await received('raw-camera', 2);
    await answer('raw-camera', { type: 'snapshot', command: id, contentType: 'image/jpeg', data: Buffer.from('garbage').toString('base64') });
    await answer('raw-camera', { type: 'snapshot', command: id, contentType: 'image/png', data: PNG.toString('base64') });
    expect(await waiting).toMatchObject({ ok: true, image: { contentType: 'image/png', width: 1, height: 1 } });
  });

  it('a camera that refuses the snapshot fails it at once', async () => {
    const waiting = hub.send('raw-camera', { command: 'snapshot' });
    const { id } = await received('raw-camera', 3);
    await answer('raw-camera', { type: 'ack', command: id, ok: false, error: 'lens covered' });
    expect(await waiting).toEqual({ ok: false, error: 'lens covered' });
  });

  it('a payload its schema refuses is never sent', async () => {
    const before = sim.observed('lab-lock').length;
    const reply = await hub.send('lab-lock', { command: 'unlock', durationMs: 5 });
    expect(reply).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid unlock command: durationMs: /) });
    await new Promise((r) => setTimeout(r, 50));
    expect(sim.observed('lab-lock').length).toBe(before);
  });

  it('stopping fails the commands still waiting', async () => {
    const waiting = hub.send('raw-lock', { command: 'lock' });
    await received('raw-lock', 5);
    stopping = hub.stop();
    expect(await waiting).toEqual({ ok: false, error: 'controller stopping' });
    // The link's clean disconnect from the in-process broker finishes (it once waited forever for
    // the broker's end of the stream to close).
    const sleep = new Promise((r) => setTimeout(() => r('still stopping'), 2500));
    expect(await Promise.race([stopping.then(() => 'stopped'), sleep])).toBe('stopped');
  });
});

describe('command replies over GPIO (fake pins)', () => {
  it("a driven pin is the acknowledgement, matched like any device's", async () => {
    const pins = new FakePinLayer();
    const devices = [
      deviceSchema.parse({ id: 'strike', kind: 'lock', transport: 'gpio', gpio: { pin: 17 } }),
      deviceSchema.parse({ id: 'siren', kind: 'siren', transport: 'gpio', gpio: { pin: 22 } }),
    ];
    const gpio = new GpioDriver({ devices, chipBase: 512, lockFailModes: new Map(), pins });
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-replies-gpio-')));
    const counters = newCounters();
    const bus = new Bus();
    const events: string[] = [];
    bus.on('device.event', ({ event }) => events.push(event.type));
    const hub = new DeviceHub([{ driver: gpio, deviceIds: ['strike', 'siren'] }], bus, new SequenceStore(db), counters, TIMEOUTS);
    try {
      await hub.start();
      expect(await hub.send('strike', { command: 'unlock', durationMs: 5000 })).toEqual({ ok: true });
      expect(pins.physical(529)).toBe(1);
      expect(await hub.send('strike', { command: 'lock' })).toEqual({ ok: true });
      expect(pins.physical(529)).toBe(0);
      expect(await hub.send('siren', { command: 'output', on: true })).toEqual({ ok: true });
      expect(await hub.send('strike', { command: 'indicate', pattern: 'granted' })).toMatchObject({ ok: false, error: 'a GPIO lock cannot do "indicate"' });
      expect(await hub.send('strike', { command: 'snapshot' })).toMatchObject({ ok: false, error: 'a GPIO lock cannot do "snapshot"' });
      expect(await hub.send('nope', { command: 'lock' })).toEqual({ ok: false, error: 'no driver for device "nope"' });
      pins.failWrites(529);
      expect(await hub.send('strike', { command: 'unlock', durationMs: 1000 })).toEqual({ ok: false, error: expect.stringContaining('EIO') });
      // Acknowledgements settle commands; they are no events for the features.
      expect(events.filter((t) => t === 'ack')).toEqual([]);
    } finally {
      await hub.stop();
      db.close();
    }
  });
});
