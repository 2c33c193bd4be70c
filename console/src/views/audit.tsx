// The audit log: who did what, when and from where, newest first, with the filters the API has
// (account, action, time), paged by seq; what is filtered exported as CSV or JSON Lines, as a real
// download. Verifying it is on the verify view.
import { useEffect, useRef, useState } from 'preact/hooks';
import { API, get } from '../api.js';
import { type Key, t, useLanguage } from '../i18n/index.js';
import { hrefOf, type Location, navigate, useLocation } from '../routes.js';
import { siteTimezone } from '../session.js';
import { Badge, type Tone } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Field } from '../ui/Field.js';
import { Table } from '../ui/Table.js';
import { Time } from '../ui/Time.js';
import { LogExport, PAGE_SIZES, Pager, pageSizeOf, queryOf, Select, TimeHint, TimeRange, usePagedLog, wallToIso } from './entries/shared.js';

export interface AuditRecord {
  seq: number;
  at: string;
  actor: string | null;
  role: string | null;
  action: string;
  target: string | null;
  outcome: string;
  address: string | null;
}

interface Filters {
  actor: string;
  action: string;
  from: string;
  to: string;
  size: string;
}

const FILTER_KEYS = ['actor', 'action', 'from', 'to', 'size'] as const;
const OUTCOMES = ['ok', 'invalid', 'unauthenticated', 'denied', 'refused', 'not-found', 'conflict', 'rate-limited', 'failed', 'error'];
const ROLES = ['admin', 'manager', 'guard', 'auditor'];

function filtersOf(loc: Location): Filters {
  const f = {} as Filters;
  for (const k of FILTER_KEYS) f[k] = loc.params.get(k) ?? '';
  return f;
}

function paramsOf(f: Filters): Record<string, string> {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== '')) as Record<string, string>;
}

function outcomeBadge(outcome: string) {
  const tone: Tone = outcome === 'ok' ? 'ok' : outcome === 'error' || outcome === 'failed' ? 'alarm' : 'warning';
  return <Badge tone={tone}>{OUTCOMES.includes(outcome) ? t(`audit.outcome.${outcome}` as Key) : <span translate={false}>{outcome}</span>}</Badge>;
}

export function AuditView() {
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
  const size = pageSizeOf(applied.size || null);

  const log = usePagedLog<AuditRecord>(appliedKey, (before, signal) =>
    get(
      `/audit?${queryOf({
        actor: applied.actor || undefined,
        action: applied.action || undefined,
        from: applied.from ? wallToIso(applied.from, timeZone) : undefined,
        to: applied.to ? wallToIso(applied.to, timeZone) : undefined,
        before,
        limit: size,
      })}`,
      { signal },
    ),
  );

  const exportHref = (format: 'csv' | 'jsonl') =>
    `${API}/audit/export?${queryOf({
      actor: applied.actor || undefined,
      action: applied.action || undefined,
      from: applied.from ? wallToIso(applied.from, timeZone) : undefined,
      to: applied.to ? wallToIso(applied.to, timeZone) : undefined,
      format,
      ...(format === 'csv' ? { lang } : {}),
    })}`;

  const set = (k: keyof Filters) => (v: string) => setDraft((d) => ({ ...d, [k]: v }));
  const apply = (e: Event) => {
    e.preventDefault();
    const next = { ...draft, actor: draft.actor.trim(), action: draft.action.trim() };
    if (hrefOf('audit', paramsOf(next)) === location.hash) log.newest();
    else navigate('audit', paramsOf(next));
  };

  return (
    <section class="audit-view" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {t('audit.title')}
      </h1>
      <p class="muted">{t('audit.intro')}</p>

      <form class="log-filters" onSubmit={apply} aria-labelledby="audit-filters">
        <h2 id="audit-filters">{t('entries.filters')}</h2>
        <div class="log-filter-grid">
          <Field label={t('audit.actor')} value={draft.actor} onValue={set('actor')} hint={t('audit.actorHint')} autoComplete="off" spellcheck={false} />
          <Field label={t('audit.action')} value={draft.action} onValue={set('action')} hint={t('audit.actionHint')} autoComplete="off" spellcheck={false} />
          <Select label={t('entries.pageSize')} value={String(size)} onValue={set('size')}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </Select>
          <TimeRange from={draft.from} to={draft.to} onFrom={set('from')} onTo={set('to')} hintId="audit-time-hint" />
          <div class="log-filter-actions">
            <Button type="submit" variant="primary">
              {t('entries.apply')}
            </Button>
            <Button onClick={() => navigate('audit', applied.size ? { size: applied.size } : undefined)}>{t('entries.clear')}</Button>
          </div>
        </div>
        <TimeHint id="audit-time-hint" timeZone={timeZone} />
      </form>

      {log.error && (
        <p class="form-error" role="alert">
          {log.error}
        </p>
      )}

      <div class="log-results" aria-busy={log.loading}>
        <Table<AuditRecord>
          caption={t('audit.caption')}
          hideCaption
          rowKey={(r) => r.seq}
          rows={log.items}
          empty={log.loading ? t('common.loading') : t('audit.empty')}
          columns={[
            { label: t('entries.seq'), align: 'end', cell: (r) => r.seq },
            { label: t('entries.at'), cell: (r) => <Time at={r.at} /> },
            {
              label: t('audit.actor'),
              cell: (r) => (r.actor ? <span translate={false}>{r.actor}</span> : <span class="muted">{t('audit.system')}</span>),
            },
            { label: t('audit.role'), cell: (r) => (r.role && ROLES.includes(r.role) ? t(`common.role.${r.role}` as Key) : (r.role ?? '')) },
            { label: t('audit.action'), cell: (r) => <code translate={false}>{r.action}</code> },
            { label: t('audit.target'), cell: (r) => <span translate={false}>{r.target ?? ''}</span> },
            { label: t('audit.outcome'), cell: (r) => outcomeBadge(r.outcome) },
            { label: t('audit.address'), cell: (r) => <span translate={false}>{r.address ?? ''}</span> },
          ]}
        />
      </div>
      <Pager log={log} label={t('entries.paging')} />

      <LogExport id="audit-export" intro={t('audit.exportIntro')} href={exportHref} />
    </section>
  );
}
