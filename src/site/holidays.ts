// Holiday calendars a schedule can name instead of typing their dates (`holidays: jp-national`).
// The site file turns a name into its dates here, so the policy only ever sees "YYYY-MM-DD" strings.
import holidayJp from '@holiday-jp/holiday_jp';

export const HOLIDAY_CALENDARS = ['jp-national'] as const;
export type HolidayCalendar = (typeof HOLIDAY_CALENDARS)[number];

export interface NamedHoliday {
  date: string;
  /** The holiday's name in Japanese (元日, 春分の日 振替休日, ...) and in English. */
  name: { en: string; ja: string };
}

/**
 * Japan's national holidays (国民の祝日), substitute holidays (振替休日) and the citizens' holidays
 * between two (国民の休日), as the maintained @holiday-jp/holiday_jp data lists them (1970 to its last
 * published year: a new release of the package brings the years after).
 */
function jpNational(): NamedHoliday[] {
  return Object.values(holidayJp.holidays).map((h) => ({ date: h.date, name: { en: h.name_en, ja: h.name } }));
}

const cache = new Map<HolidayCalendar, readonly NamedHoliday[]>();

/** Every holiday of a calendar, in date order. */
export function holidaysOf(calendar: HolidayCalendar): readonly NamedHoliday[] {
  let found = cache.get(calendar);
  if (!found) {
    found = jpNational().sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
    cache.set(calendar, found);
  }
  return found;
}

/**
 * A schedule's `holidays` as the policy takes them: the calendars named expanded into their dates,
 * with the site's own closing days, sorted and without repeats.
 */
export function expandHolidays(entries: HolidayCalendar | readonly string[]): string[] {
  const dates = new Set<string>();
  for (const entry of typeof entries === 'string' ? [entries] : entries) {
    if ((HOLIDAY_CALENDARS as readonly string[]).includes(entry)) for (const h of holidaysOf(entry as HolidayCalendar)) dates.add(h.date);
    else dates.add(entry);
  }
  return [...dates].sort();
}
