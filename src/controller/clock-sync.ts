// Is the gateway's clock synchronised, and by how much is it off? Asked of chrony or of systemd
// (timedatectl, systemd-timesyncd), whichever answers, every minute; "unknown" when neither does:
// a clock nobody vouches for is never assumed right (standard V-1-36; IEC 60839-11-1: ±10 s a week).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Alarms } from './alarms.js';
import { EVENT_TYPES } from '../policy/vocabulary.js';

export type SyncState = 'synchronised' | 'unsynchronised' | 'unknown';

export interface ClockSyncStatus {
  state: SyncState;
  /** Who answered: chrony, systemd (timedatectl or timesyncd's flag file), or nobody. */
  source: 'chrony' | 'timedatectl' | 'timesyncd' | null;
  /** How far the gateway's clock is ahead of the reference (negative: behind), when the source says. */
  offsetSeconds: number | null;
  /** The reference the source follows (a server's name or address), when it says. */
  reference: string | null;
  /** When the source was last asked (null: not yet). */
  checkedAt: string | null;
}

/** Runs a program; null when it is not installed. Injected in tests. */
export type CommandRunner = (file: string, args: readonly string[]) => Promise<{ code: number; stdout: string } | null>;

/**
 * The programs' environment: C locale (the outputs parsed here are the untranslated ones), and none of
 * systemd's notify variables: under the service a failing timedatectl would otherwise tell the
 * daemon's notify socket its ERRNO, as if the daemon had said it.
 */
function childEnv(): NodeJS.ProcessEnv {
  const { NOTIFY_SOCKET: _s, WATCHDOG_USEC: _u, WATCHDOG_PID: _p, ...env } = process.env;
  return { ...env, LC_ALL: 'C' };
}

export const runCommand: CommandRunner = (file, args) =>
  new Promise((resolve) => {
    execFile(file, [...args], { timeout: 5000, encoding: 'utf8', env: childEnv() }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return resolve(null);
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: stdout ?? '' });
    });
  });

type Reading = Omit<ClockSyncStatus, 'checkedAt'>;

/**
 * `chronyc -c tracking`: one CSV line, fields as `chronyc tracking` prints them: reference ID (hex),
 * its name or address, stratum, reference time, system time (the correction chrony is slewing in:
 * positive when the clock is slow), last offset, RMS offset, frequency, residual frequency, skew,
 * root delay, root dispersion, update interval, leap status ("Normal", "Insert second",
 * "Delete second" or "Not synchronised"). Undefined when the line is not that.
 */
export function parseChronyTracking(csv: string): Reading | undefined {
  const fields = csv.trim().split('\n')[0]?.split(',') ?? [];
  if (fields.length < 14) return undefined;
  const refId = fields[0]!;
  const stratum = Number(fields[2]);
  const correction = Number(fields[4]);
  const leap = fields[13]!.trim();
  if (!/^[0-9A-Fa-f]{8}$/.test(refId) || !Number.isFinite(stratum) || !Number.isFinite(correction)) return undefined;
  const synchronised = leap !== 'Not synchronised' && refId !== '00000000' && stratum > 0;
  return {
    state: synchronised ? 'synchronised' : 'unsynchronised',
    source: 'chrony',
    // A clock chrony finds slow (positive correction) is behind: a negative offset.
    offsetSeconds: synchronised ? -correction : null,
    reference: synchronised ? fields[1] || refId : null,
  };
}

/** `timedatectl show`: KEY=value lines; NTPSynchronized is the kernel's own flag, whoever set it. */
export function parseTimedatectlShow(text: string): boolean | undefined {
  const match = /^NTPSynchronized=(yes|no)$/m.exec(text);
  return match ? match[1] === 'yes' : undefined;
}

const SPAN_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, min: 60, h: 3600, d: 86_400 };

/** A systemd time span as timedatectl prints it: "-117us", "+1.234ms", "1min 4.5s". */
export function parseTimespan(text: string): number | undefined {
  const trimmed = text.trim();
  const sign = trimmed.startsWith('-') ? -1 : 1;
  const body = trimmed.replace(/^[+-]/, '');
  let total = 0;
  let matched = '';
  for (const m of body.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|min|s|h|d)\s*/g)) {
    total += Number(m[1]) * SPAN_UNITS[m[2]!]!;
    matched += m[0];
  }
  return matched.trim() === body && body !== '' ? sign * total : undefined;
}

/** `timedatectl timesync-status`: systemd-timesyncd's last exchange ("Server:", "Offset:" lines). */
export function parseTimesyncStatus(text: string): { offsetSeconds: number | null; reference: string | null } {
  const field = (name: string) => new RegExp(`^\\s*${name}:\\s*(.+)$`, 'm').exec(text)?.[1]?.trim();
  const offset = field('Offset');
  return { offsetSeconds: offset === undefined ? null : (parseTimespan(offset) ?? null), reference: field('Server') ?? null };
}

/** timesyncd touches this file once it has synchronised the clock (systemd 239 and later). */
export const TIMESYNCD_FLAG = '/run/systemd/timesync/synchronized';

/** Asks chrony, then systemd, then looks for timesyncd's flag; unknown when nobody answers. */
export async function readClockSync(run: CommandRunner = runCommand, flagExists: () => boolean = () => existsSync(TIMESYNCD_FLAG)): Promise<Reading> {
  const chrony = await run('chronyc', ['-c', 'tracking']).catch(() => null);
  if (chrony?.code === 0) {
    const reading = parseChronyTracking(chrony.stdout);
    if (reading) return reading;
  }
  const show = await run('timedatectl', ['show']).catch(() => null);
  const synchronised = show?.code === 0 ? parseTimedatectlShow(show.stdout) : undefined;
  if (synchronised !== undefined) {
    const status = await run('timedatectl', ['timesync-status']).catch(() => null);
    const timesync = status?.code === 0 ? parseTimesyncStatus(status.stdout) : { offsetSeconds: null, reference: null };
    return {
      state: synchronised ? 'synchronised' : 'unsynchronised',
      source: 'timedatectl',
      offsetSeconds: synchronised ? timesync.offsetSeconds : null,
      reference: synchronised ? timesync.reference : null,
    };
  }
  if (flagExists()) return { state: 'synchronised', source: 'timesyncd', offsetSeconds: null, reference: null };
  return { state: 'unknown', source: null, offsetSeconds: null, reference: null };
}

export const CLOCK_SYNC_POLL_MS = 60_000;

/**
 * Polls the synchronisation every minute. A clock found unsynchronised raises `clock-unsynchronised`
 * (a warning, once per change) and `clock-synchronised` when it is again; "unknown" is logged once.
 */
export class ClockSync {
  private current: ClockSyncStatus = { state: 'unknown', source: null, offsetSeconds: null, reference: null, checkedAt: null };
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly deps: {
      log: Logger;
      alarms: Pick<Alarms, 'raise'>;
      run?: CommandRunner;
      flagExists?: () => boolean;
      pollMs?: number;
    },
  ) {}

  get status(): ClockSyncStatus {
    return this.current;
  }

  start(): void {
    this.stopped = false;
    void this.poll();
    this.timer = setInterval(() => void this.poll(), this.deps.pollMs ?? CLOCK_SYNC_POLL_MS);
    this.timer.unref();
  }

  /** A poll under way is not waited for (a hung chronyc must not hold up the doors locking): its answer is dropped. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Asks once now (a poll already under way is the answer). */
  poll(): Promise<void> {
    this.polling ??= this.ask().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async ask(): Promise<void> {
    const reading = await readClockSync(this.deps.run, this.deps.flagExists).catch(
      (): Reading => ({ state: 'unknown', source: null, offsetSeconds: null, reference: null }),
    );
    if (this.stopped) return;
    const was = this.current;
    this.current = { ...reading, checkedAt: new Date().toISOString() };
    if (reading.state === was.state && was.checkedAt !== null) return;
    const { log, alarms } = this.deps;
    const detail = { source: reading.source, offsetSeconds: reading.offsetSeconds, reference: reading.reference };
    if (reading.state === 'unsynchronised') {
      log.warn(detail, 'the clock is not synchronised: schedules, validity windows and log times depend on it');
      alarms.raise({ ...EVENT_TYPES['clock-unsynchronised'], type: 'clock-unsynchronised', source: reading.source, detail });
    } else if (reading.state === 'unknown') {
      log.warn('cannot tell whether the clock is synchronised: neither chrony (chronyc) nor systemd (timedatectl) answers');
    } else {
      log.info(detail, 'the clock is synchronised');
      if (was.state === 'unsynchronised') alarms.raise({ ...EVENT_TYPES['clock-synchronised'], type: 'clock-synchronised', source: reading.source, detail });
    }
  }
}
