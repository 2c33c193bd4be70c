// `holidays: jp-national`: Japan's national holidays come from the maintained package, expanded by the
// site file into dates; the policy closes a weekday schedule on them and opens it the next working day.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isWithinSchedule } from '../../src/policy/schedule.js';
import { holidaysOf } from '../../src/site/holidays.js';
import { parseSiteText, type SiteFileError } from '../../src/site/load.js';
import { FIXTURE_SITE } from '../helpers/daemon.js';

const example = readFileSync(FIXTURE_SITE, 'utf8');
const EXAMPLE_HOLIDAYS = '    holidays: ["2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01", "2027-01-02", "2027-01-03"]';
const withHolidays = (line: string) => {
  expect(example).toContain(EXAMPLE_HOLIDAYS);
  return parseSiteText(example.replace(EXAMPLE_HOLIDAYS, line));
};
const TOKYO = 'Asia/Tokyo';
/** 10:00 Tokyo time on a date: inside the example's weekday 08:00–20:00 window on a working day. */
const tenAm = (date: string) => new Date(`${date}T10:00:00+09:00`);

describe('the jp-national holiday calendar (2026–2027)', () => {
  const byDate = new Map(holidaysOf('jp-national').map((h) => [h.date, h.name.ja]));

  it('lists the 2026 and 2027 holidays by their names, substitute and citizens’ holidays included', () => {
    const years = holidaysOf('jp-national').filter((h) => h.date >= '2026-01-01' && h.date <= '2027-12-31');
    expect(years.filter((h) => h.date.startsWith('2026'))).toHaveLength(18);
    expect(years.filter((h) => h.date.startsWith('2027'))).toHaveLength(17);
    expect(byDate.get('2026-01-01')).toBe('元日');
    expect(byDate.get('2026-01-12')).toBe('成人の日');
    expect(byDate.get('2026-02-23')).toBe('天皇誕生日');
    expect(byDate.get('2026-03-20')).toBe('春分の日');
    expect(byDate.get('2026-05-06')).toBe('こどもの日 振替休日');
    expect(byDate.get('2026-09-21')).toBe('敬老の日');
    // Between two holidays: the citizens' holiday (国民の休日), named 休日 in the package.
    expect(byDate.get('2026-09-22')).toBe('休日');
    expect(byDate.get('2026-09-23')).toBe('秋分の日');
    expect(byDate.get('2026-10-12')).toBe('スポーツの日');
    expect(byDate.get('2027-01-11')).toBe('成人の日');
    expect(byDate.get('2027-03-21')).toBe('春分の日');
    expect(byDate.get('2027-03-22')).toBe('春分の日 振替休日');
    expect(byDate.get('2027-07-19')).toBe('海の日');
    // Not holidays: the year-end days are the site's own, and 2027-05-06 is a plain Thursday.
    expect(byDate.has('2026-12-29')).toBe(false);
    expect(byDate.has('2027-05-06')).toBe(false);
  });

  it('a weekday schedule with `holidays: jp-national` denies on every weekday holiday and allows the next working day', () => {
    const site = withHolidays('    holidays: jp-national');
    const weekdays = site.schedules.find((s) => s.id === 'weekdays')!;
    const holidays = holidaysOf('jp-national').filter((h) => h.date >= '2026-01-01' && h.date <= '2027-12-31');
    let weekdayHolidays = 0;
    for (const { date } of holidays) {
      const day = new Date(`${date}T00:00:00Z`).getUTCDay();
      if (day === 0 || day === 6) continue;
      weekdayHolidays++;
      expect(isWithinSchedule(weekdays, tenAm(date), TOKYO), `${date} ${byDate.get(date)}`).toBe(false);
    }
    expect(weekdayHolidays).toBeGreaterThan(25);
    // Holiday, then the next working day.
    const pairs = [
      ['2026-01-01', '2026-01-02'], // 元日 (Thu) → Fri
      ['2026-01-12', '2026-01-13'], // 成人の日 (Mon) → Tue
      ['2026-05-06', '2026-05-07'], // 振替休日 (Wed) → Thu, after the Golden Week run 05-03..05-06
      ['2026-09-22', '2026-09-24'], // 国民の休日 (Tue), 秋分の日 (Wed) → Thu
      ['2027-03-22', '2027-03-23'], // 春分の日 振替休日 (Mon) → Tue
      ['2027-11-23', '2027-11-24'], // 勤労感謝の日 (Tue) → Wed
    ] as const;
    for (const [holiday, next] of pairs) {
      expect(isWithinSchedule(weekdays, tenAm(holiday), TOKYO), holiday).toBe(false);
      expect(isWithinSchedule(weekdays, tenAm(next), TOKYO), next).toBe(true);
    }
    // Without the calendar the same holidays are ordinary working days.
    const plain = withHolidays('    holidays: []').schedules.find((s) => s.id === 'weekdays')!;
    expect(isWithinSchedule(plain, tenAm('2026-01-12'), TOKYO)).toBe(true);
    expect(isWithinSchedule(plain, tenAm('2026-09-22'), TOKYO)).toBe(true);
  });

  it('takes the calendar together with the site’s own closing days', () => {
    const site = withHolidays('    holidays: [jp-national, "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-04"]');
    const weekdays = site.schedules.find((s) => s.id === 'weekdays')!;
    // The policy gets dates only: sorted, without repeats.
    expect(weekdays.holidays.every((d) => /^\d{4}-\d{2}-\d{2}$/.test(d))).toBe(true);
    expect(weekdays.holidays).toEqual([...new Set(weekdays.holidays)].sort());
    expect(weekdays.holidays).toContain('2027-01-04');
    for (const closed of ['2026-12-29', '2026-12-30', '2026-12-31', '2027-01-01', '2027-01-04']) {
      expect(isWithinSchedule(weekdays, tenAm(closed), TOKYO), closed).toBe(false);
    }
    expect(isWithinSchedule(weekdays, tenAm('2026-12-28'), TOKYO)).toBe(true);
    expect(isWithinSchedule(weekdays, tenAm('2027-01-05'), TOKYO)).toBe(true);
  });

  it('refuses a calendar it does not know, with the path', () => {
    expect(() => withHolidays('    holidays: us-federal')).toThrow(
      /schedules\[0\]\.holidays: a list of dates "YYYY-MM-DD" and holiday calendars \(jp-national\)/,
    );
    try {
      withHolidays('    holidays: [jp-national, "2026-13-01"]');
      expect.unreachable();
    } catch (err) {
      expect((err as SiteFileError).problems.map((p) => p.path)).toEqual(['schedules[0].holidays[1]']);
    }
  });
});
