// Firmware simulator: every MQTT device of a site on its own connection, driven from tests or the prompt.
import { obeys, Topics, type Command, type CredentialKind, type InputName } from '../src/devices/protocol.js';
import type { Secrets } from '../src/devices/secrets.js';
import type { DeviceConfig, Door, SiteFile } from '../src/site/schema.js';
import { SimDevice, describeCommand, type EventBody, type InvalidCommand, type Observed } from './devices.js';
import { DeviceLink, type GuardedResult } from './link.js';

export interface SimulatorOptions {
  site: SiteFile;
  /** mqtts://... (the embedded broker's default) or mqtt://... */
  url: string;
  /** The CA certificate (PEM) the devices trust for mqtts:// (`tobira devices --ca`). */
  ca?: string | Buffer;
  secrets: Secrets;
  /** Simulate only these device ids (default: every site device with transport mqtt). */
  only?: string[];
  heartbeatMs?: number;
  /** How long start() waits for every device to be connected and subscribed (default 10 s). */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface DoorHandle {
  readonly id: string;
  readonly isOpen: boolean;
  /** A person pulls the door: opens only if its lock is unlocked. Resolves (after the contact PUBACK) with whether it opened. */
  open(): Promise<boolean>;
  /** Opens regardless of the lock (a forced door). */
  force(): Promise<void>;
  close(): Promise<void>;
}

export interface DeviceInfo {
  id: string;
  kind: DeviceConfig['kind'];
  online: boolean;
  silenced: boolean;
  lockState?: 'locked' | 'unlocked';
  indication?: string;
  output?: boolean;
  inputs: Record<string, boolean>;
  /** seq of the last event it published (0: none yet). */
  seq: number;
  /** Faults set with delayCommands and skewClock (0: none). */
  commandDelayMs: number;
  clockOffsetMs: number;
}

type Sim = { device: SimDevice; link: DeviceLink; commandDelayMs: number };
type CommandListener = (deviceId: string, command: Command, ok: boolean, error?: string) => void;

let lastBoot = 0;
/** Seconds since epoch, strictly growing within the process so a restarted simulator never reuses a boot. */
function nextBoot(): number {
  lastBoot = Math.max(Math.floor(Date.now() / 1000), lastBoot + 1);
  return lastBoot;
}

/** Marks a promise as handled (a caller that does not await it does not crash the process) and returns it. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export class Simulator {
  readonly boot = nextBoot();
  readonly topics: Topics;
  private readonly sims = new Map<string, Sim>();
  private readonly doorsOpen = new Map<string, boolean>();
  private readonly watchers = new Set<() => void>();
  private readonly logListeners = new Set<(line: string) => void>();
  private readonly commandListeners = new Set<CommandListener>();

  private constructor(private readonly opts: SimulatorOptions) {
    this.topics = new Topics(opts.site.mqtt.baseTopic);
    if (opts.log) this.logListeners.add(opts.log);
    for (const door of opts.site.doors) this.doorsOpen.set(door.id, false);
  }

  /** Connects every device; resolves when all are connected and subscribed, rejects naming the ones that are not. */
  static async start(opts: SimulatorOptions): Promise<Simulator> {
    const sim = new Simulator(opts);
    const devices = opts.site.devices.filter((d) => d.transport === 'mqtt' && (!opts.only || opts.only.includes(d.id)));
    const unknown = (opts.only ?? []).filter((id) => !devices.some((d) => d.id === id));
    if (unknown.length) throw new Error(`not MQTT devices of the site: ${unknown.join(', ')}`);
    const noSecret = devices.filter((d) => !opts.secrets.devices[d.id]).map((d) => d.id);
    if (noSecret.length) throw new Error(`no secret for ${noSecret.join(', ')} in the secrets file`);
    for (const config of devices) sim.add(config);
    const timeout = opts.startTimeoutMs ?? 10_000;
    const results = await Promise.allSettled([...sim.sims.values()].map((s) => s.link.connect(timeout)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    if (failed.length) {
      await sim.stop();
      throw new Error(`${failed.length} device${failed.length === 1 ? '' : 's'} did not come online:\n  ${failed.join('\n  ')}`);
    }
    return sim;
  }

  private add(config: DeviceConfig): void {
    const topics = this.topics;
    const link: DeviceLink = new DeviceLink({
      url: this.opts.url,
      ca: this.opts.ca,
      topics,
      id: config.id,
      secret: this.opts.secrets.devices[config.id]!,
      heartbeatMs: this.opts.heartbeatMs ?? 20_000,
      log: (line) => this.log(line),
      onCommand: (payload) => {
        // A backlog between the controller and the device: the command is handled that much later.
        const delay = this.sims.get(config.id)?.commandDelayMs ?? 0;
        if (delay > 0) setTimeout(() => device.onCommand(payload), delay).unref();
        else device.onCommand(payload);
      },
      changed: () => this.changed(),
    });
    const device: SimDevice = new SimDevice(config, {
      boot: this.boot,
      send: (payload) => link.publish(topics.device(config.id, 'events'), payload),
      log: (line) => this.log(line),
      changed: () => this.changed(),
      received: (command, ok, error) => {
        for (const l of this.commandListeners) l(config.id, command, ok, error);
      },
    });
    this.sims.set(config.id, { device, link, commandDelayMs: 0 });
  }

  // --- observation ---------------------------------------------------------------------------

  get deviceIds(): string[] {
    return [...this.sims.keys()];
  }
  get doors(): Door[] {
    return this.opts.site.doors;
  }
  onLog(listener: (line: string) => void): () => void {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }
  /** Called for every valid command a device receives (ok: false, with the ack's error, when it refused it: not supported, expired). */
  onCommand(listener: CommandListener): () => void {
    this.commandListeners.add(listener);
    return () => this.commandListeners.delete(listener);
  }
  lockState(id: string): 'locked' | 'unlocked' {
    const device = this.get(id).device;
    if (device.config.kind !== 'lock') throw new Error(`${id} is a ${device.config.kind}, not a lock`);
    return device.lockState;
  }
  observed(id: string): Observed[] {
    return [...this.get(id).device.observed];
  }
  invalidCommands(id: string): InvalidCommand[] {
    return [...this.get(id).device.invalid];
  }
  isOnline(id: string): boolean {
    return this.get(id).link.online;
  }
  info(id: string): DeviceInfo {
    const { device, link, commandDelayMs } = this.get(id);
    const kind = device.config.kind;
    return {
      id,
      kind,
      online: link.online,
      silenced: link.silenced,
      // A device's state shows what its commands drive (src/devices/kinds.ts).
      lockState: obeys(kind, 'unlock') ? device.lockState : undefined,
      indication: device.indication,
      output: obeys(kind, 'output') ? device.output : undefined,
      inputs: Object.fromEntries(device.inputs),
      seq: device.seq,
      commandDelayMs,
      clockOffsetMs: device.clockOffsetMs,
    };
  }

  /**
   * Waits for a command matching `match`. Only commands received after the call count, unless
   * `since` (ms since epoch) lets in earlier ones. Rejects naming `description` and what was observed.
   */
  expectCommand<C extends Command>(id: string, match: (c: Command) => c is C, timeoutMs?: number, description?: string, opts?: { since?: number }): Promise<C>;
  expectCommand(id: string, match: (c: Command) => boolean, timeoutMs?: number, description?: string, opts?: { since?: number }): Promise<Command>;
  expectCommand(
    id: string,
    match: (c: Command) => boolean,
    timeoutMs = 1000,
    description = 'a matching command',
    opts: { since?: number } = {},
  ): Promise<Command> {
    const device = this.get(id).device;
    const since = opts.since;
    const from = since === undefined ? device.observed.length : device.observed.filter((o) => o.at < since).length;
    const startedAt = Date.now();
    let found: Command | undefined;
    // Marked handled: a test that fails before awaiting its expectation should report that failure, not this one.
    return quiet(
      this.waitUntil(
        () => {
          found = device.observed.slice(from).find((o) => match(o.command))?.command;
          return found !== undefined;
        },
        timeoutMs,
        () => {
          const seen = device.observed.slice(from).map((o) => `${describeCommand(o.command)} (+${o.at - startedAt} ms)`);
          return (
            `${id}: no ${description} within ${timeoutMs} ms; observed ${seen.length ? seen.join(', ') : 'no commands'}` +
            (device.invalid.length ? `; ${device.invalid.length} invalid command(s), last: ${device.invalid.at(-1)!.error}` : '') +
            (this.get(id).link.online ? '' : ` (${id} is offline)`)
          );
        },
      ).then(() => found!),
    );
  }

  /** Resolves once `condition` holds (checked on every simulator change and every 10 ms). */
  waitFor(condition: () => boolean, timeoutMs = 1000, description = 'condition'): Promise<void> {
    return this.waitUntil(condition, timeoutMs, () => `timed out after ${timeoutMs} ms waiting for ${description}`);
  }

  private waitUntil(condition: () => boolean, timeoutMs: number, message: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let ok: boolean;
        try {
          ok = condition();
        } catch (err) {
          return done(err as Error);
        }
        if (ok) done();
      };
      const done = (err?: Error) => {
        clearTimeout(timer);
        clearInterval(poll);
        this.watchers.delete(check);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error(message())), timeoutMs);
      const poll = setInterval(check, 10);
      this.watchers.add(check);
      check();
    });
  }

  // --- people and the physical world ---------------------------------------------------------

  swipe(id: string, card: string): Promise<void> {
    return this.present(id, 'card', card);
  }
  present(id: string, kind: CredentialKind, value: string): Promise<void> {
    return quiet(this.get(id).device.credential(kind, value));
  }
  pin(id: string, digits: string): Promise<void> {
    return this.present(id, 'pin', digits);
  }
  /** Sets an input; `name` overrides the kind's own input (e.g. 'tamper' on a reader). */
  input(id: string, active: boolean, name?: InputName): Promise<void> {
    return quiet(this.get(id).device.input(active, name));
  }
  /** Someone walks through a beam or past a motion sensor: active, then inactive. */
  /**
   * Walks through a beam / past a motion sensor: the sensor active for `holdMs` (a person crossing
   * takes most of a second; the controller ignores less than a zone's minActiveMs, 400 ms by
   * default). 0 is a bare pulse, as a glitch on the line would be.
   */
  async trip(id: string, holdMs = 800): Promise<void> {
    if (holdMs <= 0) return this.pulse(id);
    const device = this.get(id).device;
    await quiet(device.input(true));
    await new Promise((resolve) => setTimeout(resolve, holdMs));
    await quiet(device.input(false));
  }
  pressRex(id: string): Promise<void> {
    return this.pulse(id);
  }
  private pulse(id: string): Promise<void> {
    const device = this.get(id).device;
    const on = device.input(true);
    return quiet(Promise.all([on, device.input(false)]).then(() => {}));
  }

  door(doorId: string): DoorHandle {
    const door = this.doors.find((d) => d.id === doorId);
    if (!door) throw new Error(`unknown door "${doorId}" (doors: ${this.doors.map((d) => d.id).join(', ') || 'none'})`);
    const set = (open: boolean): Promise<void> => {
      if (this.doorsOpen.get(doorId) === open) return Promise.resolve();
      this.doorsOpen.set(doorId, open);
      this.log(`door ${doorId} ${open ? 'opened' : 'closed'}`);
      this.changed();
      const contact = door.contact ? this.sims.get(door.contact) : undefined;
      return contact ? contact.device.input(open, 'contact') : Promise.resolve();
    };
    const sim = this;
    return {
      id: doorId,
      get isOpen() {
        return sim.doorsOpen.get(doorId) === true;
      },
      open: () => {
        if (!this.sims.has(door.lock)) return Promise.reject(new Error(`lock ${door.lock} of door ${doorId} is not simulated`));
        if (this.lockState(door.lock) !== 'unlocked') return Promise.resolve(this.doorsOpen.get(doorId) === true);
        return quiet(set(true).then(() => true));
      },
      force: () => quiet(set(true)),
      close: () => quiet(set(false)),
    };
  }

  // --- faults ---------------------------------------------------------------------------------

  /** Abrupt connection loss: the broker publishes the device's last will; no reconnect until goOnline. */
  async goOffline(id: string): Promise<void> {
    await this.get(id).link.goOffline();
    this.log(`${id}: offline (socket destroyed)`);
  }
  async goOnline(id: string, timeoutMs = 10_000): Promise<void> {
    await this.get(id).link.connect(timeoutMs);
  }
  /** Stays connected but stops heartbeats. */
  silence(id: string, on = true): void {
    this.get(id).link.silenced = on;
    this.log(`${id}: heartbeats ${on ? 'stopped' : 'resumed'}`);
  }
  /**
   * A backlog on the way to the device: every command it receives from now on is handled (obeyed or
   * refused, and acknowledged) `ms` later, in order. 0 ends it (commands already held still wait).
   */
  delayCommands(id: string, ms: number): void {
    if (!Number.isInteger(ms) || ms < 0) throw new Error(`a delay is a whole number of ms, not ${ms}`);
    this.get(id).commandDelayMs = ms;
    this.log(`${id}: commands ${ms ? `handled ${ms} ms late` : 'handled at once'}`);
  }
  /**
   * The device's clock is `ms` ahead of the real time (negative: behind), as after an NTP failure: its
   * events' `at` and its check of an unlock's `expiresAt` use it. 0 puts it right.
   */
  skewClock(id: string, ms: number): void {
    if (!Number.isInteger(ms)) throw new Error(`a clock offset is a whole number of ms, not ${ms}`);
    this.get(id).device.clockOffsetMs = ms;
    this.log(`${id}: clock ${ms === 0 ? 'right' : `${Math.abs(ms)} ms ${ms > 0 ? 'ahead' : 'behind'}`}`);
  }
  /** Publishes anything from the device's own connection (QoS 1 unless told). */
  sendRaw(id: string, topic: string, payload: string | Buffer, opts: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    return quiet(this.get(id).link.publish(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false }));
  }
  /** Re-publishes the device's last event byte for byte (same boot and seq). */
  replay(id: string): Promise<void> {
    const { device, link } = this.get(id);
    if (!device.lastEvent) return Promise.reject(new Error(`${id} has published no event to replay`));
    return quiet(link.publish(this.topics.device(id, 'events'), device.lastEvent));
  }
  /**
   * A spoof: publishes `event` on `otherId`'s events topic from `id`'s connection. boot, seq and at default to
   * the simulator's boot, the other device's next seq and its clock. Never rejects because of the broker: resolves with
   * 'acked', 'disconnected' (the broker dropped the connection) or 'timeout'.
   */
  publishAs(id: string, otherId: string, event: EventBody | Record<string, unknown>, timeoutMs = 2000): Promise<GuardedResult> {
    const { link } = this.get(id);
    const other = this.sims.get(otherId)?.device;
    const payload = other ? other.stamp(event) : Buffer.from(JSON.stringify({ boot: this.boot, seq: 1, ...event }));
    this.log(`${id}: spoofing an event as ${otherId}`);
    return quiet(link.publishGuarded(this.topics.device(otherId, 'events'), payload, timeoutMs));
  }

  /** Ends every connection cleanly (each device publishes an offline status first). */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.sims.values()].map(async ({ device, link }) => {
        device.dispose();
        await link.close();
      }),
    );
    this.watchers.clear();
  }

  // --- internals ------------------------------------------------------------------------------

  private get(id: string): Sim {
    const sim = this.sims.get(id);
    if (!sim) throw new Error(`unknown device "${id}" (simulated: ${this.deviceIds.join(', ')})`);
    return sim;
  }
  private changed(): void {
    for (const check of [...this.watchers]) check();
  }
  private log(line: string): void {
    for (const l of this.logListeners) {
      try {
        l(line);
      } catch {
        // a broken log sink must not break the simulator
      }
    }
  }
}
