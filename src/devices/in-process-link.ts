// The controller's link to the embedded broker when both run in this process: publishes go straight
// into aedes' router and device messages come straight out of it, with no MQTT client between.
//
// Over a client (even on an in-memory stream) every message to or from a device was written as an
// MQTT packet by one side and parsed back by the other, with a PUBACK each way for QoS 1: about a
// sixth of the daemon's CPU per card read went there. The devices' own legs are unchanged (their
// sockets, QoS, ACLs); only the controller's leg, which never left the process, is gone. The
// controller is trusted: aedes' authorizePublish/authorizeSubscribe are for clients.
import { EventEmitter } from 'node:events';
import type { Aedes, AedesPublishPacket } from 'aedes';

type Deliver = (packet: AedesPublishPacket, done: () => void) => void;
/** aedes' router (an MQEmitter): every packet it routes goes through `emit`. */
type RoutedEmitter = { emit: (packet: { brokerId?: string; brokerCounter?: number }, cb?: (err?: Error) => void) => unknown };

/** The part of mqtt.js' MqttClient the controller's driver uses, over aedes' own publish and subscribe. */
export class InProcessLink extends EventEmitter {
  connected = false;
  private readonly subscriptions: [string, Deliver][] = [];
  private readonly queue: { packet: Parameters<Aedes['publish']>[0]; done?: (err?: Error) => void }[] = [];
  /** The publish started and not yet routed, by the number aedes gives its packet. */
  private inFlight: { counter: number; moved: boolean } | null = null;
  private readonly unhook: () => void;

  constructor(private readonly broker: Aedes) {
    super();
    // Told of every packet aedes routes (see `next`): an own property over MQEmitter's method,
    // removed again when the link ends.
    const mq = (broker as unknown as { mq: RoutedEmitter }).mq;
    const route = mq.emit;
    mq.emit = (packet, cb) => {
      const r = route.call(mq, packet, cb);
      this.routed(packet);
      return r;
    };
    this.unhook = () => {
      delete (mq as Partial<RoutedEmitter>).emit;
    };
    // Connected at once, but announced on the next turn, as a client's CONNACK would be: the driver
    // attaches its listeners first.
    queueMicrotask(() => {
      if (this.broker.closed) return;
      this.connected = true;
      this.emit('connect');
    });
  }

  publish(topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain?: boolean }, done?: (err?: Error) => void): this {
    if (!this.connected) {
      done?.(new Error('the embedded broker is closed'));
      return this;
    }
    const packet = {
      cmd: 'publish' as const,
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      qos: opts.qos,
      retain: opts.retain ?? false,
      dup: false,
    };
    this.queue.push({ packet, done });
    if (!this.inFlight) this.next();
    return this;
  }

  /**
   * Publishes in order, each once the one before it has been routed to the subscribers. Order is
   * not only for order's sake: aedes drops a packet for a subscriber that already had a newer one
   * (its `dedupe`, by the number each packet takes when aedes creates it), and a retained publish
   * reaches the router later than a plain one made after it, so two started together can lose the
   * first (a lock's JAMMED state overtaken by the alarm after it). Waiting only for the routing, not
   * for every delivery to be written (as aedes does for a client's packets), keeps a burst's unlocks
   * from queueing behind each other's socket writes.
   */
  private next(): void {
    const item = this.queue.shift();
    if (!item) {
      this.inFlight = null;
      return;
    }
    // aedes numbers the packet synchronously inside publish(): the next number is ours.
    const mark = { counter: (this.broker as unknown as { counter: number }).counter + 1, moved: false };
    this.inFlight = mark;
    this.broker.publish(item.packet, (err?: Error) => {
      item.done?.(err ?? undefined);
      // Refused before routing (or routed without being seen): go on all the same.
      this.moveOn(mark);
    });
  }

  private routed(packet: { brokerId?: string; brokerCounter?: number }): void {
    const mark = this.inFlight;
    if (mark && packet.brokerId === this.broker.id && packet.brokerCounter === mark.counter) this.moveOn(mark);
  }

  private moveOn(mark: { moved: boolean }): void {
    if (mark.moved) return;
    mark.moved = true;
    // Not from inside the router's own call: a run of QoS 0 publishes would otherwise nest.
    queueMicrotask(() => this.next());
  }

  /** Subscribes to each filter; messages arrive as the client's `message` events (topic, payload). */
  subscribe(filters: string[], _opts?: { qos: 0 | 1 }): this {
    for (const filter of filters) {
      const deliver: Deliver = (packet, done) => {
        try {
          const payload = packet.payload;
          this.emit('message', packet.topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload as string));
        } catch (err) {
          // A listener's fault must not reach the broker's routing of other clients' messages, nor
          // read as the link going down: the driver reports it as a message it could not take.
          this.emit('listener-error', packet.topic, err as Error);
        } finally {
          done();
        }
      };
      this.subscriptions.push([filter, deliver]);
      this.broker.subscribe(filter, deliver, () => undefined);
    }
    return this;
  }

  async endAsync(_force?: boolean): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    this.unhook();
    for (const item of this.queue.splice(0)) item.done?.(new Error('the link to the embedded broker was closed'));
    for (const [filter, deliver] of this.subscriptions.splice(0)) {
      await new Promise<void>((resolve) => this.broker.unsubscribe(filter, deliver, () => resolve()));
    }
    this.emit('close');
  }
}
