// The floor plan: the site file's picture with each door as a marker (lock, contact and alarm, in
// words and shapes, never colour alone) and each zone as an outline (disarmed, armed, entry delay,
// alarm), kept live from the stream's `door` and `zone` messages over the state read at each
// (re)connect (and every minute, a safety net only), and an alarm raised at a door or zone on the
// plan flashes there at once (steady under reduced motion) until a minute passes or it is cleared.
// Choosing a door shows its state beside the plan. Read-only for every role: commands live on the
// door board and the zones view.
import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { eventLabels } from '../../../src/i18n/labels.js';
import { ApiProblem, get } from '../api.js';
import { type Key, localized, t, useLanguage } from '../i18n/index.js';
import { type DoorChanged, type ZoneChanged, useLive, useLiveState } from '../live.js';
import { navigate, useLocation } from '../routes.js';
import { Badge, type Tone } from '../ui/Badge.js';
import { Time } from '../ui/Time.js';
import './floor-plan/floor-plan.css';

type Names = { en: string; ja?: string };
type Point = [number, number];

interface FloorPlan {
  id: string;
  name: Names;
  width: number;
  height: number;
  image: { url: string; contentType: string; problem: string | null };
  doors: { door: string; name: Names; x: number; y: number }[];
  zones: { zone: string; name: Names; points: Point[] }[];
  areas: { area: string; name: Names; points: Point[] }[];
}

interface DoorState {
  id: string;
  name: Names;
  area: string;
  state: DoorChanged['state'];
}

type ZoneState = ZoneChanged['state'] & { name: Names };

/** The doors' and zones' state, and when it was last read or changed. */
interface States {
  doors: Map<string, DoorState>;
  zones: Map<string, ZoneState>;
  at: Date;
}

/** An alarm raised at a place on the plan: it flashes there this long (or until cleared) even without a standing state. */
interface RecentAlarm {
  alarmId: number | null;
  type: string;
  at: string;
}
const RECENT_MS = 60_000;
/**
 * The stream says every change of a door or zone, and the state is read again at each (re)connect:
 * this slow read is only a safety net (a message lost to a bug, a site reload adding a zone).
 */
const SAFETY_POLL_MS = 60_000;

const loadStates = async (): Promise<States> => {
  const [d, z] = await Promise.all([get<{ items: DoorState[] }>('/doors?limit=1000'), get<{ items: ZoneState[] }>('/zones')]);
  return { doors: new Map(d.items.map((x) => [x.id, x])), zones: new Map(z.items.map((x) => [x.id, x])), at: new Date() };
};

export function FloorPlanView() {
  useLanguage();
  const loc = useLocation();
  const [plans, setPlans] = useState<FloorPlan[] | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [recent, setRecent] = useState<Record<string, RecentAlarm>>({});
  const [selected, setSelected] = useState<string | null>(null);

  const loadPlans = useCallback(async () => {
    try {
      setPlans((await get<{ items: FloorPlan[] }>('/floor-plans')).items);
      setProblem(null);
    } catch (err) {
      if (err instanceof ApiProblem) setProblem(err);
      else throw err;
    }
  }, []);

  useEffect(() => {
    void loadPlans();
  }, [loadPlans]);

  const states = useLiveState<States>(
    loadStates,
    {
      door: (s, m) => {
        const door = s.doors.get(m.doorId);
        if (!door) return s;
        return { ...s, doors: new Map(s.doors).set(m.doorId, { ...door, state: m.state }), at: new Date() };
      },
      zone: (s, m) => {
        const zone = s.zones.get(m.zoneId);
        if (!zone) return s;
        return { ...s, zones: new Map(s.zones).set(m.zoneId, { ...zone, ...m.state }), at: new Date() };
      },
    },
    SAFETY_POLL_MS,
  );
  const doors = states.data?.doors ?? noDoors;
  const zones = states.data?.zones ?? noZones;
  const shownProblem = problem ?? states.error ?? null;

  const plan = plans?.find((p) => p.id === loc.params.get('plan')) ?? plans?.[0];
  const onPlan = useMemo(() => new Set([...(plan?.doors.map((d) => d.door) ?? []), ...(plan?.zones.map((z) => z.zone) ?? [])]), [plan]);

  useLive('raised', (e) => {
    if (e.severity === 'alarm' && e.source && onPlan.has(e.source)) {
      const source = e.source;
      setRecent((r) => ({ ...r, [source]: { alarmId: e.id, type: e.type, at: e.at } }));
    }
  });
  // Cleared (here or by another guard): it stops flashing; a standing state (a door still forced) keeps it lit.
  useLive('alarm', (c) => {
    if (c.state !== 'cleared') return;
    setRecent((r) => {
      const left = Object.entries(r).filter(([, a]) => a.alarmId !== c.alarmId);
      return left.length === Object.keys(r).length ? r : Object.fromEntries(left);
    });
  });
  useLive('resync', () => void loadPlans());

  // Recent alarms fade after a minute (a standing alarm keeps flashing by its state).
  useEffect(() => {
    const ids = Object.keys(recent);
    if (ids.length === 0) return;
    const sweep = setTimeout(() => {
      const now = Date.now();
      setRecent((r) => Object.fromEntries(Object.entries(r).filter(([, a]) => now - Date.parse(a.at) < RECENT_MS)));
    }, 5000);
    return () => clearTimeout(sweep);
  }, [recent]);

  return (
    <section class="floor-plan" aria-labelledby="view-title">
      <h1 id="view-title" tabIndex={-1}>
        {t('floorPlan.title')}
      </h1>
      {shownProblem && (
        <p role="alert" class="fp-problem">
          {shownProblem.words()}
        </p>
      )}
      {plans === null && !shownProblem && <p role="status">{t('floorPlan.loading')}</p>}
      {plans?.length === 0 && <p>{t('floorPlan.none')}</p>}
      {plans && plans.length > 1 && plan && (
        <div class="fp-choose field">
          <label for="fp-plan">{t('floorPlan.plan')}</label>
          <select id="fp-plan" value={plan.id} onChange={(e) => navigate('floor-plan', { plan: (e.target as HTMLSelectElement).value })}>
            {plans.map((p) => (
              <option key={p.id} value={p.id}>
                {localized(p.name)}
              </option>
            ))}
          </select>
        </div>
      )}
      {plan && (
        <PlanView
          plan={plan}
          doors={doors}
          zones={zones}
          recent={recent}
          selected={selected}
          onSelect={(id) => setSelected((s) => (s === id ? null : id))}
          updatedAt={states.data?.at ?? null}
        />
      )}
    </section>
  );
}

const noDoors = new Map<string, DoorState>();
const noZones = new Map<string, ZoneState>();

interface PlanProps {
  plan: FloorPlan;
  doors: Map<string, DoorState>;
  zones: Map<string, ZoneState>;
  recent: Record<string, RecentAlarm>;
  selected: string | null;
  onSelect: (doorId: string | null) => void;
  updatedAt: Date | null;
}

function PlanView({ plan, doors, zones, recent, selected, onSelect, updatedAt }: PlanProps) {
  const pct = (x: number, of: number) => `${(x / of) * 100}%`;
  const doorAlarm = (id: string): string | null => {
    const d = doors.get(id);
    if (d?.state.alarm) return t(`floorPlan.alarm.${d.state.alarm}`);
    const r = recent[id];
    return r ? localized(eventLabels[r.type as keyof typeof eventLabels]) || r.type : null;
  };
  const zoneAlarm = (id: string): string | null => {
    const z = zones.get(id);
    if (z?.mode === 'tripped') return t('floorPlan.mode.tripped');
    const r = recent[id];
    return r ? localized(eventLabels[r.type as keyof typeof eventLabels]) || r.type : null;
  };
  const alarms = [
    ...plan.doors.flatMap((d) => {
      const what = doorAlarm(d.door);
      return what ? [{ id: d.door, name: localized(d.name), what }] : [];
    }),
    ...plan.zones.flatMap((z) => {
      const what = zoneAlarm(z.zone);
      return what ? [{ id: z.zone, name: localized(z.name), what }] : [];
    }),
  ];
  const selectedDoor = selected ? plan.doors.find((d) => d.door === selected) : undefined;
  const areaName = (id: string) => {
    const a = plan.areas.find((x) => x.area === id);
    return a ? localized(a.name) : id;
  };

  return (
    <div class="fp-layout">
      <div class="fp-stage">
        <div class="fp-canvas" style={{ aspectRatio: `${plan.width} / ${plan.height}` }}>
          {plan.image.problem ? (
            <div class="fp-no-image" role="img" aria-label={t('floorPlan.imageAlt', { name: localized(plan.name) })}>
              <p>{t('floorPlan.imageProblem', { problem: plan.image.problem })}</p>
            </div>
          ) : (
            <img class="fp-image" src={plan.image.url} alt={t('floorPlan.imageAlt', { name: localized(plan.name) })} />
          )}
          <svg class="fp-overlay" viewBox={`0 0 ${plan.width} ${plan.height}`} preserveAspectRatio="none" aria-hidden="true" focusable="false">
            <defs>
              {/* Armed is hatched, not only tinted. */}
              <pattern id="fp-hatch" patternUnits="userSpaceOnUse" width="14" height="14" patternTransform="rotate(45)">
                <line x1="0" y1="0" x2="0" y2="14" class="fp-hatch-line" />
              </pattern>
            </defs>
            {plan.areas.map((a) => (
              <polygon key={`a-${a.area}`} class="fp-area" points={a.points.map((p) => p.join(',')).join(' ')} />
            ))}
            {plan.zones.map((z) => {
              const mode = zones.get(z.zone)?.mode ?? 'unknown';
              return (
                <polygon
                  key={`z-${z.zone}`}
                  class={`fp-zone fp-zone-${mode}${zoneAlarm(z.zone) ? ' fp-flash' : ''}`}
                  points={z.points.map((p) => p.join(',')).join(' ')}
                />
              );
            })}
          </svg>
          {plan.areas.map((a) => {
            const [x, y] = labelCorner(a.points);
            return (
              <span key={`al-${a.area}`} class="fp-area-label" style={{ left: pct(x, plan.width), top: pct(y, plan.height) }}>
                {localized(a.name)}
              </span>
            );
          })}
          {plan.zones.map((z) => {
            const [x, y] = centroid(z.points);
            const state = zones.get(z.zone);
            const alarm = zoneAlarm(z.zone);
            return (
              <span
                key={`zl-${z.zone}`}
                class={`fp-zone-label fp-zone-label-${state?.mode ?? 'unknown'}${alarm ? ' fp-flash' : ''}`}
                style={{ left: pct(x, plan.width), top: pct(y, plan.height) }}
              >
                <span class="fp-zone-name">{localized(z.name)}</span>
                <span class="fp-zone-state">
                  <span aria-hidden="true">{zoneSymbol(state?.mode)} </span>
                  {alarm ?? (state ? t(`floorPlan.mode.${state.mode}`) : '…')}
                </span>
              </span>
            );
          })}
          {plan.doors.map((d) => {
            const state = doors.get(d.door)?.state;
            const alarm = doorAlarm(d.door);
            const words = doorWords(state, alarm);
            return (
              <button
                key={`d-${d.door}`}
                type="button"
                class={`fp-door fp-door-${alarm ? 'alarm' : (state?.lock ?? 'unknown')}${alarm ? ' fp-flash' : ''}${selected === d.door ? ' fp-door-selected' : ''}`}
                style={{ left: pct(d.x, plan.width), top: pct(d.y, plan.height) }}
                aria-pressed={selected === d.door}
                data-door={d.door}
                onClick={() => onSelect(d.door)}
              >
                <DoorIcon kind={alarm ? 'alarm' : (state?.lock ?? 'unknown')} open={state?.open ?? null} />
                <span class="fp-door-caption">
                  <span class="fp-door-name">{localized(d.name)}</span>
                  <span class="fp-door-state">{words}</span>
                </span>
              </button>
            );
          })}
        </div>
        <p class="fp-note muted">
          {t('floorPlan.readOnly')}
          {updatedAt && (
            <>
              {' '}
              {t('floorPlan.updated')}: <Time at={updatedAt} style="time" />
            </>
          )}
        </p>
      </div>
      <aside class="fp-side" aria-label={t('floorPlan.states')}>
        <div aria-live="polite">
          {alarms.length > 0 && (
            <div class="fp-alarms">
              <h2>
                <span aria-hidden="true">⚠ </span>
                {t('floorPlan.alarmsHere')}
              </h2>
              <ul>
                {alarms.map((a) => (
                  <li key={a.id}>{t('floorPlan.alarmItem', { name: a.name, what: a.what })}</li>
                ))}
              </ul>
            </div>
          )}
        </div>
        <div class="fp-details" aria-live="polite">
          <h2>{t('floorPlan.selected')}</h2>
          {selectedDoor ? (
            <DoorDetails name={localized(selectedDoor.name)} door={doors.get(selectedDoor.door)} alarm={doorAlarm(selectedDoor.door)} areaName={areaName} />
          ) : (
            <p class="muted">{t('floorPlan.selectHint')}</p>
          )}
          {selectedDoor && (
            <button type="button" class="btn btn-secondary" onClick={() => onSelect(null)}>
              {t('floorPlan.closeDetails')}
            </button>
          )}
        </div>
        <StateLists plan={plan} doors={doors} zones={zones} doorAlarm={doorAlarm} zoneAlarm={zoneAlarm} onSelect={onSelect} />
      </aside>
    </div>
  );
}

function DoorDetails({ name, door, alarm, areaName }: { name: string; door: DoorState | undefined; alarm: string | null; areaName: (id: string) => string }) {
  const s = door?.state;
  return (
    <dl class="fp-dl">
      <dt>{t('floorPlan.door')}</dt>
      <dd>{name}</dd>
      {door && (
        <>
          <dt>{t('floorPlan.area')}</dt>
          <dd>{areaName(door.area)}</dd>
        </>
      )}
      <dt>{t('floorPlan.lock')}</dt>
      <dd>
        <Badge tone={s?.lock === 'locked' ? 'ok' : s?.lock === 'unlocked' ? 'info' : 'muted'}>{t(`floorPlan.lock.${s?.lock ?? 'unknown'}`)}</Badge>
      </dd>
      <dt>{t('floorPlan.contact')}</dt>
      <dd>{t(`floorPlan.open.${s?.open === undefined ? 'null' : String(s.open)}` as Key)}</dd>
      <dt>{t('floorPlan.alarm')}</dt>
      <dd>{alarm ? <Badge tone="alarm">{alarm}</Badge> : t('floorPlan.alarm.none')}</dd>
      {s?.unlockedBy && (
        <>
          <dt>{t('floorPlan.unlockedBy')}</dt>
          <dd>{t(`floorPlan.unlockedBy.${s.unlockedBy}`)}</dd>
        </>
      )}
      {s?.emergency && (
        <>
          <dt>{t('floorPlan.emergency')}</dt>
          <dd>
            <Badge tone="warning">{t('floorPlan.emergency.on')}</Badge>
          </dd>
        </>
      )}
    </dl>
  );
}

/** The same states as a list: for screen readers, and for anyone who prefers words to a picture. */
function StateLists({
  plan,
  doors,
  zones,
  doorAlarm,
  zoneAlarm,
  onSelect,
}: {
  plan: FloorPlan;
  doors: Map<string, DoorState>;
  zones: Map<string, ZoneState>;
  doorAlarm: (id: string) => string | null;
  zoneAlarm: (id: string) => string | null;
  onSelect: (id: string) => void;
}) {
  const zoneTone = (z: ZoneState | undefined, alarm: string | null): Tone =>
    alarm ? 'alarm' : z?.mode === 'armed' ? 'info' : z?.mode === 'entry-delay' ? 'warning' : 'muted';
  return (
    <>
      {plan.doors.length > 0 && (
        <>
          <h2>{t('floorPlan.doorsCaption')}</h2>
          <ul class="fp-list">
            {plan.doors.map((d) => {
              const alarm = doorAlarm(d.door);
              const state = doors.get(d.door)?.state;
              return (
                <li key={d.door}>
                  <button type="button" class="fp-link" onClick={() => onSelect(d.door)}>
                    {localized(d.name)}
                  </button>{' '}
                  {alarm ? <Badge tone="alarm">{alarm}</Badge> : <span>{doorWords(state, null)}</span>}
                </li>
              );
            })}
          </ul>
        </>
      )}
      {plan.zones.length > 0 && (
        <>
          <h2>{t('floorPlan.zonesCaption')}</h2>
          <ul class="fp-list">
            {plan.zones.map((z) => {
              const state = zones.get(z.zone);
              const alarm = zoneAlarm(z.zone);
              return (
                <li key={z.zone}>
                  <span>{localized(z.name)}</span> <Badge tone={zoneTone(state, alarm)}>{alarm ?? (state ? t(`floorPlan.mode.${state.mode}`) : '…')}</Badge>
                  {state && state.mode !== 'disarmed' && (
                    <span class="muted">
                      {' '}
                      {t('floorPlan.since')} <Time at={state.since} style="time" />
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
        </>
      )}
    </>
  );
}

function doorWords(state: DoorState['state'] | undefined, alarm: string | null): string {
  if (!state) return '…';
  const parts = [t(`floorPlan.lock.${state.lock}`), t(`floorPlan.open.${String(state.open)}` as Key)];
  if (state.emergency) parts.push(t('floorPlan.emergency.on'));
  return alarm ? `${alarm} · ${parts.join(' · ')}` : parts.join(' · ');
}

function zoneSymbol(mode: ZoneState['mode'] | undefined): string {
  return mode === 'tripped' ? '■' : mode === 'armed' ? '●' : mode === 'entry-delay' ? '▲' : '○';
}

/** A marker's shape says its state: a closed padlock, an open one, a warning triangle, a question mark. */
function DoorIcon({ kind, open }: { kind: 'locked' | 'unlocked' | 'unknown' | 'alarm'; open: boolean | null }) {
  return (
    <svg class="fp-door-icon" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      {kind === 'alarm' ? (
        <>
          <path d="M16 3 L30 28 H2 Z" class="fp-icon-fill" />
          <rect x="14.5" y="11" width="3" height="9" class="fp-icon-mark" />
          <rect x="14.5" y="22" width="3" height="3" class="fp-icon-mark" />
        </>
      ) : kind === 'unknown' ? (
        <>
          <circle cx="16" cy="16" r="13" class="fp-icon-fill" />
          <text x="16" y="22" text-anchor="middle" class="fp-icon-text">
            ?
          </text>
        </>
      ) : (
        <>
          {/* The shackle: closed into the body when locked, swung up and out when unlocked. */}
          <path d={kind === 'locked' ? 'M10 15 V10 a6 6 0 0 1 12 0 V15' : 'M10 15 V10 a6 6 0 0 1 12 0 V8'} class="fp-icon-shackle" />
          <rect x="6" y="14" width="20" height="15" rx="2" class="fp-icon-fill" />
          {/* An open door adds a gap in the body. */}
          {open ? <rect x="13" y="18" width="6" height="7" class="fp-icon-mark" /> : <circle cx="16" cy="21" r="2.5" class="fp-icon-mark" />}
        </>
      )}
    </svg>
  );
}

/** The area-weighted centre of a polygon (inside it for the plain shapes plans use). */
function centroid(points: Point[]): Point {
  let a = 0;
  let cx = 0;
  let cy = 0;
  for (let i = 0; i < points.length; i++) {
    const [x0, y0] = points[i]!;
    const [x1, y1] = points[(i + 1) % points.length]!;
    const cross = x0 * y1 - x1 * y0;
    a += cross;
    cx += (x0 + x1) * cross;
    cy += (y0 + y1) * cross;
  }
  if (Math.abs(a) < 1e-9) {
    const n = points.length || 1;
    return [points.reduce((s, p) => s + p[0], 0) / n, points.reduce((s, p) => s + p[1], 0) / n];
  }
  return [cx / (3 * a), cy / (3 * a)];
}

/** An area's name goes in the bottom-left corner of its outline, out of the way of its zone's label. */
function labelCorner(points: Point[]): Point {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return [Math.min(...xs), Math.max(...ys)];
}
