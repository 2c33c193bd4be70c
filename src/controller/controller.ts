// The controller: owns the lifecycle. Opens the store, brings up the broker link and the drivers,
// then starts its features (extensions) in order and stops them in reverse.
import { relative } from 'node:path';
import type { Logger } from 'pino';
import { startEmbeddedBroker, type EmbeddedBroker } from '../devices/broker.js';
import { MqttDriver, type MqttConnection } from '../devices/mqtt-driver.js';
import type { PinLayer } from '../devices/gpio.js';
import { commandTimeouts } from '../devices/commands.js';
import { devicesByTransport, transportDrivers, unavailableTransports } from '../devices/transports.js';
import { ensureSecrets, type Secrets } from '../devices/secrets.js';
import { ensureDeviceTls, readCa } from '../devices/tls.js';
import { probeBroker, type ProbeResult } from '../devices/broker-probe.js';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { SiteFile } from '../site/schema.js';
import { openStore, type Store } from '../store/index.js';
import type { WalCheckpointer } from '../store/wal-checkpointer.js';
import { looseModes, type LooseMode } from '../store/file-modes.js';
import { Alarms } from './alarms.js';
import { Bus } from './bus.js';
import type { Context, Counters, Extension } from './context.js';
import { DeviceHub } from './device-hub.js';
import { Doors } from './doors.js';
import { Access } from './door-access.js';
import { Zones } from './zones.js';
import { Safes } from './safes.js';
import { Areas } from './areas.js';
import { AlarmInputs } from './alarm-inputs.js';
import { AlarmDesk } from './alarm-desk.js';
import { Patrols } from './patrols.js';
import { KeyLoans } from './key-loans.js';
import { DialLocks } from './dial-locks.js';
import { StartupError } from './errors.js';
import { LogKeeper } from './log-keeper.js';
import { Topics } from '../devices/protocol.js';
import { Faults, listenerFaultReporter } from './faults.js';
import { Publisher } from './publisher.js';
import { HomeAssistant } from './homeassistant.js';
import { SiteIndex } from './site-index.js';
import { StorageFaults } from './storage-faults.js';
import { Supervision } from './supervision.js';
import { Evidence } from './evidence.js';
import { Syslog } from './syslog.js';
import { Webhooks } from './webhooks.js';
import { ScheduledBackups } from './backups.js';
import { DeviceClockWatch, GatewayClock, type ClockJump, type ClockSources } from './clock.js';
import { ClockSync, type ClockSyncStatus, type CommandRunner } from './clock-sync.js';

export type BrokerChoice =
  /** port: MQTT over TLS; plainPort: plain MQTT as well, only when asked for. */
  | { mode: 'embedded'; host: string; port: number; plainPort?: number }
  | { mode: 'external'; url: string; username?: string; password?: string; ca?: string; cert?: string; key?: string };

export interface ControllerOptions {
  site: SiteFile;
  dataDir: string;
  log: Logger;
  broker: BrokerChoice;
  /** The GPIO pin layer; onoff's sysfs pins unless a test hands in a fake. */
  gpioPins?: PinLayer;
  /** The site file's path: scheduled backups (site `backups:`) include the file itself. */
  sitePath?: string;
  /** The clocks and the synchronisation check (src/controller/clock.ts); tests move or replace them. */
  clock?: ClockSources & { checkEveryMs?: number; syncCommands?: CommandRunner; syncFlagExists?: () => boolean; syncPollMs?: number };
}

export { StartupError };

/** How long /healthz reports a failed write. */
const STORAGE_FAULT_HEALTH_MS = 60_000;

export class BrokerPortInUseError extends StartupError {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`the embedded MQTT broker cannot listen on ${host}:${port}: the port is already in use (another MQTT broker?)`);
  }
}

/** Refused at start: the external broker lets anyone in (exit 2 with how to fix it). */
export class OpenBrokerError extends StartupError {}

/** A standing security condition: reported by /healthz for as long as it holds. */
export interface SecurityCondition {
  type: 'mqtt-plain-listener' | 'open-broker' | 'api-plain-http';
  since: string;
  detail: Record<string, unknown>;
  /** What the alarm names as its source; the broker's URL by default. */
  source?: string;
}

export interface Health {
  ok: boolean;
  /**
   * `ok` is false while a write failed in the last minute (`storageFaults` grew: a decision, a door
   * event or an API change could not be recorded) or the WAL checkpointer reports an error: a
   * `SELECT 1` alone answers on a full disk.
   */
  database: { ok: boolean; entries: number; error?: string; lastStorageFaultAt?: string; walCheckpoint?: { runs: number; error: string | null } };
  /**
   * deviceInput: whether device input that opens doors (cards, exit buttons, key switches) is acted
   * on. With an external broker it is refused from every (re)connect until a probe with nothing
   * inconclusive finds the broker closed, and while it is found open; emergency inputs act throughout.
   */
  broker: { mode: 'embedded' | 'external'; url: string; connected: boolean; deviceInput: DeviceInputTrust };
  devices: { total: number; online: number; offline: string[]; unknown: string[] };
  /** The data directory's modes: anything group or others can read is listed (names only). */
  files: { ok: boolean; loose: LooseMode[] };
  counters: Counters;
  /** Standing security conditions (plain MQTT served, an open broker allowed or found). */
  security: SecurityCondition[];
  /**
   * The gateway's clock: synchronised (chrony or systemd), its offset, the jumps seen since the start,
   * how often ctx.now was held at the last logged record's time, devices whose stamps drifted past
   * the bound. Reported, not counted against `ok`: a gateway without NTP still opens doors.
   */
  clock: {
    sync: ClockSyncStatus;
    jumps: number;
    lastJump: ClockJump | null;
    heldAtLastRecord: number;
    entryLogClamped: number;
    driftingDevices: string[];
  };
}

/** Whether device input that opens doors is acted on (see Health.broker). */
export type DeviceInputTrust = 'acted-on' | 'refused-until-probed' | 'refused-open-broker';

/** Retries of an inconclusive open-broker probe: 2 s, doubling, at most a minute apart. */
const PROBE_RETRY_FIRST_MS = 2000;
const PROBE_RETRY_MAX_MS = 60_000;

export class Controller {
  private readonly extensions: Extension[];
  readonly access: Access;
  readonly areas: Areas;
  readonly evidence: Evidence;
  readonly zones: Zones;
  readonly safes: Safes;
  readonly alarmDesk: AlarmDesk;
  readonly patrols: Patrols;
  /** Key loans past their due-back time: the overdue event (sweep() for tests). */
  readonly keyLoans: KeyLoans;
  readonly dialLocks: DialLocks;
  /** Alarms and events that leave the box: their delivery figures are in /metrics. */
  readonly webhooks: Webhooks;
  readonly syslog: Syslog;
  /** The controller's clock (ctx.now), the synchronisation check, the devices' clocks. */
  readonly clockSync: ClockSync;
  readonly deviceClocks: DeviceClockWatch;
  private brokerConnected = false;
  private stopping?: Promise<void>;
  private readonly walCheckpointer: WalCheckpointer;
  private readonly security = new Map<SecurityCondition['type'], SecurityCondition>();
  /** The broker probe for an external broker, run at every reconnect; undefined with the embedded one. */
  probe?: () => Promise<ProbeResult>;
  /** Bumped at every link change and at stop: a probe's verdict counts only for the connection it probed. */
  private probeGeneration = 0;
  private probeRetry?: NodeJS.Timeout;
  /** The start probed the broker conclusively: the first connection needs no second probe. */
  skipNextProbe = false;
  private deviceInput: DeviceInputTrust = 'acted-on';
  private fileModesCache?: { at: number; files: Health['files'] };

  private constructor(
    readonly ctx: Context,
    readonly doors: Doors,
    readonly supervision: Supervision,
    private readonly mqtt: MqttDriver,
    private readonly broker: EmbeddedBroker | undefined,
    readonly brokerUrl: string,
    private readonly brokerMode: 'embedded' | 'external',
    faults: Faults,
    readonly dataDir: string,
    sitePath: string | undefined,
    readonly clock: GatewayClock,
    clockOptions: ControllerOptions['clock'] = {},
  ) {
    this.access = new Access(ctx, doors);
    doors.cancelsPendingWith((doorId) => this.access.cancelPending(doorId));
    this.areas = new Areas(ctx, doors, this.access);
    this.evidence = new Evidence(ctx, dataDir);
    this.zones = new Zones(ctx);
    this.safes = new Safes(ctx, (personId, pin) => this.access.verifyPin(personId, pin));
    this.alarmDesk = new AlarmDesk(ctx, doors);
    // An intrusion cannot be cleared while a sensor of its zone is still active.
    this.alarmDesk.registerCause('intrusion', ({ source }) => (source ? this.zones.causeOf(source) : null));
    // Started in this order, stopped in reverse: the log keeper stops last but one, so its shutdown
    // checkpoint comes after every door has locked.
    const logKeeper = new LogKeeper(ctx, {
      dataDir,
      checkpointTopic: new Topics(ctx.site.mqtt.baseTopic).checkpoints,
      publishRetained: (t, p) => mqtt.publishRetained(t, p),
    });
    // First to start, last to stop: the WAL is checkpointed off the event loop while doors decide.
    const walCheckpointer = ctx.store.walCheckpointer();
    this.walCheckpointer = walCheckpointer;
    const checkpoints: Extension = { name: 'wal-checkpointer', start: () => walCheckpointer.start(), stop: () => walCheckpointer.stop() };
    this.patrols = new Patrols(ctx);
    this.keyLoans = new KeyLoans(ctx);
    this.dialLocks = new DialLocks(ctx);
    this.webhooks = new Webhooks(ctx, dataDir);
    this.syslog = new Syslog(ctx);
    this.clockSync = new ClockSync({
      log: ctx.log,
      alarms: ctx.alarms,
      run: clockOptions.syncCommands,
      flagExists: clockOptions.syncFlagExists,
      pollMs: clockOptions.syncPollMs,
    });
    const clockSync = this.clockSync;
    this.deviceClocks = new DeviceClockWatch({ bus: ctx.bus, alarms: ctx.alarms, boundSeconds: () => this.ctx.site.policy.clockDriftSeconds });
    this.extensions = [
      clock,
      { name: 'clock-sync', start: () => clockSync.start(), stop: () => clockSync.stop() },
      checkpoints,
      new Publisher(ctx, mqtt),
      this.webhooks,
      this.syslog,
      new HomeAssistant(ctx, mqtt, doors, { mode: (zoneId) => this.zones.get(zoneId)?.mode }),
      logKeeper,
      faults,
      this.deviceClocks,
      this.alarmDesk,
      supervision,
      new AlarmInputs(ctx),
      this.patrols,
      this.keyLoans,
      this.dialLocks,
      this.access,
      this.areas,
      this.zones,
      this.safes,
      doors,
      this.evidence,
      new ScheduledBackups(ctx, dataDir, sitePath),
    ];
    ctx.bus.on('broker.link', ({ connected }) => (this.brokerConnected = connected), 'controller');
  }

  static async start(opts: ControllerOptions): Promise<Controller> {
    const { site, log } = opts;
    const byTransport = devicesByTransport(site.devices);
    const mqttDevices = byTransport.mqtt;
    const unavailable = unavailableTransports(byTransport, { gpioPins: opts.gpioPins });
    if (unavailable) throw new StartupError(unavailable);

    const store: Store = openStore(opts.dataDir);
    const bus = new Bus();
    // ctx.now: the wall clock, never before the last logged record (jumps are alarms: clock.ts).
    const clock = new GatewayClock(() => store.entryLog.lastAtMs, opts.clock, opts.clock?.checkEveryMs);
    const now = () => clock.now();
    const counters: Counters = { granted: 0, denied: 0, rejected: 0, duplicates: 0, storageFaults: 0, listenerFaults: 0 };
    const alarms = new Alarms(store.events, bus, log, now);
    bus.onListenerFault = listenerFaultReporter({ log, alarms, counters });
    clock.report = { log, alarms };
    const storageFaults = new StorageFaults({ log, alarms, counters, now });
    const index = new SiteIndex(site);
    // Personal data, card numbers and keys: warned at every start while anyone else can read them.
    const loose = looseModes(opts.dataDir);
    if (loose.length) {
      log.warn({ loose }, `the data directory is readable by other users: chmod 700 ${opts.dataDir} and chmod 600 the files listed`);
      alarms.raise({ category: 'security', type: 'file-modes-loose', severity: 'warning', source: opts.dataDir, detail: { loose } });
    }
    const { secrets, added } = ensureSecrets(
      opts.dataDir,
      site.devices.map((d) => d.id),
    );
    if (added.length) log.info({ devices: added }, 'created secrets for new devices (see `tobira devices --secrets`)');

    // Broker refusals can arrive as soon as the broker listens; faults exists before it does.
    let faults: Faults | undefined;
    let broker: EmbeddedBroker | undefined;
    let url: string;
    let connection: MqttConnection;
    const standing: SecurityCondition[] = [];
    let probe: (() => Promise<ProbeResult>) | undefined;
    let probedAtStart = false;
    let refuseAtStart = false;
    if (opts.broker.mode === 'embedded') {
      const { host, port, plainPort } = opts.broker;
      const tls = ensureDeviceTls(opts.dataDir, host);
      try {
        broker = await startEmbeddedBroker({
          host,
          port,
          plainPort,
          tls,
          baseTopic: site.mqtt.baseTopic,
          secrets,
          homeAssistant: site.homeassistant.enabled ? { discoveryPrefix: site.homeassistant.discoveryPrefix } : undefined,
          onRefused: (r) => faults?.brokerRefused(r),
        });
      } catch (err) {
        store.close();
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          const busy = (err as { plainPort?: number }).plainPort ?? port;
          throw new BrokerPortInUseError(host, busy);
        }
        throw err;
      }
      url = `mqtts://${host}:${broker.port}`;
      const embedded = broker;
      connection = { url, username: secrets.controller.username, password: secrets.controller.password, link: () => embedded.link() };
      log.info({ url, ca: tls.caFile }, 'embedded MQTT broker listening (TLS; devices trust the CA printed by `tobira devices --ca`)');
      if (broker.plainPort !== undefined) {
        const plainUrl = `mqtt://${host}:${broker.plainPort}`;
        log.warn({ url: plainUrl }, 'plain MQTT is served as asked: card numbers, PINs and unlock commands cross the network in clear on this port');
        standing.push({ type: 'mqtt-plain-listener', since: new Date().toISOString(), detail: { url: plainUrl } });
      }
    } else {
      url = opts.broker.url;
      const tlsUrl = /^(mqtts|tls):/.test(url);
      if (!tlsUrl)
        log.warn(
          { url },
          'the link to the MQTT broker is not encrypted: card numbers, PINs and unlock commands cross the network in clear; use mqtts:// (tobira mqtt-acl writes a TLS listener)',
        );
      // Without a CA of its own, an mqtts:// broker is trusted if a public CA or this daemon's CA issued it.
      const ourCa = tlsUrl && !opts.broker.ca ? readCa(opts.dataDir) : undefined;
      connection = {
        url,
        username: opts.broker.username ?? secrets.controller.username,
        password: opts.broker.password ?? secrets.controller.password,
        ca: opts.broker.ca,
        cert: opts.broker.cert,
        key: opts.broker.key,
        ...(ourCa ? { caPems: [...rootCertificates, ourCa] } : {}),
      };
      const c = connection;
      const tlsOptions = {
        ...(c.ca ? { ca: readFileSync(c.ca) } : c.caPems ? { ca: c.caPems } : {}),
        ...(c.cert ? { cert: readFileSync(c.cert) } : {}),
        ...(c.key ? { key: readFileSync(c.key) } : {}),
      };
      probe = () =>
        probeBroker({
          url: c.url,
          baseTopic: site.mqtt.baseTopic,
          tls: tlsOptions,
          controller: { username: c.username, password: c.password },
          device: aDeviceLogin(
            secrets,
            mqttDevices.map((d) => d.id),
          ),
        });
      const found = await probe();
      // Only a probe with nothing inconclusive is a verdict; until one says closed, device input
      // that opens doors is refused (an open broker the site allows is a verdict too).
      probedAtStart = found.inconclusive.length === 0;
      refuseAtStart = !probedAtStart && !site.mqtt.allowOpenBroker;
      if (found.open.length > 0) {
        if (!site.mqtt.allowOpenBroker) {
          store.close();
          throw new OpenBrokerError(
            `the MQTT broker at ${url} is open: ${found.open.join('; ')}. Anyone on the network could read unlock commands and inject exit-button presses.\n` +
              '  Configure it with the files `tobira mqtt-acl --out DIR` writes (password file, ACL and a TLS listener),\n' +
              '  use the embedded broker (leave out --mqtt-url), or, knowingly, set mqtt.allowOpenBroker: true in the site file.',
          );
        }
        log.warn({ url, open: found.open }, 'the MQTT broker is open; allowed by the site file (mqtt.allowOpenBroker)');
        standing.push({ type: 'open-broker', since: new Date().toISOString(), detail: { url, open: found.open, allowed: true } });
      } else if (found.inconclusive.length > 0) {
        log.warn(
          { url, inconclusive: found.inconclusive },
          refuseAtStart
            ? 'could not finish the open-broker probe: device input that opens doors is refused until a probe finds the broker closed; it runs again when the controller connects'
            : 'could not finish the open-broker probe; it runs again when the controller connects',
        );
      }
    }

    const mqtt = new MqttDriver({
      connection,
      baseTopic: site.mqtt.baseTopic,
      deviceIds: mqttDevices.map((d) => d.id),
      onLink: (connected, error) => bus.emit('broker.link', { connected, error }),
    });
    const drivers = transportDrivers(byTransport, {
      mqtt,
      gpioPins: opts.gpioPins,
      chipBase: site.gpio.chipBase,
      lockFailModes: new Map(site.doors.map((d) => [d.lock, d.failMode] as const)),
      cameraLogins: secrets.cameras ?? {},
    });
    const devices = new DeviceHub(drivers, bus, store.sequences, counters, commandTimeouts(site.mqtt));
    const ctx: Context = { site, index, log, store, bus, devices, alarms, counters, storageFaults, now };
    faults = new Faults(ctx);
    const controller = new Controller(
      ctx,
      new Doors(ctx),
      new Supervision(ctx),
      mqtt,
      broker,
      url,
      opts.broker.mode,
      faults,
      opts.dataDir,
      opts.sitePath,
      clock,
      opts.clock,
    );
    controller.probe = probe;
    controller.skipNextProbe = probedAtStart;
    if (refuseAtStart) controller.setDeviceInput('refused-until-probed');
    for (const condition of standing) controller.raiseSecurity(condition);
    await controller.run();
    return controller;
  }

  private async run(): Promise<void> {
    const { log, bus } = this.ctx;
    let linkWasUp = false;
    bus.on(
      'broker.link',
      ({ connected, error }) => {
        if (connected && !linkWasUp) {
          log.info({ url: this.brokerUrl }, 'connected to MQTT broker');
          this.ctx.alarms.raise({ category: 'system', type: 'broker-connected', severity: 'info', source: this.brokerUrl });
        } else if (!connected && linkWasUp) {
          this.ctx.alarms.raise({ category: 'system', type: 'broker-lost', severity: 'alarm', source: this.brokerUrl, detail: error ? { error } : null });
        }
        // Every (re)connect to an external broker: is it still closed? It may have been restarted
        // with another configuration while we were away. Distrusted as soon as the link drops: a
        // resumed session's queued events can arrive before the client reports the connection.
        if (this.probe) {
          if (!connected) {
            this.skipNextProbe = false;
            this.probeGeneration++;
            clearTimeout(this.probeRetry);
            if (this.deviceInput === 'acted-on' && !this.ctx.site.mqtt.allowOpenBroker) this.setDeviceInput('refused-until-probed');
            // An error that did not drop the link (the client is still connected): probe it as it is.
            if (this.mqtt.connected) void this.probeUntilClosed(this.probeGeneration);
          } else if (!linkWasUp) {
            if (this.skipNextProbe) this.skipNextProbe = false;
            else void this.probeUntilClosed(++this.probeGeneration);
          }
        }
        linkWasUp = connected;
      },
      'controller',
    );
    // Features subscribe to the bus before any device message can arrive.
    for (const ext of this.extensions) {
      if (ext.name === 'doors') continue;
      await ext.start();
    }
    await this.ctx.devices.start();
    await this.mqtt
      .waitConnected(5000)
      .catch((err: Error) => log.warn({ err: err.message, url: this.brokerUrl }, 'MQTT broker not reachable yet; deciding locally and retrying'));
    await this.doors.start();
    log.info({ doors: this.ctx.site.doors.length, devices: this.ctx.site.devices.length }, 'controller ready');
  }

  /** Records a standing security condition and raises its `security` alarm. */
  raiseSecurity(condition: SecurityCondition): void {
    this.security.set(condition.type, condition);
    this.ctx.alarms.raise({
      category: 'security',
      type: condition.type,
      severity: 'alarm',
      source: condition.source ?? this.brokerUrl,
      detail: condition.detail,
    });
  }

  /** Whether device input that opens doors is acted on; the MQTT driver refuses it otherwise. */
  setDeviceInput(trust: DeviceInputTrust): void {
    this.deviceInput = trust;
    this.mqtt.untrustedBroker = trust !== 'acted-on';
    this.mqtt.untrustedReason =
      trust === 'refused-open-broker'
        ? 'the broker is open (security alarm): device input that opens doors is refused'
        : 'the broker is not yet probed since the controller (re)connected: device input that opens doors is refused until the probe finds it closed';
  }

  /**
   * Probes the broker of this connection until the verdict is in: found closed (nothing
   * inconclusive), device input is acted on; found open, it stays refused (alarm) until a later
   * connection's probe finds it closed; inconclusive, it stays refused and the probe is retried.
   */
  private async probeUntilClosed(generation: number, attempt = 0): Promise<void> {
    if (!this.probe || generation !== this.probeGeneration) return;
    const { log, alarms, site } = this.ctx;
    let found: ProbeResult;
    try {
      found = await this.probe();
    } catch (err) {
      found = { open: [], inconclusive: [`the probe failed: ${(err as Error).message}`] };
    }
    // The link changed (or the controller stops) meanwhile: this verdict is about another connection.
    if (generation !== this.probeGeneration) return;
    const known = this.security.get('open-broker');
    const allowed = site.mqtt.allowOpenBroker;
    if (found.open.length > 0) {
      // Fail secure without failing people: the controller stays connected so locks relock and
      // emergency inputs still release fail-safe doors, but it no longer opens a door on device
      // input (cards, exit buttons, key switches) that anyone could have written.
      if (!allowed) this.setDeviceInput('refused-open-broker');
      if (!known) {
        log.error(
          { url: this.brokerUrl, open: found.open, allowed },
          allowed
            ? 'the MQTT broker is open (allowed by the site file)'
            : 'the MQTT broker is open: device input that opens doors is refused until it is closed; fix it with `tobira mqtt-acl`',
        );
        this.raiseSecurity({
          type: 'open-broker',
          since: new Date().toISOString(),
          detail: { url: this.brokerUrl, open: found.open, allowed, refusingDeviceInput: !allowed },
        });
      }
    } else if (found.inconclusive.length > 0) {
      const retryMs = Math.min(PROBE_RETRY_FIRST_MS * 2 ** attempt, PROBE_RETRY_MAX_MS);
      log.warn(
        { url: this.brokerUrl, inconclusive: found.inconclusive, retryMs, deviceInput: this.deviceInput },
        this.deviceInput === 'acted-on'
          ? 'could not finish the open-broker probe; retrying'
          : 'could not finish the open-broker probe: device input that opens doors stays refused; retrying',
      );
      this.probeRetry = setTimeout(() => void this.probeUntilClosed(generation, attempt + 1), retryMs);
      this.probeRetry.unref();
    } else {
      const was = this.deviceInput;
      this.setDeviceInput('acted-on');
      if (known) {
        this.security.delete('open-broker');
        log.info({ url: this.brokerUrl }, 'the MQTT broker is closed again: device input is acted on');
        alarms.raise({ category: 'security', type: 'open-broker-cleared', severity: 'info', source: this.brokerUrl });
      } else if (was !== 'acted-on') {
        log.info({ url: this.brokerUrl }, 'the open-broker probe found the MQTT broker closed: device input is acted on');
      }
    }
  }

  /** The write-ahead log as the checkpointer last saw it: its size, its peak, the truncations. */
  walStats(): { walBytes: number; walPeakBytes: number; truncations: number; truncationsRefused: number } {
    const { walBytes, walPeakBytes, truncations, truncationsRefused } = this.walCheckpointer.stats;
    return { walBytes, walPeakBytes, truncations, truncationsRefused };
  }

  health(): Health {
    let database: Health['database'];
    try {
      this.ctx.store.ping();
      database = { ok: true, entries: this.ctx.store.entryLog.count };
    } catch (err) {
      database = { ok: false, entries: this.ctx.store.entryLog.count, error: (err as Error).message };
    }
    // Every write that failed went through the reporter, with its time.
    const lastFaultAt = this.ctx.storageFaults.lastAt;
    if (lastFaultAt !== null) {
      database.lastStorageFaultAt = new Date(lastFaultAt).toISOString();
      if (Date.now() - lastFaultAt < STORAGE_FAULT_HEALTH_MS) {
        database.ok = false;
        database.error ??= 'a write failed in the last minute (storage-fault): the disk may be full or read-only';
      }
    }
    const cp = this.walCheckpointer.stats;
    database.walCheckpoint = { runs: cp.runs, error: cp.error };
    if (cp.error) {
      database.ok = false;
      database.error ??= `WAL checkpoint failed: ${cp.error}`;
    }
    const offline: string[] = [];
    const unknown: string[] = [];
    let online = 0;
    for (const [id, h] of this.supervision.devices()) {
      if (h.online === true) online++;
      else if (h.online === false) offline.push(id);
      else unknown.push(id);
    }
    // An open broker found after a reconnect, or one not yet probed since, refuses device input: not healthy. Conditions the site
    // allowed (a plain port, an allowed open broker) are listed but do not fail the check.
    const refusing = [...this.security.values()].some((c) => c.detail.allowed === false) || this.deviceInput !== 'acted-on';
    return {
      ok: database.ok && this.brokerConnected && !refusing,
      database,
      broker: { mode: this.brokerMode, url: this.brokerUrl, connected: this.brokerConnected, deviceInput: this.deviceInput },
      devices: { total: this.supervision.devices().size, online, offline, unknown },
      files: this.fileModes(),
      counters: { ...this.ctx.counters },
      security: [...this.security.values()],
      clock: this.clockHealth(),
    };
  }

  /** The clock's part of /healthz (and /metrics). */
  clockHealth(): Health['clock'] {
    return {
      sync: this.clockSync.status,
      jumps: this.clock.jumps,
      lastJump: this.clock.lastJump,
      heldAtLastRecord: this.clock.clamped,
      entryLogClamped: this.ctx.store.entryLog.clampedAts,
      driftingDevices: [...this.deviceClocks.drifted.keys()],
    };
  }

  /**
   * Site file reload (SIGHUP): raises configuration-entered, applies policy changes (schedules, area
   * rules, policy and log settings) live, and configuration-left. Changes to devices, doors, area
   * nesting or the broker need a restart and are refused, with the reason, keeping the running site.
   */
  reload(next: SiteFile | { problems: string[] }): { applied: boolean; reason?: string } {
    const { alarms } = this.ctx;
    alarms.raise({ category: 'system', type: 'configuration-entered', severity: 'info', source: 'site-file' });
    const refuse = (reason: string) => {
      alarms.raise({ category: 'system', type: 'configuration-rejected', severity: 'warning', source: 'site-file', detail: { reason } });
      alarms.raise({ category: 'system', type: 'configuration-left', severity: 'info', source: 'site-file', detail: { applied: false } });
      return { applied: false, reason };
    };
    if ('problems' in next) return refuse(`invalid site file: ${next.problems.join('; ')}`);
    // A door's dial lock is bookkeeping (the code's rotation), not topology: it reloads like the safes.
    const doors = (site: SiteFile) => site.doors.map(({ dialLock: _, ...door }) => door);
    const topology = (site: SiteFile) =>
      JSON.stringify([site.devices, doors(site), site.mqtt, site.gpio, site.site.timezone, site.areas.map((a) => [a.id, a.parent ?? null])]);
    if (topology(next) !== topology(this.ctx.site)) return refuse('devices, doors, areas, time zone or broker changed: restart the controller to apply');
    const changed = (['schedules', 'policy', 'log', 'power', 'areas', 'patrols', 'safes', 'doors'] as const).filter(
      (k) => JSON.stringify(next[k]) !== JSON.stringify(this.ctx.site[k]),
    );
    this.ctx.site = next;
    this.ctx.index = new SiteIndex(next);
    // Every extension hears of it; one that fails is logged and named, and the others still reload.
    const failed: string[] = [];
    for (const ext of this.extensions) {
      try {
        ext.reload?.(next);
      } catch (err) {
        failed.push(ext.name);
        this.ctx.log.error({ err, extension: ext.name }, `${ext.name} could not apply the reloaded site file`);
      }
    }
    alarms.raise({
      category: 'system',
      type: 'configuration-left',
      severity: 'info',
      source: 'site-file',
      detail: { applied: true, changed, ...(failed.length ? { failed } : {}) },
    });
    return { applied: true };
  }

  /** Checked at most every 10 s: /healthz is polled, and a directory listing is not free. */
  private fileModes(): Health['files'] {
    const now = Date.now();
    if (!this.fileModesCache || now - this.fileModesCache.at > 10_000) {
      const loose = looseModes(this.dataDir).map((l) => ({ ...l, path: relative(this.dataDir, l.path) || '.' }));
      this.fileModesCache = { at: now, files: { ok: loose.length === 0, loose } };
    }
    return this.fileModesCache.files;
  }

  /** The embedded broker's accepted sockets (for diagnostics); empty with an external broker. */
  brokerSockets() {
    return this.broker?.sockets() ?? [];
  }

  /** Locks every lock, then closes the link, the broker and the database. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const { log } = this.ctx;
      log.info('stopping: locking every door');
      // No probe verdict may act on a closed store.
      this.probeGeneration++;
      clearTimeout(this.probeRetry);
      await this.doors.stop();
      for (const ext of [...this.extensions].reverse()) if (ext.name !== 'doors') await ext.stop();
      await withTimeout(this.ctx.devices.stop(), 3000);
      await withTimeout(this.broker?.close() ?? Promise.resolve(), 3000);
      this.ctx.store.sequences.persistAll();
      await this.ctx.store.reads.close();
      this.ctx.store.close();
      log.info('stopped');
    })();
    return this.stopping;
  }
}

/** A device login for the probe: the first MQTT device with a secret. */
function aDeviceLogin(secrets: Secrets, ids: readonly string[]): { username: string; password: string } | undefined {
  const id = ids.find((d) => secrets.devices[d]);
  return id ? { username: id, password: secrets.devices[id]! } : undefined;
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  return Promise.race([p, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
}
