// What the guards' views share: data from the API kept current by the live stream (a message that
// concerns it reloads it, soon and once for a burst), by the stream's `refetch` after each
// (re)connect (state changed meanwhile is not replayed: it is read again), and by a slow poll for the
// state the stream does not carry. Views whose state the stream carries itself (doors, zones, alarms)
// use live.ts's useLiveState instead. Plus the site's names for doors, zones and areas, to say where.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiProblem, get } from '../../api.js';
import { localized } from '../../i18n/index.js';
import { type AlarmChanged, type DoorChanged, type EntryRecord, live, type RaisedEvent, type ZoneChanged } from '../../live.js';

export interface Loaded<T> {
  data: T | undefined;
  /** The last load's failure, in the ApiProblem's words (the data shown is then the last good one). */
  error: ApiProblem | undefined;
  reload: () => void;
}

export interface LiveOptions {
  /** Reload when the stream brings a message this says concerns the data. */
  on?: {
    raised?: (e: RaisedEvent) => boolean;
    entry?: (e: EntryRecord) => boolean;
    door?: (m: DoorChanged) => boolean;
    zone?: (m: ZoneChanged) => boolean;
    alarm?: (m: AlarmChanged) => boolean;
  };
  /** Also reload this often (ms), for state no event reports. */
  pollMs?: number;
}

const BURST_MS = 120;

export function useLiveData<T>(load: (signal: AbortSignal) => Promise<T>, opts: LiveOptions = {}): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiProblem | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const optsRef = useRef(opts);
  optsRef.current = opts;
  const running = useRef<AbortController | undefined>(undefined);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const reload = useCallback(() => {
    running.current?.abort();
    const ctl = new AbortController();
    running.current = ctl;
    loadRef.current(ctl.signal).then(
      (d) => {
        if (ctl.signal.aborted) return;
        setData(d);
        setError(undefined);
      },
      (err: unknown) => {
        if (ctl.signal.aborted) return;
        setError(err instanceof ApiProblem ? err : new ApiProblem(0, String(err)));
      },
    );
  }, []);

  const soon = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(reload, BURST_MS);
  }, [reload]);

  useEffect(() => {
    reload();
    const off = [
      live.on('raised', (e) => optsRef.current.on?.raised?.(e) && soon()),
      live.on('entry', (e) => optsRef.current.on?.entry?.(e) && soon()),
      live.on('door', (m) => optsRef.current.on?.door?.(m) && soon()),
      live.on('zone', (m) => optsRef.current.on?.zone?.(m) && soon()),
      live.on('alarm', (m) => optsRef.current.on?.alarm?.(m) && soon()),
      // Once the stream is back and caught up (`ready`, or `resync`: too far behind to replay).
      live.on('refetch', soon),
    ];
    const poll = optsRef.current.pollMs
      ? setInterval(() => {
          if (!document.hidden) reload();
        }, optsRef.current.pollMs)
      : undefined;
    return () => {
      for (const f of off) f();
      clearInterval(poll);
      clearTimeout(timer.current);
      running.current?.abort();
    };
  }, [reload, soon]);

  return { data, error, reload };
}

/** Re-renders every `ms` (a countdown, "due in"). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

interface Named {
  id: string;
  name: { en: string; ja?: string } | null;
}

/** The site's places by id (doors, zones, areas, devices), to name where something happened. */
export interface Places {
  name: (id: string | null | undefined) => string;
}

let placesCache: Promise<Map<string, Named['name']>> | undefined;

async function loadPlaces(): Promise<Map<string, Named['name']>> {
  const [doors, zones, areas, devices] = await Promise.all([
    get<{ items: Named[] }>('/doors?limit=1000'),
    get<{ items: Named[] }>('/zones'),
    get<{ items: Named[] }>('/areas?limit=1000'),
    get<{ items: Named[] }>('/devices?limit=1000').catch(() => ({ items: [] as Named[] })),
  ]);
  const m = new Map<string, Named['name']>();
  // Devices first: a door, zone or area of the same id is the better name.
  for (const list of [devices.items, areas.items, zones.items, doors.items]) for (const x of list) if (x.name) m.set(x.id, x.name);
  return m;
}

/** Names of the site's places; an id without one shows as itself. Loaded once per page. */
export function usePlaces(): Places {
  const [map, setMap] = useState<Map<string, Named['name']> | undefined>(undefined);
  useEffect(() => {
    placesCache ??= loadPlaces();
    placesCache.then(setMap, () => {
      placesCache = undefined;
    });
  }, []);
  return { name: (id) => (id ? localized(map?.get(id)) || id : '') };
}

/**
 * Where an alarm or event happened, in words: the door, zone, area or device that raised it, and the
 * zone's area and the door named in its detail where they differ, by name (an unnamed place by its
 * id). The alarm list and the shell's banner both say it so.
 */
export function placeOf(a: { source: string | null; detail: Record<string, unknown> | null }, places: Places): string {
  const d = a.detail ?? {};
  const parts = [places.name(a.source)];
  const area = typeof d.areaId === 'string' ? d.areaId : undefined;
  if (area && area !== a.source) parts.push(places.name(area));
  const door = typeof d.door === 'string' ? d.door : undefined;
  if (door && door !== a.source) parts.push(places.name(door));
  return parts.filter(Boolean).join(' · ');
}
