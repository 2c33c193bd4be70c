// People: search, enrol a person, change a status; one person's file with credentials (enrol a
// card, set a PIN), training and pledges (record) and grants. PINs go to the API and never come back.
import { useEffect, useState } from 'preact/hooks';
import { get, patch, post, request } from '../api.js';
import { t, useLanguage } from '../i18n/index.js';
import { navigate, useLocation } from '../routes.js';
import { Badge } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Dialog } from '../ui/Dialog.js';
import { Time } from '../ui/Time.js';
import { GrantTable } from './grants.js';
import { Control } from './grants/control.js';
import { type Grant, loadPlaces, type Notice, type Page, type Place, refusal } from './grants/shared.js';

type Status = 'active' | 'suspended' | 'left';
const STATUSES: Status[] = ['active', 'suspended', 'left'];

interface Person {
  id: string;
  kind: 'staff' | 'visitor';
  number: number | null;
  name: string;
  affiliation: string;
  title: string;
  roles: string[];
  status: Status;
}
interface Credential {
  id: number;
  kind: 'card' | 'pin' | 'otp' | 'bio';
  use: 'normal' | 'duress';
  status: 'active' | 'suspended' | 'revoked';
  createdAt: string;
  value: string | null;
}
interface PersonFile extends Person {
  credentials: Credential[];
  training: { status: 'current' | 'lapsed' | 'none'; lastAt: string | null; lapsesAt: string | null };
  pledge: { status: 'on-file' | 'none'; signedAt: string | null };
  grants: Grant[];
}

const value = (e: Event) => (e.target as HTMLInputElement).value;
const today = () => new Date().toISOString().slice(0, 10);
const statusTone = (s: Status) => (s === 'active' ? 'ok' : s === 'suspended' ? 'warning' : 'muted');

function NoticeLine({ notice }: { notice: Notice }) {
  if (!notice) return null;
  return (
    <p class={`mgr-notice mgr-notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
      {notice.text}
    </p>
  );
}

/** Runs a change, then says how it went. */
async function attempt(f: () => Promise<unknown>, ok: string, set: (n: Notice) => void): Promise<boolean> {
  try {
    await f();
    set({ kind: 'ok', text: ok });
    return true;
  } catch (e) {
    set({ kind: 'error', text: refusal(e) });
    return false;
  }
}

export function PeopleView() {
  useLanguage();
  const [q, setQ] = useState('');
  const [status, setStatus] = useState<'' | Status>('');
  const [list, setList] = useState<Page<Person> | null>(null);
  // The person open is in the address (#/people?id=…), so the back button and a link work.
  const openId = useLocation().params.get('id');
  const setOpenId = (id: string | null) => navigate('people', id ? { id } : undefined);
  const [notice, setNotice] = useState<Notice>(null);

  const search = () => {
    const params = new URLSearchParams({ limit: '100' });
    if (q.trim()) params.set('q', q.trim());
    if (status) params.set('status', status);
    return get<Page<Person>>(`/people?${params}`).then(setList, (e) => setNotice({ kind: 'error', text: refusal(e) }));
  };
  useEffect(() => {
    void search();
  }, [status]);

  return (
    <div class="mgr people">
      <h1 tabIndex={-1}>{t('people.title')}</h1>
      <NoticeLine notice={notice} />
      <form
        class="mgr-toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void search();
        }}
      >
        <Control label={t('people.search')}>{(id) => <input id={id} type="search" value={q} onInput={(e) => setQ(value(e))} />}</Control>
        <Control label={t('people.filterStatus')}>
          {(id) => (
            <select id={id} value={status} onChange={(e) => setStatus(value(e) as '' | Status)}>
              <option value="">{t('people.any')}</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {t(`people.status.${s}`)}
                </option>
              ))}
            </select>
          )}
        </Control>
        <Button type="submit">{t('people.searchButton')}</Button>
      </form>
      <div class="mgr-split">
        <section class="mgr-card" aria-label={t('people.title')}>
          {list?.items.length === 0 && <p>{t('people.empty')}</p>}
          {list && list.items.length > 0 && (
            <table class="mgr-table">
              <thead>
                <tr>
                  <th scope="col">{t('people.col.name')}</th>
                  <th scope="col">{t('people.col.number')}</th>
                  <th scope="col">{t('people.col.affiliation')}</th>
                  <th scope="col">{t('people.col.kind')}</th>
                  <th scope="col">{t('people.col.status')}</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((p) => (
                  <tr key={p.id} class={p.id === openId ? 'mgr-selected' : ''} aria-selected={p.id === openId}>
                    <td>
                      <button type="button" class="mgr-link" onClick={() => setOpenId(p.id)}>
                        {p.name}
                      </button>
                    </td>
                    <td>{p.number ?? ''}</td>
                    <td>{p.affiliation}</td>
                    <td>{t(`people.kind.${p.kind}`)}</td>
                    <td>
                      <Badge tone={statusTone(p.status)}>{t(`people.status.${p.status}`)}</Badge>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {list && <p class="mgr-meta">{t('people.count', { n: list.total })}</p>}
        </section>
        {openId ? (
          <PersonPanel id={openId} onClose={() => setOpenId(null)} onChanged={() => void search()} />
        ) : (
          <Enrol
            onDone={(p) => {
              setNotice({ kind: 'ok', text: t('people.enrolled') });
              void search();
              setOpenId(p.id);
            }}
          />
        )}
      </div>
    </div>
  );
}

function Enrol(props: { onDone: (p: Person) => void }) {
  const [name, setName] = useState('');
  const [affiliation, setAffiliation] = useState('');
  const [title, setTitle] = useState('');
  const [number, setNumber] = useState('');
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="mgr-card" aria-labelledby="people-enrol">
      <h2 id="people-enrol">{t('people.enrol')}</h2>
      <form
        class="mgr-form"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            const p = await post<Person>('/people', {
              name: name.trim(),
              affiliation: affiliation.trim(),
              title: title.trim(),
              ...(number.trim() ? { number: Number(number) } : {}),
            });
            setName('');
            setAffiliation('');
            setTitle('');
            setNumber('');
            props.onDone(p);
          } catch (err) {
            setNotice({ kind: 'error', text: refusal(err) });
          } finally {
            setBusy(false);
          }
        }}
      >
        <Control label={t('people.name')}>{(id) => <input id={id} required maxLength={200} value={name} onInput={(e) => setName(value(e))} />}</Control>
        <Control label={t('people.affiliation')}>
          {(id) => <input id={id} maxLength={200} value={affiliation} onInput={(e) => setAffiliation(value(e))} />}
        </Control>
        <Control label={t('people.jobTitle')}>{(id) => <input id={id} maxLength={200} value={title} onInput={(e) => setTitle(value(e))} />}</Control>
        <Control label={t('people.number')}>
          {(id) => <input id={id} inputMode="numeric" pattern="[0-9]{1,9}" value={number} onInput={(e) => setNumber(value(e))} />}
        </Control>
        <div class="mgr-actions">
          <Button type="submit" disabled={busy}>
            {t('people.enrolButton')}
          </Button>
        </div>
        <NoticeLine notice={notice} />
      </form>
    </section>
  );
}

function PersonPanel(props: { id: string; onClose: () => void; onChanged: () => void }) {
  const [file, setFile] = useState<PersonFile | null>(null);
  const [places, setPlaces] = useState<Place[]>([]);
  const [notice, setNotice] = useState<Notice>(null);
  const load = () => get<PersonFile>(`/people/${encodeURIComponent(props.id)}`).then(setFile, (e) => setNotice({ kind: 'error', text: refusal(e) }));
  useEffect(() => {
    setFile(null);
    setNotice(null);
    void load();
    loadPlaces().then(setPlaces, () => {});
  }, [props.id]);
  if (!file)
    return (
      <section class="mgr-card">
        <NoticeLine notice={notice} />
      </section>
    );
  const path = `/people/${encodeURIComponent(file.id)}`;
  const done = async (f: () => Promise<unknown>, ok: string) => {
    const good = await attempt(f, ok, setNotice);
    if (good) {
      await load();
      props.onChanged();
    }
    return good;
  };
  return (
    <section class="mgr-card mgr-file" aria-labelledby="person-name">
      <div class="mgr-file-head">
        <h2 id="person-name">
          {file.name} <Badge tone={statusTone(file.status)}>{t(`people.status.${file.status}`)}</Badge>
        </h2>
        <Button variant="secondary" onClick={props.onClose}>
          {t('people.close')}
        </Button>
      </div>
      <p class="mgr-meta">{[file.number !== null ? `${t('people.number')} ${file.number}` : '', file.affiliation, file.title].filter(Boolean).join(' · ')}</p>
      <NoticeLine notice={notice} />

      <StatusForm status={file.status} onSet={(s) => done(() => patch(path, { status: s }), t('people.statusChanged'))} />

      <h3>{t('people.credentials')}</h3>
      {file.credentials.length === 0 ? (
        <p>{t('people.credentialsEmpty')}</p>
      ) : (
        <table class="mgr-table">
          <thead>
            <tr>
              <th scope="col">{t('people.cred.kind')}</th>
              <th scope="col">{t('people.cred.value')}</th>
              <th scope="col">{t('people.cred.use')}</th>
              <th scope="col">{t('people.cred.status')}</th>
              <th scope="col">{t('people.cred.created')}</th>
              <th scope="col">{t('people.cred.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {file.credentials.map((c) => (
              <tr key={c.id}>
                <td>{t(`people.cred.kind.${c.kind}`)}</td>
                <td translate={false}>{c.value ?? ''}</td>
                <td>{t(`people.cred.use.${c.use}`)}</td>
                <td>
                  <Badge tone={c.status === 'active' ? 'ok' : c.status === 'suspended' ? 'warning' : 'muted'}>{t(`people.cred.status.${c.status}`)}</Badge>
                </td>
                <td>
                  <Time at={c.createdAt} />
                </td>
                <td>
                  <CredentialActions credential={c} onStatus={(status) => done(() => patch(`/credentials/${c.id}`, { status }), t('people.cred.changed'))} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="mgr-forms">
        <OneField
          title={t('people.cardEnrol')}
          label={t('people.cardNumber')}
          button={t('people.cardButton')}
          onSubmit={(v) => done(() => post(`${path}/credentials`, { kind: 'card', value: v }), t('people.cardEnrolled'))}
        />
        <PinForm onSubmit={(pin, duress) => done(() => request('PUT', `${path}/pin`, { pin, ...(duress ? { duress } : {}) }), t('people.pinDone'))} />
      </div>

      <h3>{t('people.training')}</h3>
      <p>
        <Badge tone={file.training.status === 'current' ? 'ok' : 'alarm'}>{t(`people.training.${file.training.status}`)}</Badge>
        {file.training.lastAt && (
          <span class="mgr-meta">
            {' '}
            {t('people.lastTraining')} <Time at={file.training.lastAt} style="date" />
          </span>
        )}
        {file.training.lapsesAt && (
          <span class="mgr-meta">
            {' '}
            · {t('people.lapsesAt')} <Time at={file.training.lapsesAt} style="date" />
          </span>
        )}
      </p>
      <DatedForm
        title={t('people.trainingRecord')}
        textLabel={t('people.course')}
        dateLabel={t('people.completedAt')}
        button={t('people.trainingButton')}
        onSubmit={(course, completedAt) => done(() => post(`${path}/trainings`, { course, completedAt }), t('people.trainingDone'))}
      />

      <h3>{t('people.pledge')}</h3>
      <p>
        <Badge tone={file.pledge.status === 'on-file' ? 'ok' : 'alarm'}>{t(`people.pledge.${file.pledge.status}`)}</Badge>
        {file.pledge.signedAt && (
          <span class="mgr-meta">
            {' '}
            {t('people.signedAt')} <Time at={file.pledge.signedAt} style="date" />
          </span>
        )}
      </p>
      <DatedForm
        title={t('people.pledgeRecord')}
        textLabel={t('people.document')}
        dateLabel={t('people.signedAt')}
        button={t('people.pledgeButton')}
        onSubmit={(document, signedAt) => done(() => post(`${path}/pledges`, { document, signedAt }), t('people.pledgeDone'))}
      />

      <h3>{t('people.grants')}</h3>
      <GrantTable grants={file.grants} places={places} emptyText={t('people.grantsEmpty')} hidePerson />
    </section>
  );
}

/** Suspend or reactivate a credential (a lost card found again), or revoke it for good after a confirmation. */
function CredentialActions(props: { credential: Credential; onStatus: (s: Credential['status']) => Promise<boolean> }) {
  const c = props.credential;
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const set = async (s: Credential['status']) => {
    setBusy(true);
    await props.onStatus(s);
    setBusy(false);
    setConfirming(false);
  };
  if (c.status === 'revoked') return null;
  return (
    <div class="mgr-actions">
      {c.status === 'active' ? (
        <Button busy={busy} onClick={() => set('suspended')}>
          {t('people.cred.suspend')}
        </Button>
      ) : (
        <Button busy={busy} onClick={() => set('active')}>
          {t('people.cred.reactivate')}
        </Button>
      )}
      <Button variant="danger" busy={busy} onClick={() => setConfirming(true)}>
        {t('people.cred.revoke')}
      </Button>
      <Dialog
        open={confirming}
        title={t('people.cred.revokeTitle')}
        onClose={() => setConfirming(false)}
        actions={
          <Button variant="danger" busy={busy} onClick={() => set('revoked')}>
            {t('people.cred.revoke')}
          </Button>
        }
      >
        <p>{t('people.cred.revokeBody')}</p>
      </Dialog>
    </div>
  );
}

function StatusForm(props: { status: Status; onSet: (s: Status) => Promise<boolean> }) {
  const [s, setS] = useState<Status>(props.status);
  useEffect(() => setS(props.status), [props.status]);
  return (
    <form
      class="mgr-inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        void props.onSet(s);
      }}
    >
      <Control label={t('people.statusChange')}>
        {(id) => (
          <select id={id} value={s} onChange={(e) => setS(value(e) as Status)}>
            {STATUSES.map((x) => (
              <option key={x} value={x}>
                {t(`people.status.${x}`)}
              </option>
            ))}
          </select>
        )}
      </Control>
      <Button type="submit" disabled={s === props.status}>
        {t('people.statusButton')}
      </Button>
      <span class="mgr-hint">{t('people.statusHint')}</span>
    </form>
  );
}

function OneField(props: { title: string; label: string; button: string; onSubmit: (v: string) => Promise<boolean> }) {
  const [v, setV] = useState('');
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="mgr-form mgr-subform"
      aria-label={props.title}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        if (await props.onSubmit(v.trim())) setV('');
        setBusy(false);
      }}
    >
      <h4>{props.title}</h4>
      <Control label={props.label}>{(id) => <input id={id} required maxLength={256} autocomplete="off" value={v} onInput={(e) => setV(value(e))} />}</Control>
      <Button type="submit" disabled={busy}>
        {props.button}
      </Button>
    </form>
  );
}

function PinForm(props: { onSubmit: (pin: string, duress: boolean) => Promise<boolean> }) {
  const [pin, setPin] = useState('');
  const [duress, setDuress] = useState(false);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="mgr-form mgr-subform"
      aria-label={t('people.pinSet')}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        if (await props.onSubmit(pin, duress)) setPin('');
        setBusy(false);
      }}
    >
      <h4>{t('people.pinSet')}</h4>
      <Control label={t('people.pin')}>
        {(id) => (
          <input
            id={id}
            type="password"
            required
            inputMode="numeric"
            pattern="[0-9]{4,12}"
            autocomplete="new-password"
            value={pin}
            onInput={(e) => setPin(value(e))}
          />
        )}
      </Control>
      <label class="mgr-check">
        <input type="checkbox" checked={duress} onChange={(e) => setDuress((e.target as HTMLInputElement).checked)} />
        {t('people.pinDuress')}
      </label>
      <Button type="submit" disabled={busy}>
        {t('people.pinButton')}
      </Button>
    </form>
  );
}

function DatedForm(props: { title: string; textLabel: string; dateLabel: string; button: string; onSubmit: (text: string, date: string) => Promise<boolean> }) {
  const [text, setText] = useState('');
  const [date, setDate] = useState(today());
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="mgr-form mgr-subform"
      aria-label={props.title}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        if (await props.onSubmit(text.trim(), date)) setText('');
        setBusy(false);
      }}
    >
      <h4>{props.title}</h4>
      <Control label={props.textLabel}>{(id) => <input id={id} required maxLength={200} value={text} onInput={(e) => setText(value(e))} />}</Control>
      <Control label={props.dateLabel}>{(id) => <input id={id} type="date" required value={date} onInput={(e) => setDate(value(e))} />}</Control>
      <Button type="submit" disabled={busy}>
        {props.button}
      </Button>
    </form>
  );
}
