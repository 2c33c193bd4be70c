// The bus runs each listener on its own: one that throws cannot stop the others.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Alarms } from '../../src/controller/alarms.js';
import { Bus, type ListenerFault, type RaisedEvent } from '../../src/controller/bus.js';
import type { Counters } from '../../src/controller/context.js';
import { LISTENER_FAULT_WINDOW_MS, listenerFaultReporter } from '../../src/controller/faults.js';
import { openDatabase } from '../../src/store/db.js';
import { EventStore } from '../../src/store/events.js';

const link = { connected: true };

describe('bus', () => {
  it('a listener that throws cannot stop the listeners after it; the fault names its owner', () => {
    const bus = new Bus();
    const faults: ListenerFault[] = [];
    bus.onListenerFault = (f) => faults.push(f);
    const ran: string[] = [];
    bus.on('broker.link', () => ran.push('first'), 'first');
    bus.on(
      'broker.link',
      () => {
        throw new Error('publisher down');
      },
      'publisher',
    );
    bus.on('broker.link', () => ran.push('last'), 'last');
    expect(() => bus.emit('broker.link', link)).not.toThrow();
    expect(ran).toEqual(['first', 'last']);
    expect(faults).toMatchObject([{ owner: 'publisher', event: 'broker.link', error: { message: 'publisher down' } }]);
  });

  it('a listener with no owner name is named by where it was added; a rejected promise is a fault too', async () => {
    const bus = new Bus();
    const faults: ListenerFault[] = [];
    bus.onListenerFault = (f) => faults.push(f);
    bus.on('broker.link', () => {
      throw new Error('sync');
    });
    bus.on(
      'broker.link',
      (async () => {
        throw new Error('async');
      }) as () => void,
      'slow',
    );
    bus.emit('broker.link', link);
    await new Promise((r) => setImmediate(r));
    expect(faults.map((f) => [f.owner, (f.error as Error).message])).toEqual([
      [expect.stringMatching(/bus\.test\.ts:\d+/), 'sync'],
      ['slow', 'async'],
    ]);
  });

  it('removes exactly the listener it added', () => {
    const bus = new Bus();
    const ran: string[] = [];
    const off = bus.on('broker.link', () => ran.push('a'), 'a');
    bus.on('broker.link', () => ran.push('b'), 'b');
    off();
    bus.emit('broker.link', link);
    expect(ran).toEqual(['b']);
  });

  it('with no one told of faults, every listener still runs and then the first error is thrown', () => {
    const bus = new Bus();
    const ran: string[] = [];
    bus.on(
      'broker.link',
      () => {
        throw new Error('first');
      },
      'a',
    );
    bus.on(
      'broker.link',
      () => {
        // A nested emit with its own failing listener does not lose the outer one's error.
        bus.emit('device.rejected', { reason: 'x' } as never);
      },
      'b',
    );
    bus.on(
      'device.rejected',
      () => {
        throw new Error('inner');
      },
      'c',
    );
    bus.on('broker.link', () => ran.push('last'), 'd');
    expect(() => bus.emit('broker.link', link)).toThrow('first');
    expect(ran).toEqual(['last']);
  });

  it("the controller's report: logged with the owner, counted, one listener-fault event per window, no loop through raised", () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'tobira-bus-')));
    const bus = new Bus();
    let now = new Date('2026-12-01T09:00:00.000Z');
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'error' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const counters: Counters = { granted: 0, denied: 0, rejected: 0, duplicates: 0, storageFaults: 0, listenerFaults: 0 };
    const alarms = new Alarms(new EventStore(db), bus, log, () => now);
    bus.onListenerFault = listenerFaultReporter({ log, alarms, counters });
    const raised: RaisedEvent[] = [];
    // Throws on every raised event, its own listener-fault event included.
    bus.on(
      'raised',
      () => {
        throw new Error('stream gone');
      },
      'live-stream',
    );
    bus.on('raised', (e) => raised.push(e), 'collector');
    alarms.raise({ category: 'door', type: 'door-forced', severity: 'alarm', source: 'd1' });
    alarms.raise({ category: 'door', type: 'door-forced', severity: 'alarm', source: 'd2' });
    expect(raised.map((e) => e.type)).toEqual(['listener-fault', 'door-forced', 'door-forced']);
    expect(raised[0]).toMatchObject({ category: 'system', severity: 'alarm', source: 'live-stream', detail: { event: 'raised', error: 'stream gone' } });
    // Both door-forced events and the listener-fault event itself: each counted and logged.
    expect(counters.listenerFaults).toBe(3);
    expect(lines.filter((l) => l.owner === 'live-stream' && l.event === 'raised')).toHaveLength(3);
    now = new Date(now.getTime() + LISTENER_FAULT_WINDOW_MS);
    alarms.raise({ category: 'door', type: 'door-forced', severity: 'alarm', source: 'd3' });
    // d2's fault was folded in; the one on its own listener-fault event was only logged.
    expect(raised.filter((e) => e.type === 'listener-fault').at(-1)).toMatchObject({ detail: { suppressedSinceLast: 1 } });
  });
});
