// Hardware-in-the-loop: Home Assistant discovery through the daemon and the simulated devices. A
// client with Home Assistant's read-only login sees the discovery configs (checked against Home
// Assistant's documented schema), the locks and contacts as they change, a lock fault as JAMMED,
// alarms as events, and every entity unavailable when the controller goes.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { HomeAssistantTopics, homeAssistantClientIdPrefix } from '../../src/devices/homeassistant.js';
import { Topics } from '../../src/devices/protocol.js';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { alarmPanelStates, checkAgainstHomeAssistant, eventPayload } from '../helpers/homeassistant-schema.js';
import { waitFor } from '../helpers/ports.js';

describe('Home Assistant discovery, through the daemon', () => {
  let daemon: Daemon;
  let sim: Simulator;
  let ha: mqtt.MqttClient;
  let t: HomeAssistantTopics;
  const messages: { topic: string; payload: string; retain: boolean }[] = [];
  const latest = (topic: string) => messages.filter((m) => m.topic === topic).at(-1)?.payload;

  beforeAll(async () => {
    daemon = await startDaemon({ broker: { kind: 'embedded' }, edit: (raw) => (raw.homeassistant = { enabled: true }) });
    t = new HomeAssistantTopics(daemon.baseTopic, 'homeassistant', 'tobira');
    sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets });
    await waitFor(() => sim.lockState('lab-lock') === 'locked' && sim.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
    ha = await mqtt.connectAsync(daemon.mqttUrl, {
      ca: daemon.ca,
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: `${homeAssistantClientIdPrefix(daemon.baseTopic)}ha`,
      username: daemon.secrets.homeassistant!.username,
      password: daemon.secrets.homeassistant!.password,
    });
    ha.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await ha.subscribeAsync(['homeassistant/#', `${t.stateRoot}/#`, new Topics(daemon.baseTopic).controllerStatus], { qos: 1 });
  });

  afterAll(async () => {
    await ha?.endAsync(true);
    await sim?.stop();
    await daemon?.stop();
  });

  it('announces every door, contact and the alarms, retained, in the documented schema', async () => {
    const configs = () => messages.filter((m) => m.topic.endsWith('/config'));
    const want = daemon.site.doors.length + daemon.site.doors.filter((d) => d.contact).length + daemon.site.zones.length + 1;
    await waitFor(() => configs().length >= want, 5000, 'discovery configs');
    expect(configs().every((m) => m.retain)).toBe(true);
    checkAgainstHomeAssistant(configs().map((m) => ({ topic: m.topic, config: JSON.parse(m.payload) as Record<string, unknown> })));
    expect(configs().map((m) => m.topic)).toContain(t.config('lock', 'lab-main_lock'));
    expect(configs().map((m) => m.topic)).toContain(t.config('alarm_control_panel', 'lab-night_zone'));
  });

  it("shows a zone's mode as an alarm panel state", async () => {
    // Armed or not depends on the hour (the zone arms outside the lab's business hours): either way, a documented state.
    const state = await waitFor(() => latest(t.zone('lab-night')), 5000, 'lab-night state');
    expect(alarmPanelStates.parse(state)).toMatch(/^(disarmed|armed_away)$/);
  });

  it('shows the lock and the contact as they are, and a forced door as an event', async () => {
    await waitFor(() => latest(t.lock('lab-main')) === 'LOCKED', 5000, 'lab-main LOCKED');
    await sim.door('lab-main').force();
    await waitFor(() => latest(t.contact('lab-main')) === 'ON', 5000, 'lab-main contact ON');
    const forced = await waitFor(
      () => messages.find((m) => m.topic === t.alarms && (JSON.parse(m.payload) as { event_type: string }).event_type === 'door-forced'),
      5000,
      'door-forced event',
    );
    expect(forced.retain).toBe(false);
    const config = JSON.parse(latest(t.config('event', 'alarms'))!) as { event_types: string[] };
    expect(eventPayload(config.event_types).safeParse(JSON.parse(forced.payload)).success).toBe(true);
    expect(JSON.parse(forced.payload)).toMatchObject({ event_type: 'door-forced', source: 'lab-main', alarm_id: expect.any(Number) });
    await sim.door('lab-main').close();
    await waitFor(() => latest(t.contact('lab-main')) === 'OFF', 5000, 'lab-main contact OFF again');
  });

  it('shows a lock that refused its command as JAMMED', async () => {
    // A lock clock far ahead refuses the unlock of a REX press as expired: a lock fault.
    sim.skewClock('vault-lock', 10_000);
    try {
      await sim.pressRex('vault-rex');
      await waitFor(() => messages.some((m) => m.topic === t.lock('vault-door') && m.payload === 'JAMMED'), 5000, 'vault-door JAMMED');
      // The controller relocks at once; once the lock confirms, it is LOCKED again.
      await waitFor(() => latest(t.lock('vault-door')) === 'LOCKED', 5000, 'vault-door LOCKED after the relock');
    } finally {
      sim.skewClock('vault-lock', 0);
    }
  });

  it("takes availability from the controller's status topic, which its last will turns offline", async () => {
    const status = new Topics(daemon.baseTopic).controllerStatus;
    expect(JSON.parse(latest(status)!)).toMatchObject({ online: true });
    const lock = JSON.parse(latest(t.config('lock', 'lab-main_lock'))!) as { availability: { topic: string }[] };
    expect(lock.availability).toEqual([expect.objectContaining({ topic: status })]);
  });
});
