// Device loss: a device that goes quiet (still connected, no more heartbeats) raises device-offline
// within its supervision time (heartbeatSeconds), and its return clears it with device-online; a device
// whose connection drops (the broker publishes its last will) is offline at once and back when it
// reconnects. Against the real daemon process and the simulated devices.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { FaultTally, cardDoorsSite, enrolMany, launchDaemon, prepareSite, readEvents, sleep, type DaemonProcess, type Holder } from '../helpers/faults.js';
import { freePort, waitFor } from '../helpers/ports.js';

/** The shortest supervision time the site file allows, and the simulated devices' heartbeat. */
const SUPERVISION_S = 5;
const HEARTBEAT_MS = 1000;
/** Supervision checks once a second: offline lands between the limit and the limit plus a check, after the last heartbeat. */
const SLACK_MS = 2000;

const tally = new FaultTally('device-loss');

describe('device loss: silent or disconnected devices raise device-offline, their return clears it', () => {
  let prepared: ReturnType<typeof prepareSite>;
  let daemon: DaemonProcess;
  let sim: Simulator;
  let holders: Holder[];

  const eventsOf = (type: string, source: string) => readEvents(prepared.dataDir, type).filter((e) => e.source === source);

  beforeAll(async () => {
    prepared = prepareSite(cardDoorsSite({ doors: 2, contacts: true, heartbeatSeconds: SUPERVISION_S }));
    holders = enrolMany(prepared.dataDir, 2, { areas: ['store'] });
    daemon = await launchDaemon({
      dataDir: prepared.dataDir,
      siteFile: prepared.siteFile,
      broker: { kind: 'embedded', port: await freePort() },
      apiPort: await freePort(),
      onCrash: (what) => tally.crash(what),
    });
    sim = await Simulator.start({ site: prepared.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: prepared.secrets, heartbeatMs: HEARTBEAT_MS });
    await waitFor(async () => (await daemon.health()).devices.online === prepared.site.devices.length, 5000, 'every device online');
  });

  afterAll(async () => {
    await sim?.stop();
    if (daemon && !daemon.exited) await daemon.stop();
    tally.write();
  });

  it(`a silenced device is offline within its ${SUPERVISION_S} s supervision time and online again when it speaks; a dropped one at once`, async () => {
    const silenced = ['r1', 'l1', 'c1'];
    const dropped = ['r2', 'c2'];
    const results: string[] = [];
    await Promise.all([
      ...silenced.map((id) =>
        tally.fault(`${id} silenced`, async () => {
          const since = Date.now();
          sim.silence(id, true);
          const offline = await waitFor(() => eventsOf('device-offline', id)[0], SUPERVISION_S * 1000 + SLACK_MS + 3000, `device-offline for ${id}`);
          const after = Date.parse(offline.at as string) - since;
          expect(JSON.parse(offline.detail as string).why).toMatch(new RegExp(`silent for more than ${SUPERVISION_S} s`));
          // Not before its supervision time (less the heartbeat it last sent), not long after it.
          expect(after).toBeGreaterThanOrEqual(SUPERVISION_S * 1000 - HEARTBEAT_MS - 100);
          expect(after).toBeLessThanOrEqual(SUPERVISION_S * 1000 + SLACK_MS);
          expect((await daemon.health()).devices.offline).toContain(id);
          const back = Date.now();
          sim.silence(id, false);
          const online = await waitFor(() => eventsOf('device-online', id)[0], 5000, `device-online for ${id}`);
          const backAfter = Date.parse(online.at as string) - back;
          expect(backAfter).toBeLessThanOrEqual(HEARTBEAT_MS + 1000);
          await waitFor(async () => !(await daemon.health()).devices.offline.includes(id), 2000, `${id} cleared from /healthz`);
          results.push(`${id}: offline ${after} ms after it went quiet, online ${backAfter} ms after it spoke`);
        }),
      ),
      ...dropped.map((id) =>
        tally.fault(`${id} dropped`, async () => {
          await sleep(500);
          const since = Date.now();
          await sim.goOffline(id);
          const offline = await waitFor(() => eventsOf('device-offline', id)[0], 3000, `device-offline for ${id}`);
          const after = Date.parse(offline.at as string) - since;
          expect(after).toBeLessThan(1000);
          expect((await daemon.health()).devices.offline).toContain(id);
          const back = Date.now();
          await sim.goOnline(id);
          const online = await waitFor(() => eventsOf('device-online', id)[0], 5000, `device-online for ${id}`);
          expect((await daemon.health()).devices.offline).not.toContain(id);
          results.push(`${id}: offline ${after} ms after its connection dropped, online ${Date.parse(online.at as string) - back} ms after it reconnected`);
        }),
      ),
    ]);
    console.log(`device loss:\n  ${results.join('\n  ')}`);
    // Back to normal: every device online and the doors work.
    await waitFor(async () => (await daemon.health()).devices.online === prepared.site.devices.length, 5000, 'every device online again');
    for (const door of [1, 2]) {
      const unlocked = sim.expectCommand(`l${door}`, (c) => c.command === 'unlock', 3000, `l${door} unlock`);
      await sim.swipe(`r${door}`, holders[door - 1]!.card);
      await unlocked;
    }
    expect(daemon.exited).toBe(false);
    tally.assertAllSurvived();
    expect(tally.counts).toMatchObject({ injected: 5, survived: 5, crashes: 0 });
  }, 60_000);
});
