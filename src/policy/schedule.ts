// Business hours: is a moment inside an area's weekly schedule? Pure functions over plain data.
// Imports nothing of ours (and no node modules): local wall time comes from Intl.DateTimeFormat.
//
// Everything is judged by the site's local wall clock, not by elapsed time:
// - On the spring daylight-saving change the skipped hour never happens, so a window (or the part
//   of one) lying inside it is simply never open that day; 09:00–17:00 is still 09:00–17:00 local.
// - On the autumn change the repeated hour happens twice, and both passes are judged by wall time:
//   a window covering 02:30 is open at the first 02:30 and again at the second.

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** One weekly window: `from` inclusive, `to` exclusive, both "HH:MM" from 00:00 to 24:00. */
export interface WeeklyWindow {
  days: readonly Weekday[];
  from: string;
  to: string;
}

/** The schedule as the site file holds it (structurally the same as the site schema's schedule). */
export interface ScheduleInput {
  id?: string;
  weekly: readonly WeeklyWindow[];
  /** Local dates "YYYY-MM-DD" on which no window starts. */
  holidays?: readonly string[];
}

export interface LocalTime {
  /** The local calendar date, "YYYY-MM-DD". */
  date: string;
  weekday: Weekday;
  /** Whole minutes since local midnight, 0 to 1439. */
  minutes: number;
}

const weekdayOrder: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const minutesPerDay = 24 * 60;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Explicit Gregorian calendar and Latin digits whatever the process locale; throws RangeError on an unknown zone.
    f = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', {
      timeZone,
      era: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The date of a day count since 1970-01-01 (Hinnant's civil_from_days). */
export function civilFromDays(days: number): { y: number; m: number; d: number } {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d };
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
function dateOfDays(days: number): string {
  const { y, m, d } = civilFromDays(days);
  return `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}
/** 1970-01-01 was a Thursday. */
const weekdayOfDays = (days: number): Weekday => weekdayOrder[(((days + 4) % 7) + 7) % 7]!;

/** The local day count (since 1970-01-01) and minute of day of an instant in an IANA time zone. */
export function localParts(at: Date, timeZone: string): { days: number; minutes: number } {
  if (Number.isNaN(at.getTime())) throw new RangeError('invalid date');
  const parts: Record<string, string> = {};
  for (const p of formatterFor(timeZone).formatToParts(at)) parts[p.type] = p.value;
  const y = Number(parts.year);
  const m = Number(parts.month);
  const d = Number(parts.day);
  // Some engines print midnight as hour 24 (of the same date) even when asked for h23.
  const hour = Number(parts.hour) % 24;
  const minute = Number(parts.minute);
  if (parts.era !== 'AD' || ![y, m, d, hour, minute].every(Number.isInteger) || y < 1 || y > 9999) {
    throw new RangeError(`local time outside years 0001..9999 in ${timeZone}: ${at.toISOString()}`);
  }
  return { days: daysFromCivil(y, m, d), minutes: hour * 60 + minute };
}

/** The local calendar date, weekday and minute of day of an instant in an IANA time zone. */
export function localTime(at: Date, timeZone: string): LocalTime {
  const { days, minutes } = localParts(at, timeZone);
  return { date: dateOfDays(days), weekday: weekdayOfDays(days), minutes };
}

const noHolidays: ReadonlySet<string> = new Set();
/** A calendar (`jp-national`) brings over a thousand dates: each list is made a set once, not at every decision. */
const holidaySets = new WeakMap<readonly string[], ReadonlySet<string>>();
function holidaySet(holidays: readonly string[] | undefined): ReadonlySet<string> {
  if (!holidays || holidays.length === 0) return noHolidays;
  let set = holidaySets.get(holidays);
  if (!set) {
    set = new Set(holidays);
    holidaySets.set(holidays, set);
  }
  return set;
}

/** Minutes of "HH:MM" (00:00 to 24:00). */
function parseTime(hhmm: string): number {
  const match = /^(\d{2}):(\d{2})$/.exec(hhmm);
  const minutes = match ? Number(match[1]) * 60 + Number(match[2]) : NaN;
  if (!match || Number(match[2]) > 59 || !(minutes <= minutesPerDay)) {
    throw new RangeError(`not a time "HH:MM" from 00:00 to 24:00: ${JSON.stringify(hhmm)}`);
  }
  return minutes;
}

/**
 * Whether the local wall time of `at` in `timeZone` falls inside one of the schedule's weekly windows.
 *
 * - `from` is inclusive and `to` exclusive; `24:00` is the end of the day. `from == to` is an empty window.
 * - `from > to` spans midnight: `fri 22:00–06:00` is open from Friday 22:00 to Saturday 06:00.
 * - Holidays: a holiday closes every window that STARTS on that local date, including the part of an
 *   overnight window that runs past midnight into the next day. A window that started the day before
 *   a holiday still runs to its end on the holiday morning (the shift began on a working day).
 */
export function isWithinSchedule(schedule: ScheduleInput, at: Date, timeZone: string): boolean {
  const { days, minutes } = localParts(at, timeZone);
  const holidays = holidaySet(schedule.holidays);
  const today = { weekday: weekdayOfDays(days), open: !holidays.has(dateOfDays(days)) };
  const yesterday = { weekday: weekdayOfDays(days - 1), open: !holidays.has(dateOfDays(days - 1)) };

  return schedule.weekly.some((w) => {
    const from = parseTime(w.from);
    const to = parseTime(w.to);
    if (from === to) return false;
    if (from < to) return today.open && w.days.includes(today.weekday) && minutes >= from && minutes < to;
    // Overnight: the evening part started today, the morning part started yesterday.
    if (minutes >= from) return today.open && w.days.includes(today.weekday);
    if (minutes < to) return yesterday.open && w.days.includes(yesterday.weekday);
    return false;
  });
}
