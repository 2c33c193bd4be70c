// Hardware-in-the-loop: the real daemon process, a real broker (embedded aedes, then a Mosquitto of
// the test's own configured by `tobira mqtt-acl`), both over TLS, the firmware simulator as the
// devices, SQLite as the record.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { Simulator } from '../../firmware-sim/index.js';
import { CLI, entries, events, enrol, prepareData, type RawSite, revokeGrant, startDaemon, type Daemon } from '../helpers/daemon.js';
import { mosquittoBinary, startAclMosquitto, type AclMosquitto } from '../helpers/mosquitto.js';
import { observerClientIdPrefix } from '../../src/devices/protocol.js';
import { waitFor } from '../helpers/ports.js';
import { cardAndPin } from '../helpers/flows.js';

const hasMosquitto = mosquittoBinary() !== undefined;
if (!hasMosquitto) {
  if (process.env.CI === 'true') throw new Error('mosquitto is not installed: the Mosquitto door path cannot run (CI=true: this is a failure)');
  console.warn('\n!!! mosquitto is not installed: SKIPPING the door path over Mosquitto\n');
}
const brokers: { name: string; mosquitto: boolean; run: boolean }[] = [
  { name: 'embedded aedes (TLS)', mosquitto: false, run: true },
  { name: 'Mosquitto configured by `tobira mqtt-acl` (TLS)', mosquitto: true, run: hasMosquitto },
];

for (const { name, mosquitto, run } of brokers) {
  describe.skipIf(!run)(`door path over ${name}`, () => {
    let daemon: Daemon;
    let sim: Simulator;
    let holder: Awaited<ReturnType<typeof enrol>>;
    let broker: AclMosquitto | undefined;

    beforeAll(async () => {
      // lab-siren gets the shortest heartbeat the site file allows, to test silence within seconds.
      const edit = (raw: RawSite) => (raw.devices.find((d: { id: string }) => d.id === 'lab-siren').heartbeatSeconds = 5);
      const prepared = prepareData({ edit });
      if (mosquitto) broker = await startAclMosquitto(prepared);
      daemon = await startDaemon({
        broker: broker ? { kind: 'external', url: broker.url } : { kind: 'embedded' },
        dataDir: prepared.dataDir,
        baseTopic: prepared.baseTopic,
        edit,
      });
      holder = await enrol(daemon, { name: '佐藤 花子', affiliation: '研究開発部', card: '04A1B2C3', pin: '2580', areas: ['lab'], purpose: 'battery project' });
      sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets, heartbeatMs: 2000 });
      // Every lock is driven to rest when it comes online; wait for that before testing.
      await waitFor(() => sim.lockState('lab-lock') === 'locked' && sim.observed('lab-lock').length > 0, 5000, 'lab-lock driven to rest');
    });

    afterAll(async () => {
      await sim?.stop();
      await daemon?.stop();
      await broker?.stop();
    });

    it('a granted card + PIN unlocks the lab door, the entry is committed first, and the door relocks on close', async () => {
      const before = entries(daemon).length;
      const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'lab-lock unlock');
      const indicated = sim.expectCommand('lab-reader', (c) => c.command === 'indicate' && c.pattern !== 'pin-required', 3000, 'lab-reader indication');
      await cardAndPin(sim, 'lab', '04a1b2c3', '2580'); // readers differ in case: the card still matches
      const unlock = await unlocked;
      // The record must already be in SQLite when the unlock command reaches the lock.
      const rows = entries(daemon);
      expect(rows.length).toBe(before + 1);
      const entry = rows.at(-1)!;
      expect(entry).toMatchObject({
        kind: 'decision',
        decision: 'granted',
        reason: 'granted',
        door_id: 'lab-main',
        area_id: 'lab',
        direction: 'in',
        person_id: holder.personId,
        person_name: '佐藤 花子',
        affiliation: '研究開発部',
        purpose: 'battery project',
        device_id: 'lab-keypad',
      });
      expect(JSON.parse(entry.factors as string)).toEqual(['card', 'pin']);
      expect(unlock).toMatchObject({ command: 'unlock', durationMs: 5000 });
      expect(await indicated).toMatchObject({ command: 'indicate', pattern: 'granted' });
      expect(sim.lockState('lab-lock')).toBe('unlocked');

      expect(await sim.door('lab-main').open()).toBe(true);
      const relocked = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 2000, 'lab-lock relock on close');
      await sim.door('lab-main').close();
      await relocked;
      expect(sim.lockState('lab-lock')).toBe('locked');
      expect(events(daemon, 'door-forced')).toHaveLength(0);
    });

    it("a lock's heartbeat does not cut an unlock short", async () => {
      const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'unlock');
      await cardAndPin(sim, 'lab', '04A1B2C3', '2580');
      await unlocked;
      const seen = sim.observed('lab-lock').length;
      // The simulated lock re-publishes its status every 2 s; the unlock lasts 5 s.
      await new Promise((r) => setTimeout(r, 2600));
      expect(
        sim
          .observed('lab-lock')
          .slice(seen)
          .map((o) => o.command.command),
      ).toEqual([]);
      expect(sim.lockState('lab-lock')).toBe('unlocked');
      await sim.waitFor(() => sim.lockState('lab-lock') === 'locked', 4000, 'lab-lock relocked by itself');
    });

    it('an unknown card is denied, logged with its number, and the lock is not touched', async () => {
      const since = Date.now();
      const denied = sim.expectCommand('lab-reader', (c) => c.command === 'indicate', 2000, 'denied indication');
      await sim.swipe('lab-reader', 'DEADBEEF');
      expect(await denied).toMatchObject({ pattern: 'denied' });
      const entry = entries(daemon).at(-1)!;
      expect(entry).toMatchObject({ decision: 'denied', reason: 'unknown-credential', person_id: null, door_id: 'lab-main' });
      expect(JSON.parse(entry.detail as string)).toEqual({ credential: { kind: 'card', value: 'DEADBEEF' } });
      // The daemon sends the unlock before the indication when it grants: none came.
      expect(sim.observed('lab-lock').filter((o) => o.at >= since && o.command.command === 'unlock')).toHaveLength(0);
      expect(events(daemon, 'access-denied').length).toBeGreaterThan(0);
    });

    it('a card for the lab does not open the vault: nested areas need their own grant', async () => {
      const denied = sim.expectCommand('vault-reader', (c) => c.command === 'indicate', 2000, 'vault denied');
      await sim.swipe('vault-reader', '04A1B2C3');
      expect(await denied).toMatchObject({ pattern: 'denied' });
      expect(entries(daemon).at(-1)).toMatchObject({ decision: 'denied', reason: 'no-grant', door_id: 'vault-door', person_id: holder.personId });
    });

    it('revoking the grant applies to the very next read', async () => {
      const other = await enrol(daemon, { name: 'Tanaka Ken', card: '11223344', pin: '7531', areas: ['lab'] });
      const first = sim.expectCommand('lab-reader', (c) => c.command === 'indicate' && c.pattern !== 'pin-required', 3000, 'first indication');
      await cardAndPin(sim, 'lab', '11223344', '7531');
      expect(await first).toMatchObject({ pattern: 'granted' });
      revokeGrant(daemon, other.grantIds[0]!);
      const second = sim.expectCommand('lab-reader', (c) => c.command === 'indicate', 2000, 'second indication');
      await sim.swipe('lab-reader', '11223344');
      expect(await second).toMatchObject({ pattern: 'denied' });
      expect(entries(daemon).at(-1)).toMatchObject({ decision: 'denied', reason: 'no-grant', person_id: other.personId });
      await sim.waitFor(() => sim.lockState('lab-lock') === 'locked', 7000, 'lab-lock relocked by itself');
    });

    it('malformed payloads and replays are rejected and counted; the daemon stays up and keeps deciding', async () => {
      const before = await daemon.health();
      const topic = `${daemon.baseTopic}/devices/lab-reader/events`;
      const bad = [
        'not json',
        '{"type":"credential"}',
        '{"type":"credential","credential":{"kind":"card","value":12}}',
        '{"type":"credential","credential":{"kind":"card","value":"04A1B2C3"},"extra":true}',
        '{"type":"teleport"}',
        JSON.stringify({ type: 'credential', credential: { kind: 'card', value: 'A'.repeat(20_000) } }),
        Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), // invalid UTF-8
        '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
      ];
      for (const payload of bad) await sim.sendRaw('lab-reader', topic, payload);
      const entriesBefore = entries(daemon).length;
      await sim.replay('lab-reader'); // the last real event again, same (boot, seq)
      await waitFor(
        async () => {
          const h = await daemon.health();
          return h.counters.rejected >= before.counters.rejected + bad.length && h.counters.duplicates >= before.counters.duplicates + 1 ? h : false;
        },
        3000,
        'rejections counted',
      );
      expect(entries(daemon).length).toBe(entriesBefore);
      expect(events(daemon, 'device-fault').length).toBeGreaterThan(0);
      // Still deciding.
      const ok = sim.expectCommand('lab-reader', (c) => c.command === 'indicate' && c.pattern !== 'pin-required', 3000, 'indication after garbage');
      await cardAndPin(sim, 'lab', '04A1B2C3', '2580');
      expect(await ok).toMatchObject({ pattern: 'granted' });
      expect(daemon.proc.exitCode).toBeNull();
    });

    it('a device going offline raises device-offline, and its return clears it', async () => {
      await sim.goOffline('lab-beam');
      await waitFor(() => events(daemon, 'device-offline').find((e) => e.source === 'lab-beam'), 5000, 'device-offline for lab-beam');
      expect((await daemon.health()).devices.offline).toContain('lab-beam');
      await sim.goOnline('lab-beam');
      await waitFor(() => events(daemon, 'device-online').find((e) => e.source === 'lab-beam'), 5000, 'device-online for lab-beam');
      expect((await daemon.health()).devices.offline).not.toContain('lab-beam');
    });

    it('a device silent past its heartbeat interval is reported offline, and back when it speaks', async () => {
      sim.silence('lab-siren', true);
      const offline = await waitFor(() => events(daemon, 'device-offline').find((e) => e.source === 'lab-siren'), 9000, 'lab-siren silent');
      expect(JSON.parse(offline.detail as string).why).toMatch(/silent for more than 5 s/);
      sim.silence('lab-siren', false);
      await waitFor(() => events(daemon, 'device-online').find((e) => e.source === 'lab-siren'), 5000, 'lab-siren back');
    });

    it('a door pushed open without a grant or REX is forced: alarm raised and logged', async () => {
      await sim.door('vault-door').force();
      const forced = await waitFor(() => events(daemon, 'door-forced').find((e) => e.source === 'vault-door'), 3000, 'door-forced');
      expect(forced).toMatchObject({ category: 'alarm', severity: 'alarm' });
      expect(
        entries(daemon)
          .filter((e) => e.kind === 'door' && e.reason === 'door-forced')
          .map((e) => e.door_id),
      ).toEqual(['vault-door']);
      await sim.door('vault-door').close();
      await waitFor(() => events(daemon, 'door-forced-cleared').find((e) => e.source === 'vault-door'), 3000, 'door-forced cleared');
    });

    it('a graceful shutdown leaves every lock locked', async () => {
      const unlocked = sim.expectCommand('lab-lock', (c) => c.command === 'unlock', 3000, 'unlock before shutdown');
      await cardAndPin(sim, 'lab', '04A1B2C3', '2580');
      await unlocked;
      expect(sim.lockState('lab-lock')).toBe('unlocked');
      const labLocked = sim.expectCommand('lab-lock', (c) => c.command === 'lock', 5000, 'lab-lock locked at shutdown');
      const vaultLocked = sim.expectCommand('vault-lock', (c) => c.command === 'lock', 5000, 'vault-lock locked at shutdown');
      const code = await daemon.stop('SIGTERM');
      await labLocked;
      await vaultLocked;
      expect(code).toBe(0);
      expect(sim.lockState('lab-lock')).toBe('locked');
      expect(sim.lockState('vault-lock')).toBe('locked');
      expect(daemon.output()).toContain('"msg":"stopped"');
    });

    it.skipIf(!mosquitto)(
      'its signed checkpoint lives on the broker, off the gateway, and `tobira log verify --checkpoint` checks the log against it',
      async () => {
        // The daemon has stopped: its shutdown checkpoint is the retained message now, read with the
        // read-only observer login (`tobira devices --secrets`).
        const observer = daemon.secrets.observer!;
        const client = await mqtt.connectAsync(daemon.mqttUrl, {
          ca: daemon.ca,
          protocolVersion: 4,
          clientId: `${observerClientIdPrefix(daemon.baseTopic)}-auditor`,
          username: observer.username,
          password: observer.password,
        });
        const retained = new Promise<Buffer>((resolve) => client.on('message', (_t, payload) => resolve(payload)));
        await client.subscribeAsync(`${daemon.baseTopic}/log/checkpoints`, { qos: 1 });
        const payload = await retained;
        await client.endAsync();
        const checkpoint = JSON.parse(payload.toString()) as { kind: string; count: number; headHash: string; publicKey: string };
        expect(checkpoint).toMatchObject({ kind: 'shutdown', count: entries(daemon).length, headHash: entries(daemon).at(-1)!.hash });
        expect(checkpoint.publicKey).toMatch(/BEGIN PUBLIC KEY/);
        const file = join(daemon.dataDir, 'offsite-checkpoint.json');
        writeFileSync(file, payload);
        const ok = spawnSync(process.execPath, [CLI, 'log', 'verify', '--data', daemon.dataDir, '--checkpoint', file], { encoding: 'utf8' });
        expect(ok.status).toBe(0);
        // An intruder truncates the log and deletes the local checkpoints: the copy on the broker still tells.
        const copy = mkdtempSync(join(tmpdir(), 'tobira-tampered-'));
        copyFileSync(join(daemon.dataDir, 'tobira.db'), join(copy, 'tobira.db'));
        const db = new Database(join(copy, 'tobira.db'));
        db.exec('DROP TRIGGER entry_log_no_delete; DELETE FROM entry_log WHERE seq > (SELECT max(seq) - 2 FROM entry_log); DELETE FROM checkpoints;');
        db.close();
        const broken = spawnSync(process.execPath, [CLI, 'log', 'verify', '--data', copy, '--checkpoint', file], { encoding: 'utf8' });
        expect(broken.status).toBe(1);
        expect(broken.stderr + broken.stdout).toMatch(/truncat|checkpoint/i);
      },
    );
  });
}
