import { describe, expect, it } from 'vitest';
import { EXPIRED_ERROR, msPastExpiry, parseCommand, parseDeviceEvent, parseDeviceStatus, Topics, MAX_EVENT_BYTES } from '../../src/devices/protocol.js';

const b = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('device protocol v1', () => {
  it('accepts each documented event', () => {
    for (const e of [
      { type: 'credential', credential: { kind: 'card', value: '04A1B2C3' }, boot: 3, seq: 9 },
      { type: 'input', input: 'contact', active: true },
      { type: 'ack', command: 'c1', ok: false, error: 'jammed' },
      { type: 'snapshot', command: 'c2', contentType: 'image/jpeg', data: Buffer.from([0xff, 0xd8, 0xff]).toString('base64') },
    ])
      expect(parseDeviceEvent(b(e))).toEqual({ ok: true, value: e });
  });

  it.each([
    ['not json', 'payload is not valid JSON'],
    [{ type: 'credential', credential: { kind: 'card', value: 1 } }, 'credential.value'],
    [{ type: 'credential', credential: { kind: 'palm', value: 'x' } }, 'credential.kind'],
    [{ type: 'input', input: 'contact', active: true, extra: 1 }, 'extra'],
    [{ type: 'input', input: 'contact', active: 'yes' }, 'active'],
    [{ type: 'input', input: 'contact', active: true, seq: -1 }, 'seq'],
    [{ type: 'nope' }, 'type'],
    [[1, 2], '(root)'],
  ])('rejects %j naming %s', (payload, where) => {
    const r = parseDeviceEvent(b(payload));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toContain(where);
  });

  it('rejects invalid UTF-8 and oversized non-snapshot events', () => {
    expect(parseDeviceEvent(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))).toEqual({ ok: false, error: 'payload is not valid UTF-8' });
    const big = { type: 'input', input: 'contact', active: true, seq: 1, pad: 'x'.repeat(MAX_EVENT_BYTES) };
    expect(parseDeviceEvent(b(big)).ok).toBe(false);
  });

  it('validates status and commands', () => {
    expect(parseDeviceStatus(b({ online: false }))).toEqual({ ok: true, value: { online: false } });
    expect(parseDeviceStatus(b({ online: 'no' })).ok).toBe(false);
    expect(parseCommand(b({ id: 'x', command: 'unlock', durationMs: 5000 })).ok).toBe(true);
    expect(parseCommand(b({ id: 'x', command: 'unlock' })).ok).toBe(false);
    expect(parseCommand(b({ id: 'x', command: 'indicate', pattern: 'party' })).ok).toBe(false);
  });

  it('takes an optional device time `at` on every event (epoch ms, whole, not negative)', () => {
    const at = 1_795_646_683_123;
    for (const e of [
      { type: 'credential', credential: { kind: 'card', value: '04A1B2C3' }, boot: 3, seq: 9, at },
      { type: 'input', input: 'rex', active: true, at },
      { type: 'ack', command: 'c1', ok: true, at },
      { type: 'snapshot', command: 'c2', contentType: 'image/jpeg', data: 'AAAA', at },
    ])
      expect(parseDeviceEvent(b(e))).toEqual({ ok: true, value: e });
    for (const bad of [-1, 1.5, '1795646683123', 8.64e15 + 1]) {
      const r = parseDeviceEvent(b({ type: 'credential', credential: { kind: 'card', value: 'x' }, at: bad }));
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toContain('at');
    }
  });

  it('takes an optional expiresAt on unlock only; msPastExpiry says how late a command is', () => {
    const unlock = { id: 'x', command: 'unlock', durationMs: 5000, expiresAt: 1_000_000 };
    const parsed = parseCommand(b(unlock));
    expect(parsed).toEqual({ ok: true, value: unlock });
    expect(parseCommand(b({ ...unlock, expiresAt: -5 })).ok).toBe(false);
    expect(parseCommand(b({ ...unlock, expiresAt: 'soon' })).ok).toBe(false);
    expect(parseCommand(b({ id: 'x', command: 'lock', expiresAt: 1_000_000 })).ok).toBe(false);
    expect(parseCommand(b({ id: 'x', command: 'indicate', pattern: 'granted', expiresAt: 1_000_000 })).ok).toBe(false);
    if (!parsed.ok) throw new Error('unreachable');
    expect(msPastExpiry(parsed.value, 999_000)).toBe(0);
    expect(msPastExpiry(parsed.value, 1_000_000)).toBe(0);
    expect(msPastExpiry(parsed.value, 1_000_250)).toBe(250);
    expect(msPastExpiry({ id: 'y', command: 'unlock', durationMs: 5000 }, Number.MAX_SAFE_INTEGER)).toBe(0);
    expect(msPastExpiry({ id: 'z', command: 'lock' }, Number.MAX_SAFE_INTEGER)).toBe(0);
    expect(EXPIRED_ERROR).toBe('expired');
  });

  it('builds and splits topics under a base', () => {
    const t = new Topics('site/a');
    expect(t.device('lab-lock', 'commands')).toBe('site/a/devices/lab-lock/commands');
    expect(t.parseDeviceTopic('site/a/devices/lab-reader/events')).toEqual({ deviceId: 'lab-reader', channel: 'events' });
    expect(t.parseDeviceTopic('site/a/devices/lab-reader/events/x')).toBeUndefined();
    expect(t.parseDeviceTopic('other/devices/x/events')).toBeUndefined();
  });
});
