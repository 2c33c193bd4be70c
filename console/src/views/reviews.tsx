// Reviews due (GET /api/v1/reviews): grants past their review-by date, oldest due first. A manager
// confirms one with the next review date, or ends it (revoked at once).
import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { t, useLanguage } from '../i18n/index.js';
import { Button } from '../ui/Button.js';
import { Time } from '../ui/Time.js';
import { Control } from './grants/control.js';
import { type Grant, loadPlaces, type Notice, type Page, type Place, placeName, refusal } from './grants/shared.js';

/** A year from now as YYYY-MM-DD: the usual next review. */
const nextYear = () => {
  const d = new Date();
  d.setFullYear(d.getFullYear() + 1);
  return d.toISOString().slice(0, 10);
};

export function ReviewsView() {
  useLanguage();
  const [places, setPlaces] = useState<Place[]>([]);
  const [due, setDue] = useState<Grant[] | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const reload = () =>
    get<Page<Grant>>('/reviews?limit=200').then(
      (p) => setDue(p.items),
      (e) => setNotice({ kind: 'error', text: refusal(e) }),
    );
  useEffect(() => {
    loadPlaces().then(setPlaces, () => {});
    void reload();
  }, []);
  return (
    <div class="mgr reviews">
      <h1 tabIndex={-1}>{t('reviews.title')}</h1>
      <p class="mgr-hint">{t('reviews.hint')}</p>
      {notice && (
        <p class={`mgr-notice mgr-notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
          {notice.text}
        </p>
      )}
      {due?.length === 0 && <p>{t('reviews.empty')}</p>}
      {due && due.length > 0 && (
        <table class="mgr-table">
          <thead>
            <tr>
              <th scope="col">{t('reviews.col.person')}</th>
              <th scope="col">{t('reviews.col.area')}</th>
              <th scope="col">{t('reviews.col.purpose')}</th>
              <th scope="col">{t('reviews.col.reviewBy')}</th>
              <th scope="col">{t('reviews.col.decide')}</th>
            </tr>
          </thead>
          <tbody>
            {due.map((g) => (
              <tr key={g.id}>
                <td>{g.personName}</td>
                <td>{placeName(places, g.areaId)}</td>
                <td>{g.purpose}</td>
                <td>{g.reviewBy && <Time at={g.reviewBy} />}</td>
                <td>
                  <Decide
                    grant={g}
                    onDone={(n) => {
                      setNotice(n);
                      void reload();
                    }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Decide(props: { grant: Grant; onDone: (n: Notice) => void }) {
  const [next, setNext] = useState(nextYear());
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const decide = async (decision: 'confirm' | 'end') => {
    setBusy(true);
    try {
      await post(`/reviews/${props.grant.id}`, {
        decision,
        ...(decision === 'confirm' ? { nextReviewBy: next } : {}),
        ...(note.trim() ? { note: note.trim() } : {}),
      });
      props.onDone({ kind: 'ok', text: decision === 'confirm' ? t('reviews.confirmed') : t('reviews.ended') });
    } catch (e) {
      props.onDone({ kind: 'error', text: refusal(e) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="mgr-inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        void decide('confirm');
      }}
    >
      <Control label={t('reviews.nextReviewBy')}>
        {(id) => <input id={id} type="date" required value={next} onInput={(e) => setNext((e.target as HTMLInputElement).value)} />}
      </Control>
      <Control label={t('reviews.note')}>
        {(id) => <input id={id} value={note} maxLength={500} onInput={(e) => setNote((e.target as HTMLInputElement).value)} />}
      </Control>
      <Button type="submit" disabled={busy}>
        {t('reviews.confirm')}
      </Button>
      <Button type="button" variant="danger" disabled={busy} onClick={() => decide('end')}>
        {t('reviews.end')}
      </Button>
    </form>
  );
}
