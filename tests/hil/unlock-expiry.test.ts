// Hardware-in-the-loop: no late unlocks. Unlock commands carry `expiresAt`; the firmware simulator's
// lock refuses one that arrives after it (a backlog on the way, or a lock clock ahead), the controller
// raises lock-fault and does not count the door as released. Emergency releases never expire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Simulator } from '../../firmware-sim/index.js';
import type { Command } from '../../src/devices/protocol.js';
import { Controller } from '../../src/controller/controller.js';
import type { DeviceEventOnBus } from '../../src/controller/bus.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { enrol, entries, events, prepareData, startDaemon, type Daemon } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';
import { cardAndPin } from '../helpers/flows.js';
import { readCa } from '../../src/devices/tls.js';

type Unlock = Extract<Command, { command: 'unlock' }>;
const isUnlock = (c: Command): c is Unlock => c.command === 'unlock';
const detail = (e: Record<string, unknown>) => JSON.parse(e.detail as string) as Record<string, unknown>;

describe('unlock expiry, through the daemon and the simulated locks', () => {
  let daemon: Daemon;
  let sim: Simulator;

  beforeAll(async () => {
    // A short expiry and a long acknowledgement timeout: a lock 1.5 s behind refuses the unlock and
    // its refusal still arrives while the controller waits for it.
    daemon = await startDaemon({
      broker: { kind: 'embedded' },
      edit: (raw) => {
        raw.policy = { ...raw.policy, unlockCommandTtlMs: 500 };
        raw.mqtt = { ...raw.mqtt, commandTimeoutMs: 3000 };
      },
    });
    await enrol(daemon, { name: 'Sato Hanako', card: '04A1B2C3', pin: '2580', areas: ['lab'] });
    sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets });
    await waitFor(() => sim.lockState('lab-lock') === 'locked' && sim.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
    await waitFor(() => sim.observed('vault-lock').length > 0, 5000, 'vault-lock driven to rest');
  });

  afterAll(async () => {
    await sim?.stop();
    await daemon?.stop();
  });

  it('a granted unlock carries expiresAt = send time + policy.unlockCommandTtlMs, and a lock on time obeys it', async () => {
    const unlocked = sim.expectCommand('lab-lock', isUnlock, 3000, 'unlock');
    const confirmed = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 8000, "the controller's relock after the unlock time");
    const before = Date.now();
    await cardAndPin(sim, 'lab', '04A1B2C3', '2580');
    const unlock = await unlocked;
    expect(unlock.durationMs).toBe(5000);
    expect(unlock.expiresAt).toBeGreaterThanOrEqual(before + 500);
    expect(unlock.expiresAt).toBeLessThanOrEqual(Date.now() + 500);
    expect(sim.observed('lab-lock').at(-1)).not.toHaveProperty('error');
    expect(sim.lockState('lab-lock')).toBe('unlocked');
    await sim.waitFor(() => sim.lockState('lab-lock') === 'locked', 7000, 'lab-lock relocked by itself');
    await confirmed;
  });

  it('an unlock that reaches the lock after it expired is refused: the door stays locked, lock-fault is raised, the door does not count as released', async () => {
    const seq = entries(daemon).length;
    const notOpenedBefore = events(daemon, 'granted-not-opened').length;
    sim.delayCommands('lab-lock', 1500);
    try {
      const unlocked = sim.expectCommand('lab-lock', isUnlock, 4000, 'the late unlock');
      const relock = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 6000, 'the lock sent after the refusal');
      await cardAndPin(sim, 'lab', '04A1B2C3', '2580');
      await unlocked;
      const seen = sim.observed('lab-lock').find((o) => isUnlock(o.command) && o.at > Date.now() - 4000)!;
      expect(seen.error).toMatch(/^expired \d+ ms ago$/);
      expect(sim.lockState('lab-lock')).toBe('locked');
      expect(await sim.door('lab-main').open()).toBe(false);

      // The grant was decided and committed before the unlock went out; the refusal does not undo the record.
      expect(entries(daemon).slice(seq)).toEqual([expect.objectContaining({ decision: 'granted', door_id: 'lab-main' })]);
      const fault = await waitFor(
        () => events(daemon, 'lock-fault').find((e) => e.source === 'lab-main' && /^expired/.test(String(detail(e).error))),
        3000,
        'lock-fault (expired)',
      );
      expect(detail(fault)).toMatchObject({ lock: 'lab-lock', command: 'unlock', release: { kind: 'grant' } });
      // The controller confirms the lock at once rather than waiting out the unlock time.
      await relock;
    } finally {
      sim.delayCommands('lab-lock', 0);
    }
    // Not released: someone pushing the door open now forces it.
    await sim.door('lab-main').force();
    await waitFor(() => events(daemon, 'door-forced').find((e) => e.source === 'lab-main'), 3000, 'door-forced at lab-main');
    await sim.door('lab-main').close();
    // Not released, so not "granted but not opened" either once the unlock time has passed.
    await new Promise((r) => setTimeout(r, 5500 - 1500));
    expect(events(daemon, 'granted-not-opened')).toHaveLength(notOpenedBefore);
  });

  it('a lock whose clock runs ahead refuses the unlock of a REX press too', async () => {
    sim.skewClock('vault-lock', 10_000);
    try {
      const unlocked = sim.expectCommand('vault-lock', isUnlock, 3000, 'the REX unlock');
      await sim.pressRex('vault-rex');
      await unlocked;
      expect(sim.observed('vault-lock').at(-1)?.error).toMatch(/^expired/);
      expect(sim.lockState('vault-lock')).toBe('locked');
      const fault = await waitFor(() => events(daemon, 'lock-fault').find((e) => e.source === 'vault-door'), 3000, 'lock-fault at vault-door');
      expect(detail(fault)).toMatchObject({ lock: 'vault-lock', command: 'unlock', release: { kind: 'rex' } });
    } finally {
      sim.skewClock('vault-lock', 0);
    }
  });

  it('an emergency release carries no expiry: a lagging lock with a wrong clock still releases', async () => {
    sim.delayCommands('lab-lock', 1000);
    sim.skewClock('lab-lock', 60_000);
    try {
      const released = sim.expectCommand('lab-lock', isUnlock, 4000, 'the emergency unlock');
      await sim.input('fire-panel', true);
      const unlock = await released;
      expect(unlock).not.toHaveProperty('expiresAt');
      expect(unlock.durationMs).toBe(3_600_000);
      expect(sim.lockState('lab-lock')).toBe('unlocked');
      const locked = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 4000, 'lock when the fire panel clears');
      await sim.input('fire-panel', false);
      await locked;
      expect(sim.lockState('lab-lock')).toBe('locked');
    } finally {
      sim.delayCommands('lab-lock', 0);
      sim.skewClock('lab-lock', 0);
    }
  });

  it('a read older than policy.maxReadAgeMs when decided is denied as stale-read: logged, no prompt, no unlock, one backlog warning', async () => {
    const seq = entries(daemon).length;
    const commandsBefore = sim.observed('lab-lock').length;
    const promptsBefore = sim.observed('lab-keypad').filter((o) => o.command.command === 'indicate' && o.command.pattern === 'pin-required').length;
    sim.skewClock('lab-reader', -10_000);
    try {
      const refused = sim.expectCommand('lab-reader', (c) => c.command === 'indicate' && c.pattern === 'denied', 3000, 'denied at the reader');
      await sim.swipe('lab-reader', '04A1B2C3');
      await refused;
    } finally {
      sim.skewClock('lab-reader', 0);
    }
    const record = await waitFor(
      () =>
        entries(daemon)
          .slice(seq)
          .find((e) => e.reason === 'stale-read'),
      3000,
      'the stale-read record',
    );
    // Refused before any lookup: the person is not named, only what was presented.
    expect(record).toMatchObject({ decision: 'denied', door_id: 'lab-main', device_id: 'lab-reader', person_id: null, factors: '["card"]' });
    const warning = await waitFor(() => events(daemon, 'decision-backlog').at(-1), 3000, 'decision-backlog');
    expect(detail(warning)).toMatchObject({ maxReadAgeMs: 3000, device: 'lab-reader', seq: record.seq });
    expect(Number(detail(warning).ageMs)).toBeGreaterThanOrEqual(10_000);
    expect(sim.observed('lab-keypad').filter((o) => o.command.command === 'indicate' && o.command.pattern === 'pin-required')).toHaveLength(promptsBefore);
    expect(
      sim
        .observed('lab-lock')
        .slice(commandsBefore)
        .filter((o) => isUnlock(o.command)),
    ).toEqual([]);
    expect(events(daemon, 'access-denied').filter((e) => detail(e).reason === 'stale-read')).toEqual([]);

    // On time again: the same card and PIN open.
    const unlocked = sim.expectCommand('lab-lock', isUnlock, 3000, 'unlock');
    await cardAndPin(sim, 'lab', '04A1B2C3', '2580');
    await unlocked;
    expect(entries(daemon).at(-1)).toMatchObject({ decision: 'granted', reason: 'granted' });
  });
});

describe('read times on the bus (controller in process)', () => {
  let controller: Controller;
  let sim: Simulator;
  const seen: DeviceEventOnBus[] = [];

  beforeAll(async () => {
    const { dataDir, site } = prepareData();
    controller = await Controller.start({
      site,
      dataDir,
      log: pino({ level: 'silent' }),
      broker: { mode: 'embedded', host: '127.0.0.1', port: await freePort() },
    });
    controller.ctx.bus.on('device.event', (e) => seen.push(e));
    sim = await Simulator.start({
      site,
      url: controller.brokerUrl,
      ca: readCa(dataDir),
      secrets: loadSecrets(dataDir),
      only: ['lab-reader', 'lab-lock', 'lab-keypad'],
    });
  });

  afterAll(async () => {
    await sim?.stop();
    await controller?.stop();
  });

  async function read(card: string): Promise<DeviceEventOnBus> {
    const from = seen.length;
    await sim.swipe('lab-reader', card);
    return waitFor(() => seen.slice(from).find((e) => e.event.type === 'credential'), 2000, 'the read on the bus');
  }

  it("a credential event carries the device clock's `at`; the bus gives receivedAt, deviceAt and occurredAt", async () => {
    const before = Date.now();
    const e = await read('AA000001');
    expect(e.event.at).toBeGreaterThanOrEqual(before);
    expect(e.deviceAt).toBe(e.event.at);
    expect(e.receivedAt).toBeGreaterThanOrEqual(e.deviceAt!);
    expect(e.occurredAt).toBe(e.deviceAt);
  });

  it('a reader clock behind makes the read older; one ahead never makes it younger than its delivery', async () => {
    sim.skewClock('lab-reader', -30_000);
    const behind = await read('AA000002');
    expect(behind.receivedAt - behind.occurredAt).toBeGreaterThanOrEqual(30_000);
    sim.skewClock('lab-reader', 30_000);
    const ahead = await read('AA000003');
    expect(ahead.deviceAt! - ahead.receivedAt).toBeGreaterThan(20_000);
    expect(ahead.occurredAt).toBe(ahead.receivedAt);
    sim.skewClock('lab-reader', 0);
  });
});
