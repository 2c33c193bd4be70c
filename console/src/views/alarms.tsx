// The guard's landing view: the alarms nobody has cleared, newest first, each with its kind, place,
// time, state and the pictures the covering cameras took; acknowledge with a note, clear with a
// cause. A new alarm shows the moment the stream brings it (before the list is read again), its
// pictures when the camera's evidence record comes.
import { useRef, useState } from 'preact/hooks';
import { clearCauseLabels, eventLabels } from '../../../src/i18n/labels.js';
import { CLEAR_CAUSES, type ClearCause, isAlarmType } from '../../../src/policy/vocabulary.js';
import { API, ApiProblem, get, post } from '../api.js';
import { localized, t, useLanguage } from '../i18n/index.js';
import { type RaisedEvent, useLive } from '../live.js';
import { me } from '../session.js';
import { Badge } from '../ui/Badge.js';
import { Button } from '../ui/Button.js';
import { Dialog } from '../ui/Dialog.js';
import { formatTime, Time } from '../ui/Time.js';
import './guard/guard.css';
import { type Places, useLiveData, usePlaces } from './guard/live-data.js';

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

/** A camera's picture usually follows its alarm within seconds: until then, ask again. */
const PICTURE_WAIT_MS = 60_000;

const kindOf = (a: Pick<Alarm, 'type'>) => localized((eventLabels as Record<string, { en: string; ja: string }>)[a.type]) || a.type;

export function AlarmsView() {
  useLanguage();
  const role = me().role;
  const mayAnswer = role === 'guard' || role === 'manager';
  const places = usePlaces();
  const pictures = useRef(new Map<number, { snapshots: Snapshot[]; at: number }>());
  const named = useRef(new Set<number>());
  const [provisional, setProvisional] = useState<(Alarm & { seenAt: number })[]>([]);
  const [answering, setAnswering] = useState<{ alarm: Alarm; how: 'ack' | 'clear' } | undefined>(undefined);
  const [said, setSaid] = useState<string | undefined>(undefined);

  const list = useLiveData(
    async (signal) => {
      const startedAt = Date.now();
      const [active, acked] = await Promise.all([
        get<{ items: Alarm[] }>('/alarms?state=active&limit=200', { signal }),
        get<{ items: Alarm[] }>('/alarms?state=acknowledged&limit=200', { signal }),
      ]);
      const items = [...active.items, ...acked.items].sort((a, b) => b.id - a.id);
      // Pictures: once per alarm, again while a young alarm has none, and when evidence names it.
      const now = Date.now();
      const ask = items.filter((a) => {
        const known = pictures.current.get(a.id);
        return !known || named.current.has(a.id) || (known.snapshots.length === 0 && now - Date.parse(a.at) < PICTURE_WAIT_MS);
      });
      await Promise.all(
        ask.map(async (a) => {
          named.current.delete(a.id);
          const d = await get<AlarmDetail>(`/alarms/${a.id}`, { signal });
          pictures.current.set(a.id, { snapshots: d.snapshots, at: now });
        }),
      );
      return { items, startedAt };
    },
    {
      on: {
        raised: (e) => isAlarmType(e.type),
        entry: (e) => {
          const eventId = (e.detail as { eventId?: unknown } | null)?.eventId;
          if (e.kind !== 'evidence' || typeof eventId !== 'number') return false;
          named.current.add(eventId);
          return true;
        },
      },
      pollMs: 10_000,
    },
  );

  // Shown at once from the stream; the list read that follows brings its state and pictures.
  useLive('raised', (e: RaisedEvent) => {
    if (e.id === null || !isAlarmType(e.type)) return;
    const id = e.id;
    setProvisional((p) => [
      {
        ...e,
        id,
        state: 'active',
        level: 0,
        ackedAt: null,
        ackedBy: null,
        ackNote: null,
        clearedAt: null,
        clearedBy: null,
        cause: null,
        clearNote: null,
        seenAt: Date.now(),
      },
      ...p.filter((x) => x.id !== id),
    ]);
  });

  const loaded = list.data?.items ?? [];
  const ids = new Set(loaded.map((a) => a.id));
  // The alarm's row is stored before the stream sends it: a list read begun after it came knows
  // better (a replayed alarm may have been cleared meanwhile).
  const fresh = provisional.filter((p) => !ids.has(p.id) && !(list.data && list.data.startedAt >= p.seenAt));
  const alarms = [...fresh, ...loaded].sort((a, b) => b.id - a.id);
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
      {list.error && (
        <p role="alert" class="error">
          {list.error.words()}
        </p>
      )}
      {said && (
        <p role="status" class="notice notice-ok">
          {said}
        </p>
      )}
      {list.data === undefined && !list.error ? (
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
              snapshots={pictures.current.get(a.id)?.snapshots ?? []}
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
            setProvisional((p) => p.filter((x) => x.id !== answering.alarm.id));
            list.reload();
          }}
        />
      )}
      <RecentlyCleared places={places} />
    </section>
  );
}

/** Where: the door, zone, area or device that raised it, and the zone's area and sensor where known. */
export function placeOf(a: Pick<Alarm, 'source' | 'detail'>, places: Places): string {
  const d = a.detail ?? {};
  const parts = [places.name(a.source)];
  const area = typeof d.areaId === 'string' ? d.areaId : undefined;
  if (area && area !== a.source) parts.push(places.name(area));
  const door = typeof d.door === 'string' ? d.door : undefined;
  if (door && door !== a.source) parts.push(places.name(door));
  return parts.filter(Boolean).join(' · ');
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

function RecentlyCleared({ places }: { places: Places }) {
  const [open, setOpen] = useState(false);
  const [items, setItems] = useState<Alarm[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  return (
    <details
      class="alarms-cleared"
      onToggle={(e) => {
        const isOpen = (e.currentTarget as HTMLDetailsElement).open;
        setOpen(isOpen);
        if (isOpen)
          get<{ items: Alarm[] }>('/alarms?state=cleared&limit=20').then(
            (r) => setItems(r.items),
            (err: unknown) => setError(err instanceof ApiProblem ? err.words() : String(err)),
          );
      }}
    >
      <summary>{t('alarms.showCleared')}</summary>
      {open && error && <p role="alert">{error}</p>}
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
