// A wired door (GPIO strike, contact, REX through a fake pin layer) with a networked reader: the
// controller drives both transports through one device interface.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { Controller } from '../../src/controller/controller.js';
import { FakePinLayer } from '../../src/devices/gpio-fake.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { CLI, enrolWiredHolder, prepareData } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { readCa } from '../../src/devices/tls.js';

const WIRED = new URL('../fixtures/wired-site.yaml', import.meta.url).pathname;
const STRIKE = 512 + 17;
const CONTACT = 512 + 27;
const REX = 512 + 22;

describe('wired door through GPIO', () => {
  const pins = new FakePinLayer();
  let controller: Controller;
  let sim: Simulator;

  beforeAll(async () => {
    const { dataDir, site } = prepareData({ siteFile: WIRED });
    // Active-low inputs: wire high = inactive (door closed, REX not pressed).
    pins.setInput(CONTACT, 1);
    pins.setInput(REX, 1);
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
      gpioPins: pins,
    });
    enrolWiredHolder(controller.ctx.store.people);
    sim = await Simulator.start({ site, url: controller.brokerUrl, ca: readCa(dataDir), secrets: loadSecrets(dataDir) });
  });

  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
  });

  it('drives the fail-secure strike to locked (de-energised) at start', () => {
    expect(pins.level(STRIKE)).toBe(0);
    expect(controller.doors.state('store-door')?.lock).toBe('locked');
  });

  it('a card at the MQTT reader energises the GPIO strike; closing the door relocks it', async () => {
    const granted = sim.expectCommand('store-reader', (c) => c.command === 'indicate', 2000, 'indication');
    await sim.swipe('store-reader', 'a0a0a0a0');
    expect(await granted).toMatchObject({ pattern: 'granted' });
    await waitFor(() => pins.level(STRIKE) === 1, 2000, 'strike energised');
    pins.setInput(CONTACT, 0); // opened
    await waitFor(() => controller.doors.state('store-door')?.open === true, 2000, 'door open');
    pins.setInput(CONTACT, 1); // closed
    await waitFor(() => pins.level(STRIKE) === 0, 2000, 'strike relocked on close');
    expect(controller.ctx.store.entryLog.recent(1)[0]).toMatchObject({ decision: 'granted', doorId: 'store-door', personName: 'Ito Jun' });
  });

  it('REX opens from inside and is logged as an exit; opening without it is a forced door', async () => {
    pins.setInput(REX, 0); // pressed (active-low)
    pins.setInput(REX, 1);
    await waitFor(() => pins.level(STRIKE) === 1, 2000, 'strike energised by REX');
    expect(controller.ctx.store.entryLog.recent(1)[0]).toMatchObject({ kind: 'door', reason: 'rex', direction: 'out', doorId: 'store-door' });
    pins.setInput(CONTACT, 0);
    pins.setInput(CONTACT, 1);
    await waitFor(() => pins.level(STRIKE) === 0, 2000, 'relocked');
    pins.setInput(CONTACT, 0); // pushed open while locked
    await waitFor(() => controller.ctx.store.events.recent(10, 'door-forced')[0], 2000, 'door-forced event');
    expect(controller.ctx.store.entryLog.recent(1)[0]).toMatchObject({ kind: 'door', reason: 'door-forced' });
    pins.setInput(CONTACT, 1);
  });

  it('stop leaves the strike locked', async () => {
    pins.setInput(REX, 0);
    pins.setInput(REX, 1);
    await waitFor(() => pins.level(STRIKE) === 1, 2000, 'unlocked by REX');
    await controller.stop();
    expect(pins.level(STRIKE)).toBe(0);
  });
});

describe.skipIf(existsSync('/sys/class/gpio'))('a GPIO site on a machine without GPIO', () => {
  it('fails at start with a clear message naming the wired devices', () => {
    const { dataDir, siteFile } = prepareData({ siteFile: WIRED });
    const r = spawnSync(process.execPath, [CLI, 'start', '--site', siteFile, '--data', dataDir, '--mqtt-port', '0', '--api-port', '0'], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no usable GPIO: .*\/sys\/class\/gpio.*store-strike, store-contact, store-rex/);
  });
});
