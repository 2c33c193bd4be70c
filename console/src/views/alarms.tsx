// The guard's landing view: the alarms nobody has cleared, newest first, each with its kind, place,
// time, state and the pictures the covering cameras took; acknowledge with a note, clear with a
// cause. Live from the stream: a new alarm shows the moment its `raised` message comes, another
// guard's acknowledgement (who, the note), escalation and clearing (the card moves to "recently
// cleared") from the `alarm` messages, the pictures when the camera's evidence record comes. The
// list is read again after each reconnect and every minute, as a safety net only.
import { useEffect, useRef, useState } from 'preact/hooks';
import { clearCauseLabels, eventLabels } from '../../../src/i18n/labels.js';
import { CLEAR_CAUSES, type ClearCause, isAlarmType } from '../../../src/policy/vocabulary.js';
import { API, ApiProblem, get, post } from '../api.js';
import { localized, t, useLanguage } from '../i18n/index.js';
import { type AlarmChanged, type RaisedEvent, useLive, useLiveState } from '../live.js';
import { me } from '../session.js';
import { Badge } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Dialog } from '../ui/Dialog.js';
import { formatTime, Time } from '../ui/Time.js';
import './guard/guard.css';
import { type Places, placeOf, usePlaces } from './guard/live-data.js';

export interface Alarm {
  id: number;
  at: string;
  category: string;
  type: string;
  severity: string;
  source: string | null;
  detail: Record<string, unknown> | null;
  state: 'active' | 'acknowledged' | 'cleared';
  level: number;
  ackedAt: string | null;
  ackedBy: string | null;
  ackNote: string | null;
  clearedAt: string | null;
  clearedBy: string | null;
  cause: ClearCause | null;
  clearNote: string | null;
}

interface Snapshot {
  id: number;
  camera: string;
  sha256: string;
  takenAt: string;
}

type AlarmDetail = Alarm & { snapshots: Snapshot[] };

/** The alarms still open (newest first) and the last ones cleared. */
interface Board {
  open: Alarm[];
  cleared: Alarm[];
}

/** A camera's picture usually follows its alarm within seconds: a read of the list asks again until then. */
const PICTURE_WAIT_MS = 60_000;
/** How many cleared alarms "recently cleared" shows. */
const CLEARED_SHOWN = 20;

const kindOf = (a: Pick<Alarm, 'type'>) => localized((eventLabels as Record<string, { en: string; ja: string }>)[a.type]) || a.type;
const newestFirst = (a: Alarm, b: Alarm) => b.id - a.id;

/** A new alarm from its `raised` message, before any read of the list has it. */
function fromRaised(e: RaisedEvent & { id: number }): Alarm {
  return {
    ...e,
    state: 'active',
    level: 0,
    ackedAt: null,
    ackedBy: null,
    ackNote: null,
    clearedAt: null,
    clearedBy: null,
    cause: null,
    clearNote: null,
  };
}

/** What an `alarm` message changes on the board (applied again over a read begun before it: it must be idempotent). */
function changed(b: Board, m: AlarmChanged): Board {
  const a = b.open.find((x) => x.id === m.alarmId);
  if (!a) return b;
  const put = (x: Alarm) => ({ ...b, open: b.open.map((y) => (y.id === x.id ? x : y)) });
  switch (m.state) {
    case 'acknowledged':
      return put({ ...a, state: 'acknowledged', ackedAt: m.at, ackedBy: m.by ?? null, ackNote: m.note ?? a.ackNote });
    case 'escalated':
      return put({ ...a, level: Math.max(a.level, m.level ?? a.level) });
    case 'cleared': {
      const done: Alarm = {
        ...a,
        state: 'cleared',
        clearedAt: m.at,
        clearedBy: m.by ?? null,
        cause: (m.cause as ClearCause | undefined) ?? null,
        clearNote: m.note ?? null,
      };
      return { open: b.open.filter((x) => x.id !== a.id), cleared: [done, ...b.cleared.filter((x) => x.id !== a.id)].slice(0, CLEARED_SHOWN) };
    }
    default:
      return b;
  }
}

export function AlarmsView() {
  useLanguage();
  const role = me().role;
  const mayAnswer = role === 'guard' || role === 'manager';
  const places = usePlaces();
  const [pictures, setPictures] = useState<ReadonlyMap<number, { snapshots: Snapshot[]; at: number }>>(new Map());
  const picturesRef = useRef(pictures);
  picturesRef.current = pictures;
  const [answering, setAnswering] = useState<{ alarm: Alarm; how: 'ack' | 'clear' } | undefined>(undefined);
  const [said, setSaid] = useState<string | undefined>(undefined);

  const addPictures = (found: { id: number; snapshots: Snapshot[] }[], at: number) =>
    setPictures((m) => {
      const next = new Map(m);
      for (const f of found) next.set(f.id, { snapshots: f.snapshots, at });
      return next;
    });

  const board = useLiveState<Board>(
    async (signal) => {
      const [active, acked, cleared] = await Promise.all([
        get<{ items: Alarm[] }>('/alarms?state=active&limit=200', { signal }),
        get<{ items: Alarm[] }>('/alarms?state=acknowledged&limit=200', { signal }),
        get<{ items: Alarm[] }>(`/alarms?state=cleared&limit=${CLEARED_SHOWN}`, { signal }),
      ]);
      const open = [...active.items, ...acked.items].sort(newestFirst);
      // Pictures: once per alarm, and again while a young alarm has none (an evidence record missed).
      const now = Date.now();
      const ask = open.filter((a) => {
        const known = picturesRef.current.get(a.id);
        return !known || (known.snapshots.length === 0 && now - Date.parse(a.at) < PICTURE_WAIT_MS);
      });
      const found = await Promise.all(ask.map(async (a) => ({ id: a.id, snapshots: (await get<AlarmDetail>(`/alarms/${a.id}`, { signal })).snapshots })));
      if (!signal.aborted) addPictures(found, now);
      return { open, cleared: cleared.items };
    },
    {
      raised: (b, e) => {
        if (e.id === null || !isAlarmType(e.type)) return b;
        const id = e.id;
        if (b.open.some((a) => a.id === id) || b.cleared.some((a) => a.id === id)) return b;
        return { ...b, open: [fromRaised({ ...e, id }), ...b.open].sort(newestFirst) };
      },
      alarm: changed,
    },
    60_000,
  );

  // What the page shows now, for the stream's handlers below.
  const shown = useRef<Board | undefined>(undefined);
  shown.current = board.data;

  // An answer to an alarm this page does not show (it came while the list was being read): read it again.
  useLive('alarm', (m) => {
    if (m.state !== 'raised' && shown.current && !shown.current.open.some((a) => a.id === m.alarmId) && !shown.current.cleared.some((a) => a.id === m.alarmId))
      board.reload();
  });

  // A camera's picture of an alarm: read that alarm's pictures (the record says which alarm).
  const fetching = useRef(new AbortController());
  useEffect(() => () => fetching.current.abort(), []);
  useLive('entry', (e) => {
    const eventId = (e.detail as { eventId?: unknown } | null)?.eventId;
    if (e.kind !== 'evidence' || typeof eventId !== 'number') return;
    const at = Date.now();
    get<AlarmDetail>(`/alarms/${eventId}`, { signal: fetching.current.signal }).then(
      (d) => addPictures([{ id: eventId, snapshots: d.snapshots }], at),
      // Not an alarm this role sees, or the page left: the next read of the list asks again.
      () => {},
    );
  });

  const alarms = board.data?.open ?? [];
  const counts = { active: alarms.filter((a) => a.state === 'active').length, acked: alarms.filter((a) => a.state === 'acknowledged').length };

  return (
    <section class="guard-view alarms-view" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {t('alarms.title')}
      </h1>
      <p class="view-summary" aria-live="polite">
        {t('alarms.summary', counts)}
      </p>
      {!mayAnswer && <p class="notice">{t('alarms.readOnly')}</p>}
      {board.error && (
        <p role="alert" class="error">
          {board.error.words()}
        </p>
      )}
      {said && (
        <p role="status" class="notice notice-ok">
          {said}
        </p>
      )}
      {board.data === undefined && !board.error ? (
        <p role="status">{t('common.loading')}</p>
      ) : alarms.length === 0 ? (
        <p class="empty">{t('alarms.empty')}</p>
      ) : (
        <ol class="alarm-list" aria-label={t('alarms.list')}>
          {alarms.map((a) => (
            <AlarmCard
              key={a.id}
              alarm={a}
              places={places}
              snapshots={pictures.get(a.id)?.snapshots ?? []}
              mayAnswer={mayAnswer}
              onAnswer={(how) => {
                setSaid(undefined);
                setAnswering({ alarm: a, how });
              }}
            />
          ))}
        </ol>
      )}
      {answering && (
        <AnswerDialog
          alarm={answering.alarm}
          how={answering.how}
          onClose={() => setAnswering(undefined)}
          onDone={(how) => {
            setAnswering(undefined);
            setSaid(t(how === 'ack' ? 'alarms.acknowledged' : 'alarms.cleared'));
            // The stream's `alarm` message says it too; the read covers a stream that is down.
            board.reload();
          }}
        />
      )}
      <RecentlyCleared items={board.data?.cleared} places={places} />
    </section>
  );
}

function AlarmCard({
  alarm: a,
  places,
  snapshots,
  mayAnswer,
  onAnswer,
}: {
  alarm: Alarm;
  places: Places;
  snapshots: Snapshot[];
  mayAnswer: boolean;
  onAnswer: (how: 'ack' | 'clear') => void;
}) {
  const headingId = `alarm-${a.id}-kind`;
  const sensor = typeof a.detail?.sensor === 'string' ? a.detail.sensor : undefined;
  return (
    <li class={`alarm-card alarm-${a.state}`} aria-labelledby={headingId} data-alarm-id={a.id}>
      <div class="alarm-main">
        <h2 id={headingId} class="alarm-kind">
          <span aria-hidden="true" class="alarm-symbol">
            {a.state === 'active' ? '■' : '□'}
          </span>
          {kindOf(a)}
        </h2>
        <dl class="alarm-facts">
          <div>
            <dt>{t('alarms.place')}</dt>
            <dd>
              {placeOf(a, places) || '—'}
              {sensor && <span class="muted"> ({t('alarms.sensor', { sensor: places.name(sensor) })})</span>}
            </dd>
          </div>
          <div>
            <dt>{t('alarms.raised')}</dt>
            <dd>
              <Time at={a.at} />
            </dd>
          </div>
          <div>
            <dt>{t('alarms.state')}</dt>
            <dd>
              {a.state === 'active' ? <Badge tone="alarm">{t('alarms.state.active')}</Badge> : <Badge tone="warning">{t('alarms.state.acknowledged')}</Badge>}
              {a.level > 0 && (
                <>
                  {' '}
                  <Badge tone="alarm">{t('alarms.escalated', { level: a.level })}</Badge>
                </>
              )}
              {a.ackedAt && a.ackedBy && <span class="alarm-acked"> {t('alarms.ackedBy', { who: a.ackedBy, when: formatTime(a.ackedAt) })}</span>}
              {a.ackNote && <q class="alarm-note">{a.ackNote}</q>}
            </dd>
          </div>
        </dl>
        {mayAnswer && (
          <div class="alarm-actions">
            {a.state === 'active' && (
              <Button variant="primary" onClick={() => onAnswer('ack')}>
                {t('alarms.acknowledge')}
              </Button>
            )}
            <Button variant="danger" onClick={() => onAnswer('clear')}>
              {t('alarms.clear')}
            </Button>
          </div>
        )}
      </div>
      {snapshots.length > 0 && (
        <figure class="alarm-pictures">
          <figcaption class="visually-hidden">{t('alarms.snapshots')}</figcaption>
          {snapshots.map((s) => (
            <a key={s.id} href={`${API}/snapshots/${s.id}`} target="_blank" rel="noopener" title={t('alarms.openPicture')}>
              <img
                class="alarm-thumb"
                src={`${API}/snapshots/${s.id}`}
                alt={t('alarms.snapshotAlt', { camera: places.name(s.camera), when: formatTime(s.takenAt, 'time') })}
                width={160}
                height={120}
                loading="lazy"
              />
            </a>
          ))}
        </figure>
      )}
    </li>
  );
}

function AnswerDialog({ alarm, how, onClose, onDone }: { alarm: Alarm; how: 'ack' | 'clear'; onClose: () => void; onDone: (how: 'ack' | 'clear') => void }) {
  const [note, setNote] = useState('');
  const [cause, setCause] = useState<ClearCause | ''>('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const what = kindOf(alarm);

  async function submit(e: Event) {
    e.preventDefault();
    if (how === 'clear' && !cause) return setProblem(t('alarms.causeRequired'));
    setBusy(true);
    setProblem(undefined);
    const body = { ...(note.trim() ? { note: note.trim() } : {}), ...(how === 'clear' ? { cause } : {}) };
    try {
      await post(`/alarms/${alarm.id}/${how}`, body);
      onDone(how);
    } catch (err) {
      setProblem(refusal(err, how));
    } finally {
      setBusy(false);
    }
  }

  const formId = `answer-${alarm.id}`;
  return (
    <Dialog
      open
      title={t(how === 'ack' ? 'alarms.ackTitle' : 'alarms.clearTitle', { what })}
      onClose={onClose}
      actions={
        <Button type="submit" form={formId} variant={how === 'ack' ? 'primary' : 'danger'} busy={busy}>
          {t(how === 'ack' ? 'alarms.acknowledge' : 'alarms.clear')}
        </Button>
      }
    >
      <form id={formId} class="answer-form" onSubmit={submit}>
        {how === 'clear' && (
          <div class="field">
            <label for={`${formId}-cause`}>{t('alarms.cause')}</label>
            <select id={`${formId}-cause`} required value={cause} onChange={(e) => setCause((e.currentTarget as HTMLSelectElement).value as ClearCause)}>
              <option value="">{t('alarms.chooseCause')}</option>
              {CLEAR_CAUSES.map((c) => (
                <option key={c} value={c}>
                  {localized(clearCauseLabels[c])}
                </option>
              ))}
            </select>
          </div>
        )}
        <div class="field">
          <label for={`${formId}-note`}>{t('alarms.note')}</label>
          <textarea
            id={`${formId}-note`}
            rows={3}
            maxLength={500}
            value={note}
            aria-describedby={`${formId}-note-hint`}
            onInput={(e) => setNote((e.currentTarget as HTMLTextAreaElement).value)}
          />
          <p class="field-hint" id={`${formId}-note-hint`}>
            {t('alarms.noteHint')}
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

/** A refusal in words: the server's 409s here have their own meaning. */
function refusal(err: unknown, how: 'ack' | 'clear'): string {
  if (!(err instanceof ApiProblem)) return String(err);
  if (err.status === 409) {
    if (/cause persists/.test(err.detail)) return t('alarms.causePersists');
    if (/acknowledged already/.test(err.detail)) return t('alarms.ackedAlready');
    if (/cleared already/.test(err.detail)) return t('alarms.clearedAlready');
  }
  return how === 'clear' && err.status === 400 ? t('alarms.causeRequired') : err.words();
}

/** The last alarms cleared, newest clearing first: live (a card cleared here or elsewhere moves in). */
function RecentlyCleared({ items: all, places }: { items: Alarm[] | undefined; places: Places }) {
  const [open, setOpen] = useState(false);
  const items = all && [...all].sort((a, b) => Date.parse(b.clearedAt ?? b.at) - Date.parse(a.clearedAt ?? a.at) || b.id - a.id);
  return (
    <details class="alarms-cleared" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>{t('alarms.showCleared')}</summary>
      {open && items && items.length === 0 && <p class="empty">{t('alarms.noCleared')}</p>}
      {open && items && items.length > 0 && (
        <ul class="cleared-list">
          {items.map((a) => (
            <li key={a.id}>
              <strong>{kindOf(a)}</strong> · {placeOf(a, places)} · <Time at={a.at} />
              <br />
              <span class="muted">
                {t('alarms.clearedBy', {
                  who: a.clearedBy ?? '',
                  when: a.clearedAt ? formatTime(a.clearedAt) : '',
                  cause: a.cause ? localized(clearCauseLabels[a.cause]) : '',
                })}
              </span>
              {a.clearNote && <q class="alarm-note">{a.clearNote}</q>}
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
