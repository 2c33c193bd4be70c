// The one storage-fault policy: every fault counted and logged, one event per source per window.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Alarms } from '../../src/controller/alarms.js';
import { Bus, type RaisedEvent } from '../../src/controller/bus.js';
import type { Counters } from '../../src/controller/context.js';
import { STORAGE_FAULT_WINDOW_MS, StorageFaults } from '../../src/controller/storage-faults.js';
import { openDatabase } from '../../src/store/db.js';
import { EventStore } from '../../src/store/events.js';

function reporter() {
  const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-storage-faults-')));
  const bus = new Bus();
  const raised: RaisedEvent[] = [];
  bus.on('raised', (e) => raised.push(e), 'test');
  let now = new Date('2026-12-01T09:00:00.000Z');
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'error' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const counters: Counters = { granted: 0, denied: 0, rejected: 0, duplicates: 0, storageFaults: 0, listenerFaults: 0 };
  const alarms = new Alarms(new EventStore(db), bus, log, () => now);
  const faults = new StorageFaults({ log, alarms, counters, now: () => now });
  return { db, faults, raised, lines, counters, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe('storage faults', () => {
  it('counts and logs every fault, raises one event per source per window, folding in the rest', () => {
    const r = reporter();
    r.faults.report(new Error('SQLITE_FULL'), { source: 'd1', during: 'access decision', detail: { device: 'r1' } });
    r.faults.report(new Error('SQLITE_FULL'), { source: 'd1', during: 'access decision', detail: { device: 'r1' } });
    r.faults.report(new Error('SQLITE_FULL'), { source: 'entry-log', during: 'periodic checkpoint' });
    expect(r.counters.storageFaults).toBe(3);
    expect(r.lines.filter((l) => /^storage fault/.test(l.msg as string))).toHaveLength(3);
    expect(r.raised).toMatchObject([
      { category: 'system', type: 'storage-fault', severity: 'alarm', source: 'd1', detail: { error: 'SQLITE_FULL', during: 'access decision', device: 'r1' } },
      { type: 'storage-fault', source: 'entry-log', detail: { during: 'periodic checkpoint' } },
    ]);
    expect(r.faults.lastAt).toBe(Date.parse('2026-12-01T09:00:00.000Z'));
    r.advance(STORAGE_FAULT_WINDOW_MS);
    r.faults.report(new Error('SQLITE_READONLY'), { source: 'd1', during: 'rex' });
    expect(r.raised.at(-1)).toMatchObject({ source: 'd1', detail: { during: 'rex', suppressedSinceLast: 1 } });
    expect(r.raised).toHaveLength(3);
  });

  it('never throws, even when the event cannot be stored', () => {
    const r = reporter();
    r.db.close();
    expect(() => r.faults.report(new Error('the database connection is not open'), { source: 'area-1', during: 'mode lockdown' })).not.toThrow();
    expect(r.counters.storageFaults).toBe(1);
    // Not stored (id null), but on the bus and in the log all the same.
    expect(r.raised).toMatchObject([{ id: null, type: 'storage-fault', source: 'area-1' }]);
  });
});
