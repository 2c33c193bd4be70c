// The entry log (auditors' landing view): filter by area, door, person, decision, reason and time;
// page back through millions of records by seq (each page one indexed query, however deep); export
// what is filtered as CSV (headers in the page's language) or JSON Lines, as a real download.
// The filters live in the hash (#/entries?door=lab-main&decision=denied), so a view can be shared.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { DOOR_RECORD_REASONS, REASON_CODES } from '../../../src/policy/vocabulary.js';
import { doorEventLabels, reasonLabels } from '../../../src/i18n/labels.js';
import { API, get } from '../api.js';
import { type Key, localized, t, useLanguage } from '../i18n/index.js';
import { hrefOf, type Location, navigate, useLocation } from '../routes.js';
import { me, siteTimezone } from '../session.js';
import { Badge } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Field } from '../ui/Field.js';
import { Table } from '../ui/Table.js';
import { Time } from '../ui/Time.js';
import { LogExport, PAGE_SIZES, Pager, pageSizeOf, queryOf, Select, TimeHint, TimeRange, usePagedLog, wallToIso } from './entries/shared.js';

export interface Entry {
  seq: number;
  at: string;
  kind: 'decision' | 'door' | 'mode' | 'evidence';
  doorId: string | null;
  areaId: string | null;
  direction: 'in' | 'out' | null;
  personId: string | null;
  personName: string | null;
  affiliation: string | null;
  purpose: string | null;
  decision: 'granted' | 'denied' | null;
  reason: string | null;
}

interface Named {
  id: string;
  name: { en: string; ja?: string };
}

interface PersonHit {
  id: string;
  name: string;
  affiliation: string;
}

/** The filters as the hash keeps them; times are wall times in the site's time zone. */
interface Filters {
  area: string;
  door: string;
  person: string;
  decision: string;
  reason: string;
  from: string;
  to: string;
  size: string;
}

const FILTER_KEYS = ['area', 'door', 'person', 'decision', 'reason', 'from', 'to', 'size'] as const;

function filtersOf(loc: Location): Filters {
  const f = {} as Filters;
  for (const k of FILTER_KEYS) f[k] = loc.params.get(k) ?? '';
  return f;
}

function paramsOf(f: Filters): Record<string, string> {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== '')) as Record<string, string>;
}

/** The filters as the API names them (times as ISO instants). */
function apiFilters(f: Filters, timeZone: string): Record<string, string | undefined> {
  return {
    areaId: f.area || undefined,
    doorId: f.door || undefined,
    personId: f.person || undefined,
    decision: f.decision || undefined,
    reason: f.reason || undefined,
    from: f.from ? wallToIso(f.from, timeZone) : undefined,
    to: f.to ? wallToIso(f.to, timeZone) : undefined,
  };
}

function reasonText(code: string | null): string {
  if (!code) return '';
  const l = (reasonLabels as Record<string, { en: string; ja: string }>)[code] ?? (doorEventLabels as Record<string, { en: string; ja: string }>)[code];
  return l ? localized(l) : code;
}

/** Areas and doors with their names, for the selects and the table. */
function usePlaces(): { areas: Named[]; doors: Named[] } {
  const [places, setPlaces] = useState<{ areas: Named[]; doors: Named[] }>({ areas: [], doors: [] });
  useEffect(() => {
    const abort = new AbortController();
    Promise.all([
      get<{ items: Named[] }>('/areas?limit=1000', { signal: abort.signal }),
      get<{ items: Named[] }>('/doors?limit=1000', { signal: abort.signal }),
    ]).then(
      ([areas, doors]) => setPlaces({ areas: areas.items, doors: doors.items }),
      () => {
        /* the filters still take ids; the table shows ids */
      },
    );
    return () => abort.abort();
  }, []);
  return places;
}

/** People whose name or affiliation holds `q` (for the person filter's list). */
function usePeopleSearch(q: string): PersonHit[] {
  const [hits, setHits] = useState<PersonHit[]>([]);
  useEffect(() => {
    const term = q.trim();
    if (term.length < 2) return;
    const abort = new AbortController();
    const timer = setTimeout(() => {
      get<{ items: PersonHit[] }>(`/people?${queryOf({ q: term, limit: 20 })}`, { signal: abort.signal }).then(
        (r) => setHits(r.items),
        () => {
          /* no suggestions; an id typed in still filters */
        },
      );
    }, 250);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [q]);
  return hits;
}

export function EntriesView() {
  const lang = useLanguage();
  const loc = useLocation();
  const applied = filtersOf(loc);
  const appliedKey = JSON.stringify(applied);
  const timeZone = siteTimezone();
  const [draft, setDraft] = useState<Filters>(applied);
  // The form follows filters applied elsewhere (a link, Back), but not at mount: the first effect
  // runs after paint and would wipe what someone typed straight away.
  const shownKey = useRef(appliedKey);
  useEffect(() => {
    if (shownKey.current === appliedKey) return;
    shownKey.current = appliedKey;
    setDraft(applied);
  }, [appliedKey]);
  const { areas, doors } = usePlaces();
  const hits = usePeopleSearch(draft.person);
  const [known, setKnown] = useState<Map<string, PersonHit>>(new Map());
  const size = pageSizeOf(applied.size || null);

  const log = usePagedLog<Entry>(appliedKey, (before, signal) =>
    get(`/entries?${queryOf({ ...apiFilters(applied, timeZone), before, limit: size })}`, { signal }),
  );

  // Names of the people seen (in suggestions and rows), to show who a person filter means.
  useEffect(() => {
    if (hits.length === 0 && log.items.length === 0) return;
    setKnown((m) => {
      const next = new Map(m);
      for (const h of hits) next.set(h.id, h);
      for (const e of log.items)
        if (e.personId && e.personName && !next.has(e.personId)) next.set(e.personId, { id: e.personId, name: e.personName, affiliation: e.affiliation ?? '' });
      return next;
    });
  }, [hits, log.items]);

  const areaName = useMemo(() => new Map(areas.map((a) => [a.id, a.name])), [areas]);
  const doorName = useMemo(() => new Map(doors.map((d) => [d.id, d.name])), [doors]);
  const place = (names: Map<string, Named['name']>, id: string | null) => {
    if (!id) return '';
    const n = names.get(id);
    return n ? localized(n) : <span translate={false}>{id}</span>;
  };

  const set = (k: keyof Filters) => (v: string) => setDraft((d) => ({ ...d, [k]: v }));

  const apply = (e: Event) => {
    e.preventDefault();
    let person = draft.person.trim();
    // A name typed without picking from the list: the one person it names, if just one.
    if (person && !known.has(person)) {
      const lower = person.toLowerCase();
      const named = hits.filter((h) => h.name.toLowerCase().includes(lower));
      if (named.length === 1) person = named[0]!.id;
    }
    const next = { ...draft, person };
    const href = hrefOf('entries', paramsOf(next));
    if (href === location.hash) log.newest();
    else navigate('entries', paramsOf(next));
  };

  const clear = () => {
    const keep = applied.size ? { size: applied.size } : undefined;
    navigate('entries', keep);
  };

  const exportHref = (format: 'csv' | 'jsonl') =>
    `${API}/entries/export?${queryOf({ ...apiFilters(applied, timeZone), format, ...(format === 'csv' ? { lang } : {}) })}`;

  const summary = [
    applied.area && `${t('entries.area')} ${localized(areaName.get(applied.area)) || applied.area}`,
    applied.door && `${t('entries.door')} ${localized(doorName.get(applied.door)) || applied.door}`,
    applied.person && `${t('entries.person')} ${known.get(applied.person)?.name ?? applied.person}`,
    applied.decision && `${t('entries.decision')} ${t(applied.decision === 'denied' ? 'entries.denied' : 'entries.granted')}`,
    applied.reason && `${t('entries.reason')} ${reasonText(applied.reason)}`,
    applied.from && `${t('entries.from')} ${applied.from.replace('T', ' ')}`,
    applied.to && `${t('entries.to')} ${applied.to.replace('T', ' ')}`,
  ].filter(Boolean);

  const personNow = known.get(draft.person.trim());
  const mayExport = me().role === 'auditor' || me().role === 'manager';

  return (
    <section class="entries-view" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {t('entries.title')}
      </h1>
      <p class="muted">{t('entries.intro')}</p>

      <form class="log-filters" onSubmit={apply} aria-labelledby="entries-filters">
        <h2 id="entries-filters">{t('entries.filters')}</h2>
        <div class="log-filter-grid">
          <Select label={t('entries.area')} value={draft.area} onValue={set('area')}>
            <option value="">{t('entries.any')}</option>
            {areas.map((a) => (
              <option key={a.id} value={a.id}>
                {localized(a.name)}
              </option>
            ))}
            {draft.area && !areaName.has(draft.area) && <option value={draft.area}>{draft.area}</option>}
          </Select>
          <Select label={t('entries.door')} value={draft.door} onValue={set('door')}>
            <option value="">{t('entries.any')}</option>
            {doors.map((d) => (
              <option key={d.id} value={d.id}>
                {localized(d.name)}
              </option>
            ))}
            {draft.door && !doorName.has(draft.door) && <option value={draft.door}>{draft.door}</option>}
          </Select>
          <div class="log-person">
            <Field
              label={t('entries.person')}
              value={draft.person}
              onValue={set('person')}
              hint={t('entries.personHint')}
              list="entries-people"
              autoComplete="off"
              spellcheck={false}
            />
            <datalist id="entries-people">
              {hits.map((h) => (
                <option key={h.id} value={h.id} label={`${h.name}${h.affiliation ? ` (${h.affiliation})` : ''}`} />
              ))}
            </datalist>
            {personNow && (
              <p class="log-person-name" translate={false}>
                {personNow.name}
                {personNow.affiliation ? ` (${personNow.affiliation})` : ''}
              </p>
            )}
          </div>
          <Select label={t('entries.decision')} value={draft.decision} onValue={set('decision')}>
            <option value="">{t('entries.any')}</option>
            <option value="granted">{t('entries.granted')}</option>
            <option value="denied">{t('entries.denied')}</option>
          </Select>
          <Select label={t('entries.reason')} value={draft.reason} onValue={set('reason')}>
            <option value="">{t('entries.any')}</option>
            <optgroup label={t('entries.reasonsOfDecisions')}>
              {REASON_CODES.map((r) => (
                <option key={r} value={r}>
                  {reasonText(r)}
                </option>
              ))}
            </optgroup>
            <optgroup label={t('entries.reasonsOfDoors')}>
              {DOOR_RECORD_REASONS.map((r) => (
                <option key={r} value={r}>
                  {reasonText(r)}
                </option>
              ))}
            </optgroup>
          </Select>
          <Select label={t('entries.pageSize')} value={String(pageSizeOf(draft.size || null))} onValue={set('size')}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </Select>
          <TimeRange from={draft.from} to={draft.to} onFrom={set('from')} onTo={set('to')} hintId="entries-time-hint" />
          <div class="log-filter-actions">
            <Button type="submit" variant="primary">
              {t('entries.apply')}
            </Button>
            <Button onClick={clear}>{t('entries.clear')}</Button>
          </div>
        </div>
        <TimeHint id="entries-time-hint" timeZone={timeZone} />
      </form>

      <p class="log-summary" aria-live="polite">
        {summary.length ? t('entries.filtered', { what: summary.join(' · ') }) : t('entries.unfiltered')}
      </p>

      {log.error && (
        <p class="form-error" role="alert">
          {log.error}
        </p>
      )}

      <div class="log-results" aria-busy={log.loading}>
        <Table<Entry>
          caption={t('entries.caption')}
          hideCaption
          rowKey={(e) => e.seq}
          rows={log.items}
          empty={log.loading ? t('common.loading') : t('entries.empty')}
          columns={[
            { label: t('entries.seq'), align: 'end', cell: (e) => e.seq },
            { label: t('entries.at'), cell: (e) => <Time at={e.at} /> },
            { label: t('entries.door'), cell: (e) => place(doorName, e.doorId) },
            { label: t('entries.area'), cell: (e) => place(areaName, e.areaId) },
            {
              label: t('entries.person'),
              cell: (e) =>
                e.personName ? (
                  <span translate={false}>
                    {e.personName}
                    {e.affiliation ? <span class="muted"> ({e.affiliation})</span> : null}
                  </span>
                ) : e.kind === 'decision' ? (
                  <span class="muted">{t('entries.unknownPerson')}</span>
                ) : (
                  ''
                ),
            },
            { label: t('entries.direction'), cell: (e) => (e.direction ? t(`entries.${e.direction}`) : '') },
            {
              label: t('entries.decision'),
              cell: (e) =>
                e.decision === 'granted' ? (
                  <Badge tone="ok">{t('entries.granted')}</Badge>
                ) : e.decision === 'denied' ? (
                  <Badge tone="alarm">{t('entries.denied')}</Badge>
                ) : e.kind !== 'decision' ? (
                  <Badge tone="muted">{t(`entries.kind.${e.kind}` as Key)}</Badge>
                ) : (
                  ''
                ),
            },
            { label: t('entries.reason'), cell: (e) => reasonText(e.reason) },
          ]}
        />
      </div>
      <Pager log={log} label={t('entries.paging')} />

      {mayExport && <LogExport id="entries-export" intro={t('entries.exportIntro')} href={exportHref} />}
    </section>
  );
}
