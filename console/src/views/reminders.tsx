// Reminders (GET /api/v1/reminders): dial-code rotations and key loans due soon or overdue, soonest
// first. The full view, and a panel the managers' landing view shows.
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { language, localized, t, useLanguage } from '../i18n/index.js';
import { useLive } from '../live.js';
import { Badge } from '../ui/Badge.js';
import { Time } from '../ui/Time.js';
import { refusal } from './grants/shared.js';

export interface Reminder {
  kind: string;
  subject: string;
  name?: { en: string; ja: string };
  dueAt: string;
  overdue: boolean;
  reasons: string[];
  detail?: Record<string, unknown>;
}

const KNOWN_KINDS = ['dial-rotation', 'key-loan'];
const KNOWN_REASONS = [
  'interval',
  'installed',
  'moved',
  'custodian-changed',
  'delegate-changed',
  'holder-lost-access',
  'leak-reported',
  'overdue',
  'master-key',
];

const kindText = (k: string) => t(KNOWN_KINDS.includes(k) ? (`reminders.kind.${k}` as 'reminders.kind.key-loan') : 'reminders.kind.other');
const reasonText = (r: string) => (KNOWN_REASONS.includes(r) ? t(`reminders.reason.${r}` as 'reminders.reason.overdue') : r);

/** What the reminder is about, in words: the safe's name, or the key and who has it. */
function subjectText(r: Reminder): string {
  if (r.name) return localized(r.name);
  const d = r.detail ?? {};
  if (r.kind === 'key-loan') {
    const key = typeof d.keyName === 'string' && d.keyName ? d.keyName : r.subject.replace(/^key:/, '');
    const who = typeof d.personName === 'string' && d.personName ? d.personName : typeof d.personId === 'string' ? d.personId : '';
    return who ? `${key} (${t('reminders.borrower')}: ${who})` : key;
  }
  return r.subject.replace(/^[a-z-]+:/, '');
}

export function RemindersPanel(props: { compact?: boolean }) {
  useLanguage();
  const [items, setItems] = useState<Reminder[] | null>(null);
  const [error, setError] = useState('');
  const load = () =>
    get<{ items: Reminder[] }>('/reminders').then(
      (r) => {
        setItems(r.items);
        setError('');
      },
      (e) => setError(refusal(e)),
    );
  useEffect(() => {
    void load();
  }, []);
  // A reminder raised (a rotation coming due, one overdue) changes the list: read it again.
  useLive('raised', (e) => {
    if (e.category === 'reminder') void load();
  });
  useLive('resync', () => void load());
  const Heading = props.compact ? 'h2' : 'h1';
  return (
    <section class="mgr-card reminders" aria-labelledby="reminders-title">
      <div class="mgr-head">
        <Heading id="reminders-title" tabIndex={props.compact ? undefined : -1}>
          {t('reminders.title')}
        </Heading>
        {items && items.length > 0 && <Badge tone="warning">{t('reminders.count', { n: items.length })}</Badge>}
      </div>
      {error && (
        <p class="mgr-notice mgr-notice-error" role="alert">
          {error}
        </p>
      )}
      {items?.length === 0 && <p>{t('reminders.empty')}</p>}
      {items && items.length > 0 && (
        <table class="mgr-table">
          <thead>
            <tr>
              <th scope="col">{t('reminders.col.what')}</th>
              <th scope="col">{t('reminders.col.subject')}</th>
              <th scope="col">{t('reminders.col.due')}</th>
              <th scope="col">{t('reminders.col.state')}</th>
              <th scope="col">{t('reminders.col.why')}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={`${r.kind}:${r.subject}`}>
                <td>{kindText(r.kind)}</td>
                <td>{subjectText(r)}</td>
                <td>
                  <Time at={r.dueAt} />
                </td>
                <td>{r.overdue ? <Badge tone="alarm">{t('reminders.overdue')}</Badge> : <Badge tone="warning">{t('reminders.dueSoon')}</Badge>}</td>
                <td>{r.reasons.map(reasonText).join(language() === 'ja' ? '、' : ', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function RemindersView() {
  return (
    <div class="mgr">
      <RemindersPanel />
    </div>
  );
}
