// The live stream (GET /api/v1/stream, Server-Sent Events). Keeps the id of the last message and,
// after a drop, opens a new EventSource with `?lastEventId=` so the server replays what was missed:
// nothing lost, nothing twice. `connected` is false from the drop until the stream is back, and the
// shell shows a "not live" banner meanwhile. Views subscribe to `entry` and `raised` messages, and
// to `resync` (the page was too far behind: reload lists from the API).
// State as it changes comes as `door`, `zone` and `alarm` messages. Those are not replayed after a
// drop (the server sends them without an id): after every (re)connect, once the server says it has
// caught up (`ready`, or `resync`), the page gets a `refetch` signal and views read their state again
// once, then apply the messages over it. `useLiveState` does both for a view.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { EventCategory, EventType, Severity } from '../../src/policy/vocabulary.js';
import { ApiProblem, get } from './api.js';
import { API } from './api.js';

/** An event the controller raised (the stream's `raised` message). */
export interface RaisedEvent {
  id: number | null;
  at: string;
  category: EventCategory;
  type: EventType;
  severity: Severity;
  source: string | null;
  detail: Record<string, unknown> | null;
}

/** An entry-log record as the role may see it (the stream's `entry` message). */
export interface EntryRecord {
  seq: number;
  at: string;
  [field: string]: unknown;
}

/** A door's state changed (the stream's `door` message): `state` is the `state` of its GET /doors item. */
export interface DoorChanged {
  doorId: string;
  state: {
    lock: 'locked' | 'unlocked' | 'unknown';
    /** The contact: null until it has reported. */
    open: boolean | null;
    unlockedBy: 'grant' | 'rex' | 'emergency' | 'command' | null;
    alarm: 'forced' | 'held' | null;
    emergency: boolean;
  };
}

/** A zone's state changed (the stream's `zone` message): the live fields of its GET /zones item. */
export interface ZoneChanged {
  zoneId: string;
  state: {
    id: string;
    area: string;
    arm: 'manual' | 'schedule' | 'empty';
    mode: 'disarmed' | 'armed' | 'entry-delay' | 'tripped';
    since: string;
    trippedBy: string | null;
    sounding: boolean;
    faultedSensors: string[];
  };
}

/** An alarm raised, acknowledged, cleared or escalated (the stream's `alarm` message). */
export interface AlarmChanged {
  alarmId: number;
  type: EventType;
  state: 'raised' | 'acknowledged' | 'cleared' | 'escalated';
  at: string;
  /** Who acknowledged or cleared it. */
  by?: string;
  note?: string;
  cause?: string;
  /** The escalation level after this change (0 when raised). */
  level?: number;
}

export interface LiveMessages {
  entry: EntryRecord;
  raised: RaisedEvent;
  resync: { reason: string; id: string };
  door: DoorChanged;
  zone: ZoneChanged;
  alarm: AlarmChanged;
  /** Not from the server: the stream is (back) up and caught up; state shown should be read again once. */
  refetch: { reason: 'connected' | 'resync' };
}
type Kind = keyof LiveMessages;

// Soon at first (a blip), then every few seconds: a guard room must not wait long after the network is back.
const RETRY_MS = [500, 1000, 2000, 3000, 5000];

class LiveStream {
  connected = false;
  lastEventId: string | undefined;
  private source: EventSource | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private running = false;
  private readonly subscribers: { [K in Kind]: Set<(m: LiveMessages[K]) => void> } = {
    entry: new Set(),
    raised: new Set(),
    resync: new Set(),
    door: new Set(),
    zone: new Set(),
    alarm: new Set(),
    refetch: new Set(),
  };
  private readonly statusListeners = new Set<(connected: boolean) => void>();

  start(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    window.addEventListener('online', this.reconnectNow);
    this.open();
  }

  /** Signed out: closed, and the next session starts from the live head. */
  stop(): void {
    this.running = false;
    window.removeEventListener('online', this.reconnectNow);
    clearTimeout(this.timer);
    this.source?.close();
    this.source = undefined;
    this.lastEventId = undefined;
    this.setConnected(false);
  }

  on<K extends Kind>(kind: K, fn: (m: LiveMessages[K]) => void): () => void {
    const set = this.subscribers[kind] as Set<(m: LiveMessages[K]) => void>;
    set.add(fn);
    return () => void set.delete(fn);
  }

  onStatus(fn: (connected: boolean) => void): () => void {
    this.statusListeners.add(fn);
    return () => void this.statusListeners.delete(fn);
  }

  private readonly reconnectNow = (): void => {
    if (!this.running || this.connected) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.open();
  };

  private open(): void {
    clearTimeout(this.timer);
    this.source?.close();
    const url = `${API}/stream${this.lastEventId ? `?lastEventId=${encodeURIComponent(this.lastEventId)}` : ''}`;
    const es = new EventSource(url);
    this.source = es;
    es.onopen = () => {
      this.attempt = 0;
      this.setConnected(true);
    };
    // The browser would retry on its own after the server's `retry:`; the page retries sooner, and
    // with `?lastEventId=` so a new EventSource resumes too.
    es.onerror = () => {
      if (this.source !== es) return;
      es.close();
      this.source = undefined;
      this.setConnected(false);
      this.retryLater();
    };
    const take = <K extends Kind>(kind: K) =>
      es.addEventListener(kind, (e) => {
        const m = e as MessageEvent<string>;
        if (m.lastEventId) this.lastEventId = m.lastEventId;
        let data: LiveMessages[K];
        try {
          data = JSON.parse(m.data) as LiveMessages[K];
        } catch {
          return;
        }
        this.tell(kind, data);
      });
    take('entry');
    take('raised');
    take('resync');
    // State: no id of its own (the browser's lastEventId stays the last record's).
    take('door');
    take('zone');
    take('alarm');
    es.addEventListener('ready', (e) => {
      const m = e as MessageEvent<string>;
      if (m.lastEventId) this.lastEventId = m.lastEventId;
      this.tell('refetch', { reason: 'connected' });
    });
    es.addEventListener('resync', () => this.tell('refetch', { reason: 'resync' }));
    // The server says why it closes: a session that ended sends the page back to sign-in (the
    // next call answers 401); anything else reconnects with the last id.
    es.addEventListener('end', () => {
      es.close();
      if (this.source !== es) return;
      this.source = undefined;
      this.setConnected(false);
      this.retryLater();
    });
  }

  private tell<K extends Kind>(kind: K, data: LiveMessages[K]): void {
    for (const fn of this.subscribers[kind]) fn(data);
  }

  private retryLater(): void {
    if (!this.running) return;
    const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)]!;
    this.attempt++;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reopen(), delay);
  }

  /** Checks the session first: a 401 ends it (sign-in page), no answer waits and tries again. */
  private async reopen(): Promise<void> {
    if (!this.running) return;
    try {
      await get('/auth/me');
    } catch {
      if (this.running) this.retryLater();
      return;
    }
    if (this.running) this.open();
  }

  private setConnected(c: boolean): void {
    if (this.connected === c) return;
    this.connected = c;
    for (const fn of this.statusListeners) fn(c);
  }
}

export const live = new LiveStream();

/** Whether the stream is up; renders again when it changes. */
export function useConnected(): boolean {
  const [c, set] = useState(live.connected);
  useEffect(() => {
    set(live.connected);
    return live.onStatus(set);
  }, []);
  return c;
}

/** Calls `fn` for each message of a kind while the component is mounted (always its latest `fn`). */
export function useLive<K extends Kind>(kind: K, fn: (m: LiveMessages[K]) => void): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => live.on(kind, (m) => ref.current(m)), [kind]);
}

export interface LiveState<T> {
  data: T | undefined;
  /** The last load's failure (the data shown is then the last good one, kept current by messages). */
  error: ApiProblem | undefined;
  reload: () => void;
}

/** How each kind of message changes the state (return it unchanged when it does not concern it). */
export type LiveUpdates<T> = { [K in Kind]?: (data: T, m: LiveMessages[K]) => T };

/**
 * State read from the API and kept current from the stream: loaded at mount and at every `refetch`
 * (each (re)connect) and every `pollMs` if given (a safety net), and changed by `updates` for each
 * message in between. A message that arrives while a load is in flight is applied to what is shown at
 * once and again over the load's answer: an answer read before the change cannot undo it.
 */
export function useLiveState<T>(load: (signal: AbortSignal) => Promise<T>, updates: LiveUpdates<T>, pollMs?: number): LiveState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiProblem | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const updatesRef = useRef(updates);
  updatesRef.current = updates;
  const running = useRef<AbortController | undefined>(undefined);
  /** Messages since the running load began, to apply over its answer. */
  const since = useRef<((d: T) => T)[]>([]);

  const reload = useCallback(() => {
    running.current?.abort();
    const ctl = new AbortController();
    running.current = ctl;
    since.current = [];
    loadRef.current(ctl.signal).then(
      (loaded) => {
        if (ctl.signal.aborted) return;
        running.current = undefined;
        const d = since.current.reduce((acc, f) => f(acc), loaded);
        since.current = [];
        setData(d);
        setError(undefined);
      },
      (err: unknown) => {
        if (ctl.signal.aborted) return;
        running.current = undefined;
        since.current = [];
        setError(err instanceof ApiProblem ? err : new ApiProblem(0, String(err)));
      },
    );
  }, []);

  useEffect(() => {
    reload();
    const kinds = Object.keys(updatesRef.current) as Kind[];
    const off = kinds.map((kind) =>
      live.on(kind, (m: LiveMessages[typeof kind]) => {
        const f = (d: T) => (updatesRef.current[kind] as ((d: T, m: LiveMessages[typeof kind]) => T) | undefined)?.(d, m) ?? d;
        if (running.current) since.current.push(f);
        setData((d) => (d === undefined ? d : f(d)));
      }),
    );
    off.push(live.on('refetch', reload));
    const poll = pollMs
      ? setInterval(() => {
          if (!document.hidden) reload();
        }, pollMs)
      : undefined;
    return () => {
      for (const f of off) f();
      clearInterval(poll);
      running.current?.abort();
    };
  }, [reload, pollMs]);

  return { data, error, reload };
}
