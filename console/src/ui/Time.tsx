// A time in the site's timezone (a guard room and a gateway abroad read the same clock), in the
// page's language.
import { language } from '../i18n/index.js';
import { siteTimezone } from '../session.js';

export type TimeStyle = 'datetime' | 'time' | 'date';

const formats = new Map<string, Intl.DateTimeFormat>();

export function formatTime(iso: string | number | Date, style: TimeStyle = 'datetime'): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const lang = language();
  const timeZone = siteTimezone();
  const key = `${lang}|${timeZone}|${style}`;
  let f = formats.get(key);
  if (!f) {
    const opts: Intl.DateTimeFormatOptions =
      style === 'time' ? { timeStyle: 'medium' } : style === 'date' ? { dateStyle: 'medium' } : { dateStyle: 'medium', timeStyle: 'medium' };
    f = new Intl.DateTimeFormat(lang === 'ja' ? 'ja-JP' : 'en-GB', { ...opts, timeZone });
    formats.set(key, f);
  }
  return f.format(date);
}

export function Time({ at, style = 'datetime' }: { at: string | number | Date; style?: TimeStyle }) {
  const date = new Date(at);
  return <time dateTime={Number.isNaN(date.getTime()) ? undefined : date.toISOString()}>{formatTime(at, style)}</time>;
}
