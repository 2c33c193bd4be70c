// Who is inside each area now (where anti-passback tracks it), visitors with their host; printed,
// it is the muster list a marshal ticks off at the assembly point in an evacuation. Live from the
// entry log: every passage reloads it.
import { useState } from 'preact/hooks';
import { get } from '../api.js';
import { localized, t, useLanguage } from '../i18n/index.js';
import { me } from '../session.js';
import { Badge } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { formatTime, Time } from '../ui/Time.js';
import './guard/guard.css';
import { useLiveData } from './guard/live-data.js';

interface Area {
  id: string;
  name: { en: string; ja: string };
  parent: string | null;
  mode: { mode: 'normal' | 'lockdown' | 'emergency' };
  occupancy: { count: number; people: { personId: string; name: string | null; since: string }[] } | null;
}

interface Visit {
  visitor: { id: string };
  host: { id: string; name: string | null };
}

/** Parents before their children, each with its depth. */
function inTreeOrder(areas: Area[]): { area: Area; depth: number }[] {
  const out: { area: Area; depth: number }[] = [];
  const ids = new Set(areas.map((a) => a.id));
  const walk = (parent: string | null, depth: number) => {
    for (const a of areas.filter((x) => (x.parent && ids.has(x.parent) ? x.parent : null) === parent)) {
      out.push({ area: a, depth });
      walk(a.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

export function InsideView() {
  useLanguage();
  const site = me().site;
  const [printedAt, setPrintedAt] = useState<number | undefined>(undefined);
  const data = useLiveData(
    async (signal) => {
      const [areas, visits] = await Promise.all([
        get<{ items: Area[] }>('/areas?limit=1000', { signal }),
        get<{ items: Visit[] }>('/visits?status=current&limit=1000', { signal }).catch(() => ({ items: [] as Visit[] })),
      ]);
      return { areas: areas.items, hosts: new Map(visits.items.map((v) => [v.visitor.id, v.host.name ?? v.host.id])) };
    },
    { on: { entry: () => true, raised: (e) => e.type.startsWith('area-') }, pollMs: 30_000 },
  );

  const areas = inTreeOrder(data.data?.areas ?? []);
  const total = areas.reduce((n, { area }) => n + (area.occupancy?.count ?? 0), 0);

  return (
    <section class="guard-view inside-view" aria-labelledby="view-title">
      <div class="view-head">
        <h1 id="view-title" tabIndex={-1}>
          <span class="screen-only">{t('inside.title')}</span>
          <span class="print-only">{t('inside.musterTitle', { site: localized(site?.name) })}</span>
        </h1>
        <Button
          variant="primary"
          class="no-print"
          onClick={() => {
            setPrintedAt(Date.now());
            // After the render that stamps the time.
            setTimeout(() => window.print(), 50);
          }}
        >
          <span aria-hidden="true">🖨 </span>
          {t('inside.print')}
        </Button>
      </div>
      <p class="view-summary">{t('inside.summary', { count: total })}</p>
      {printedAt !== undefined && <p class="print-only">{t('inside.printedAt', { when: formatTime(printedAt) })}</p>}
      {data.error && (
        <p role="alert" class="error">
          {data.error.words()}
        </p>
      )}
      {data.data === undefined && !data.error && <p role="status">{t('common.loading')}</p>}
      {areas.map(({ area, depth }) => (
        <section key={area.id} class={`muster-area depth-${Math.min(depth, 3)}`} aria-labelledby={`area-${area.id}`} data-area-id={area.id}>
          <h2 id={`area-${area.id}`}>
            {localized(area.name)}{' '}
            {area.occupancy && (
              <span class="muster-count">
                <Badge tone={area.occupancy.count ? 'info' : 'muted'}>{t('inside.count', { count: area.occupancy.count })}</Badge>
              </span>
            )}{' '}
            {area.mode.mode !== 'normal' && <Badge tone="alarm">{t(`inside.mode.${area.mode.mode}`)}</Badge>}
          </h2>
          {!area.occupancy ? (
            <p class="muted">{t('inside.untracked')}</p>
          ) : area.occupancy.people.length === 0 ? (
            <p class="empty">{t('inside.empty')}</p>
          ) : (
            <div class="table-wrap">
              <table class="table muster-table">
                <caption class="visually-hidden">{localized(area.name)}</caption>
                <thead>
                  <tr>
                    <th scope="col" class="print-only">
                      {t('inside.accounted')}
                    </th>
                    <th scope="col">{t('inside.name')}</th>
                    <th scope="col">{t('inside.who')}</th>
                    <th scope="col">{t('inside.since')}</th>
                  </tr>
                </thead>
                <tbody>
                  {[...area.occupancy.people]
                    .sort((a, b) => (a.name ?? a.personId).localeCompare(b.name ?? b.personId))
                    .map((p) => {
                      const host = data.data?.hosts.get(p.personId);
                      return (
                        <tr key={p.personId}>
                          <td class="print-only muster-box" aria-hidden="true">
                            ☐
                          </td>
                          <th scope="row">{p.name ?? p.personId}</th>
                          <td>
                            {host !== undefined ? (
                              <>
                                <Badge tone="warning">{t('inside.visitor')}</Badge> {t('inside.host', { name: host })}
                              </>
                            ) : (
                              t('inside.staff')
                            )}
                          </td>
                          <td>
                            <Time at={p.since} />
                          </td>
                        </tr>
                      );
                    })}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ))}
      <p class="print-only muster-signature">{t('inside.signature')}: ______________________________</p>
    </section>
  );
}
