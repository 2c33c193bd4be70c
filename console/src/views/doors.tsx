// The door board, with the alarm zones below it: one look at the premises' state. Every door's lock,
// contact and alarm, live from the stream's `door` messages over one read (again after each
// reconnect, and every minute as a safety net); lock, and remote unlock where the door's area allows
// one account to (else the request a manager must confirm, shown until it is settled).
import { useState } from 'preact/hooks';
import { ApiProblem, get, post } from '../api.js';
import { localized, t, useLanguage } from '../i18n/index.js';
import { useLiveState } from '../live.js';
import { me } from '../session.js';
import { Badge } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Dialog } from '../ui/Dialog.js';
import { Time } from '../ui/Time.js';
import './guard/guard.css';
import { useLiveData, useNow } from './guard/live-data.js';
import { ZonesPanel } from './zones.js';

export interface Door {
  id: string;
  name: { en: string; ja: string };
  area: string;
  unlockMs: number;
  devices: { contact: string | null };
  state: {
    lock: 'locked' | 'unlocked' | 'unknown';
    open: boolean | null;
    unlockedBy: 'grant' | 'rex' | 'emergency' | 'command' | null;
    alarm: 'forced' | 'held' | null;
    emergency: boolean;
  };
}

interface Area {
  id: string;
  name: { en: string; ja: string };
  rules: { factors: string[]; twoPerson: boolean };
}

interface UnlockRequest {
  id: string;
  door: string;
  requestedBy: string;
  role: string;
  note: string | null;
  requestedAt: string;
  expiresAt: string;
}

/** The API's rule (services/unlock-requests.ts): two factors or two people need a second account. */
const needsSecondAccount = (a: Area | undefined) => !!a && (a.rules.twoPerson || a.rules.factors.length > 1);

/** A refusal in words; a 409's reason (a lockdown, an expired request) is the controller's own. */
export const refused = (err: ApiProblem) => (err.status === 409 ? t('doors.refused', { detail: err.detail }) : err.words());

export function DoorsView() {
  useLanguage();
  const account = me();
  const mayCommand = account.role === 'guard' || account.role === 'manager';
  const [said, setSaid] = useState<string | undefined>(undefined);
  const [unlocking, setUnlocking] = useState<Door | undefined>(undefined);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);

  const board = useLiveState(
    async (signal) => (await get<{ items: Door[] }>('/doors?limit=1000', { signal })).items,
    { door: (items, m) => items.map((d) => (d.id === m.doorId ? { ...d, state: m.state } : d)) },
    60_000,
  );
  // The areas' rules (whether a remote unlock needs a second account) change only with the site file.
  const areaList = useLiveData(async (signal) => (await get<{ items: Area[] }>('/areas?limit=1000', { signal })).items);
  // Asked, confirmed and (from this page) withdrawn requests raise events; one turned down or
  // expired elsewhere does not: the poll drops it (the list also hides an expired one by the clock).
  const requests = useLiveData(async (signal) => (mayCommand ? (await get<{ items: UnlockRequest[] }>('/unlock-requests', { signal })).items : []), {
    on: { raised: (e) => e.type.startsWith('remote-unlock') },
    pollMs: 10_000,
  });

  const doors = board.data ?? [];
  const areas = new Map((areaList.data ?? []).map((a) => [a.id, a]));
  const doorName = (id: string) => localized(doors.find((d) => d.id === id)?.name) || id;

  async function lock(d: Door) {
    setBusy(`lock:${d.id}`);
    setProblem(undefined);
    setSaid(undefined);
    try {
      await post(`/doors/${d.id}/lock`);
      setSaid(t('doors.locked', { door: localized(d.name) }));
      board.reload();
    } catch (err) {
      setProblem(err instanceof ApiProblem ? err.words() : String(err));
    } finally {
      setBusy(undefined);
    }
  }

  async function settle(r: UnlockRequest, how: 'confirm' | 'cancel') {
    setBusy(`request:${r.id}`);
    setProblem(undefined);
    setSaid(undefined);
    try {
      await post(`/doors/${r.door}/unlock-requests/${r.id}/${how}`);
      setSaid(
        how === 'confirm'
          ? t('doors.confirmed', { door: doorName(r.door) })
          : r.requestedBy === account.username
            ? t('doors.withdrawn')
            : t('doors.turnedDown'),
      );
      requests.reload();
      board.reload();
    } catch (err) {
      setProblem(err instanceof ApiProblem ? refused(err) : String(err));
      requests.reload();
    } finally {
      setBusy(undefined);
    }
  }

  return (
    <section class="guard-view doors-view" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {t('doors.title')}
      </h1>
      {board.error && (
        <p role="alert" class="error">
          {board.error.words()}
        </p>
      )}
      {problem && (
        <p role="alert" class="error">
          {problem}
        </p>
      )}
      {said && (
        <p role="status" class="notice notice-ok">
          {said}
        </p>
      )}
      <h2>{t('doors.doors')}</h2>
      {board.data === undefined && !board.error ? (
        <p role="status">{t('common.loading')}</p>
      ) : (
        <div class="table-wrap">
          <table class="table door-board">
            <caption class="visually-hidden">{t('doors.doors')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('doors.door')}</th>
                <th scope="col">{t('doors.lock')}</th>
                <th scope="col">{t('doors.contact')}</th>
                <th scope="col">{t('doors.alarm')}</th>
                {mayCommand && <th scope="col">{t('doors.actions')}</th>}
              </tr>
            </thead>
            <tbody>
              {doors.map((d) => (
                <tr key={d.id} class={d.state.alarm ? 'door-alarm' : undefined} data-door-id={d.id}>
                  <th scope="row">
                    {localized(d.name)}
                    <br />
                    <span class="muted">{localized(areas.get(d.area)?.name) || d.area}</span>
                  </th>
                  <td>
                    <LockState door={d} />
                  </td>
                  <td>
                    {d.state.open === null ? (
                      <Badge tone="muted">{t('doors.contact.none')}</Badge>
                    ) : d.state.open ? (
                      <Badge tone="warning">{t('doors.contact.open')}</Badge>
                    ) : (
                      <Badge tone="ok">{t('doors.contact.closed')}</Badge>
                    )}
                  </td>
                  <td>
                    {d.state.alarm ? (
                      <Badge tone="alarm">{t(d.state.alarm === 'forced' ? 'doors.alarm.forced' : 'doors.alarm.held')}</Badge>
                    ) : (
                      <span class="muted">{t('doors.alarm.none')}</span>
                    )}
                  </td>
                  {mayCommand && (
                    <td class="door-actions">
                      <Button
                        onClick={() => void lock(d)}
                        busy={busy === `lock:${d.id}`}
                        disabled={d.state.lock === 'locked' && !d.state.emergency}
                        aria-label={`${t('doors.lockNow')}: ${localized(d.name)}`}
                      >
                        {t('doors.lockNow')}
                      </Button>
                      <Button
                        variant="primary"
                        onClick={() => {
                          setSaid(undefined);
                          setProblem(undefined);
                          setUnlocking(d);
                        }}
                        aria-label={`${t(needsSecondAccount(areas.get(d.area)) ? 'doors.askUnlock' : 'doors.unlock')}: ${localized(d.name)}`}
                      >
                        {t(needsSecondAccount(areas.get(d.area)) ? 'doors.askUnlock' : 'doors.unlock')}
                      </Button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {mayCommand && (
        <Requests
          items={requests.data ?? []}
          doorName={doorName}
          username={account.username}
          mayConfirm={account.role === 'manager'}
          busy={busy}
          onSettle={(r, how) => void settle(r, how)}
        />
      )}
      {unlocking && (
        <UnlockDialog
          door={unlocking}
          second={needsSecondAccount(areas.get(unlocking.area))}
          onClose={() => setUnlocking(undefined)}
          onDone={(text) => {
            setUnlocking(undefined);
            setSaid(text);
            board.reload();
            requests.reload();
          }}
        />
      )}
      <ZonesPanel />
    </section>
  );
}

function LockState({ door: d }: { door: Door }) {
  const s = d.state;
  return (
    <>
      {s.lock === 'locked' ? (
        <Badge tone="ok">{t('doors.lock.locked')}</Badge>
      ) : s.lock === 'unlocked' ? (
        <Badge tone="warning">{t('doors.lock.unlocked')}</Badge>
      ) : (
        <Badge tone="muted">{t('doors.lock.unknown')}</Badge>
      )}
      {s.lock === 'unlocked' && s.unlockedBy && <span class="muted"> {t(`doors.by.${s.unlockedBy}`)}</span>}
      {s.emergency && (
        <>
          {' '}
          <Badge tone="alarm">{t('doors.emergency')}</Badge>
        </>
      )}
    </>
  );
}

function Requests({
  items,
  doorName,
  username,
  mayConfirm,
  busy,
  onSettle,
}: {
  items: UnlockRequest[];
  doorName: (id: string) => string;
  username: string;
  mayConfirm: boolean;
  busy: string | undefined;
  onSettle: (r: UnlockRequest, how: 'confirm' | 'cancel') => void;
}) {
  const now = useNow(1000);
  const live = items.filter((r) => Date.parse(r.expiresAt) > now);
  return (
    <section class="unlock-requests" aria-labelledby="unlock-requests-title">
      <h2 id="unlock-requests-title">{t('doors.requests')}</h2>
      {live.length === 0 ? (
        <p class="empty">{t('doors.noRequests')}</p>
      ) : (
        <ul class="request-list">
          {live.map((r) => {
            const mine = r.requestedBy === username;
            const left = Math.max(0, Math.round((Date.parse(r.expiresAt) - now) / 1000));
            return (
              <li key={r.id} class="request-card">
                <p>
                  <strong>{doorName(r.door)}</strong> — {t('doors.requestedBy')}: <span translate={false}>{r.requestedBy}</span>
                  {mine && <> ({t('doors.you')})</>} · {t('doors.requestedAt')}: <Time at={r.requestedAt} style="time" /> · {t('doors.expires')}:{' '}
                  <span>{t('doors.expiresIn', { time: `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` })}</span>
                </p>
                {r.note && <q>{r.note}</q>}
                <p>
                  <Badge tone="warning">{t('doors.waitingForYou')}</Badge>
                </p>
                <div class="request-actions">
                  {mayConfirm && !mine && (
                    <Button variant="primary" busy={busy === `request:${r.id}`} onClick={() => onSettle(r, 'confirm')}>
                      {t('doors.confirm')}
                    </Button>
                  )}
                  {(mine || mayConfirm) && (
                    <Button busy={busy === `request:${r.id}`} onClick={() => onSettle(r, 'cancel')}>
                      {t(mine ? 'doors.withdraw' : 'doors.turnDown')}
                    </Button>
                  )}
                </div>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

function UnlockDialog({ door, second, onClose, onDone }: { door: Door; second: boolean; onClose: () => void; onDone: (said: string) => void }) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const name = localized(door.name);
  const formId = `unlock-${door.id}`;

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setProblem(undefined);
    try {
      const r = await post<{ request?: UnlockRequest }>(`/doors/${door.id}/unlock`, note.trim() ? { note: note.trim() } : {});
      onDone(r.request ? t('doors.asked', { door: name }) : t('doors.unlocked', { door: name }));
    } catch (err) {
      setProblem(err instanceof ApiProblem ? refused(err) : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog
      open
      title={t(second ? 'doors.askTitle' : 'doors.unlockTitle', { door: name })}
      onClose={onClose}
      actions={
        <Button type="submit" form={formId} variant="primary" busy={busy}>
          {t(second ? 'doors.askUnlock' : 'doors.unlock')}
        </Button>
      }
    >
      <form id={formId} onSubmit={submit} class="answer-form">
        <p>{second ? t('doors.askBody') : t('doors.unlockBody', { seconds: Math.round(door.unlockMs / 1000) })}</p>
        <div class="field">
          <label for={`${formId}-note`}>{t('doors.note')}</label>
          <textarea
            id={`${formId}-note`}
            rows={2}
            maxLength={500}
            value={note}
            aria-describedby={`${formId}-hint`}
            onInput={(e) => setNote((e.currentTarget as HTMLTextAreaElement).value)}
          />
          <p class="field-hint" id={`${formId}-hint`}>
            {t('doors.noteHint')}
          </p>
        </div>
        {problem && (
          <p role="alert" class="error">
            {problem}
          </p>
        )}
      </form>
    </Dialog>
  );
}
