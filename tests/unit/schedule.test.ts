import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isWithinSchedule, localTime, type ScheduleInput, type WeeklyWindow } from '../../src/policy/schedule.js';

const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;
const allDays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const office: ScheduleInput = { id: 'office', weekly: [{ days: [...weekdays], from: '09:00', to: '17:00' }], holidays: [] };
const sched = (weekly: readonly WeeklyWindow[], holidays: string[] = []): ScheduleInput => ({ id: 's', weekly, holidays });
const at = (iso: string) => new Date(iso);

const TOKYO = 'Asia/Tokyo';
const BERLIN = 'Europe/Berlin';
const NEW_YORK = 'America/New_York';

describe('localTime', () => {
  it('gives the local date, weekday and minute of day', () => {
    // 2026-11-22 is a Sunday in UTC, but 00:30 on Monday 2026-11-23 in Tokyo.
    expect(localTime(at('2026-11-22T15:30:00Z'), TOKYO)).toEqual({ date: '2026-11-23', weekday: 'mon', minutes: 30 });
    expect(localTime(at('2026-11-22T15:30:00Z'), 'UTC')).toEqual({ date: '2026-11-22', weekday: 'sun', minutes: 15 * 60 + 30 });
    expect(localTime(at('2026-11-22T15:30:00Z'), NEW_YORK)).toEqual({ date: '2026-11-22', weekday: 'sun', minutes: 10 * 60 + 30 });
  });

  it('reports local midnight as minute 0 of the new day (never hour 24)', () => {
    expect(localTime(at('2026-11-23T15:00:00Z'), TOKYO)).toEqual({ date: '2026-11-24', weekday: 'tue', minutes: 0 });
    expect(localTime(at('2026-11-23T14:59:59.999Z'), TOKYO)).toEqual({ date: '2026-11-23', weekday: 'mon', minutes: 1439 });
  });

  it('follows daylight saving time by wall clock', () => {
    // Berlin 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z.
    expect(localTime(at('2026-03-29T00:59:00Z'), BERLIN).minutes).toBe(1 * 60 + 59);
    expect(localTime(at('2026-03-29T01:00:00Z'), BERLIN).minutes).toBe(3 * 60);
    // Berlin 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z; 02:30 happens twice.
    expect(localTime(at('2026-10-25T00:30:00Z'), BERLIN).minutes).toBe(2 * 60 + 30);
    expect(localTime(at('2026-10-25T01:30:00Z'), BERLIN).minutes).toBe(2 * 60 + 30);
  });

  it('rejects unknown time zones and invalid dates', () => {
    expect(() => localTime(at('2026-01-01T00:00:00Z'), 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(() => localTime(new Date(NaN), TOKYO)).toThrow(RangeError);
  });

  it('matches UTC plus the offset in fixed-offset zones (property)', () => {
    const zones = [
      ['Asia/Tokyo', 9 * 60],
      ['Asia/Kolkata', 5 * 60 + 30],
      ['UTC', 0],
    ] as const;
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.constantFrom(...zones),
        (instant, [zone, offset]) => {
          const shifted = new Date(instant.getTime() + offset * 60_000);
          const lt = localTime(instant, zone);
          expect(lt.date).toBe(shifted.toISOString().slice(0, 10));
          expect(lt.weekday).toBe(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][shifted.getUTCDay()]);
          expect(lt.minutes).toBe(shifted.getUTCHours() * 60 + shifted.getUTCMinutes());
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('isWithinSchedule: weekly windows (Asia/Tokyo, no DST)', () => {
  it('is inside during weekday business hours and outside before and after', () => {
    expect(isWithinSchedule(office, at('2026-11-25T10:00:00+09:00'), TOKYO)).toBe(true); // Wed
    expect(isWithinSchedule(office, at('2026-11-25T08:00:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(office, at('2026-11-25T18:00:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(office, at('2026-11-25T03:00:00+09:00'), TOKYO)).toBe(false);
  });

  it('treats from as inclusive and to as exclusive', () => {
    expect(isWithinSchedule(office, at('2026-11-25T08:59:59.999+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(office, at('2026-11-25T09:00:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(office, at('2026-11-25T16:59:59.999+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(office, at('2026-11-25T17:00:00+09:00'), TOKYO)).toBe(false);
  });

  it('judges by the local time zone, not UTC', () => {
    // 01:00Z Wednesday is 10:00 in Tokyo (inside) but 01:00 in UTC (outside).
    expect(isWithinSchedule(office, at('2026-11-25T01:00:00Z'), TOKYO)).toBe(true);
    expect(isWithinSchedule(office, at('2026-11-25T01:00:00Z'), 'UTC')).toBe(false);
  });

  it('reads 24:00 as the end of the day', () => {
    const evening = sched([{ days: ['wed'], from: '18:00', to: '24:00' }]);
    expect(isWithinSchedule(evening, at('2026-11-25T17:59:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(evening, at('2026-11-25T18:00:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(evening, at('2026-11-25T23:59:59.999+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(evening, at('2026-11-26T00:00:00+09:00'), TOKYO)).toBe(false); // Thu 00:00
    const wholeDay = sched([{ days: ['wed'], from: '00:00', to: '24:00' }]);
    expect(isWithinSchedule(wholeDay, at('2026-11-25T00:00:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(wholeDay, at('2026-11-24T23:59:59.999+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(wholeDay, at('2026-11-26T00:00:00+09:00'), TOKYO)).toBe(false);
  });

  it('is closed at weekends unless a window names them', () => {
    expect(isWithinSchedule(office, at('2026-11-28T10:00:00+09:00'), TOKYO)).toBe(false); // Sat
    expect(isWithinSchedule(office, at('2026-11-29T10:00:00+09:00'), TOKYO)).toBe(false); // Sun
    const withSaturday = sched([...office.weekly, { days: ['sat'], from: '10:00', to: '12:00' }]);
    expect(isWithinSchedule(withSaturday, at('2026-11-28T10:30:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(withSaturday, at('2026-11-28T12:30:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(withSaturday, at('2026-11-29T10:30:00+09:00'), TOKYO)).toBe(false);
  });

  it('treats from == to as an empty window', () => {
    const empty = sched([{ days: [...allDays], from: '09:00', to: '09:00' }]);
    expect(isWithinSchedule(empty, at('2026-11-25T09:00:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(empty, at('2026-11-25T21:00:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(empty, at('2026-11-25T03:00:00+09:00'), TOKYO)).toBe(false);
  });

  it('rejects malformed times', () => {
    expect(() => isWithinSchedule(sched([{ days: ['wed'], from: '9:00', to: '17:00' }]), at('2026-11-25T10:00:00+09:00'), TOKYO)).toThrow(RangeError);
    expect(() => isWithinSchedule(sched([{ days: ['wed'], from: '09:00', to: '24:01' }]), at('2026-11-25T10:00:00+09:00'), TOKYO)).toThrow(RangeError);
  });
});

describe('isWithinSchedule: holidays', () => {
  // 2026-11-23 (Mon) is 勤労感謝の日, Labour Thanksgiving Day.
  const withHoliday = { ...office, holidays: ['2026-11-23'] };

  it('closes a Monday that is a Japanese national holiday', () => {
    expect(isWithinSchedule(office, at('2026-11-23T10:00:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(withHoliday, at('2026-11-23T10:00:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(withHoliday, at('2026-11-24T10:00:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(withHoliday, at('2026-11-20T10:00:00+09:00'), TOKYO)).toBe(true);
  });

  it('matches holidays against the local date, not the UTC date', () => {
    // 2026-11-24 00:30 in Tokyo is still 2026-11-23 in UTC: open (Tuesday in Tokyo).
    const night = sched([{ days: [...allDays], from: '00:00', to: '24:00' }], ['2026-11-23']);
    expect(isWithinSchedule(night, at('2026-11-23T15:30:00Z'), TOKYO)).toBe(true);
    expect(isWithinSchedule(night, at('2026-11-23T15:30:00Z'), 'UTC')).toBe(false);
    // 2026-11-23 00:30 in Tokyo is still 2026-11-22 in UTC: closed (the holiday in Tokyo).
    expect(isWithinSchedule(night, at('2026-11-22T15:30:00Z'), TOKYO)).toBe(false);
    expect(isWithinSchedule(night, at('2026-11-22T15:30:00Z'), 'UTC')).toBe(true);
  });

  it('accepts a schedule without a holidays list', () => {
    expect(isWithinSchedule({ weekly: office.weekly }, at('2026-11-23T10:00:00+09:00'), TOKYO)).toBe(true);
  });
});

describe('isWithinSchedule: overnight windows', () => {
  // Friday night shift: Fri 2026-11-27 22:00 to Sat 2026-11-28 06:00 (Tokyo).
  const nightShift = sched([{ days: ['fri'], from: '22:00', to: '06:00' }]);

  it('spans midnight into the next day', () => {
    expect(isWithinSchedule(nightShift, at('2026-11-27T21:59:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(nightShift, at('2026-11-27T22:00:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(nightShift, at('2026-11-27T23:59:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(nightShift, at('2026-11-28T00:00:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(nightShift, at('2026-11-28T05:59:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(nightShift, at('2026-11-28T06:00:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(nightShift, at('2026-11-28T12:00:00+09:00'), TOKYO)).toBe(false);
  });

  it('belongs to the day it starts: the morning part runs only after a listed day', () => {
    // Friday morning 03:00 would be the tail of a Thursday window, which does not exist.
    expect(isWithinSchedule(nightShift, at('2026-11-27T03:00:00+09:00'), TOKYO)).toBe(false);
    // Saturday 22:00 is not a start day.
    expect(isWithinSchedule(nightShift, at('2026-11-28T23:00:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(nightShift, at('2026-11-29T03:00:00+09:00'), TOKYO)).toBe(false);
  });

  it('is closed entirely when the day it starts is a holiday', () => {
    const startsOnHoliday = sched(nightShift.weekly, ['2026-11-27']);
    expect(isWithinSchedule(startsOnHoliday, at('2026-11-27T23:00:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(startsOnHoliday, at('2026-11-28T03:00:00+09:00'), TOKYO)).toBe(false);
    // The next week's shift is unaffected.
    expect(isWithinSchedule(startsOnHoliday, at('2026-12-05T03:00:00+09:00'), TOKYO)).toBe(true);
  });

  it('runs to its end when only the following morning is a holiday', () => {
    const endsOnHoliday = sched(nightShift.weekly, ['2026-11-28']);
    expect(isWithinSchedule(endsOnHoliday, at('2026-11-27T23:00:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(endsOnHoliday, at('2026-11-28T03:00:00+09:00'), TOKYO)).toBe(true);
  });

  it('closes only the window starting on the holiday when overnight windows run every day', () => {
    // Night shift every day; Monday 2026-11-23 is a holiday.
    const everyNight = sched([{ days: [...allDays], from: '22:00', to: '06:00' }], ['2026-11-23']);
    expect(isWithinSchedule(everyNight, at('2026-11-23T03:00:00+09:00'), TOKYO)).toBe(true); // Sunday's shift
    expect(isWithinSchedule(everyNight, at('2026-11-23T23:00:00+09:00'), TOKYO)).toBe(false); // Monday's shift
    expect(isWithinSchedule(everyNight, at('2026-11-24T03:00:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(everyNight, at('2026-11-24T23:00:00+09:00'), TOKYO)).toBe(true); // Tuesday's shift
  });

  it('treats 24:00 as a start of the next day for an overnight window', () => {
    const lateStart = sched([{ days: ['fri'], from: '24:00', to: '02:00' }]);
    expect(isWithinSchedule(lateStart, at('2026-11-27T23:59:00+09:00'), TOKYO)).toBe(false);
    expect(isWithinSchedule(lateStart, at('2026-11-28T01:00:00+09:00'), TOKYO)).toBe(true);
    expect(isWithinSchedule(lateStart, at('2026-11-28T02:00:00+09:00'), TOKYO)).toBe(false);
  });
});

describe('isWithinSchedule: daylight saving time', () => {
  it('judges the same UTC time of day by the Berlin wall clock across the spring change', () => {
    // Fri 2026-03-27 is CET (+01:00); Mon 2026-03-30 is CEST (+02:00).
    expect(isWithinSchedule(office, at('2026-03-27T07:30:00Z'), BERLIN)).toBe(false); // 08:30 CET
    expect(isWithinSchedule(office, at('2026-03-30T07:30:00Z'), BERLIN)).toBe(true); // 09:30 CEST
    expect(isWithinSchedule(office, at('2026-03-27T15:30:00Z'), BERLIN)).toBe(true); // 16:30 CET
    expect(isWithinSchedule(office, at('2026-03-30T15:30:00Z'), BERLIN)).toBe(false); // 17:30 CEST
  });

  it('judges the same UTC time of day by the Berlin wall clock across the autumn change', () => {
    // Fri 2026-10-23 is CEST; Mon 2026-10-26 is CET.
    expect(isWithinSchedule(office, at('2026-10-23T07:30:00Z'), BERLIN)).toBe(true); // 09:30 CEST
    expect(isWithinSchedule(office, at('2026-10-26T07:30:00Z'), BERLIN)).toBe(false); // 08:30 CET
    expect(isWithinSchedule(office, at('2026-10-23T15:30:00Z'), BERLIN)).toBe(false); // 17:30 CEST
    expect(isWithinSchedule(office, at('2026-10-26T15:30:00Z'), BERLIN)).toBe(true); // 16:30 CET
  });

  it('skips the missing hour on the spring change (Berlin, Sun 2026-03-29)', () => {
    const early = sched([{ days: ['sun'], from: '01:00', to: '04:00' }]);
    expect(isWithinSchedule(early, at('2026-03-28T23:59:00Z'), BERLIN)).toBe(false); // 00:59 CET
    expect(isWithinSchedule(early, at('2026-03-29T00:00:00Z'), BERLIN)).toBe(true); // 01:00 CET
    expect(isWithinSchedule(early, at('2026-03-29T00:59:00Z'), BERLIN)).toBe(true); // 01:59 CET
    expect(isWithinSchedule(early, at('2026-03-29T01:00:00Z'), BERLIN)).toBe(true); // 03:00 CEST
    expect(isWithinSchedule(early, at('2026-03-29T01:59:00Z'), BERLIN)).toBe(true); // 03:59 CEST
    expect(isWithinSchedule(early, at('2026-03-29T02:00:00Z'), BERLIN)).toBe(false); // 04:00 CEST, two real hours later
    // A window lying wholly in the skipped hour never opens that day.
    const skipped = sched([{ days: ['sun'], from: '02:00', to: '03:00' }]);
    for (let m = -120; m <= 180; m += 1) {
      const t = new Date(Date.parse('2026-03-29T01:00:00Z') + m * 60_000);
      expect(isWithinSchedule(skipped, t, BERLIN)).toBe(false);
    }
  });

  it('opens the repeated hour twice on the autumn change (Berlin, Sun 2026-10-25)', () => {
    const repeated = sched([{ days: ['sun'], from: '02:00', to: '03:00' }]);
    expect(isWithinSchedule(repeated, at('2026-10-24T23:59:00Z'), BERLIN)).toBe(false); // 01:59 CEST
    expect(isWithinSchedule(repeated, at('2026-10-25T00:00:00Z'), BERLIN)).toBe(true); // 02:00 CEST
    expect(isWithinSchedule(repeated, at('2026-10-25T00:59:00Z'), BERLIN)).toBe(true); // 02:59 CEST
    expect(isWithinSchedule(repeated, at('2026-10-25T01:00:00Z'), BERLIN)).toBe(true); // 02:00 CET
    expect(isWithinSchedule(repeated, at('2026-10-25T01:59:00Z'), BERLIN)).toBe(true); // 02:59 CET
    expect(isWithinSchedule(repeated, at('2026-10-25T02:00:00Z'), BERLIN)).toBe(false); // 03:00 CET
    // A window 02:00-02:30 is open in both passes through the repeated hour, closed in between.
    const firstHalf = sched([{ days: ['sun'], from: '02:00', to: '02:30' }]);
    expect(isWithinSchedule(firstHalf, at('2026-10-25T00:15:00Z'), BERLIN)).toBe(true); // 02:15 CEST
    expect(isWithinSchedule(firstHalf, at('2026-10-25T00:45:00Z'), BERLIN)).toBe(false); // 02:45 CEST
    expect(isWithinSchedule(firstHalf, at('2026-10-25T01:15:00Z'), BERLIN)).toBe(true); // 02:15 CET
    expect(isWithinSchedule(firstHalf, at('2026-10-25T01:45:00Z'), BERLIN)).toBe(false); // 02:45 CET
  });

  it('handles an overnight window across the autumn change by wall time', () => {
    // Sat 2026-10-24 22:00 CEST (20:00Z) to Sun 2026-10-25 06:00 CET (05:00Z): nine real hours.
    const night = sched([{ days: ['sat'], from: '22:00', to: '06:00' }]);
    expect(isWithinSchedule(night, at('2026-10-24T19:59:00Z'), BERLIN)).toBe(false);
    expect(isWithinSchedule(night, at('2026-10-24T20:00:00Z'), BERLIN)).toBe(true);
    expect(isWithinSchedule(night, at('2026-10-25T04:59:00Z'), BERLIN)).toBe(true); // 05:59 CET
    expect(isWithinSchedule(night, at('2026-10-25T05:00:00Z'), BERLIN)).toBe(false); // 06:00 CET
  });

  it('judges New York by its wall clock across the spring change (Sun 2026-03-08)', () => {
    // Fri 2026-03-06 is EST (-05:00); Mon 2026-03-09 is EDT (-04:00).
    expect(isWithinSchedule(office, at('2026-03-06T13:30:00Z'), NEW_YORK)).toBe(false); // 08:30 EST
    expect(isWithinSchedule(office, at('2026-03-09T13:30:00Z'), NEW_YORK)).toBe(true); // 09:30 EDT
    expect(isWithinSchedule(office, at('2026-03-06T21:30:00Z'), NEW_YORK)).toBe(true); // 16:30 EST
    expect(isWithinSchedule(office, at('2026-03-09T21:30:00Z'), NEW_YORK)).toBe(false); // 17:30 EDT
    // 02:00 EST -> 03:00 EDT at 07:00Z: 02:xx never happens.
    const skipped = sched([{ days: ['sun'], from: '02:00', to: '03:00' }]);
    expect(isWithinSchedule(skipped, at('2026-03-08T06:59:00Z'), NEW_YORK)).toBe(false); // 01:59 EST
    expect(isWithinSchedule(skipped, at('2026-03-08T07:00:00Z'), NEW_YORK)).toBe(false); // 03:00 EDT
  });

  it('judges New York by its wall clock across the autumn change (Sun 2026-11-01)', () => {
    // 02:00 EDT -> 01:00 EST at 06:00Z: 01:xx happens twice.
    const repeated = sched([{ days: ['sun'], from: '01:00', to: '02:00' }]);
    expect(isWithinSchedule(repeated, at('2026-11-01T04:59:00Z'), NEW_YORK)).toBe(false); // 00:59 EDT
    expect(isWithinSchedule(repeated, at('2026-11-01T05:30:00Z'), NEW_YORK)).toBe(true); // 01:30 EDT
    expect(isWithinSchedule(repeated, at('2026-11-01T06:30:00Z'), NEW_YORK)).toBe(true); // 01:30 EST
    expect(isWithinSchedule(repeated, at('2026-11-01T07:00:00Z'), NEW_YORK)).toBe(false); // 02:00 EST
    // Fri 2026-10-30 is EDT; Mon 2026-11-02 is EST.
    expect(isWithinSchedule(office, at('2026-10-30T13:30:00Z'), NEW_YORK)).toBe(true); // 09:30 EDT
    expect(isWithinSchedule(office, at('2026-11-02T13:30:00Z'), NEW_YORK)).toBe(false); // 08:30 EST
  });
});

describe('isWithinSchedule: properties', () => {
  const zones = [
    'Asia/Tokyo',
    'Europe/Berlin',
    'America/New_York',
    'Australia/Lord_Howe', // 30-minute DST shift
    'Asia/Kathmandu', // +05:45
    'Pacific/Chatham', // +12:45 / +13:45
    'Pacific/Kiritimati', // +14:00
    'Pacific/Pago_Pago', // -11:00
    'America/St_Johns', // -03:30 / -02:30
    'UTC',
  ];
  const instant = fc.date({ min: new Date('1990-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true });
  const zone = fc.constantFrom(...zones);
  const allWeek: WeeklyWindow[] = [{ days: [...allDays], from: '00:00', to: '24:00' }];

  it('an all-week 00:00-24:00 window without holidays is always open', () => {
    fc.assert(
      fc.property(instant, zone, (t, tz) => isWithinSchedule(sched(allWeek), t, tz)),
      { numRuns: 1000 },
    );
  });

  it('an all-week 00:00-24:00 window is always closed on a listed holiday (the local date)', () => {
    fc.assert(
      fc.property(instant, zone, (t, tz) => !isWithinSchedule(sched(allWeek, [localTime(t, tz).date]), t, tz)),
      { numRuns: 1000 },
    );
  });

  it('a window with from == to is always closed', () => {
    fc.assert(
      fc.property(instant, zone, fc.integer({ min: 0, max: 1440 }), (t, tz, m) => {
        const hhmm = `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
        return !isWithinSchedule(sched([{ days: [...allDays], from: hhmm, to: hhmm }]), t, tz);
      }),
      { numRuns: 500 },
    );
  });

  it('a window and its complement (to -> from overnight) cover every moment exactly once', () => {
    fc.assert(
      fc.property(instant, zone, fc.integer({ min: 1, max: 1439 }), fc.integer({ min: 1, max: 1439 }), (t, tz, a, b) => {
        fc.pre(a !== b);
        const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
        const one = isWithinSchedule(sched([{ days: [...allDays], from: hhmm(a), to: hhmm(b) }]), t, tz);
        const other = isWithinSchedule(sched([{ days: [...allDays], from: hhmm(b), to: hhmm(a) }]), t, tz);
        return one !== other;
      }),
      { numRuns: 1000 },
    );
  });
});
