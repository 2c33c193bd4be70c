// One simulated device's own MQTT connection: credentials, last will, status and heartbeat, commands.
import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';
import { type Topics, deviceClientId } from '../src/devices/protocol.js';

export const FIRMWARE = 'tobira-sim/1';
const ONLINE = Buffer.from(JSON.stringify({ online: true, firmware: FIRMWARE }));
const OFFLINE = Buffer.from(JSON.stringify({ online: false }));

export interface LinkOptions {
  url: string;
  /** The CA to trust for mqtts://; without it, only the system's public CAs are. */
  ca?: string | Buffer;
  topics: Topics;
  id: string;
  secret: string;
  heartbeatMs: number;
  log(line: string): void;
  onCommand(payload: Buffer): void;
  /** Connection state changed. */
  changed(): void;
}

/** How a guarded publish ended: PUBACK, the broker closed the connection, or nothing within the time. */
export type GuardedResult = 'acked' | 'disconnected' | 'timeout';

export class DeviceLink {
  private client?: MqttClient;
  /** Taken offline on purpose (goOffline/stop): no reconnects, publishes fail. */
  private down = true;
  silenced = false;
  lastError?: string;
  private subscribed = false;
  private heartbeat?: NodeJS.Timeout;
  private readonly pending = new Set<(err: Error) => void>();
  private readyWaiters: (() => void)[] = [];

  constructor(private readonly o: LinkOptions) {}

  get online(): boolean {
    return !this.down && !!this.client?.connected && this.subscribed;
  }
  get offlineOnPurpose(): boolean {
    return this.down;
  }

  /** Connects; resolves once connected, online status published and commands subscribed. */
  connect(timeoutMs: number): Promise<void> {
    if (this.client && !this.down) return this.ready(timeoutMs);
    const { topics, id } = this.o;
    this.down = false;
    this.subscribed = false;
    const client = mqtt.connect(this.o.url, {
      protocolVersion: 4,
      username: id,
      password: this.o.secret,
      clientId: deviceClientId(topics.base, id),
      clean: true,
      reconnectPeriod: 1000,
      reconnectOnConnackError: true,
      resubscribe: false,
      connectTimeout: 5000,
      will: { topic: topics.device(id, 'status'), payload: OFFLINE, qos: 1, retain: true },
      ...(this.o.ca ? { ca: this.o.ca } : {}),
    });
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('message', (topic, payload) => {
      if (topic === topics.device(id, 'commands')) this.o.onCommand(payload);
    });
    client.on('error', (err) => {
      if (err.message !== this.lastError) this.o.log(`${id}: ${err.message}`);
      this.lastError = err.message;
    });
    client.on('close', () => {
      if (this.subscribed && client === this.client) this.o.log(`${id}: connection closed`);
      this.subscribed = false;
      this.o.changed();
    });
    this.heartbeat = setInterval(() => {
      if (this.online && !this.silenced) this.publish(topics.device(id, 'status'), ONLINE, { qos: 1, retain: true }).catch(() => {});
    }, this.o.heartbeatMs);
    this.heartbeat.unref();
    return this.ready(timeoutMs);
  }

  private onConnect(client: MqttClient): void {
    const { topics, id } = this.o;
    // Nagle would hold back small QoS 1 packets waiting for the delayed ACK: 40+ ms per round trip.
    const stream = client.stream as { setNoDelay?: unknown };
    if (typeof stream.setNoDelay === 'function') (stream.setNoDelay as (on: boolean) => void).call(stream, true);
    const status = this.publish(topics.device(id, 'status'), ONLINE, { qos: 1, retain: true });
    const sub = client.subscribeAsync(topics.device(id, 'commands'), { qos: 1 }).then((granted) => {
      if (granted[0]?.qos === 128) throw new Error('subscription to its commands topic refused');
    });
    Promise.all([status, sub]).then(
      () => {
        if (client !== this.client || !client.connected) return;
        this.subscribed = true;
        this.lastError = undefined;
        this.o.log(`${id}: online`);
        this.o.changed();
        for (const w of this.readyWaiters.splice(0)) w();
      },
      (err: Error) => {
        this.lastError = err.message;
        this.o.log(`${id}: ${err.message}`);
      },
    );
  }

  /** Resolves when online; rejects after timeoutMs with the last connection error. */
  ready(timeoutMs: number): Promise<void> {
    if (this.online) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
        reject(new Error(`${this.o.id}: ${this.lastError ?? 'not connected'}`));
      }, timeoutMs);
      this.readyWaiters.push(waiter);
    });
  }

  /** Publishes from this connection; resolves on PUBACK (QoS 1), rejects if the device is taken offline first. */
  publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions = { qos: 1 }): Promise<void> {
    const client = this.client;
    if (!client || this.down) return Promise.reject(new Error(`${this.o.id} is offline`));
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        this.pending.delete(fail);
        reject(err);
      };
      this.pending.add(fail);
      client.publish(topic, payload, opts, (err) => {
        this.pending.delete(fail);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /**
   * QoS 1 publish that the broker may refuse by dropping the connection (MQTT 3.1.1 has no negative PUBACK).
   * Never rejects; a refused message is removed so it is not sent again after the reconnect.
   */
  publishGuarded(topic: string, payload: string | Buffer, timeoutMs = 2000): Promise<GuardedResult> {
    const client = this.client;
    if (!client || this.down) return Promise.reject(new Error(`${this.o.id} is offline`));
    return new Promise((resolve) => {
      let done = false;
      const finish = (result: GuardedResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        client.removeListener('close', onClose);
        resolve(result);
        for (const [mid, entry] of Object.entries(client.outgoing)) if (entry.cb === cb) client.removeOutgoingMessage(Number(mid));
      };
      const cb = (err?: Error) => finish(err ? 'disconnected' : 'acked');
      const onClose = () => finish('disconnected');
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      client.on('close', onClose);
      client.publish(topic, payload, { qos: 1 }, cb);
    });
  }

  /** Abrupt loss: destroys the socket without DISCONNECT so the broker publishes the last will. */
  async goOffline(): Promise<void> {
    const client = this.take();
    if (client) await client.endAsync(true).catch(() => {});
  }

  /** Clean stop: offline status, then DISCONNECT (forced if the broker does not answer in time). */
  async close(): Promise<void> {
    const client = this.client;
    if (client?.connected && !this.down) {
      await withTimeout(this.publish(this.o.topics.device(this.o.id, 'status'), OFFLINE, { qos: 1, retain: true }), 1000).catch(() => {});
    }
    this.take();
    if (!client) return;
    if (!client.connected) return void (await client.endAsync(true).catch(() => {}));
    await withTimeout(client.endAsync(false), 2000).catch(() => {
      client.stream.destroy();
    });
  }

  private take(): MqttClient | undefined {
    const client = this.client;
    this.down = true;
    this.subscribed = false;
    this.client = undefined;
    clearInterval(this.heartbeat);
    const err = new Error(`${this.o.id} went offline`);
    for (const fail of [...this.pending]) fail(err);
    this.o.changed();
    return client;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
