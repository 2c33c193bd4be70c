// The live stream (GET /api/v1/stream, Server-Sent Events). Keeps the id of the last message and,
// after a drop, opens a new EventSource with `?lastEventId=` so the server replays what was missed:
// nothing lost, nothing twice. `connected` is false from the drop until the stream is back, and the
// shell shows a "not live" banner meanwhile. Views subscribe to `entry` and `raised` messages, and
// to `resync` (the page was too far behind: reload lists from the API).
import { useEffect, useRef, useState } from 'preact/hooks';
import type { EventCategory, EventType, Severity } from '../../src/policy/vocabulary.js';
import { get } from './api.js';
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

export interface LiveMessages {
  entry: EntryRecord;
  raised: RaisedEvent;
  resync: { reason: string; id: string };
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
  private readonly subscribers: { [K in Kind]: Set<(m: LiveMessages[K]) => void> } = { entry: new Set(), raised: new Set(), resync: new Set() };
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
        for (const fn of this.subscribers[kind]) fn(data);
      });
    take('entry');
    take('raised');
    take('resync');
    es.addEventListener('ready', (e) => {
      const m = e as MessageEvent<string>;
      if (m.lastEventId) this.lastEventId = m.lastEventId;
    });
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
