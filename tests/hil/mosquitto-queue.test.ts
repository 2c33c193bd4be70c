// Hardware-in-the-loop: the Mosquitto configuration `tobira mqtt-acl` writes keeps a burst of device
// events for the controller's persistent session instead of dropping all but Mosquitto's default 1,000.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { controllerClientId, deviceClientId, Topics } from '../../src/devices/protocol.js';
import { dataDirCa, prepareData } from '../helpers/daemon.js';
import { mosquittoBinary, startAclMosquitto, type OwnMosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/ports.js';

const hasMosquitto = !!mosquittoBinary();
if (!hasMosquitto) console.warn('\n!!! mosquitto is not installed: the Mosquitto queue test is SKIPPED\n');

const BURST = 3000;

describe.skipIf(!hasMosquitto)('Mosquitto with the `tobira mqtt-acl` files', () => {
  const brokers: OwnMosquitto[] = [];
  afterAll(async () => {
    for (const b of brokers) await b.stop();
  });

  /** Writes the files, optionally drops lines from mosquitto.conf, starts Mosquitto on a free port. */
  async function broker(withoutQueueLimits = false) {
    const prepared = prepareData();
    const b = await startAclMosquitto({
      ...prepared,
      edit: (lines) => (withoutQueueLimits ? lines.filter((l) => !/^max_(queued|inflight)_/.test(l)) : lines),
    });
    brokers.push(b);
    const secrets = JSON.parse(readFileSync(join(prepared.dataDir, 'secrets.json'), 'utf8')) as {
      controller: { username: string; password: string };
      devices: Record<string, string>;
    };
    return { b, base: prepared.baseTopic, secrets, conf: b.conf, ca: dataDirCa(prepared.dataDir) };
  }

  /** The controller's persistent session subscribes, goes away, a reader publishes BURST reads, the controller comes back. */
  async function burstWhileAway(setup: Awaited<ReturnType<typeof broker>>): Promise<number> {
    const { b, base, secrets, ca } = setup;
    const topics = new Topics(base);
    const controllerOpts = {
      ca,
      protocolVersion: 4 as const,
      clientId: controllerClientId(base),
      username: secrets.controller.username,
      password: secrets.controller.password,
      clean: false,
      reconnectPeriod: 0,
    };
    const first = await mqtt.connectAsync(b.url, controllerOpts);
    await first.subscribeAsync(topics.allDeviceEvents, { qos: 1 });
    await first.endAsync();

    const reader = await mqtt.connectAsync(b.url, {
      ca,
      protocolVersion: 4,
      clientId: deviceClientId(base, 'lab-reader'),
      username: 'lab-reader',
      password: secrets.devices['lab-reader']!,
      clean: true,
      reconnectPeriod: 0,
    });
    await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        reader.publishAsync(
          topics.device('lab-reader', 'events'),
          JSON.stringify({ type: 'credential', credential: { kind: 'card', value: `C${i}` }, boot: 1, seq: i + 1 }),
          { qos: 1 },
        ),
      ),
    );
    await reader.endAsync();

    let received = 0;
    const back = mqtt.connect(b.url, { ...controllerOpts });
    back.on('message', () => received++);
    try {
      // Everything queued is delivered right after the reconnect; wait until the count stops growing.
      let last = -1;
      await waitFor(
        async () => {
          await new Promise((r) => setTimeout(r, 300));
          const settled = received === last && back.connected;
          last = received;
          return settled || received >= BURST;
        },
        15_000,
        'queued messages delivered',
      );
    } finally {
      await back.endAsync();
    }
    return received;
  }

  it('keeps every one of a burst of reads for the controller while it is away (Mosquitto alone keeps 1,000)', async () => {
    const ours = await broker();
    expect(ours.conf).toMatch(/^max_queued_messages 100000$/m);
    expect(await burstWhileAway(ours)).toBe(BURST);

    // The same files without the queue settings: Mosquitto's defaults drop what does not fit.
    const plain = await broker(true);
    expect(plain.conf).not.toMatch(/max_queued/);
    const kept = await burstWhileAway(plain);
    expect(kept).toBeLessThan(BURST);
    expect(kept).toBeGreaterThanOrEqual(1000);
  });
});
