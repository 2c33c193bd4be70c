import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkGpioAvailable, GpioDriver } from '../../src/devices/gpio.js';
import { FakePinLayer } from '../../src/devices/gpio-fake.js';
import type { DriverListener } from '../../src/devices/driver.js';
import type { DeviceEvent, DeviceStatus } from '../../src/devices/protocol.js';
import { deviceSchema, type DeviceConfig } from '../../src/site/schema.js';

const BASE = 512;

function device(id: string, kind: DeviceConfig['kind'], pin: number, extra: Record<string, unknown> = {}): DeviceConfig {
  return deviceSchema.parse({ id, kind, transport: 'gpio', gpio: { pin, ...extra }, ...(kind === 'input' ? { input: 'emergency' } : {}) });
}

class Recorder implements DriverListener {
  events: Array<{ id: string; event: DeviceEvent }> = [];
  statuses: Array<{ id: string; status: DeviceStatus }> = [];
  event(id: string, event: DeviceEvent): void {
    this.events.push({ id, event });
  }
  status(id: string, status: DeviceStatus): void {
    this.statuses.push({ id, status });
  }
  rejected(): void {}
}

let pins: FakePinLayer;
let rec: Recorder;
let driver: GpioDriver | undefined;

async function startDriver(devices: DeviceConfig[], failModes: Record<string, 'secure' | 'safe'> = {}, chipBase = BASE) {
  driver = new GpioDriver({ devices, chipBase, lockFailModes: new Map(Object.entries(failModes)), pins });
  await driver.start(rec);
  return driver;
}

beforeEach(() => {
  pins = new FakePinLayer();
  rec = new Recorder();
});
afterEach(async () => {
  vi.useRealTimers();
  await driver?.stop();
  driver = undefined;
});

describe('GpioDriver', () => {
  it('adds chipBase to the pin number and opens locks as outputs, contacts as inputs', async () => {
    await startDriver([device('strike', 'lock', 17), device('door-contact', 'contact', 27, { debounceMs: 50 })]);
    expect(pins.opened()).toEqual([529, 539]);
    expect(pins.config(529)?.direction).toBe('out');
    expect(pins.config(539)).toEqual({ direction: 'in', opts: { activeLow: false, debounceMs: 50 } });
  });

  it('uses chipBase 0 on older kernels', async () => {
    await startDriver([device('strike', 'lock', 17)], {}, 0);
    expect(pins.opened()).toEqual([17]);
  });

  it('fail-secure lock: de-energised while locked, energised to unlock', async () => {
    const d = await startDriver([device('strike', 'lock', 17)], { strike: 'secure' });
    expect(pins.physical(529)).toBe(0);
    expect(await d.send('strike', { command: 'unlock', durationMs: 5000 })).toEqual({ ok: true });
    expect(pins.physical(529)).toBe(1);
    expect(await d.send('strike', { command: 'lock' })).toEqual({ ok: true });
    expect(pins.physical(529)).toBe(0);
  });

  it('fail-safe lock: energised while locked, de-energised to unlock', async () => {
    const d = await startDriver([device('maglock', 'lock', 5)], { maglock: 'safe' });
    expect(pins.physical(517)).toBe(1);
    await d.send('maglock', { command: 'unlock', durationMs: 5000 });
    expect(pins.physical(517)).toBe(0);
    await d.send('maglock', { command: 'lock' });
    expect(pins.physical(517)).toBe(1);
  });

  it('defaults to fail-secure when the lock has no fail mode', async () => {
    const d = await startDriver([device('strike', 'lock', 17)]);
    expect(pins.physical(529)).toBe(0);
    await d.send('strike', { command: 'unlock', durationMs: 5000 });
    expect(pins.physical(529)).toBe(1);
  });

  it('active-low relay: opens at the locked level and inverts the wire', async () => {
    const d = await startDriver([device('strike', 'lock', 17, { activeLow: true })], { strike: 'secure' });
    expect(pins.config(529)?.opts).toMatchObject({ activeLow: true, initial: 0 });
    expect(pins.level(529)).toBe(0);
    expect(pins.physical(529)).toBe(1);
    await d.send('strike', { command: 'unlock', durationMs: 5000 });
    expect(pins.physical(529)).toBe(0);
  });

  it('drives a lock left unlocked by a previous run back to locked at start', async () => {
    const first = new GpioDriver({ devices: [device('strike', 'lock', 17)], chipBase: BASE, lockFailModes: new Map(), pins });
    await first.start(rec);
    await first.send('strike', { command: 'unlock', durationMs: 60_000 });
    pins.failWrites(529); // the relock at stop fails: the run ends with the strike energised
    await first.stop();
    pins.failWrites(529, false);
    expect(pins.physical(529)).toBe(1);
    await startDriver([device('strike', 'lock', 17)]);
    expect(pins.physical(529)).toBe(0);
  });

  it('relocks by itself after durationMs', async () => {
    const d = await startDriver([device('strike', 'lock', 17)]);
    await d.send('strike', { command: 'unlock', durationMs: 150 });
    expect(pins.physical(529)).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(pins.physical(529)).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(pins.physical(529)).toBe(0);
  });

  it('a second unlock restarts the relock timer', async () => {
    vi.useFakeTimers();
    const d = await startDriver([device('strike', 'lock', 17)]);
    await d.send('strike', { command: 'unlock', durationMs: 1000 });
    vi.advanceTimersByTime(800);
    await d.send('strike', { command: 'unlock', durationMs: 1000 });
    vi.advanceTimersByTime(800);
    expect(pins.physical(529)).toBe(1);
    vi.advanceTimersByTime(200);
    expect(pins.physical(529)).toBe(0);
  });

  it('lock cancels the pending relock', async () => {
    vi.useFakeTimers();
    const d = await startDriver([device('strike', 'lock', 17)]);
    await d.send('strike', { command: 'unlock', durationMs: 1000 });
    await d.send('strike', { command: 'lock' });
    expect(vi.getTimerCount()).toBe(0);
    // An unlock right after must not be cut short by the cancelled timer.
    await d.send('strike', { command: 'unlock', durationMs: 5000 });
    vi.advanceTimersByTime(1500);
    expect(pins.physical(529)).toBe(1);
  });

  it('siren follows output on/off', async () => {
    const d = await startDriver([device('siren', 'siren', 22)]);
    expect(pins.physical(534)).toBe(0);
    expect(await d.send('siren', { command: 'output', on: true })).toEqual({ ok: true });
    expect(pins.physical(534)).toBe(1);
    expect(await d.send('siren', { command: 'output', on: false })).toEqual({ ok: true });
    expect(pins.physical(534)).toBe(0);
  });

  it('refuses commands a pin cannot carry out, and unknown devices', async () => {
    const d = await startDriver([device('strike', 'lock', 17), device('siren', 'siren', 22), device('door-contact', 'contact', 27)]);
    const refused = [
      await d.send('strike', { command: 'indicate', pattern: 'granted' }),
      await d.send('strike', { command: 'snapshot' }),
      await d.send('strike', { command: 'output', on: true }),
      await d.send('siren', { command: 'unlock', durationMs: 1000 }),
      await d.send('door-contact', { command: 'output', on: true }),
      await d.send('nope', { command: 'lock' }),
    ];
    for (const r of refused) {
      expect(r.ok).toBe(false);
      expect(r.ok === false && r.error.length).toBeGreaterThan(0);
    }
    expect(refused[5]).toEqual({ ok: false, error: expect.stringContaining('nope') });
    expect(pins.physical(529)).toBe(0);
    expect(pins.physical(534)).toBe(0);
  });

  it('a failing write resolves ok:false instead of rejecting', async () => {
    const d = await startDriver([device('strike', 'lock', 17)]);
    pins.failWrites(529);
    const result = await d.send('strike', { command: 'unlock', durationMs: 1000 });
    expect(result).toEqual({ ok: false, error: expect.stringContaining('EIO') });
  });

  it('a relock that fails reports the lock offline', async () => {
    vi.useFakeTimers();
    const d = await startDriver([device('strike', 'lock', 17)]);
    await d.send('strike', { command: 'unlock', durationMs: 1000 });
    pins.failWrites(529);
    vi.advanceTimersByTime(1000);
    expect(rec.statuses.at(-1)).toEqual({ id: 'strike', status: { online: false, firmware: 'gpio' } });
  });

  it('reports every device online and each input level once at start', async () => {
    pins.setInput(539, 1); // door already open before the daemon starts
    await startDriver([
      device('strike', 'lock', 17),
      device('door-contact', 'contact', 27),
      device('exit-button', 'rex', 6),
      device('pir', 'ir-sensor', 13),
      device('beam', 'beam', 19),
      device('panic', 'input', 26),
    ]);
    expect(rec.statuses).toEqual(
      ['strike', 'door-contact', 'exit-button', 'pir', 'beam', 'panic'].map((id) => ({ id, status: { online: true, firmware: 'gpio' } })),
    );
    expect(rec.events).toEqual([
      { id: 'door-contact', event: { type: 'input', input: 'contact', active: true } },
      { id: 'exit-button', event: { type: 'input', input: 'rex', active: false } },
      { id: 'pir', event: { type: 'input', input: 'motion', active: false } },
      { id: 'beam', event: { type: 'input', input: 'beam', active: false } },
      { id: 'panic', event: { type: 'input', input: 'emergency', active: false } },
    ]);
  });

  it('contact edges become input events', async () => {
    await startDriver([device('door-contact', 'contact', 27)]);
    rec.events = [];
    pins.setInput(539, 1);
    pins.setInput(539, 0);
    expect(rec.events).toEqual([
      { id: 'door-contact', event: { type: 'input', input: 'contact', active: true } },
      { id: 'door-contact', event: { type: 'input', input: 'contact', active: false } },
    ]);
  });

  it('activeLow inverts an input', async () => {
    pins.setInput(539, 1); // pulled up: the switch is open
    await startDriver([device('door-contact', 'contact', 27, { activeLow: true })]);
    expect(rec.events).toEqual([{ id: 'door-contact', event: { type: 'input', input: 'contact', active: false } }]);
    pins.setInput(539, 0);
    expect(rec.events.at(-1)).toEqual({ id: 'door-contact', event: { type: 'input', input: 'contact', active: true } });
  });

  it('stop leaves the lock locked, closes pins and stops events', async () => {
    vi.useFakeTimers();
    const d = await startDriver([device('maglock', 'lock', 17), device('door-contact', 'contact', 27)], { maglock: 'safe' });
    await d.send('maglock', { command: 'lock' });
    await d.stop();
    expect(pins.physical(529)).toBe(1);
    expect(pins.closed(529)).toBe(true);
    expect(pins.closed(539)).toBe(true);
    const seen = rec.events.length;
    pins.setInput(539, 1);
    expect(rec.events.length).toBe(seen);
    expect(await d.send('maglock', { command: 'unlock', durationMs: 1000 })).toMatchObject({ ok: false });
    expect(pins.physical(529)).toBe(1);
  });

  it('stop relocks an unlocked door, clears its timer and never throws', async () => {
    vi.useFakeTimers();
    const d = await startDriver([device('strike', 'lock', 17)]);
    await d.send('strike', { command: 'unlock', durationMs: 1000 });
    expect(pins.physical(529)).toBe(1);
    await expect(d.stop()).resolves.toBeUndefined();
    expect(pins.physical(529)).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await expect(d.stop()).resolves.toBeUndefined();
  });
});

describe('checkGpioAvailable', () => {
  it('names the missing sysfs path', () => {
    const missing = join(tmpdir(), 'tobira-no-gpio-here');
    expect(checkGpioAvailable(missing)).toContain(missing);
  });

  it('reports an export file it cannot open', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-gpio-'));
    expect(checkGpioAvailable(dir)).toContain(join(dir, 'export'));
  });

  it('accepts a writable sysfs directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-gpio-'));
    writeFileSync(join(dir, 'export'), '');
    expect(checkGpioAvailable(dir)).toBeUndefined();
  });
});
