// Dial-code rotation across a year on a fake clock: due dates on the site's calendar, every trigger,
// the reminder schedule and the daily overdue alarm, through a leap day and both DST changes.
import { describe, expect, it } from 'vitest';
import {
  type DialLockHistory,
  type DialReminder,
  type DueTrigger,
  calendarDueAt,
  findDialCode,
  MAX_BODY_DEPTH,
  nestsDeeperThan,
  nextReminderAt,
  remindersBetween,
  type RotationPolicy,
  rotationDue,
  siteChangeReasons,
} from '../../src/policy/dial-rotation.js';

// New York: 2028 is a leap year; DST starts 2028-03-12 02:00 EST and ends 2028-11-05 02:00 EDT.
const NY: RotationPolicy = { rotationMonths: 12, remindDays: [30, 7, 1], timeZone: 'America/New_York' };
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;
const history = (lastRotatedAt: number | null, triggers: DueTrigger[] = [], firstSeenAt = at('2027-01-01T00:00:00Z')): DialLockHistory => ({
  lastRotatedAt,
  firstSeenAt,
  triggers,
});

describe('the calendar due date', () => {
  it('is the same local date rotationMonths later, at the start of that local day', () => {
    expect(iso(calendarDueAt(at('2027-03-15T18:00:00Z'), NY))).toBe('2028-03-15T04:00:00.000Z'); // 00:00 EDT
    expect(iso(calendarDueAt(at('2027-01-10T15:00:00Z'), NY))).toBe('2028-01-10T05:00:00.000Z'); // 00:00 EST
  });
  it('runs on the local date, not the UTC one', () => {
    // 2027-06-01 02:00Z is still 31 May in New York.
    expect(iso(calendarDueAt(at('2027-06-01T02:00:00Z'), NY))).toBe('2028-05-31T04:00:00.000Z');
  });
  it('lands on the leap day, and clamps past the end of a month', () => {
    expect(iso(calendarDueAt(at('2027-02-28T17:00:00Z'), NY))).toBe('2028-02-28T05:00:00.000Z');
    expect(iso(calendarDueAt(at('2027-03-31T17:00:00Z'), { ...NY, rotationMonths: 11 }))).toBe('2028-02-29T05:00:00.000Z');
    // Rotated on the leap day: a year on there is no 29 February.
    expect(iso(calendarDueAt(at('2028-02-29T17:00:00Z'), NY))).toBe('2029-02-28T05:00:00.000Z');
  });
  it('takes a shorter per-lock interval', () => {
    expect(iso(calendarDueAt(at('2027-12-20T17:00:00Z'), { ...NY, rotationMonths: 3 }))).toBe('2028-03-20T04:00:00.000Z');
  });
  it('refuses a non-positive or fractional interval', () => {
    expect(() => calendarDueAt(0, { ...NY, rotationMonths: 0 })).toThrow(RangeError);
    expect(() => calendarDueAt(0, { ...NY, rotationMonths: 1.5 })).toThrow(RangeError);
  });
});

describe('due reasons', () => {
  const rotated = at('2027-05-01T16:00:00Z');
  it('nothing due before the calendar date, interval once it has come', () => {
    expect(rotationDue(history(rotated), NY, at('2028-04-30T12:00:00Z'))).toEqual({ dueAt: at('2028-05-01T04:00:00Z'), dueReasons: [] });
    expect(rotationDue(history(rotated), NY, at('2028-05-01T04:00:00Z')).dueReasons).toEqual(['interval']);
  });
  it('runs from the first sighting until a first rotation is recorded', () => {
    expect(rotationDue(history(null, [], at('2027-05-01T16:00:00Z')), NY, rotated).dueAt).toBe(at('2028-05-01T04:00:00Z'));
  });
  for (const reason of ['installed', 'moved', 'custodian-changed', 'delegate-changed', 'holder-lost-access', 'leak-reported'] as const) {
    it(`${reason} makes the rotation due at once`, () => {
      const when = at('2027-08-09T13:14:00Z');
      expect(rotationDue(history(rotated, [{ reason, at: when }]), NY, when)).toEqual({ dueAt: when, dueReasons: [reason] });
    });
  }
  it('a trigger before the last rotation is spent', () => {
    const h = history(rotated, [{ reason: 'leak-reported', at: rotated - HOUR }]);
    expect(rotationDue(h, NY, rotated + HOUR)).toEqual({ dueAt: at('2028-05-01T04:00:00Z'), dueReasons: [] });
  });
  it('several triggers: due at the earliest, every reason listed in registry order', () => {
    const h = history(rotated, [
      { reason: 'leak-reported', at: at('2027-09-02T00:00:00Z') },
      { reason: 'moved', at: at('2027-09-01T00:00:00Z') },
    ]);
    expect(rotationDue(h, NY, at('2028-06-01T00:00:00Z'))).toEqual({
      dueAt: at('2027-09-01T00:00:00Z'),
      dueReasons: ['interval', 'moved', 'leak-reported'],
    });
  });
  it('a first installation with no rotation yet is due at once', () => {
    const seen = at('2027-01-05T00:00:00Z');
    expect(rotationDue(history(null, [{ reason: 'installed', at: seen }], seen), NY, seen)).toEqual({ dueAt: seen, dueReasons: ['installed'] });
  });
});

describe('site-file changes', () => {
  const facts = { area: 'vault', location: 'north wall', custodian: 'S-001', delegates: ['S-002', 'S-003'] };
  it('a lock seen for the first time was installed', () => expect(siteChangeReasons(null, facts)).toEqual(['installed']));
  it('nothing changed, or delegates only reordered: nothing due', () => {
    expect(siteChangeReasons(facts, { ...facts, delegates: ['S-003', 'S-002'] })).toEqual([]);
  });
  it('area or location: moved', () => {
    expect(siteChangeReasons(facts, { ...facts, area: 'archive' })).toEqual(['moved']);
    expect(siteChangeReasons(facts, { ...facts, location: 'east wall' })).toEqual(['moved']);
  });
  it('custodian and delegates', () => {
    expect(siteChangeReasons(facts, { ...facts, custodian: 'S-009', delegates: ['S-002'] })).toEqual(['custodian-changed', 'delegate-changed']);
    expect(siteChangeReasons(facts, { ...facts, delegates: ['S-002', 'S-004'] })).toEqual(['delegate-changed']);
  });
});

/** Walk a fake clock an hour at a time from `from` to `to`, collecting what each step would deliver. */
function walk(h: () => DialLockHistory, policy: RotationPolicy, from: number, to: number, onStep?: (now: number) => void): DialReminder[] {
  const out: DialReminder[] = [];
  for (let prev = from, now = from + HOUR; now <= to; prev = now, now += HOUR) {
    onStep?.(now);
    out.push(...remindersBetween(rotationDue(h(), policy, now), policy, prev, now));
  }
  return out;
}

describe('reminders across a year on a fake clock', () => {
  it('30, 7 and 1 days ahead at local midnight across the spring DST change, then daily overdue', () => {
    // Rotated 15 March 2027: due 2028-03-15 00:00 EDT. Seven days before is still EST; one day before is EDT.
    const rotated = at('2027-03-15T15:00:00Z');
    const got = walk(() => history(rotated), NY, rotated, at('2028-03-18T12:00:00Z'));
    expect(got.map((r) => `${r.kind}:${r.kind === 'reminder' ? r.daysBefore : r.day}@${iso(r.at)}`)).toEqual([
      'reminder:30@2028-02-14T05:00:00.000Z',
      'reminder:7@2028-03-08T05:00:00.000Z',
      'reminder:1@2028-03-14T04:00:00.000Z',
      'overdue:0@2028-03-15T04:00:00.000Z',
      'overdue:1@2028-03-16T04:00:00.000Z',
      'overdue:2@2028-03-17T04:00:00.000Z',
      'overdue:3@2028-03-18T04:00:00.000Z',
    ]);
  });
  it('the daily overdue alarm keeps local midnight across the autumn change (a 25-hour day)', () => {
    const rotated = at('2027-11-03T15:00:00Z');
    const got = walk(() => history(rotated), NY, at('2028-11-02T12:00:00Z'), at('2028-11-07T12:00:00Z')).filter((r) => r.kind === 'overdue');
    expect(got.map((r) => iso(r.at))).toEqual([
      '2028-11-03T04:00:00.000Z',
      '2028-11-04T04:00:00.000Z',
      '2028-11-05T04:00:00.000Z',
      '2028-11-06T05:00:00.000Z',
      '2028-11-07T05:00:00.000Z',
    ]);
  });
  it('the overdue alarm passes through the leap day', () => {
    const rotated = at('2027-02-27T15:00:00Z');
    const got = walk(() => history(rotated), NY, at('2028-02-26T12:00:00Z'), at('2028-03-01T12:00:00Z')).filter((r) => r.kind === 'overdue');
    expect(got.map((r) => iso(r.at))).toEqual(['2028-02-27T05:00:00.000Z', '2028-02-28T05:00:00.000Z', '2028-02-29T05:00:00.000Z', '2028-03-01T05:00:00.000Z']);
  });
  it('a trigger: no reminders ahead, the alarm at once and daily at its wall time, after a skipped hour', () => {
    // Leak reported 2028-03-11 02:30 EST; 02:30 on 12 March never happens, so that day's alarm is at 03:30 EDT.
    const rotated = at('2027-06-01T15:00:00Z');
    const leak = at('2028-03-11T07:30:00Z');
    const h = () => history(rotated, [{ reason: 'leak-reported', at: leak }]);
    const got = walk(h, NY, leak - HOUR, at('2028-03-13T12:00:00Z'));
    expect(got.map((r) => `${r.kind}@${iso(r.at)}`)).toEqual([
      'overdue@2028-03-11T07:30:00.000Z',
      'overdue@2028-03-12T07:30:00.000Z',
      'overdue@2028-03-13T06:30:00.000Z',
    ]);
  });
  it('a whole year: each reminder once, and nothing after the rotation is recorded', () => {
    const tokyo: RotationPolicy = { ...NY, timeZone: 'Asia/Tokyo' };
    let last = at('2027-12-31T15:00:00Z'); // 1 January 2028, 00:00 JST
    const rotateAt = at('2029-01-03T03:00:00Z');
    const got = walk(
      () => history(last),
      tokyo,
      last,
      at('2029-01-10T00:00:00Z'),
      (now) => {
        if (now === rotateAt) last = now;
      },
    );
    expect(got.map((r) => `${r.kind}@${iso(r.at)}`)).toEqual([
      'reminder@2028-12-01T15:00:00.000Z',
      'reminder@2028-12-24T15:00:00.000Z',
      'reminder@2028-12-30T15:00:00.000Z',
      'overdue@2028-12-31T15:00:00.000Z',
      'overdue@2029-01-01T15:00:00.000Z',
      'overdue@2029-01-02T15:00:00.000Z',
    ]);
  });
  it('the next moment for the runner timer', () => {
    const rotated = at('2027-03-15T15:00:00Z');
    const due = rotationDue(history(rotated), NY, at('2028-03-10T00:00:00Z'));
    expect(iso(nextReminderAt(due, NY, at('2028-03-10T00:00:00Z')))).toBe('2028-03-14T04:00:00.000Z');
    expect(iso(nextReminderAt(due, NY, at('2028-03-15T04:00:00Z')))).toBe('2028-03-16T04:00:00.000Z');
  });
});

describe('a dial code never travels', () => {
  it.each([
    [{ code: '1' }, 'code'],
    [{ Combination: 'x' }, 'Combination'],
    [{ new_code: 'x' }, 'new_code'],
    [{ digits: [1, 2] }, 'digits'],
    [{ note: 'it is 12-34-56 now' }, 'note'],
    [{ note: 'try 12 34 56' }, 'note'],
    [{ note: 'code 123456' }, 'note'],
    [{ reason: 'ok', meta: { text: ['fine', '21/07/99'] } }, 'meta.text[1]'],
  ])('%j is refused at %s', (body, path) => {
    expect(findDialCode(body)).toBe(path);
  });
  it.each([
    [{ rotatedAt: '2028-03-15T10:00:00Z', by: 'S-001', reason: 'scheduled' }],
    [{ note: 'custodian saw the slip on the desk at 10:15:30' }],
    [{ rotatedAt: '2028-03-15T10:00:00+09:00' }],
    [{ note: 'room 3, 4 and 5' }],
    [{ personId: '123456', lockId: '12-34-56' }],
  ])('%j passes', (body) => {
    expect(findDialCode(body)).toBeNull();
  });
  it('looks through a hostile 100,000-deep body without exhausting the stack, and refuses it', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`);
    expect(nestsDeeperThan(deep, MAX_BODY_DEPTH)).toBe(true);
    expect(findDialCode(deep)).not.toBeNull();
    const objects = JSON.parse(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`);
    expect(nestsDeeperThan(objects, MAX_BODY_DEPTH)).toBe(true);
    expect(findDialCode(objects)).not.toBeNull();
  });
  it('measures depth exactly at the bound', () => {
    const nest = (n: number): unknown => (n === 0 ? 'x' : { a: nest(n - 1) });
    expect(nestsDeeperThan(nest(MAX_BODY_DEPTH), MAX_BODY_DEPTH)).toBe(false);
    expect(nestsDeeperThan(nest(MAX_BODY_DEPTH + 1), MAX_BODY_DEPTH)).toBe(true);
    expect(findDialCode(nest(MAX_BODY_DEPTH))).toBeNull();
  });
});
