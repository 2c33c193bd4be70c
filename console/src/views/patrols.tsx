// Patrol rounds: for each route, the round under way with every checkpoint's state and what is due
// by when (overdue ones stand out in words and colour), and the last rounds with their times. Live
// from the patrol events and checkpoint reads; "due in" counts down on its own.
import { get } from '../api.js';
import { localized, t, useLanguage } from '../i18n/index.js';
import { Badge } from '../ui/Badge.js';
import { Table } from '../ui/Table.js';
import { formatTime, Time } from '../ui/Time.js';
import './guard/guard.css';
import { useLiveData, useNow, usePlaces } from './guard/live-data.js';

type Names = { en: string; ja: string };

interface RoundCheckpoint {
  device: string;
  expectedBy: string | null;
  state: 'pending' | 'checked' | 'missed';
  at: string | null;
  by: string | null;
  late: boolean;
  missed: 'late' | 'skipped' | 'ended' | null;
}

interface Round {
  eventId: number | null;
  dueAt: string;
  startedAt: string | null;
  endedAt: string | null;
  outcome: 'completed' | 'incomplete' | null;
  checkpoints: RoundCheckpoint[];
}

interface PatrolRoute {
  id: string;
  name: Names | null;
  intervalMinutes: number;
  toleranceMinutes: number;
  checkpoints: { device: string; name: Names | null }[];
  current: Round & { phase: 'waiting' | 'open'; nextDeadline: string };
  lastRounds: Round[];
}

export function PatrolsView() {
  useLanguage();
  const now = useNow(15_000);
  const places = usePlaces();
  const routes = useLiveData(async (signal) => (await get<{ items: PatrolRoute[] }>('/patrols?lastRounds=5', { signal })).items, {
    on: { raised: (e) => e.type.startsWith('patrol-'), entry: () => true },
    pollMs: 60_000,
  });

  return (
    <section class="guard-view patrols-view" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {t('patrols.title')}
      </h1>
      {routes.error && (
        <p role="alert" class="error">
          {routes.error.words()}
        </p>
      )}
      {routes.data === undefined && !routes.error && <p role="status">{t('common.loading')}</p>}
      {routes.data?.length === 0 && <p class="empty">{t('patrols.none')}</p>}
      {routes.data?.map((r) => {
        const nameOf = (device: string) => localized(r.checkpoints.find((c) => c.device === device)?.name) || places.name(device);
        return (
          <section key={r.id} class="patrol-route" aria-labelledby={`route-${r.id}`}>
            <h2 id={`route-${r.id}`}>{localized(r.name) || r.id}</h2>
            <p class="muted">{t('patrols.every', { minutes: r.intervalMinutes, tolerance: r.toleranceMinutes })}</p>
            <h3>
              {t('patrols.current', { due: formatTime(r.current.dueAt) })}{' '}
              <Badge tone={r.current.phase === 'open' ? 'info' : 'muted'}>{t(`patrols.phase.${r.current.phase}`)}</Badge>
            </h3>
            <p>{t('patrols.nextDeadline', { when: formatTime(r.current.nextDeadline, 'time') })}</p>
            <Table
              caption={t('patrols.current', { due: formatTime(r.current.dueAt) })}
              hideCaption
              rowKey={(c) => c.device}
              rows={r.current.checkpoints}
              columns={[
                { label: t('patrols.checkpoint'), cell: (c) => nameOf(c.device) },
                {
                  label: t('patrols.dueBy'),
                  cell: (c) => {
                    if (!c.expectedBy) return '';
                    const left = Math.ceil((Date.parse(c.expectedBy) - now) / 60_000);
                    return (
                      <>
                        <Time at={c.expectedBy} style="time" />
                        {c.state === 'pending' && left > 0 && <span class="muted"> ({t('patrols.dueIn', { minutes: left })})</span>}
                      </>
                    );
                  },
                },
                { label: t('patrols.state'), cell: (c) => <CheckpointState c={c} now={now} /> },
                { label: t('patrols.checkedAt'), cell: (c) => (c.at ? <Time at={c.at} style="time" /> : '') },
              ]}
            />
            <h3>{t('patrols.lastRounds')}</h3>
            <Table
              caption={t('patrols.lastRounds')}
              hideCaption
              rowKey={(x) => x.eventId ?? x.dueAt}
              rows={r.lastRounds}
              empty={t('patrols.noRounds')}
              columns={[
                { label: t('patrols.dueAt'), cell: (x) => <Time at={x.dueAt} /> },
                { label: t('patrols.started'), cell: (x) => (x.startedAt ? <Time at={x.startedAt} style="time" /> : '—') },
                { label: t('patrols.ended'), cell: (x) => (x.endedAt ? <Time at={x.endedAt} style="time" /> : '—') },
                {
                  label: t('patrols.outcome'),
                  cell: (x) => (
                    <>
                      <Badge tone={x.outcome === 'completed' ? 'ok' : 'warning'}>
                        {t(x.outcome === 'completed' ? 'patrols.outcome.completed' : 'patrols.outcome.incomplete')}
                      </Badge>{' '}
                      <span class="muted">
                        {t('patrols.checkedCount', { checked: x.checkpoints.filter((c) => c.state === 'checked').length, total: x.checkpoints.length })}
                      </span>
                    </>
                  ),
                },
              ]}
            />
          </section>
        );
      })}
    </section>
  );
}

function CheckpointState({ c, now }: { c: RoundCheckpoint; now: number }) {
  if (c.state === 'checked')
    return (
      <>
        <Badge tone={c.late ? 'warning' : 'ok'}>{t('patrols.state.checked')}</Badge>
        {c.late && <span class="muted"> ({t('patrols.late')})</span>}
      </>
    );
  if (c.state === 'missed')
    return (
      <>
        <Badge tone="alarm">{t('patrols.state.missed')}</Badge>
        {c.missed && <span class="muted"> ({t(`patrols.missed.${c.missed}`)})</span>}
      </>
    );
  const overdue = c.late || (c.expectedBy !== null && Date.parse(c.expectedBy) <= now);
  return overdue ? <Badge tone="alarm">{t('patrols.overdue')}</Badge> : <Badge tone="info">{t('patrols.state.pending')}</Badge>;
}
