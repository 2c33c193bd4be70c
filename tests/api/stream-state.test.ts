// The live stream carries state as well as records: a door's lock, contact and alarm, a zone's
// arming, an alarm's acknowledgement, as `door`, `zone` and `alarm` messages, to the roles that see
// events of their kind. They carry no id: a reconnect with Last-Event-ID still replays exactly the
// records and events missed, no gap and no duplicate, and never the state that changed meanwhile.
// The real controller and API in-process (listening on a port), the firmware simulator on its broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import type { DoorChanged, ZoneChanged } from '../../src/controller/bus.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { waitFor } from '../helpers/ports.js';
import { readSse } from '../helpers/sse.js';

const V1 = '/api/v1';
/** Generous: other suites load the machine; nothing here measures time. */
const WAIT = 15_000;

type SseMessage = { event: string; id?: string; data: Record<string, unknown> };

describe('the live stream: door, zone and alarm state', () => {
  let api: TestApi;
  let sim: Simulator;
  let base: string;

  beforeAll(async () => {
    api = await startApi();
    sim = await Simulator.start({ site: api.controller.ctx.site, url: api.controller.brokerUrl, secrets: loadSecrets(api.dataDir), ca: readCa(api.dataDir) });
    await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', WAIT, 'the lab door locked');
    api.controller.ctx.bus.on('zone.changed', (c) => announced.push(c), 'test');
    api.controller.ctx.bus.on('door.changed', (c) => doorsAnnounced.push(c), 'test');
    base = (await api.app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  }, 60_000);

  afterAll(async () => {
    await sim?.stop();
    await api?.close();
  });

  async function open(token: string, lastEventId?: string) {
    const abort = new AbortController();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const res = await fetch(`${base}${V1}/stream`, { headers, signal: abort.signal });
    expect(res.status).toBe(200);
    const messages: SseMessage[] = [];
    const reading = readSse(res.body, ({ event, id, data }) => {
      if (event && data) messages.push({ event, ...(id ? { id } : {}), data: JSON.parse(data) });
    });
    return {
      messages,
      of: (event: string) => messages.filter((m) => m.event === event),
      until: (pred: (m: SseMessage) => boolean, what: string) => waitFor(() => messages.find(pred), WAIT, what),
      lastId: () => [...messages].reverse().find((m) => m.id)?.id,
      close: async () => {
        abort.abort();
        await reading;
      },
    };
  }

  /** What the controller announced on its bus, from the start of the test. */
  const announced: ZoneChanged[] = [];
  const doorsAnnounced: DoorChanged[] = [];
  const lastDoor = (id: string) => doorsAnnounced.filter((c) => c.doorId === id).at(-1)?.state;

  const doorState = async (id: string) => (await api.call('guard', 'GET', `${V1}/doors/${id}`)).json().state;
  const zoneItem = async (id: string) => ((await api.call('guard', 'GET', `${V1}/zones`)).json().items as { id: string }[]).find((z) => z.id === id)!;
  const lastForced = () => api.controller.ctx.store.events.recent(1, 'door-forced')[0]?.id ?? -1;

  it('a door forced and then closed: `door` messages with each new state, no id, for guards, managers and auditors; none for an admin', async () => {
    const streams = {
      guard: await open(api.accounts.guard.token),
      manager: await open(api.accounts.manager.token),
      auditor: await open(api.accounts.auditor.token),
      admin: await open(api.accounts.admin.token),
    };
    try {
      for (const s of Object.values(streams)) await s.until((m) => m.event === 'ready', 'ready');
      const before = lastForced();

      await sim.door('lab-main').force();
      for (const [role, s] of Object.entries(streams).filter(([r]) => r !== 'admin')) {
        const forced = await s.until(
          (m) => m.event === 'door' && m.data.doorId === 'lab-main' && (m.data.state as { alarm: unknown }).alarm === 'forced',
          `${role}: forced`,
        );
        expect(forced.data.state).toMatchObject({ open: true, alarm: 'forced', lock: 'locked' });
      }
      await waitFor(() => lastForced() > before, WAIT, 'the forced alarm stored');

      await sim.door('lab-main').close();
      const closed = await streams.guard.until(
        (m) => m.event === 'door' && m.data.doorId === 'lab-main' && (m.data.state as { open: unknown }).open === false,
        'closed',
      );
      expect(closed.data).toEqual({ doorId: 'lab-main', state: expect.objectContaining({ open: false, lock: 'locked' }) });
      // The last message says what GET /doors says now, in the same shape.
      await waitFor(
        async () => {
          const last = streams.guard
            .of('door')
            .filter((m) => m.data.doorId === 'lab-main')
            .at(-1)!;
          return JSON.stringify(last.data.state) === JSON.stringify(await doorState('lab-main'));
        },
        WAIT,
        'the last door message equal to GET /doors/lab-main',
      );

      const guard = streams.guard;
      expect(guard.of('door').every((m) => m.id === undefined)).toBe(true);
      // One message per change: never the same state twice in a row.
      const lab = guard
        .of('door')
        .filter((m) => m.data.doorId === 'lab-main')
        .map((m) => JSON.stringify(m.data.state));
      expect(lab.filter((s, i) => i > 0 && s === lab[i - 1])).toEqual([]);
      // The forced alarm reached the admin's stream neither as an event nor as state.
      await streams.guard.until((m) => m.event === 'alarm' && m.data.alarmId === lastForced() && m.data.state === 'raised', 'the alarm raised');
      expect(streams.admin.of('door')).toEqual([]);
      expect(streams.admin.of('alarm').filter((m) => m.data.alarmId === lastForced())).toEqual([]);
    } finally {
      for (const s of Object.values(streams)) await s.close();
    }
  }, 60_000);

  it('a zone armed and disarmed: `zone` messages with the state GET /zones shows; none for an admin', async () => {
    const guard = await open(api.accounts.guard.token);
    const admin = await open(api.accounts.admin.token);
    try {
      await guard.until((m) => m.event === 'ready', 'ready');
      await admin.until((m) => m.event === 'ready', 'ready');
      expect((await api.call('manager', 'POST', `${V1}/zones/lab-night/arm`)).statusCode).toBe(200);
      const armed = await guard.until((m) => m.event === 'zone' && (m.data.state as { mode: string }).mode === 'armed', 'armed');
      expect(armed.id).toBeUndefined();
      expect(armed.data.zoneId).toBe('lab-night');
      // Every field it carries is the zone's item's own.
      expect(await zoneItem('lab-night')).toMatchObject(armed.data.state as object);
      expect(armed.data.state).toMatchObject({ id: 'lab-night', area: 'lab', mode: 'armed', trippedBy: null, sounding: false, since: expect.any(String) });

      expect((await api.call('guard', 'POST', `${V1}/zones/lab-night/disarm`)).statusCode).toBe(200);
      await guard.until((m) => m.event === 'zone' && (m.data.state as { mode: string }).mode === 'disarmed', 'disarmed');
      // The zone's events went out too: the admin saw neither them nor the state.
      await guard.until((m) => m.event === 'raised' && m.data.type === 'zone-disarmed', 'the zone-disarmed event');
      expect(admin.of('zone')).toEqual([]);
    } finally {
      await guard.close();
      await admin.close();
    }
  }, 60_000);

  it('an alarm acknowledged and cleared by another account: `alarm` messages saying so, by whom; an admin gets only the alarms of its categories', async () => {
    const guard = await open(api.accounts.guard.token);
    const admin = await open(api.accounts.admin.token);
    try {
      await guard.until((m) => m.event === 'ready', 'ready');
      await admin.until((m) => m.event === 'ready', 'ready');
      const id = lastForced();
      expect(id).toBeGreaterThan(0);
      const ack = await api.call('manager', 'POST', `${V1}/alarms/${id}/ack`, { note: 'on my way' });
      expect(ack.statusCode, ack.body).toBe(200);
      const acked = await guard.until((m) => m.event === 'alarm' && m.data.alarmId === id && m.data.state === 'acknowledged', 'acknowledged');
      expect(acked.id).toBeUndefined();
      expect(acked.data).toMatchObject({
        alarmId: id,
        type: 'door-forced',
        state: 'acknowledged',
        by: 'test-manager',
        note: 'on my way',
        at: expect.any(String),
      });

      const cleared = await api.call('manager', 'POST', `${V1}/alarms/${id}/clear`, { cause: 'test' });
      expect(cleared.statusCode, cleared.body).toBe(200);
      await guard.until((m) => m.event === 'alarm' && m.data.alarmId === id && m.data.state === 'cleared' && m.data.cause === 'test', 'cleared');

      // A system alarm: the admin's to see, as event and as state.
      const fault = api.controller.ctx.alarms.raise({ category: 'system', type: 'storage-fault', severity: 'alarm', source: 'test', detail: null }).id!;
      await admin.until((m) => m.event === 'alarm' && m.data.alarmId === fault && m.data.state === 'raised', 'the system alarm, for the admin');
      expect(admin.of('alarm').filter((m) => m.data.alarmId === id)).toEqual([]);
      expect((await api.call('guard', 'POST', `${V1}/alarms/${fault}/clear`, { cause: 'test' })).statusCode).toBe(200);
      await admin.until((m) => m.event === 'alarm' && m.data.alarmId === fault && m.data.state === 'cleared', 'the system alarm cleared, for the admin');
    } finally {
      await guard.close();
      await admin.close();
    }
  }, 60_000);

  it('a reconnect with Last-Event-ID replays the records and events missed, once each, and no state', async () => {
    const first = await open(api.accounts.guard.token);
    const ready = await first.until((m) => m.event === 'ready', 'ready');
    const startSeq = Number(/^e(\d+)-v(\d+)$/.exec(ready.id!)![1]);
    const startEvent = Number(/^e(\d+)-v(\d+)$/.exec(ready.id!)![2]);
    const store = api.controller.ctx.store;

    // Seen live: a door forced and closed (door records, an alarm, state).
    await sim.door('lab-main').force();
    await first.until((m) => m.event === 'door' && (m.data.state as { alarm: unknown }).alarm === 'forced', 'forced, live');
    await sim.door('lab-main').close();
    await first.until((m) => m.event === 'door' && (m.data.state as { open: unknown }).open === false, 'closed, live');
    await waitFor(() => first.lastId() === `e${store.entryLog.lastStoredSeq()}-v${store.events.lastId()}`, WAIT, 'the first stream caught up');
    const resumeFrom = first.lastId()!;
    await first.close();

    // Missed: the door forced and closed again, a zone armed.
    const missedForced = lastForced();
    const doorsBefore = doorsAnnounced.length;
    await sim.door('lab-main').force();
    await waitFor(() => lastForced() > missedForced, WAIT, 'the second forced alarm');
    await sim.door('lab-main').close();
    await waitFor(() => api.controller.doors.state('lab-main')?.open === false, WAIT, 'the door closed again');
    const announcedBefore = announced.length;
    expect((await api.call('guard', 'POST', `${V1}/zones/lab-night/arm`)).statusCode).toBe(200);
    // The controller announces state just after the change's own work: wait until it has, so the
    // second stream opens after the announcements (it must not get them from a replay).
    await waitFor(() => announced.slice(announcedBefore).some((c) => c.zoneId === 'lab-night' && c.state.mode === 'armed'), WAIT, 'the arming announced');
    await waitFor(
      () => doorsAnnounced.slice(doorsBefore).some((c) => c.state.alarm === 'forced') && lastDoor('lab-main')?.open === false,
      WAIT,
      'the forcing and the closing announced',
    );

    const second = await open(api.accounts.guard.token, resumeFrom);
    try {
      await second.until((m) => m.event === 'ready', 'caught up');
      // Live again: a zone disarmed after the reconnect.
      expect((await api.call('guard', 'POST', `${V1}/zones/lab-night/disarm`)).statusCode).toBe(200);
      await second.until((m) => m.event === 'zone' && (m.data.state as { mode: string }).mode === 'disarmed', 'disarmed, live');
      await waitFor(() => second.lastId() === `e${store.entryLog.lastStoredSeq()}-v${store.events.lastId()}`, WAIT, 'the second stream caught up');

      const seqs = [...first.of('entry'), ...second.of('entry')].map((m) => m.data.seq as number);
      const expectedSeqs = store.entryLog.after(startSeq, 10_000).map((r) => r.seq);
      expect(expectedSeqs.length).toBeGreaterThan(0);
      expect(seqs).toEqual(expectedSeqs);
      const ids = [...first.of('raised'), ...second.of('raised')].map((m) => m.data.id as number);
      const expectedIds = store.events
        .recent(1000)
        .map((e) => e.id!)
        .filter((id) => id > startEvent)
        .sort((a, b) => a - b);
      expect(ids).toEqual(expectedIds);
      // State is never replayed: the second stream saw none of what changed while it was away.
      expect(second.of('door').filter((m) => (m.data.state as { alarm: unknown }).alarm === 'forced')).toEqual([]);
      expect(second.of('zone').filter((m) => (m.data.state as { mode: string }).mode === 'armed')).toEqual([]);
      for (const m of [...second.of('door'), ...second.of('zone'), ...second.of('alarm')]) expect(m.id).toBeUndefined();
    } finally {
      await second.close();
    }
  }, 90_000);
});
