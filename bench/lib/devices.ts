// Lean simulated devices: one raw mqtt.js client per device (QoS 1, TCP no-delay), as a device's
// firmware would be, with nothing else in the way of the measurement. Readers and keypads publish
// credential events; every device acknowledges every command but `indicate`, as the protocol asks. The time of each
// command's arrival is taken first thing in the message handler (process.hrtime.bigint()).
import mqtt, { type MqttClient } from 'mqtt';
import { Topics, deviceClientId } from '../../src/devices/protocol.js';
import { setClientNoDelay } from '../../src/devices/mqtt-driver.js';
import type { Secrets } from '../../src/devices/secrets.js';
import type { BenchDoor } from './site.js';

export interface Command {
  id: string;
  command: string;
  pattern?: string;
  durationMs?: number;
}

export type CommandListener = (cmd: Command, at: bigint) => void;

let lastBoot = 0;
function nextBoot(): number {
  lastBoot = Math.max(Math.floor(Date.now() / 1000), lastBoot + 1);
  return lastBoot;
}

/** The CA the simulated devices trust (the run's device-link CA): every link is MQTT over TLS. */
let trustedCa: string | undefined;
export function trustCa(ca: string): void {
  trustedCa = ca;
}

export class Device {
  private client?: MqttClient;
  private seq = 0;
  /**
   * A boot number above any this process used before (a device restarting): the daemon keeps the
   * last (boot, seq) of each device in its database, and a session reusing a database must not
   * look like a replay.
   */
  readonly boot = nextBoot();
  listener: CommandListener = () => {};
  commands = 0;
  noDelay = false;

  constructor(
    readonly id: string,
    private readonly topics: Topics,
    private readonly secret: string,
  ) {}

  connect(url: string, timeoutMs = 10_000): Promise<void> {
    const { topics, id } = this;
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      clientId: deviceClientId(topics.base, id),
      username: id,
      password: this.secret,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      will: { topic: topics.device(id, 'status'), payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
      ...(trustedCa ? { ca: trustedCa } : {}),
    });
    this.client = client;
    const commandsTopic = topics.device(id, 'commands');
    client.on('message', (topic, payload) => {
      const at = process.hrtime.bigint();
      if (topic !== commandsTopic) return;
      let cmd: Command;
      try {
        cmd = JSON.parse(payload.toString('utf8')) as Command;
      } catch {
        return;
      }
      this.commands++;
      this.listener(cmd, at);
      // Acknowledged after the timestamp and the listener: the ack is the device's, not the measurement's.
      // Indications are not acknowledged (protocol).
      if (cmd.command !== 'indicate') this.publish({ type: 'ack', command: cmd.id, ok: true });
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id}: no connection within ${timeoutMs} ms`)), timeoutMs);
      client.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${id}: ${err.message}`));
      });
      client.once('connect', () => {
        // From now on a broker going away (the daemon stopping) is not an error of the benchmark's.
        client.on('error', () => {});
        this.noDelay = setClientNoDelay(client);
        client.subscribe(commandsTopic, { qos: 1 }, (err) => {
          if (err) {
            clearTimeout(timer);
            return reject(err);
          }
          client.publish(topics.device(id, 'status'), JSON.stringify({ online: true, firmware: 'tobira-bench/1' }), { qos: 1, retain: true }, (perr) => {
            clearTimeout(timer);
            if (perr) reject(perr);
            else resolve();
          });
        });
      });
    });
  }

  /**
   * Publishes an event (QoS 1) stamped with boot, the next seq and the time (`at`, as a device with
   * NTP time sends it: the controller refuses reads too old to decide); returns the seq used.
   */
  publish(body: Record<string, unknown>): number {
    const seq = ++this.seq;
    this.client!.publish(this.topics.device(this.id, 'events'), JSON.stringify({ ...body, boot: this.boot, seq, at: Date.now() }), { qos: 1 });
    return seq;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async close(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const within = (p: Promise<unknown>, ms: number) => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);
    // Say offline first, as a device going away cleanly would (a clean disconnect sends no will).
    if (client.connected)
      await within(
        new Promise<void>((r) => client.publish(this.topics.device(this.id, 'status'), '{"online":false}', { qos: 1, retain: true }, () => r())),
        2000,
      );
    // A client whose broker went away (a daemon that crashed) may never finish a clean end: force it.
    await within(client.endAsync(false), 2000);
    if (!client.disconnected) client.end(true);
  }
}

/** One read at a door, from the reader's publish to the lock's unlock (and the reader's indication). */
export interface Read {
  door: string;
  seq: number;
  reader: string;
  sentAt: bigint;
  /** card + PIN: when the keypad saw pin-required, and when it sent the PIN. */
  promptAt?: bigint;
  pinSentAt?: bigint;
  unlockAt?: bigint;
  indication?: string;
  indicatedAt?: bigint;
  done?: () => void;
}

/** A door's devices and the reads in flight there, matched to commands first in, first out. */
export class DoorRig {
  readonly reader: Device;
  readonly keypad?: Device;
  readonly lock: Device;
  private readonly reads: Read[] = [];
  private unlockIdx = 0;
  private indicateIdx = 0;
  private promptIdx = 0;
  /** Unlocks with no read left to answer: a read answered twice. */
  extraUnlocks = 0;
  extraIndications = 0;
  lockCommands = 0;
  denied = 0;
  /** False for the echo floor: the echo peer sends the unlock only, no indication. */
  expectIndication = true;

  constructor(
    readonly door: BenchDoor,
    topics: Topics,
    secrets: Secrets,
  ) {
    const secret = (id: string) => {
      const s = secrets.devices[id];
      if (!s) throw new Error(`no secret for ${id}`);
      return s;
    };
    this.reader = new Device(door.reader, topics, secret(door.reader));
    this.lock = new Device(door.lock, topics, secret(door.lock));
    if (door.keypad) this.keypad = new Device(door.keypad, topics, secret(door.keypad));

    this.lock.listener = (cmd, at) => {
      if (cmd.command === 'lock') {
        this.lockCommands++;
        return;
      }
      if (cmd.command !== 'unlock') return;
      // The oldest read neither unlocked nor denied: denied reads get no unlock.
      const read = this.oldest(this.unlockIdx, (r) => r.unlockAt === undefined && r.indication !== 'denied');
      if (!read) {
        this.extraUnlocks++;
        return;
      }
      read.unlockAt = at;
      while (this.unlockIdx < this.reads.length && (this.reads[this.unlockIdx]!.unlockAt !== undefined || this.reads[this.unlockIdx]!.indication === 'denied'))
        this.unlockIdx++;
      this.settle(read);
    };
    this.reader.listener = (cmd, at) => {
      if (cmd.command !== 'indicate' || cmd.pattern === 'pin-required') return;
      // Answers at a door come in order, except a refusal (controller-busy): it is answered on
      // arrival, possibly before an earlier read's grant. So a denial belongs to the oldest read not
      // yet answered at all (not unlocked either); a granted indication to the oldest not indicated.
      // Taken strictly in order, a refusal overtaking a grant left the granted read "lost".
      const read =
        cmd.pattern === 'denied'
          ? this.oldest(this.indicateIdx, (r) => r.indication === undefined && r.unlockAt === undefined)
          : this.oldest(this.indicateIdx, (r) => r.indication === undefined);
      if (!read) {
        this.extraIndications++;
        return;
      }
      read.indication = cmd.pattern;
      while (this.indicateIdx < this.reads.length && this.reads[this.indicateIdx]!.indication !== undefined) this.indicateIdx++;
      read.indicatedAt = at;
      if (cmd.pattern === 'denied') this.denied++;
      this.settle(read);
    };
    if (this.keypad) {
      // The keypad answers pin-required with the PIN at once: the person is quick.
      this.keypad.listener = (cmd, at) => {
        if (cmd.command !== 'indicate' || cmd.pattern !== 'pin-required') return;
        const read = this.reads[this.promptIdx++];
        if (!read) return;
        read.promptAt = at;
        read.pinSentAt = process.hrtime.bigint();
        this.keypad!.publish({ type: 'credential', credential: { kind: 'pin', value: this.pin } });
      };
    }
  }

  pin = '0000';

  devices(): Device[] {
    return [this.reader, this.lock, ...(this.keypad ? [this.keypad] : [])];
  }

  /** Presents a card at the reader; the returned read fills in as commands arrive. */
  present(card: string, done?: () => void): Read {
    const read: Read = { door: this.door.id, reader: this.reader.id, seq: 0, sentAt: 0n, done };
    this.reads.push(read);
    read.sentAt = process.hrtime.bigint();
    read.seq = this.reader.publish({ type: 'credential', credential: { kind: 'card', value: card } });
    return read;
  }

  /** The first read from `from` on that `match` accepts. */
  private oldest(from: number, match: (r: Read) => boolean): Read | undefined {
    for (let i = from; i < this.reads.length; i++) if (match(this.reads[i]!)) return this.reads[i];
    return undefined;
  }

  private settle(read: Read): void {
    const complete = read.indication === 'denied' || (read.unlockAt !== undefined && (read.indication !== undefined || !this.expectIndication));
    if (complete && read.done) {
      const done = read.done;
      read.done = undefined;
      done();
    }
  }

  all(): readonly Read[] {
    return this.reads;
  }

  /** Forgets finished reads (between phases). */
  reset(): void {
    this.reads.length = 0;
    this.unlockIdx = this.indicateIdx = this.promptIdx = 0;
    this.extraUnlocks = this.extraIndications = this.denied = 0;
  }
}

/** Connects every door's devices (a few at a time), then waits until each lock has been driven to rest. */
export async function connectRigs(rigs: DoorRig[], url: string, opts: { waitLocked: boolean; timeoutMs?: number }): Promise<void> {
  const all = rigs.flatMap((r) => r.devices());
  for (let i = 0; i < all.length; i += 16) await Promise.all(all.slice(i, i + 16).map((d) => d.connect(url)));
  if (opts.waitLocked) {
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    while (rigs.some((r) => r.lockCommands === 0)) {
      if (Date.now() > deadline)
        throw new Error(
          `locks never driven to rest: ${rigs
            .filter((r) => r.lockCommands === 0)
            .map((r) => r.door.id)
            .join(', ')}`,
        );
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export async function closeRigs(rigs: DoorRig[]): Promise<void> {
  await Promise.all(rigs.flatMap((r) => r.devices()).map((d) => d.close()));
}

export function makeRigs(doors: BenchDoor[], baseTopic: string, secrets: Secrets, pin: string): DoorRig[] {
  const topics = new Topics(baseTopic);
  return doors.map((d) => {
    const rig = new DoorRig(d, topics, secrets);
    rig.pin = pin;
    return rig;
  });
}
