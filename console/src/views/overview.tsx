// The overview: which site, who is signed in, whether the page is live, and the latest events as
// they arrive. Every role's home until its own views come.
import { useEffect, useState } from 'preact/hooks';
import { eventLabels, severityLabels } from '../../../src/i18n/labels.js';
import { localized, t, useLanguage } from '../i18n/index.js';
import { type RaisedEvent, useConnected, useLive } from '../live.js';
import { me } from '../session.js';
import { Badge, type Tone } from '../ui/Badge.js';
import { Table } from '../ui/Table.js';
import { Time } from '../ui/Time.js';

const TONE: Record<RaisedEvent['severity'], Tone> = { info: 'info', warning: 'warning', alarm: 'alarm' };
const KEEP = 10;

export function OverviewView() {
  useLanguage();
  const account = me();
  const connected = useConnected();
  const [recent, setRecent] = useState<RaisedEvent[]>([]);
  const [now, setNow] = useState(() => new Date());
  useLive('raised', (e) => setRecent((list) => [e, ...list].slice(0, KEEP)));
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(timer);
  }, []);

  return (
    <section class="overview" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {t('overview.title')}
      </h1>
      <dl class="facts">
        <div>
          <dt>{t('overview.site')}</dt>
          <dd>{localized(account.site?.name)}</dd>
        </div>
        <div>
          <dt>{t('overview.you')}</dt>
          <dd>
            <span translate={false}>{account.displayName}</span> (<span translate={false}>{account.username}</span>)
          </dd>
        </div>
        <div>
          <dt>{t('overview.role')}</dt>
          <dd>{t(`common.role.${account.role}`)}</dd>
        </div>
        <div>
          <dt>{t('overview.timezone')}</dt>
          <dd>
            <Time at={now} />{' '}
            <span class="muted" translate={false}>
              ({account.site?.timezone})
            </span>
          </dd>
        </div>
        <div>
          <dt>{t('overview.live')}</dt>
          <dd>
            {connected ? <Badge tone="ok">{t('common.live.live')}</Badge> : <Badge tone="warning">{t('common.live.notLive')}</Badge>}{' '}
            <span>{connected ? t('overview.liveOk') : t('overview.liveDown')}</span>
          </dd>
        </div>
      </dl>
      <Table
        caption={t('overview.recent')}
        columns={[
          { label: t('overview.when'), cell: (e) => <Time at={e.at} /> },
          { label: t('overview.what'), cell: (e) => localized(eventLabels[e.type]) || e.type },
          { label: t('overview.where'), cell: (e) => <span translate={false}>{e.source ?? ''}</span> },
          { label: t('overview.severity'), cell: (e) => <Badge tone={TONE[e.severity]}>{localized(severityLabels[e.severity])}</Badge> },
        ]}
        rows={recent}
        rowKey={(e) => `${e.id ?? e.at}-${e.type}`}
        empty={t('overview.recentEmpty')}
      />
    </section>
  );
}
