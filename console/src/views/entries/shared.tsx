// What the entry log and the audit log views share: a labelled <select>, times typed in the site's
// time zone, paging newest first by seq (the API's before=nextBefore cursor), and the export links.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { ApiProblem } from '../../api.js';
import { t } from '../../i18n/index.js';
import { hrefOf } from '../../routes.js';
import { Button } from '../../ui/Button.js';
import './auditor.css';

export interface SelectProps extends Omit<JSX.SelectHTMLAttributes<HTMLSelectElement>, 'id' | 'value' | 'onChange' | 'class'> {
  label: string;
  value: string;
  onValue: (value: string) => void;
  children: ComponentChildren;
}

/** A <select> with a real <label>, styled as the shell's fields. */
export function Select({ label, value, onValue, children, ...rest }: SelectProps) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onValue((e.currentTarget as HTMLSelectElement).value)} {...rest}>
        {children}
      </select>
    </div>
  );
}

/** The offset of `timeZone` from UTC at an instant, in milliseconds. */
function offsetAt(utcMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(utcMs));
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/**
 * A wall-clock time as a datetime-local input gives it ("2026-12-03T09:00"), read in the site's time
 * zone (not the browser's), as an ISO instant; undefined when it is not one.
 */
export function wallToIso(wall: string, timeZone: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(wall);
  if (!m) return undefined;
  const asUtc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  // Twice: the offset at the guess may differ from the offset at the answer across a DST change.
  let at = asUtc - offsetAt(asUtc, timeZone);
  at = asUtc - offsetAt(at, timeZone);
  return new Date(at).toISOString();
}

export const PAGE_SIZES = [25, 50, 100, 200] as const;

export function pageSizeOf(value: string | null): number {
  const n = Number(value);
  return (PAGE_SIZES as readonly number[]).includes(n) ? n : 50;
}

export interface LogPage<T> {
  items: T[];
  nextBefore: number | null;
}

export interface PagedLog<T> {
  items: T[];
  /** 1 for the newest page. */
  page: number;
  loading: boolean;
  error: string | undefined;
  hasOlder: boolean;
  older(): void;
  newer(): void;
  newest(): void;
}

/**
 * Pages of a log, newest first: the cursor of each page seen is kept, so "newer" goes back exactly
 * the way "older" came. A new `key` (the filters) starts again from the newest.
 */
export function usePagedLog<T>(key: string, load: (before: number | undefined, signal: AbortSignal) => Promise<LogPage<T>>): PagedLog<T> {
  // The cursors belong to the filters they were made under: new filters start from the newest page.
  const [nav, setNav] = useState<{ key: string; cursors: (number | undefined)[] }>({ key, cursors: [undefined] });
  const cursors = nav.key === key ? nav.cursors : [undefined];
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const before = cursors[cursors.length - 1];
  // What is shown answers one request (filters, cursor, reload): until the answer to the wanted one
  // arrives the view is loading, from the very render that asked (not from the effect after it), so
  // nobody reads the previous filters' rows as the new ones.
  const wanted = `${key}|${before ?? ''}|${generation}`;
  const [shown, setShown] = useState<{ for: string; page: LogPage<T>; error?: string }>({ for: '', page: { items: [], nextBefore: null } });
  useEffect(() => {
    const abort = new AbortController();
    loadRef
      .current(before, abort.signal)
      .then((page) => {
        if (!abort.signal.aborted) setShown({ for: wanted, page });
      })
      .catch((err: unknown) => {
        if (!abort.signal.aborted) setShown((s) => ({ for: wanted, page: s.page, error: problemWords(err) }));
      });
    return () => abort.abort();
  }, [wanted]);
  const data = shown.page;

  return {
    items: data.items,
    page: cursors.length,
    loading: shown.for !== wanted,
    error: shown.error,
    hasOlder: data.nextBefore !== null,
    older: () => {
      if (data.nextBefore !== null) setNav({ key, cursors: [...cursors, data.nextBefore] });
    },
    newer: () => setNav({ key, cursors: cursors.length > 1 ? cursors.slice(0, -1) : cursors }),
    newest: () => {
      setNav({ key, cursors: [undefined] });
      setGeneration((g) => g + 1);
    },
  };
}

/** Newest / Newer / Older, and where the page is, announced when it changes. */
export function Pager<T extends { seq: number }>({ log, label }: { log: PagedLog<T>; label: string }) {
  const first = log.items[0]?.seq;
  const last = log.items[log.items.length - 1]?.seq;
  return (
    <nav class="log-pager" aria-label={label}>
      <Button onClick={log.newest} disabled={log.page === 1 || log.loading}>
        {t('entries.newest')}
      </Button>
      <Button onClick={log.newer} disabled={log.page === 1 || log.loading}>
        {t('entries.newer')}
      </Button>
      <p class="log-pager-where" aria-live="polite">
        {t('entries.page', { n: log.page })}
        {first !== undefined && last !== undefined ? ` · ${t('entries.shown', { first, last })}` : ''}
        {!log.loading && !log.hasOlder && log.items.length > 0 ? ` · ${t('entries.lastPage')}` : ''}
      </p>
      <Button onClick={log.older} disabled={!log.hasOlder || log.loading}>
        {t('entries.older')}
      </Button>
    </nav>
  );
}

/**
 * From / Until as datetime-local inputs (cells of the filter grid); their values are wall times in
 * the site's time zone, which `TimeHint` (under the grid, `hintId`) says.
 */
export function TimeRange({
  from,
  to,
  onFrom,
  onTo,
  hintId,
}: {
  from: string;
  to: string;
  onFrom: (v: string) => void;
  onTo: (v: string) => void;
  hintId: string;
}) {
  const id = useId();
  return (
    <>
      <div class="field">
        <label for={`${id}-from`}>{t('entries.from')}</label>
        <input
          id={`${id}-from`}
          type="datetime-local"
          value={from}
          aria-describedby={hintId}
          onInput={(e) => onFrom((e.currentTarget as HTMLInputElement).value)}
        />
      </div>
      <div class="field">
        <label for={`${id}-to`}>{t('entries.to')}</label>
        <input id={`${id}-to`} type="datetime-local" value={to} aria-describedby={hintId} onInput={(e) => onTo((e.currentTarget as HTMLInputElement).value)} />
      </div>
    </>
  );
}

export function TimeHint({ id, timeZone }: { id: string; timeZone: string }) {
  return (
    <p class="field-hint log-time-hint" id={id}>
      {t('entries.timeHint')} <span translate={false}>({timeZone})</span>
    </p>
  );
}

/** Query parameters without the empty ones. */
export function queryOf(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  return q.toString();
}

/** A failed call in words for people. */
export function problemWords(err: unknown): string {
  return err instanceof ApiProblem ? err.words() : String(err);
}

/**
 * A log's export: every record the filters match as CSV or JSON Lines (real downloads of `href`'s
 * answers), and the way to the verify view. `intro` says what this log's files hold.
 */
export function LogExport({ id, intro, href }: { id: string; intro: string; href: (format: 'csv' | 'jsonl') => string }) {
  return (
    <section class="log-export" aria-labelledby={id}>
      <h2 id={id}>{t('entries.export')}</h2>
      <p class="muted">{intro}</p>
      <div class="log-export-actions">
        <a class="btn btn-secondary" href={href('csv')} download>
          {t('entries.downloadCsv')}
        </a>
        <a class="btn btn-secondary" href={href('jsonl')} download>
          {t('entries.downloadJsonl')}
        </a>
        <a class="btn btn-quiet" href={hrefOf('verify')}>
          {t('entries.verifyLink')}
        </a>
      </div>
    </section>
  );
}
