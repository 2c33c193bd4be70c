// What the guards' views share: data from the API kept current by the live stream (a message that
// concerns it reloads it, soon and once for a burst), by the stream coming back after a drop (what
// changed meanwhile without an event, a door's contact, is read again), and by a slow poll for the
// state the stream does not carry. Plus the site's names for doors, zones and areas, to say where.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiProblem, get } from '../../api.js';
import { localized } from '../../i18n/index.js';
import { type EntryRecord, live, type RaisedEvent } from '../../live.js';

export interface Loaded<T> {
  data: T | undefined;
  /** The last load's failure, in the ApiProblem's words (the data shown is then the last good one). */
  error: ApiProblem | undefined;
  reload: () => void;
}

export interface LiveOptions {
  /** Reload when the stream brings a message this says concerns the data. */
  on?: { raised?: (e: RaisedEvent) => boolean; entry?: (e: EntryRecord) => boolean };
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
      live.on('resync', () => soon()),
      live.onStatus((c) => c && soon()),
    ];
    const poll = optsRef.current.pollMs ? setInterval(reload, optsRef.current.pollMs) : undefined;
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
