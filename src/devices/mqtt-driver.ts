// The controller's side of device protocol v1 over MQTT.
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { commands, type Sent } from './commands.js';
import type { DeviceDriver, DriverListener } from './driver.js';
import type { InProcessLink } from './in-process-link.js';
import { Topics, controllerClientId, parseDeviceEvent, parseDeviceStatus, type Command, type DeviceEvent, type EventCategory } from './protocol.js';

export interface MqttConnection {
  url: string;
  username: string;
  password: string;
  ca?: string;
  /** CA certificates (PEM) to trust instead of the file `ca`. */
  caPems?: string[];
  cert?: string;
  key?: string;
  /**
   * A stream to the broker instead of a socket to `url`: the embedded broker runs in this process,
   * and a TCP round trip through the kernel to reach it costs more than the decision itself.
   * Called again for each reconnection.
   */
  inProcess?: () => Duplex;
  /** The embedded broker's own router, no client at all (see in-process-link.ts); wins over `inProcess`. */
  link?: () => InProcessLink;
}

export interface MqttDriverOptions {
  connection: MqttConnection;
  baseTopic: string;
  deviceIds: readonly string[];
  /** Called on every change of the link to the broker. */
  onLink?(connected: boolean, error?: string): void;
}

/** Sets TCP no-delay on the client's socket; Nagle stalls QoS 1 round trips by 40–90 ms. */
export function setClientNoDelay(client: MqttClient): boolean {
  const stream = client.stream as unknown as { setNoDelay?: (on: boolean) => void } | undefined;
  if (typeof stream?.setNoDelay !== 'function') return false;
  stream.setNoDelay(true);
  return true;
}

/** What the driver asks of its link: an mqtt.js client, or the embedded broker's own router. */
interface BrokerClient {
  readonly connected: boolean;
  publish(topic: string, payload: string, opts: { qos: 0 | 1; retain?: boolean }, done?: (err?: Error) => void): unknown;
  subscribe(filters: string[], opts: { qos: 0 | 1 }): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: both emitters' listeners
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: both emitters' listeners
  once(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: both emitters' listeners
  off(event: string, listener: (...args: any[]) => void): unknown;
  endAsync(force?: boolean): Promise<void>;
}

/** Input an attacker on an open broker would forge to get in: credentials, exit buttons, key switches. */
function opensSomething(event: DeviceEvent): boolean {
  if (event.type === 'credential') return true;
  return event.type === 'input' && (event.input === 'rex' || event.input === 'key' || event.input === 'dial');
}

/** The most publishes kept for the first connect (a broker down at start-up for a long while). */
export const EARLY_PUBLISHES = 1000;

export class MqttDriver implements DeviceDriver {
  readonly transport = 'mqtt' as const;
  readonly topics: Topics;
  private client?: BrokerClient;
  /**
   * What was published before the first connect (events raised while the controller starts, before
   * its client exists): sent in order once connected, the oldest dropped past `EARLY_PUBLISHES`.
   * After the first connect mqtt.js keeps what is published while it reconnects.
   */
  private early: { topic: string; payload: string; opts: { qos: 1; retain: boolean } }[] | null = [];
  /** Early publishes dropped because more than `EARLY_PUBLISHES` waited. */
  earlyDropped = 0;
  private readonly known: Set<string>;
  /**
   * Set while the broker was found open, or is not yet probed since a (re)connect: anyone may have written what arrives.
   * Device input that opens a door or changes a mode is refused; life safety (emergency inputs),
   * acknowledgements, sensors and status still count. Doors stay locked: fail secure.
   */
  untrustedBroker = false;
  /** Why, in the `device.rejected` record (set by the controller with untrustedBroker). */
  untrustedReason = 'the broker is open (security alarm): device input that opens doors is refused';

  constructor(private readonly opts: MqttDriverOptions) {
    this.topics = new Topics(opts.baseTopic);
    this.known = new Set(opts.deviceIds);
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async start(listener: DriverListener): Promise<void> {
    const { connection } = this.opts;
    const options: IClientOptions = {
      protocolVersion: 4,
      clientId: controllerClientId(this.opts.baseTopic),
      username: connection.username,
      password: connection.password,
      // A persistent session: device events published while we reconnect are kept for us. Not with
      // the broker in our own process: it lives and dies with us, so there is nothing to keep, and
      // its per-message session bookkeeping is the broker's largest cost under load.
      clean: connection.inProcess !== undefined,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      keepalive: 15,
      will: { topic: this.topics.controllerStatus, payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
      ...(connection.ca ? { ca: readFileSync(connection.ca) } : connection.caPems ? { ca: connection.caPems } : {}),
      ...(connection.cert ? { cert: readFileSync(connection.cert) } : {}),
      ...(connection.key ? { key: readFileSync(connection.key) } : {}),
    };
    const mqttClient = connection.link
      ? undefined
      : connection.inProcess
        ? new mqtt.MqttClient(connection.inProcess as () => never, { ...options, protocol: 'mqtt' })
        : mqtt.connect(connection.url, options);
    const client: BrokerClient = mqttClient ?? connection.link!();
    this.client = client;
    const local = connection.link !== undefined || connection.inProcess !== undefined;
    client.on('connect', () => {
      if (mqttClient) setClientNoDelay(mqttClient);
      // In process, QoS 0 loses nothing QoS 1 would keep (no network between us; the broker's
      // memory is ours); the devices' own legs stay QoS 1 either way.
      client.subscribe([this.topics.allDeviceEvents, this.topics.allDeviceStatus], { qos: local ? 0 : 1 });
      client.publish(this.topics.controllerStatus, JSON.stringify({ online: true, protocol: 1 }), { qos: 1, retain: true });
      const early = this.early;
      this.early = null;
      for (const m of early ?? []) client.publish(m.topic, m.payload, m.opts);
      this.opts.onLink?.(true);
    });
    client.on('close', () => this.opts.onLink?.(false));
    client.on('error', (err) => this.opts.onLink?.(false, err.message));
    client.on('message', (topic: string, payload: Buffer) => this.onMessage(listener, topic, payload));
    client.on('listener-error', (topic: string, err: Error) => listener.rejected({ topic, reason: `could not be handled: ${err.message}` }));
    // Start does not wait for the broker: the controller decides locally whether or not it is up.
  }

  /** Resolves once connected, or rejects after the timeout with the last error. */
  waitConnected(timeoutMs: number): Promise<void> {
    const client = this.client;
    if (!client) return Promise.reject(new Error('not started'));
    if (client.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let lastError = 'no answer';
      const onError = (err: Error) => (lastError = err.message);
      const timer = setTimeout(() => {
        client.off('connect', onConnect);
        client.off('error', onError);
        reject(new Error(lastError));
      }, timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        client.off('error', onError);
        resolve();
      };
      client.once('connect', onConnect);
      client.on('error', onError);
    });
  }

  private onMessage(listener: DriverListener, topic: string, payload: Buffer): void {
    // Taken first: the age of a read counts from here when the device sends no `at` of its own.
    const receivedAt = Date.now();
    const parsed = this.topics.parseDeviceTopic(topic);
    if (!parsed) {
      listener.rejected({ topic, reason: 'unexpected topic' });
      return;
    }
    const { deviceId, channel } = parsed;
    if (!this.known.has(deviceId)) {
      listener.rejected({ deviceId, topic, reason: 'unknown device' });
      return;
    }
    if (channel === 'status') {
      if (payload.length === 0) return; // a cleared retained status
      const status = parseDeviceStatus(payload);
      if (!status.ok) {
        listener.rejected({ deviceId, topic, reason: status.error });
        return;
      }
      listener.status(deviceId, status.value);
      return;
    }
    if (channel !== 'events') return;
    const event = parseDeviceEvent(payload);
    if (!event.ok) {
      listener.rejected({ deviceId, topic, reason: event.error });
      return;
    }
    if (this.untrustedBroker && opensSomething(event.value)) {
      listener.rejected({ deviceId, topic, reason: this.untrustedReason });
      return;
    }
    listener.event(deviceId, event.value, receivedAt);
  }

  deliver(deviceId: string, command: Command): Promise<Sent> {
    const client = this.client;
    // Never queue a command while the broker is away: an unlock delivered minutes late is a breach.
    if (!client?.connected) return Promise.resolve({ ok: false, error: 'broker not connected' });
    const topic = this.topics.device(deviceId, 'commands');
    if (commands[command.command].reply === 'none') {
      // At most once (a beep, an LED): nothing waits for it, nor for the broker to take it.
      client.publish(topic, JSON.stringify(command), { qos: 0 });
      return Promise.resolve({ ok: true });
    }
    return new Promise((resolve) => {
      client.publish(topic, JSON.stringify(command), { qos: 1 }, (err) => resolve(err ? { ok: false, error: err.message } : { ok: true }));
    });
  }

  /** Controller → everyone. QoS 1 publishes made while disconnected are sent after reconnecting. */
  publishEvent(category: EventCategory, event: object): void {
    this.publish(this.topics.events(category), JSON.stringify(event), false);
  }

  publishRetained(topic: string, payload: object): void {
    this.publish(topic, JSON.stringify(payload), true);
  }

  /** A payload as it is (Home Assistant's states are bare words, not JSON). */
  publishText(topic: string, payload: string, retain: boolean): void {
    this.publish(topic, payload, retain);
  }

  private publish(topic: string, payload: string, retain: boolean): void {
    if (this.early) {
      if (this.early.length >= EARLY_PUBLISHES) {
        this.early.shift();
        this.earlyDropped++;
      }
      this.early.push({ topic, payload, opts: { qos: 1, retain } });
      return;
    }
    this.client?.publish(topic, payload, { qos: 1, retain });
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      // Say goodbye ourselves: a clean disconnect does not fire the last will.
      await new Promise<void>((resolve) => client.publish(this.topics.controllerStatus, '{"online":false}', { qos: 1, retain: true }, () => resolve()));
    }
    await client.endAsync(false).catch(() => undefined);
  }
}
