// The access-holder ledger (管理台帳, GET /api/v1/ledger) and its CSV export: the API's own CSV, with
// headers in the page's language (lang=ja|en). A plain link: the cookie carries the session and a
// GET needs no CSRF token; the download is audited by the API.
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { t, useLanguage } from '../i18n/index.js';
import { Badge } from '../ui/Badge.js';
import { Time } from '../ui/Time.js';
import { refusal } from './grants/shared.js';

interface LedgerGrant {
  id: number;
  area: { id: string; en: string; ja: string; inSite: boolean };
  validFrom: string;
  validUntil: string | null;
  purpose: string;
  outOfHours: boolean;
  approval: { status: 'pending' | 'active'; approvedBy: string | null; approvedAt: string | null };
}
interface Holder {
  personId: string;
  number: number | null;
  name: string;
  affiliation: string;
  status: 'active' | 'suspended' | 'left';
  training: { status: 'current' | 'lapsed' | 'none'; lastAt: string | null; lapsesAt: string | null };
  pledge: { status: 'on-file' | 'none'; signedAt: string | null };
  grants: LedgerGrant[];
}
interface Ledger {
  generatedAt: string;
  holders: Holder[];
}

export function LedgerView() {
  const [ledger, setLedger] = useState<Ledger | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    get<Ledger>('/ledger').then(setLedger, (e) => setError(refusal(e)));
  }, []);
  const l = useLanguage();
  return (
    <div class="mgr ledger">
      <h1 tabIndex={-1}>{t('ledger.title')}</h1>
      <p class="mgr-toolbar">
        <a class="btn btn-primary" href={`/api/v1/ledger?format=csv&lang=${l}`} download>
          {t('ledger.csv')}
        </a>{' '}
        <span class="mgr-hint">{t('ledger.csvHint')}</span>
      </p>
      {error && (
        <p class="mgr-notice mgr-notice-error" role="alert">
          {error}
        </p>
      )}
      {ledger && (
        <p class="mgr-meta">
          {t('ledger.generated')}: <Time at={ledger.generatedAt} />
        </p>
      )}
      {ledger?.holders.length === 0 && <p>{t('ledger.empty')}</p>}
      {ledger && ledger.holders.length > 0 && (
        <table class="mgr-table">
          <thead>
            <tr>
              <th scope="col">{t('ledger.col.name')}</th>
              <th scope="col">{t('ledger.col.number')}</th>
              <th scope="col">{t('ledger.col.affiliation')}</th>
              <th scope="col">{t('ledger.col.status')}</th>
              <th scope="col">{t('ledger.col.area')}</th>
              <th scope="col">{t('ledger.col.purpose')}</th>
              <th scope="col">{t('ledger.col.valid')}</th>
              <th scope="col">{t('ledger.col.approval')}</th>
              <th scope="col">{t('ledger.col.training')}</th>
              <th scope="col">{t('ledger.col.pledge')}</th>
            </tr>
          </thead>
          <tbody>
            {ledger.holders.flatMap((h) =>
              h.grants.map((g) => (
                <tr key={g.id}>
                  <td>{h.name}</td>
                  <td>{h.number ?? ''}</td>
                  <td>{h.affiliation}</td>
                  <td>{t(`people.status.${h.status}`)}</td>
                  <td>{g.area[l] || g.area.id}</td>
                  <td>{g.purpose}</td>
                  <td>
                    <Time at={g.validFrom} /> – {g.validUntil ? <Time at={g.validUntil} /> : t('grants.openEnded')}
                  </td>
                  <td>
                    <Badge tone={g.approval.status === 'active' ? 'ok' : 'warning'}>{t(`grants.status.${g.approval.status}`)}</Badge>
                    {g.approval.approvedBy && (
                      <span class="mgr-meta">
                        {' '}
                        {t('ledger.approvedBy')} <span translate={false}>{g.approval.approvedBy}</span>
                      </span>
                    )}
                  </td>
                  <td>
                    <Badge tone={h.training.status === 'current' ? 'ok' : 'alarm'}>{t(`people.training.${h.training.status}`)}</Badge>
                  </td>
                  <td>
                    <Badge tone={h.pledge.status === 'on-file' ? 'ok' : 'alarm'}>{t(`people.pledge.${h.pledge.status}`)}</Badge>
                  </td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}
