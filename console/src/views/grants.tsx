// Managers' landing view: the four-eyes queue (pending grants, Approve / Refuse), what is due
// (reminders), a form to grant access, and the grants in force. The API decides who may approve
// (never the grant's creator); the page shows its refusal in words.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { t, useLanguage } from '../i18n/index.js';
import { me } from '../session.js';
import { Badge } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Time } from '../ui/Time.js';
import { Control } from './grants/control.js';
import { dateOrUndefined, type Grant, loadPlaces, type Notice, type Page, type Place, placeName, refusal } from './grants/shared.js';
import { RemindersPanel } from './reminders.js';

const REFRESH_MS = 30_000;

interface PersonHit {
  id: string;
  name: string;
  affiliation: string;
  number: number | null;
  status: string;
}

export function GrantsView() {
  useLanguage();
  // Auditors approve (the API lets them, with their second factor); only managers grant, refuse, revoke.
  const manager = me().role === 'manager';
  const [places, setPlaces] = useState<Place[]>([]);
  const [pending, setPending] = useState<Grant[] | null>(null);
  const [grants, setGrants] = useState<Grant[] | null>(null);
  const [filter, setFilter] = useState<'' | 'active' | 'pending' | 'revoked'>('active');
  const [notice, setNotice] = useState<Notice>(null);

  const reload = async () => {
    try {
      const [p, g] = await Promise.all([
        get<Page<Grant>>('/grants?status=pending&limit=200'),
        get<Page<Grant>>(`/grants?limit=200${filter ? `&status=${filter}` : ''}`),
      ]);
      setPending(p.items);
      setGrants(g.items);
    } catch (e) {
      setNotice({ kind: 'error', text: refusal(e) });
    }
  };

  useEffect(() => {
    loadPlaces().then(setPlaces, (e) => setNotice({ kind: 'error', text: refusal(e) }));
  }, []);
  // Another manager may approve or refuse meanwhile (no stream event says so): read again now and then.
  useEffect(() => {
    void reload();
    const timer = setInterval(() => void reload(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [filter]);

  return (
    <div class="mgr grants">
      <h1 tabIndex={-1}>{t('grants.title')}</h1>
      {notice && (
        <p class={`mgr-notice mgr-notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
          {notice.text}
        </p>
      )}
      <Queue
        pending={pending}
        places={places}
        manager={manager}
        onDone={(n) => {
          setNotice(n);
          void reload();
        }}
      />
      {manager && <RemindersPanel compact />}
      {manager && (
        <NewGrant
          places={places}
          onDone={(n) => {
            setNotice(n);
            void reload();
          }}
        />
      )}
      <section class="mgr-card" aria-labelledby="grants-list">
        <h2 id="grants-list">{t('grants.list')}</h2>
        <div class="mgr-toolbar">
          <Control label={t('grants.filterStatus')}>
            {(id) => (
              <select id={id} value={filter} onChange={(e) => setFilter((e.target as HTMLSelectElement).value as typeof filter)}>
                <option value="">{t('grants.any')}</option>
                <option value="active">{t('grants.status.active')}</option>
                <option value="pending">{t('grants.status.pending')}</option>
                <option value="revoked">{t('grants.status.revoked')}</option>
              </select>
            )}
          </Control>
        </div>
        <GrantTable
          grants={grants}
          places={places}
          emptyText={t('grants.empty')}
          {...(manager
            ? {
                onDone: (n: Notice) => {
                  setNotice(n);
                  void reload();
                },
              }
            : {})}
        />
      </section>
    </div>
  );
}

function Queue(props: { pending: Grant[] | null; places: Place[]; manager: boolean; onDone: (n: Notice) => void }) {
  const self = me().username.toLowerCase();
  return (
    <section class="mgr-card" aria-labelledby="grants-queue">
      <div class="mgr-head">
        <h2 id="grants-queue">{t('grants.queue')}</h2>
        {props.pending && props.pending.length > 0 && <Badge tone="warning">{t('grants.queueCount', { n: props.pending.length })}</Badge>}
      </div>
      <p class="mgr-hint">{t('grants.queueHint')}</p>
      {props.pending?.length === 0 && <p>{t('grants.queueEmpty')}</p>}
      {props.pending && props.pending.length > 0 && (
        <ul class="mgr-queue">
          {props.pending.map((g) => (
            <QueueItem key={g.id} grant={g} places={props.places} manager={props.manager} own={g.grantedBy.toLowerCase() === self} onDone={props.onDone} />
          ))}
        </ul>
      )}
    </section>
  );
}

function QueueItem(props: { grant: Grant; places: Place[]; manager: boolean; own: boolean; onDone: (n: Notice) => void }) {
  const g = props.grant;
  const [refusing, setRefusing] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const reasonRef = useRef<HTMLInputElement>(null);
  const itemRef = useRef<HTMLLIElement>(null);
  const wasRefusing = useRef(false);
  // The Refuse button gives way to the reason's form: the keyboard goes with it, and back on Cancel
  // (in the same frame: the removed button's focus must not fall to the page meanwhile).
  useLayoutEffect(() => {
    if (refusing) reasonRef.current?.focus();
    else if (wasRefusing.current) itemRef.current?.querySelector<HTMLButtonElement>('.mgr-actions .btn-danger')?.focus();
    wasRefusing.current = refusing;
  }, [refusing]);
  const act = async (f: () => Promise<unknown>, ok: string) => {
    setBusy(true);
    setError('');
    try {
      await f();
      props.onDone({ kind: 'ok', text: ok });
    } catch (e) {
      setError(refusal(e));
    } finally {
      setBusy(false);
    }
  };
  const label = `${g.personName} — ${placeName(props.places, g.areaId)}`;
  return (
    <li class="mgr-queue-item" aria-label={label} ref={itemRef}>
      <div class="mgr-queue-what">
        <strong>{g.personName}</strong> → <strong>{placeName(props.places, g.areaId)}</strong>
        {g.outOfHours && <Badge tone="info">{t('grants.outOfHoursYes')}</Badge>}
        <div>{g.purpose}</div>
        <div class="mgr-meta">
          {t('grants.col.grantedBy')}: <span translate={false}>{g.grantedBy}</span> · <Time at={g.grantedAt} /> · <Validity grant={g} />
        </div>
        {props.own && <div class="mgr-hint">{t('grants.yours')}</div>}
      </div>
      <div class="mgr-actions">
        <Button variant="primary" disabled={busy} onClick={() => act(() => post(`/grants/${g.id}/approve`), t('grants.approved'))}>
          {t('grants.approve')}
        </Button>
        {props.manager && !refusing && (
          <Button variant="danger" disabled={busy} onClick={() => setRefusing(true)}>
            {t('grants.refuse')}
          </Button>
        )}
      </div>
      {refusing && (
        <form
          class="mgr-inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void act(() => post(`/grants/${g.id}/revoke`, reason.trim() ? { reason: reason.trim() } : {}), t('grants.refused'));
          }}
        >
          <Control label={t('grants.refuseReason')}>
            {(id) => <input id={id} ref={reasonRef} value={reason} maxLength={500} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />}
          </Control>
          <Button type="submit" variant="danger" disabled={busy}>
            {t('grants.refuse')}
          </Button>
          <Button disabled={busy} onClick={() => setRefusing(false)}>
            {t('common.cancel')}
          </Button>
        </form>
      )}
      {error && (
        <p class="mgr-notice mgr-notice-error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

export function Validity({ grant }: { grant: Pick<Grant, 'validFrom' | 'validUntil'> }) {
  return (
    <span>
      {t('grants.from')} <Time at={grant.validFrom} /> · {t('grants.until')} {grant.validUntil ? <Time at={grant.validUntil} /> : t('grants.openEnded')}
    </span>
  );
}

function statusBadge(s: Grant['status']) {
  const tone = s === 'active' ? 'ok' : s === 'pending' ? 'warning' : 'muted';
  return <Badge tone={tone}>{t(`grants.status.${s}`)}</Badge>;
}

export function GrantTable(props: { grants: Grant[] | null; places: Place[]; emptyText: string; onDone?: (n: Notice) => void; hidePerson?: boolean }) {
  if (!props.grants) return null;
  if (props.grants.length === 0) return <p>{props.emptyText}</p>;
  return (
    <table class="mgr-table">
      <thead>
        <tr>
          {!props.hidePerson && <th scope="col">{t('grants.col.person')}</th>}
          <th scope="col">{t('grants.col.area')}</th>
          <th scope="col">{t('grants.col.purpose')}</th>
          <th scope="col">{t('grants.col.valid')}</th>
          <th scope="col">{t('grants.col.grantedBy')}</th>
          <th scope="col">{t('grants.col.status')}</th>
          {props.onDone && <th scope="col">{t('grants.col.actions')}</th>}
        </tr>
      </thead>
      <tbody>
        {props.grants.map((g) => (
          <tr key={g.id}>
            {!props.hidePerson && <td>{g.personName}</td>}
            <td>{placeName(props.places, g.areaId)}</td>
            <td>{g.purpose}</td>
            <td>
              <Validity grant={g} />
            </td>
            <td>
              <span translate={false}>{g.grantedBy}</span>
            </td>
            <td>{statusBadge(g.status)}</td>
            {props.onDone && <td>{g.status !== 'revoked' && <RevokeButton grant={g} onDone={props.onDone} />}</td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RevokeButton(props: { grant: Grant; onDone: (n: Notice) => void }) {
  const [busy, setBusy] = useState(false);
  return (
    <Button
      variant="danger"
      disabled={busy}
      aria-label={`${t('grants.revoke')}: ${props.grant.personName}`}
      onClick={async () => {
        setBusy(true);
        try {
          await post(`/grants/${props.grant.id}/revoke`, {});
          props.onDone({ kind: 'ok', text: t('grants.revoked') });
        } catch (e) {
          props.onDone({ kind: 'error', text: refusal(e) });
        } finally {
          setBusy(false);
        }
      }}
    >
      {t('grants.revoke')}
    </Button>
  );
}

function NewGrant(props: { places: Place[]; onDone: (n: Notice) => void }) {
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<PersonHit[] | null>(null);
  const [personId, setPersonId] = useState('');
  const [areaId, setAreaId] = useState('');
  const [purpose, setPurpose] = useState('');
  const [validFrom, setValidFrom] = useState('');
  const [validUntil, setValidUntil] = useState('');
  const [reviewBy, setReviewBy] = useState('');
  const [outOfHours, setOutOfHours] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  useEffect(() => {
    const q = query.trim();
    const timer = setTimeout(() => {
      get<Page<PersonHit>>(`/people?kind=staff&status=active&limit=50${q ? `&q=${encodeURIComponent(q)}` : ''}`)
        .then((p) => {
          setHits(p.items);
          if (p.items.length === 1) setPersonId(p.items[0]!.id);
        })
        .catch((e) => setError(refusal(e)));
    }, 200);
    return () => clearTimeout(timer);
  }, [query]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const created = await post<Grant>('/grants', {
        personId,
        areaId,
        purpose: purpose.trim(),
        outOfHours,
        validFrom: dateOrUndefined(validFrom),
        validUntil: dateOrUndefined(validUntil),
        reviewBy: dateOrUndefined(reviewBy),
      });
      setPurpose('');
      props.onDone({ kind: 'ok', text: created.status === 'pending' ? t('grants.createdPending') : t('grants.createdActive') });
    } catch (err) {
      setError(refusal(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="mgr-card" aria-labelledby="grants-new">
      <h2 id="grants-new">{t('grants.new')}</h2>
      <form class="mgr-form" onSubmit={submit}>
        <Control label={t('grants.personSearch')}>
          {(id) => <input id={id} type="search" value={query} onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />}
        </Control>
        <Control label={t('grants.person')}>
          {(id) => (
            <select id={id} required value={personId} onChange={(e) => setPersonId((e.target as HTMLSelectElement).value)}>
              <option value="">{hits?.length === 0 ? t('grants.personNone') : t('grants.choose')}</option>
              {hits?.map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                  {p.number !== null ? ` (${p.number})` : ''} — {p.affiliation}
                </option>
              ))}
            </select>
          )}
        </Control>
        <Control label={t('grants.area')}>
          {(id) => (
            <select id={id} required value={areaId} onChange={(e) => setAreaId((e.target as HTMLSelectElement).value)}>
              <option value="">{t('grants.choose')}</option>
              {props.places.map((p) => (
                <option key={p.id} value={p.id}>
                  {placeName(props.places, p.id)}
                </option>
              ))}
            </select>
          )}
        </Control>
        <Control label={t('grants.purpose')} wide>
          {(id) => <input id={id} required maxLength={500} value={purpose} onInput={(e) => setPurpose((e.target as HTMLInputElement).value)} />}
        </Control>
        <Control label={t('grants.validFrom')}>
          {(id) => <input id={id} type="date" value={validFrom} onInput={(e) => setValidFrom((e.target as HTMLInputElement).value)} />}
        </Control>
        <Control label={t('grants.validUntil')}>
          {(id) => <input id={id} type="date" value={validUntil} onInput={(e) => setValidUntil((e.target as HTMLInputElement).value)} />}
        </Control>
        <Control label={t('grants.reviewBy')}>
          {(id) => <input id={id} type="date" value={reviewBy} onInput={(e) => setReviewBy((e.target as HTMLInputElement).value)} />}
        </Control>
        <label class="mgr-check">
          <input type="checkbox" checked={outOfHours} onChange={(e) => setOutOfHours((e.target as HTMLInputElement).checked)} />
          {t('grants.outOfHours')}
        </label>
        <div class="mgr-actions">
          <Button type="submit" variant="primary" busy={busy}>
            {t('grants.create')}
          </Button>
        </div>
        {error && (
          <p class="mgr-notice mgr-notice-error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
