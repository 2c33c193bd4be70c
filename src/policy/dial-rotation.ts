// Dial-code rotation: when a dial lock's code must change, why, and when to remind. Pure functions
// over plain data; the code itself never appears here (nor anywhere: it is never stored or accepted).
//
// Dates are judged on the site's local calendar, not by elapsed time: "every 12 months" is the same
// local date a year on (31 Jan + 1 month is the last day of February, 29 Feb in a leap year), and
// the daily overdue alarm comes at the same local wall time each day, so a daylight-saving change
// moves it by an hour of elapsed time, not of wall time. A wall time the spring change skips is
// taken after the gap; one the autumn change repeats is taken at its first pass.

import { civilFromDays, daysFromCivil, localParts } from './schedule.js';

/** Why a rotation is due: the calendar, or an event that makes it due at once. */
export const DIAL_DUE_REASONS = ['interval', 'installed', 'moved', 'custodian-changed', 'delegate-changed', 'holder-lost-access', 'leak-reported'] as const;
export type DialDueReason = (typeof DIAL_DUE_REASONS)[number];

/** What the site file says about a dial lock, as last seen: a change of any makes rotation due. */
export interface DialLockFacts {
  area: string;
  location: string;
  custodian: string;
  delegates: readonly string[];
}

export interface RotationPolicy {
  /** Months between rotations at most (the site default is 12; a lock may ask for fewer). */
  rotationMonths: number;
  /** Days before the due date on which to remind (default [30, 7, 1]). */
  remindDays: readonly number[];
  /** The site's IANA time zone. */
  timeZone: string;
}

export const DEFAULT_ROTATION_MONTHS = 12;
export const DEFAULT_REMIND_DAYS: readonly number[] = [30, 7, 1];

/** An event since the last rotation that makes the rotation due at once. */
export interface DueTrigger {
  reason: Exclude<DialDueReason, 'interval'>;
  at: number;
}

export interface DialLockHistory {
  /** When the code last changed; null when no rotation has been recorded yet. */
  lastRotatedAt: number | null;
  /** When the controller first saw the lock (the calendar runs from here until a first rotation). */
  firstSeenAt: number;
  /** Triggers recorded; those at or before the last rotation are spent. */
  triggers: readonly DueTrigger[];
}

export interface RotationDue {
  dueAt: number;
  /** Empty while the calendar's due date is still ahead and nothing has happened. */
  dueReasons: DialDueReason[];
}

/** The reasons a change of the site file between two sightings makes the rotation due. */
export function siteChangeReasons(before: DialLockFacts | null, now: DialLockFacts): DueTrigger['reason'][] {
  if (!before) return ['installed'];
  const reasons: DueTrigger['reason'][] = [];
  if (before.area !== now.area || before.location !== now.location) reasons.push('moved');
  if (before.custodian !== now.custodian) reasons.push('custodian-changed');
  const a = [...before.delegates].sort();
  const b = [...now.delegates].sort();
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) reasons.push('delegate-changed');
  return reasons;
}

/**
 * When the rotation is due and why, at `now`: at once (the earliest live trigger) if anything has
 * happened since the last rotation; otherwise at the start of the local date `rotationMonths` after
 * the last rotation (or the first sighting), with reason `interval` once that moment has come.
 */
export function rotationDue(history: DialLockHistory, policy: RotationPolicy, now: number): RotationDue {
  const since = history.lastRotatedAt ?? history.firstSeenAt;
  const live = history.triggers.filter((t) => history.lastRotatedAt === null || t.at > history.lastRotatedAt);
  const calendar = calendarDueAt(since, policy);
  const reasons = new Set<DialDueReason>();
  let dueAt = calendar;
  for (const t of live) {
    reasons.add(t.reason);
    dueAt = Math.min(dueAt, t.at);
  }
  if (now >= calendar) reasons.add('interval');
  return { dueAt, dueReasons: DIAL_DUE_REASONS.filter((r) => reasons.has(r)) };
}

/** The start of the local date `rotationMonths` after the local date of `since`. */
export function calendarDueAt(since: number, policy: RotationPolicy): number {
  if (!Number.isInteger(policy.rotationMonths) || policy.rotationMonths < 1) {
    throw new RangeError(`rotationMonths must be a whole number of months, 1 or more: ${policy.rotationMonths}`);
  }
  const { days } = localParts(new Date(since), policy.timeZone);
  const { y, m, d } = civilFromDays(days);
  const months = y * 12 + (m - 1) + policy.rotationMonths;
  const ny = Math.floor(months / 12);
  const nm = (months % 12) + 1;
  const dueDays = daysFromCivil(ny, nm, Math.min(d, daysInMonth(ny, nm)));
  return instantOfLocal(dueDays, 0, policy.timeZone);
}

export type DialReminder =
  /** Ahead of the due date, `daysBefore` local days before it, at the same wall time. */
  | { kind: 'reminder'; at: number; daysBefore: number }
  /** Overdue: at the due moment, then daily at its local wall time until a rotation is recorded. */
  | { kind: 'overdue'; at: number; day: number };

/**
 * Every reminder moment in (after, until], in order. A lock due at once (a trigger) gets no
 * ahead-of-time reminders, only the overdue alarm at once and daily after.
 */
export function remindersBetween(due: RotationDue, policy: RotationPolicy, after: number, until: number): DialReminder[] {
  const out: DialReminder[] = [];
  const { days, minutes } = localParts(new Date(due.dueAt), policy.timeZone);
  const atOnce = due.dueReasons.some((r) => r !== 'interval');
  if (!atOnce) {
    const ahead = [...new Set(policy.remindDays)].filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => b - a);
    for (const n of ahead) {
      const at = instantOfLocal(days - n, minutes, policy.timeZone);
      if (at > after && at <= until) out.push({ kind: 'reminder', at, daysBefore: n });
    }
  }
  // The overdue alarm: day 0 is the due moment; skip straight to the first day inside the window.
  let day = Math.max(0, Math.floor((after - due.dueAt) / DAY_MS) - 1);
  for (;;) {
    const at = day === 0 ? due.dueAt : instantOfLocal(days + day, minutes, policy.timeZone);
    if (at > until) break;
    if (at > after) out.push({ kind: 'overdue', at, day });
    day += 1;
  }
  return out;
}

/** The first reminder moment strictly after `after` (for the one timer the runner keeps). */
export function nextReminderAt(due: RotationDue, policy: RotationPolicy, after: number): number {
  const soon = remindersBetween(due, policy, after, Math.max(after, due.dueAt) + 2 * DAY_MS);
  return soon[0]?.at ?? Math.max(after, due.dueAt) + DAY_MS;
}

// ---- the site's local calendar (a small copy of schedule.ts's arithmetic, instants in ms) ----

const DAY_MS = 86_400_000;
const MIN_MS = 60_000;
const wallOf = (at: number, timeZone: string): number => {
  const { days, minutes } = localParts(new Date(at), timeZone);
  return days * DAY_MS + minutes * MIN_MS;
};

/** The instant of a local wall time: the first pass of a repeated hour; after a skipped one. */
function instantOfLocal(days: number, minutes: number, timeZone: string): number {
  const wall = days * DAY_MS + minutes * MIN_MS;
  // Offsets a day either side: a zone changes its offset at most once in between.
  const before = wall - (wallOf(wall - DAY_MS, timeZone) - (wall - DAY_MS));
  const after = wall - (wallOf(wall + DAY_MS, timeZone) - (wall + DAY_MS));
  const valid = [before, after].filter((t) => wallOf(t, timeZone) === wall);
  return valid.length > 0 ? Math.min(...valid) : before;
}

function daysInMonth(y: number, m: number): number {
  return daysFromCivil(m === 12 ? y + 1 : y, m === 12 ? 1 : m + 1, 1) - daysFromCivil(y, m, 1);
}

// ---- a dial code must never travel: find one in a body or a flag ----

/** Field names that carry a code, whatever their case or separators. */
const CODE_FIELDS = new Set(['code', 'combination', 'digits', 'dialcode', 'newcode', 'oldcode', 'pin', 'passcode']);
/** Three two-digit numbers in a row (the three-wheel pattern, e.g. "12-34-56", "12 34 56"). */
const CODE_PATTERN = /(?<!\d)\d{2}\s?[-/.,\s]\s?\d{2}\s?[-/.,\s]\s?\d{2}(?!\d)|(?<!\d)\d{6}(?!\d)/;

/** Free-text fields, where a code written out (a 3×2-digit pattern) is looked for; ids are not. */
const FREE_TEXT_FIELDS = new Set(['note', 'reason', 'by', 'comment', 'description', 'remarks', 'text', 'message']);

/** How deep a body is looked through for a code; no request or CLI option nests anywhere near it. */
export const MAX_BODY_DEPTH = 16;

/** Whether a value nests deeper than `max` levels (walked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (d >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

/**
 * Where a value looks like it carries a dial code: a field named for one anywhere, or a 3×2-digit
 * pattern in free text (a field named as free text, or a bare string). Returns the path of the first
 * such place, or null. ISO dates and times are not codes and are let through.
 */
export function findDialCode(value: unknown, path = '', freeText = true, depth = 0): string | null {
  // Deeper than any real body: not looked through, so treated as carrying one (fail secure, and a
  // hostile 10,000-deep array cannot exhaust the stack).
  if (depth > MAX_BODY_DEPTH) return path || '(value)';
  if (typeof value === 'string') {
    if (!freeText) return null;
    const text = value.replace(/\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?/g, ' ');
    return CODE_PATTERN.test(text) ? path || '(value)' : null;
  }
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const hit = findDialCode(v, `${path}[${i}]`, freeText, depth + 1);
      if (hit) return hit;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      // An option not given (undefined) carries nothing; JSON never has one.
      if (v === undefined) continue;
      const here = path ? `${path}.${k}` : k;
      if (CODE_FIELDS.has(k.toLowerCase().replace(/[-_\s]/g, ''))) return here;
      const hit = findDialCode(v, here, FREE_TEXT_FIELDS.has(k.toLowerCase()), depth + 1);
      if (hit) return hit;
    }
  }
  return null;
}
