// The gateway's clock: synchronisation read from chrony or systemd (parsers on real outputs), jumps
// found against the monotonic clock, ctx.now held at the last logged record, an entry log whose
// times never go backwards.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { BACKWARD_JUMP_MS, FORWARD_JUMP_MS, GatewayClock } from '../../src/controller/clock.js';
import {
  ClockSync,
  parseChronyTracking,
  parseTimedatectlShow,
  parseTimespan,
  parseTimesyncStatus,
  readClockSync,
  runCommand,
  type CommandRunner,
} from '../../src/controller/clock-sync.js';
import type { NewEvent } from '../../src/controller/alarms.js';
import { openDatabase } from '../../src/store/db.js';
import { EntryLog, verifyEntryLog } from '../../src/store/entry-log.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures/clock');
// Captured from chrony 4.3 (Debian 12): a chronyd following a local server, and one with no source.
const chronySynced = readFileSync(join(FIXTURES, 'chronyc-tracking-synchronised.csv'), 'utf8');
const chronyUnsynced = readFileSync(join(FIXTURES, 'chronyc-tracking-unsynchronised.csv'), 'utf8');
// As systemd 252's timedatectl prints them (no systemd runs where these tests run).
const timedatectlShow = (synced: 'yes' | 'no') =>
  `Timezone=Asia/Tokyo\nLocalRTC=no\nCanNTP=yes\nNTP=yes\nNTPSynchronized=${synced}\nTimeUSec=Thu 2026-12-03 23:09:01 JST\nRTCTimeUSec=Thu 2026-12-03 23:09:01 JST\n`;
const timesyncStatus = `       Server: 133.243.238.243 (ntp.nict.jp)
Poll interval: 34min 8s (min: 32s; max 34min 8s)
         Leap: normal
      Version: 4
      Stratum: 1
    Reference: NICT
    Precision: 1us (-24)
Root distance: 15us (max: 5s)
       Offset: -1.042ms
        Delay: 8.621ms
       Jitter: 512us
 Packet count: 12
    Frequency: +7.249ppm
`;

/** Collects raised events (the store and the bus are the HIL test's: tests/hil/clock.test.ts). */
const collect =
  (into: NewEvent[]) =>
  (e: NewEvent): never => {
    into.push(e);
    return undefined as never;
  };

/** A runner answering from a table, as the programs would; anything else is not installed. */
function runner(answers: Record<string, { code: number; stdout: string } | null>): CommandRunner & { asked: string[] } {
  const asked: string[] = [];
  const run = async (file: string, args: readonly string[]) => {
    const cmd = [file, ...args].join(' ');
    asked.push(cmd);
    return answers[cmd] ?? null;
  };
  return Object.assign(run, { asked });
}

describe('clock synchronisation: parsing what chrony and systemd say', () => {
  it('chronyc -c tracking: synchronised with the offset (chrony finds the clock fast: positive), or not', () => {
    expect(parseChronyTracking(chronySynced)).toEqual({ state: 'synchronised', source: 'chrony', offsetSeconds: 0.000001424, reference: '127.0.0.1' });
    expect(parseChronyTracking(chronyUnsynced)).toEqual({ state: 'unsynchronised', source: 'chrony', offsetSeconds: null, reference: null });
    // A clock chrony finds slow is behind: a negative offset.
    const slow = chronySynced.replace('-0.000001424', '0.250000000');
    expect(parseChronyTracking(slow)?.offsetSeconds).toBe(-0.25);
    expect(parseChronyTracking('506 Cannot talk to daemon')).toBeUndefined();
    expect(parseChronyTracking('')).toBeUndefined();
  });

  it('timedatectl show and timesync-status: the kernel flag, the offset and the server', () => {
    expect(parseTimedatectlShow(timedatectlShow('yes'))).toBe(true);
    expect(parseTimedatectlShow(timedatectlShow('no'))).toBe(false);
    expect(parseTimedatectlShow("System has not been booted with systemd as init system (PID 1). Can't operate.")).toBeUndefined();
    expect(parseTimesyncStatus(timesyncStatus)).toEqual({ offsetSeconds: -0.001042, reference: '133.243.238.243 (ntp.nict.jp)' });
    expect(parseTimespan('+117us')).toBeCloseTo(0.000117, 9);
    expect(parseTimespan('1min 4.5s')).toBe(64.5);
    expect(parseTimespan('-2s 500ms')).toBe(-2.5);
    expect(parseTimespan('soon')).toBeUndefined();
  });

  it('asks chrony first, then systemd, then timesyncd’s flag; unknown when nobody answers', async () => {
    const ok = { code: 0 };
    expect(await readClockSync(runner({ 'chronyc -c tracking': { ...ok, stdout: chronySynced } }), () => false)).toMatchObject({
      state: 'synchronised',
      source: 'chrony',
    });
    // chronyd installed but not running: chronyc fails, systemd answers.
    const systemd = runner({
      'chronyc -c tracking': { code: 1, stdout: '506 Cannot talk to daemon\n' },
      'timedatectl show': { ...ok, stdout: timedatectlShow('yes') },
      'timedatectl timesync-status': { ...ok, stdout: timesyncStatus },
    });
    expect(await readClockSync(systemd, () => false)).toEqual({
      state: 'synchronised',
      source: 'timedatectl',
      offsetSeconds: -0.001042,
      reference: '133.243.238.243 (ntp.nict.jp)',
    });
    expect(systemd.asked).toEqual(['chronyc -c tracking', 'timedatectl show', 'timedatectl timesync-status']);
    expect(await readClockSync(runner({ 'timedatectl show': { ...ok, stdout: timedatectlShow('no') } }), () => true)).toMatchObject({
      state: 'unsynchronised',
      source: 'timedatectl',
    });
    expect(await readClockSync(runner({}), () => true)).toMatchObject({ state: 'synchronised', source: 'timesyncd' });
    expect(await readClockSync(runner({}), () => false)).toEqual({ state: 'unknown', source: null, offsetSeconds: null, reference: null });
  });

  it('the real runner: a program that is not installed is null, a failing one its exit code', async () => {
    expect(await runCommand('tobira-no-such-program', [])).toBeNull();
    expect(await runCommand(process.execPath, ['-e', 'process.stdout.write("x"); process.exit(3)'])).toEqual({ code: 3, stdout: 'x' });
    // Under systemd, a program it runs must not speak on the daemon's notify socket.
    const was = process.env.NOTIFY_SOCKET;
    process.env.NOTIFY_SOCKET = '/run/tobira-test/notify';
    try {
      const env = await runCommand(process.execPath, ['-e', 'process.stdout.write([process.env.NOTIFY_SOCKET ?? "none", process.env.LC_ALL].join(" "))']);
      expect(env).toEqual({ code: 0, stdout: 'none C' });
    } finally {
      if (was === undefined) delete process.env.NOTIFY_SOCKET;
      else process.env.NOTIFY_SOCKET = was;
    }
  });

  it('raises clock-unsynchronised once per change, and clock-synchronised when it is again', async () => {
    const raised: NewEvent[] = [];
    let answer = chronySynced;
    const sync = new ClockSync({
      log: pino({ level: 'silent' }),
      alarms: { raise: collect(raised) },
      run: async (file) => (file === 'chronyc' ? { code: 0, stdout: answer } : null),
      flagExists: () => false,
    });
    await sync.poll();
    expect(sync.status).toMatchObject({ state: 'synchronised', offsetSeconds: 0.000001424 });
    answer = chronyUnsynced;
    await sync.poll();
    await sync.poll();
    expect(sync.status.state).toBe('unsynchronised');
    answer = chronySynced;
    await sync.poll();
    expect(raised.map((e) => [e.type, e.severity])).toEqual([
      ['clock-unsynchronised', 'warning'],
      ['clock-synchronised', 'info'],
    ]);
  });
});

describe('the controller’s clock', () => {
  const sources = () => {
    const t = { wall: Date.parse('2026-12-03T05:00:00Z'), mono: 1000 };
    return { t, wall: () => t.wall, monotonic: () => t.mono };
  };

  it('finds a jump backwards, or forwards by more than a minute beyond the elapsed time, and raises clock-jump', () => {
    const s = sources();
    const raised: NewEvent[] = [];
    const clock = new GatewayClock(() => null, s, 60_000);
    clock.report = { log: pino({ level: 'silent' }), alarms: { raise: collect(raised) } };
    clock.start();
    try {
      // Time passing on both clocks, slewing within the noise floor: no jump.
      s.t.wall += 5000;
      s.t.mono += 5000;
      expect(clock.check()).toBeUndefined();
      s.t.wall += 5000 - BACKWARD_JUMP_MS;
      s.t.mono += 5000;
      expect(clock.check()).toBeUndefined();
      s.t.wall += 5000 + FORWARD_JUMP_MS;
      s.t.mono += 5000;
      expect(clock.check()).toBeUndefined();
      // Set back two seconds.
      s.t.wall += 5000 - 2000;
      s.t.mono += 5000;
      expect(clock.check()).toMatchObject({ direction: 'backwards', byMs: -2000 });
      // Set forward 61 s.
      s.t.wall += 5000 + 61_000;
      s.t.mono += 5000;
      expect(clock.check()).toMatchObject({ direction: 'forwards', byMs: 61_000 });
      expect(clock.jumps).toBe(2);
      expect(raised).toMatchObject([
        { category: 'system', type: 'clock-jump', severity: 'alarm', detail: { direction: 'backwards', byMs: -2000, elapsedMs: 5000 } },
        { category: 'system', type: 'clock-jump', severity: 'alarm', detail: { direction: 'forwards', byMs: 61_000 } },
      ]);
    } finally {
      clock.stop();
    }
  });

  it('never reads earlier than the last logged record, and counts the times it held there', () => {
    const s = sources();
    let lastLogged: number | null = null;
    const clock = new GatewayClock(() => lastLogged, s);
    expect(clock.now().getTime()).toBe(s.t.wall);
    lastLogged = s.t.wall + 30_000;
    expect(clock.now().getTime()).toBe(lastLogged);
    expect(clock.now().getTime()).toBe(lastLogged);
    expect(clock.clamped).toBe(2);
    s.t.wall += 40_000;
    expect(clock.now().getTime()).toBe(s.t.wall);
    expect(clock.clamped).toBe(2);
  });

  it('the entry log takes no time before the previous record’s; the chain still verifies', () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-clock-')));
    const log = new EntryLog(db);
    expect(log.lastAtMs).toBeNull();
    log.append({ at: '2026-12-03T05:00:10.000Z', kind: 'door', doorId: 'lab-main', reason: 'rex' });
    const held = log.append({ at: '2026-12-03T05:00:04.000Z', kind: 'door', doorId: 'lab-main', reason: 'rex' });
    expect(held.at).toBe('2026-12-03T05:00:10.000Z');
    expect(log.clampedAts).toBe(1);
    log.append({ at: '2026-12-03T05:00:11.000Z', kind: 'door', doorId: 'lab-main', reason: 'rex' });
    expect(log.lastAtMs).toBe(Date.parse('2026-12-03T05:00:11.000Z'));
    expect(verifyEntryLog(db)).toMatchObject({ ok: true, records: 3 });
    // Reopened, the log still knows its last time.
    expect(new EntryLog(db).lastAtMs).toBe(Date.parse('2026-12-03T05:00:11.000Z'));
  });
});
