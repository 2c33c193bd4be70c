// The events service in-process, on a real store, with no API and no controller: who may see and
// acknowledge which event, and that an acknowledgement and its audit record go together.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createServices, ServiceError, type Actor, type Services } from '../../src/services/index.js';
import { openStore, type Store } from '../../src/store/index.js';

const alice: Actor = { username: 'alice', role: 'guard', address: '10.0.0.1' };
const bob: Actor = { username: 'bob', role: 'manager', address: '10.0.0.2' };
const admin: Actor = { username: 'root', role: 'admin', address: '10.0.0.3' };
const NOW = new Date('2026-04-01T09:00:00.000Z');

let store: Store;
let services: Services;

function refusal(fn: () => unknown): { kind: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ServiceError) return { kind: err.kind, message: err.message };
    throw err;
  }
  throw new Error('not refused');
}

const acks = () => store.audit.query({ action: 'event.ack', limit: 100 }).records;
const raise = (e: { category: string; type: string; severity: 'info' | 'warning' | 'alarm'; detail?: Record<string, unknown> }) =>
  store.events.add({ at: NOW.toISOString(), source: 'vault-door', detail: null, ...e }).id;

beforeEach(() => {
  store = openStore(mkdtempSync(join(tmpdir(), 'tobira-events-')));
  services = createServices({ store, now: () => NOW });
  return () => store.close();
});

describe('events service', () => {
  it("an emergency unlock's alarm is closed by another account, once, with its audit record", () => {
    const id = raise({ category: 'alarm', type: 'emergency-unlock', severity: 'alarm', detail: { account: 'alice', reason: 'someone hurt inside' } });
    expect(refusal(() => services.events.acknowledge(alice, id, null))).toMatchObject({ kind: 'forbidden' });
    expect(acks()).toEqual([]);
    expect(services.events.openAlarmCount()).toBe(1);

    const acked = services.events.acknowledge(bob, id, 'checked on camera');
    expect(acked).toMatchObject({ ackedBy: 'bob', ackedAt: NOW.toISOString(), ackNote: 'checked on camera' });
    expect(acks()).toEqual([
      expect.objectContaining({
        actor: 'bob',
        role: 'manager',
        address: '10.0.0.2',
        target: `event:${id}`,
        outcome: 'ok',
        detail: { type: 'emergency-unlock', severity: 'alarm', note: 'checked on camera' },
      }),
    ]);
    expect(services.events.openAlarmCount()).toBe(0);

    // Alice is still refused for being the one who unlocked; another guard hears who closed it.
    expect(refusal(() => services.events.acknowledge(alice, id, null))).toMatchObject({ kind: 'forbidden' });
    expect(refusal(() => services.events.acknowledge({ ...alice, username: 'carol' }, id, null))).toEqual({
      kind: 'conflict',
      message: `acknowledged already by bob at ${NOW.toISOString()}`,
    });
    expect(acks()).toHaveLength(1);
  });

  it('each role lists and acknowledges only the categories it may see', () => {
    const door = raise({ category: 'door', type: 'forced-open', severity: 'alarm' });
    const fault = raise({ category: 'system', type: 'storage-fault', severity: 'alarm' });
    expect(services.events.list(admin, { limit: 50 }).items.map((e) => e.id)).toEqual([fault]);
    expect(services.events.list(alice, { limit: 50 }).items.map((e) => e.id)).toEqual([fault, door]);
    expect(services.events.list(alice, { limit: 50, category: 'door' }).items.map((e) => e.id)).toEqual([door]);
    expect(refusal(() => services.events.acknowledge(admin, door, null))).toEqual({ kind: 'not-found', message: 'event not found' });
    expect(services.events.acknowledge(admin, fault, null)).toMatchObject({ ackedBy: 'root' });
  });

  it('open lists only alarms nobody acknowledged, newest first, paged by id', () => {
    const ids = [1, 2, 3].map(() => raise({ category: 'alarm', type: 'held-open', severity: 'alarm' }));
    raise({ category: 'door', type: 'remote-unlock', severity: 'info' });
    services.events.acknowledge(bob, ids[1]!, null);
    const first = services.events.list(bob, { open: true, limit: 1 });
    expect(first).toEqual({ items: [expect.objectContaining({ id: ids[2] })], nextBefore: ids[2] });
    expect(services.events.list(bob, { open: true, limit: 1, before: first.nextBefore! }).items.map((e) => e.id)).toEqual([ids[0]]);
  });
});
