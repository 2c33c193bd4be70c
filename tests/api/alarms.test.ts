// Alarms through the API (issue 11): the lifecycle raised → acknowledged → cleared with history,
// audit and role refusals; escalation with a short configured time (the louder output on until
// answered); a clear refused while the door is still forced open; repeated denials at one door.
// The real controller and app, the firmware simulator on the embedded broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { loadSecrets } from '../../src/devices/secrets.js';
import { readCa } from '../../src/devices/tls.js';
import type { AlarmChanged } from '../../src/controller/bus.js';
import { EVENT_TYPES, type EventType } from '../../src/policy/vocabulary.js';
import { startApi, type TestApi } from '../helpers/api.js';
import { waitFor } from '../helpers/ports.js';

const V1 = '/api/v1';

describe('alarms', () => {
  let api: TestApi;
  let sim: Simulator;
  const changes: AlarmChanged[] = [];

  beforeAll(async () => {
    api = await startApi({
      edit: (raw) => {
        raw.alarms = { escalateAfterSeconds: 1, repeatEverySeconds: 1, escalationOutputs: ['lab-siren'], repeatedDenials: { count: 3, withinMinutes: 1 } };
      },
    });
    api.controller.ctx.bus.on('alarm.changed', (c) => void changes.push(c), 'test');
    sim = await Simulator.start({ site: api.controller.ctx.site, url: api.controller.brokerUrl, secrets: loadSecrets(api.dataDir), ca: readCa(api.dataDir) });
    await waitFor(() => api.controller.doors.state('lab-main')?.lock === 'locked', 5000, 'lab door locked');
  });

  afterAll(async () => {
    await sim?.stop();
    await api?.close();
  });

  const raise = (type: EventType, source = 'lab-beam') => {
    const e = api.controller.ctx.alarms.raise({ ...EVENT_TYPES[type], type, source });
    return e.id!;
  };
  const audit = (action: string, target: string) =>
    api.db().prepare('SELECT actor, role, action, target, detail FROM audit_log WHERE action = ? AND target = ? ORDER BY seq').all(action, target) as {
      actor: string;
      detail: string;
    }[];

  it('raised → acknowledged → cleared, with history, audit, bus and the events API beside it', async () => {
    const id = raise('intrusion');
    // Acknowledged quickly: before the 1 s escalation.
    const active = await api.call('auditor', 'GET', `${V1}/alarms?state=active&kind=intrusion`);
    expect(active.statusCode, active.body).toBe(200);
    expect(active.json().items.map((a: { id: number }) => a.id)).toContain(id);

    for (const role of ['auditor', 'admin'] as const) {
      const refused = await api.call(role, 'POST', `${V1}/alarms/${id}/ack`, { note: 'no' });
      expect(refused.statusCode, role).toBe(403);
    }
    const acked = await api.call('guard', 'POST', `${V1}/alarms/${id}/ack`, { note: 'going to look' });
    expect(acked.statusCode, acked.body).toBe(200);
    expect(acked.json()).toMatchObject({ id, state: 'acknowledged', ackedBy: 'test-guard', ackNote: 'going to look' });
    expect(acked.json().responseMs).toBeGreaterThanOrEqual(0);
    expect((await api.call('manager', 'POST', `${V1}/alarms/${id}/ack`, {})).statusCode).toBe(409);
    // The events API sees the same row acknowledged.
    const asEvent = (await api.call('guard', 'GET', `${V1}/events?type=intrusion`)).json().items.find((e: { id: number }) => e.id === id);
    expect(asEvent).toMatchObject({ ackedBy: 'test-guard', ackNote: 'going to look' });

    expect((await api.call('guard', 'POST', `${V1}/alarms/${id}/clear`, { cause: 'burglary' })).statusCode).toBe(400);
    expect((await api.call('auditor', 'POST', `${V1}/alarms/${id}/clear`, { cause: 'test' })).statusCode).toBe(403);
    const cleared = await api.call('manager', 'POST', `${V1}/alarms/${id}/clear`, { cause: 'false-alarm', note: 'a cat' });
    expect(cleared.statusCode, cleared.body).toBe(200);
    expect(cleared.json()).toMatchObject({ state: 'cleared', clearedBy: 'test-manager', cause: 'false-alarm', clearNote: 'a cat' });
    expect((await api.call('guard', 'POST', `${V1}/alarms/${id}/clear`, { cause: 'test' })).statusCode).toBe(409);

    const one = await api.call('auditor', 'GET', `${V1}/alarms/${id}`);
    expect(one.json().history.map((h: { state: string; by: string | null }) => [h.state, h.by])).toEqual([
      ['raised', null],
      ['acknowledged', 'test-guard'],
      ['cleared', 'test-manager'],
    ]);
    expect(audit('alarm.ack', `alarm:${id}`)).toEqual([expect.objectContaining({ actor: 'test-guard' })]);
    expect(audit('alarm.clear', `alarm:${id}`)).toEqual([expect.objectContaining({ actor: 'test-manager' })]);
    expect(JSON.parse(audit('alarm.clear', `alarm:${id}`)[0]!.detail)).toMatchObject({ cause: 'false-alarm', note: 'a cat' });
    expect(changes.filter((c) => c.alarmId === id).map((c) => c.state)).toEqual(['raised', 'acknowledged', 'cleared']);
    expect((await api.call('guard', 'GET', `${V1}/alarms?state=cleared`)).json().items.map((a: { id: number }) => a.id)).toContain(id);
    expect((await api.call('guard', 'GET', `${V1}/alarms?state=active`)).json().items.map((a: { id: number }) => a.id)).not.toContain(id);

    // Acknowledging an alarm through the old events API acknowledges it as an alarm.
    const other = raise('tamper', 'lab-reader');
    const viaEvents = await api.call('guard', 'POST', `${V1}/events/${other}/ack`, { note: 'seen' });
    expect(viaEvents.statusCode, viaEvents.body).toBe(200);
    const otherAlarm = (await api.call('guard', 'GET', `${V1}/alarms/${other}`)).json();
    expect(otherAlarm).toMatchObject({ state: 'acknowledged', ackedBy: 'test-guard' });
    expect(otherAlarm.history.map((h: { state: string }) => h.state)).toEqual(['raised', 'acknowledged']);
    // Its cause (the reader's case open) persists until tamper-cleared.
    const refused = await api.call('guard', 'POST', `${V1}/alarms/${other}/clear`, { cause: 'test' });
    expect(refused.statusCode).toBe(409);
    api.controller.ctx.alarms.raise({ ...EVENT_TYPES['tamper-cleared'], type: 'tamper-cleared', source: 'lab-reader' });
    expect((await api.call('guard', 'POST', `${V1}/alarms/${other}/clear`, { cause: 'test' })).statusCode).toBe(200);

    // Not an alarm: not found here.
    const info = api.controller.ctx.alarms.raise({ ...EVENT_TYPES['device-online'], type: 'device-online', source: 'lab-reader' }).id!;
    expect((await api.call('guard', 'GET', `${V1}/alarms/${info}`)).statusCode).toBe(404);
  });

  it('an unanswered alarm escalates, louder and repeated, until acknowledged', async () => {
    const since = Date.now();
    const id = raise('duress', 'lab-keypad');
    await waitFor(() => changes.some((c) => c.alarmId === id && c.state === 'escalated' && c.level === 2), 6000, 'escalated twice');
    const sirenOn = sim.observed('lab-siren').filter((o) => o.at >= since && o.command.command === 'output' && o.command.on);
    expect(sirenOn.length).toBeGreaterThanOrEqual(1);
    const off = sim.expectCommand('lab-siren', (c) => c.command === 'output' && !c.on, 3000, 'siren off');
    expect((await api.call('guard', 'POST', `${V1}/alarms/${id}/ack`, { note: 'called back' })).statusCode).toBe(200);
    await off;
    const alarm = (await api.call('guard', 'GET', `${V1}/alarms/${id}`)).json();
    expect(alarm.level).toBeGreaterThanOrEqual(2);
    const steps = alarm.history.map((h: { state: string; level: number | null }) => [h.state, h.level]);
    expect(steps.slice(0, 3)).toEqual([
      ['raised', 0],
      ['escalated', 1],
      ['escalated', 2],
    ]);
    expect(steps.at(-1)).toEqual(['acknowledged', null]);
    // Answered: no further step.
    const levelNow = alarm.level;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await api.call('guard', 'GET', `${V1}/alarms/${id}`)).json().level).toBe(levelNow);
  });

  it('a clear is refused while the door is still forced open, and accepted once it is closed', async () => {
    await sim.door('lab-main').force();
    const forced = await waitFor(
      () =>
        (api.db().prepare("SELECT id FROM events WHERE type = 'door-forced' AND source = 'lab-main' ORDER BY id DESC").get() as { id: number } | undefined)?.id,
      4000,
      'door-forced',
    );
    const refused = await api.call('guard', 'POST', `${V1}/alarms/${forced}/clear`, { cause: 'intrusion', note: 'checked' });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().detail).toMatch(/lab-main.*still forced open/);
    expect((await api.call('guard', 'GET', `${V1}/alarms/${forced}`)).json().state).not.toBe('cleared');

    await sim.door('lab-main').close();
    await waitFor(() => api.controller.doors.state('lab-main')?.alarm === null, 3000, 'door closed');
    const cleared = await api.call('guard', 'POST', `${V1}/alarms/${forced}/clear`, { cause: 'intrusion', note: 'checked' });
    expect(cleared.statusCode, cleared.body).toBe(200);
    expect(cleared.json().history.map((h: { state: string }) => h.state)).toContain('cleared');
  });

  it('repeated denials at one door raise an alarm', async () => {
    const before = (await api.call('guard', 'GET', `${V1}/alarms?kind=repeated-denials`)).json().items.length;
    for (let i = 0; i < 3; i++) await sim.swipe('lab-reader', `DEADBEE${i}`);
    await waitFor(async () => (await api.call('guard', 'GET', `${V1}/alarms?kind=repeated-denials`)).json().items.length > before, 4000, 'repeated-denials');
    const [alarm] = (await api.call('guard', 'GET', `${V1}/alarms?kind=repeated-denials`)).json().items;
    expect(alarm).toMatchObject({ source: 'lab-main', state: 'active', detail: { door: 'lab-main', count: 3 } });
  });

  it('stats count by kind and cause, with median and p90 response time', async () => {
    const res = await api.call('auditor', 'GET', `${V1}/alarms/stats`);
    expect(res.statusCode, res.body).toBe(200);
    const s = res.json();
    expect(s.byKind).toMatchObject({ intrusion: 1, duress: 1, tamper: 1 });
    expect(s.byCause).toMatchObject({ 'false-alarm': 1, test: 1, intrusion: 1 });
    expect(s.responseSeconds.count).toBeGreaterThanOrEqual(3);
    expect(s.responseSeconds.p90).toBeGreaterThanOrEqual(s.responseSeconds.median);
    // The duress alarm waited through two escalations: the slowest answer.
    expect(s.responseSeconds.p90).toBeGreaterThanOrEqual(2);
    const none = (await api.call('auditor', 'GET', `${V1}/alarms/stats?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z`)).json();
    expect(none).toMatchObject({ total: 0, byKind: {}, responseSeconds: { count: 0, median: null, p90: null } });
  });
});
