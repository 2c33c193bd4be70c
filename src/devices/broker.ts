// The embedded MQTT broker (aedes) for sites without their own. Every client logs in with its own
// id and secret; a device may publish only under its own topics and subscribe only to its commands;
// the observer may only subscribe to the log checkpoints; Home Assistant may only read its discovery
// configs and tobira's states for it (and announce itself, as it does by default). Served over TLS: card numbers and PINs
// cross the LAN. Plain MQTT only on a port asked for by name.
import { Aedes, type Client, type AuthenticateError } from 'aedes';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import DuplexPair from 'duplexpair';
import { timingSafeEqual } from 'node:crypto';
import { Topics, deviceClientId, controllerClientId, observerClientIdPrefix } from './protocol.js';
import type { Secrets } from './secrets.js';
import { HomeAssistantTopics, homeAssistantClientIdPrefix } from './homeassistant.js';
import { InProcessLink } from './in-process-link.js';

export interface BrokerRefusal {
  what: 'login' | 'publish' | 'subscribe';
  username?: string;
  clientId?: string;
  topic?: string;
  address?: string;
  reason: string;
}

export interface EmbeddedBrokerOptions {
  host: string;
  /** The MQTT-over-TLS port (8883 by default). */
  port: number;
  /** The server certificate and key (PEM) for the TLS port. */
  tls: { cert: string; key: string };
  /** A plain MQTT port as well: only when the site or the command line asks for one. */
  plainPort?: number;
  baseTopic: string;
  secrets: Secrets;
  /** Home Assistant discovery is on (site file `homeassistant.enabled`): its login is let in, read-only. */
  homeAssistant?: { discoveryPrefix: string };
  onRefused(refusal: BrokerRefusal): void;
}

export interface EmbeddedBroker {
  port: number;
  /** The plain MQTT port, when one was asked for. */
  plainPort?: number;
  /** The sockets the broker accepted, for supervision and the no-delay check. */
  sockets(): Socket[];
  /**
   * A connection from inside this process (the controller's own client): an in-memory stream pair,
   * so the controller's messages never cross the kernel. Logs in like any client.
   */
  connectInProcess(): Duplex;
  /** The controller's link straight into the router: no client, no packets (see in-process-link.ts). */
  link(): InProcessLink;
  close(): Promise<void>;
}

function sameSecret(given: Buffer | undefined, expected: string): boolean {
  if (!given) return false;
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}

export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const topics = new Topics(opts.baseTopic);
  const controller = opts.secrets.controller;
  const observer = opts.secrets.observer;
  const homeAssistant = opts.homeAssistant && opts.secrets.homeassistant;
  const ha = opts.homeAssistant && new HomeAssistantTopics(opts.baseTopic, opts.homeAssistant.discoveryPrefix, '+');
  /** What Home Assistant may subscribe to: its discovery prefix, tobira's states for it, the controller's status. */
  const homeAssistantMayRead = (filter: string) =>
    ha !== undefined && (filter.startsWith(`${ha.discoveryPrefix}/`) || filter.startsWith(`${ha.stateRoot}/`) || filter === topics.controllerStatus);
  // concurrency 0: every message is routed as it arrives. With aedes' default (100 deliveries in
  // flight, the rest queued), a backlog of queued messages nobody subscribes to is handed on
  // recursively, one stack frame set each, until "Maximum call stack size exceeded" kills the
  // daemon under overload (mqemitter, upstream mcollina/mqemitter#204). The queue bounded nothing:
  // its messages were in memory either way. Routing as they come also keeps their order.
  const broker = await Aedes.createBroker({ drainTimeout: 10_000, maxClientsIdLength: 200, maxTopicLevels: 16, concurrency: 0 });
  const sockets = new Set<Socket>();
  const inProcess = new Set<Duplex>();
  const address = (client: Client | null) => {
    const conn = client?.conn as Partial<Socket> | undefined;
    return conn?.remoteAddress ? `${conn.remoteAddress}:${conn.remotePort}` : undefined;
  };
  // Usernames of authenticated clients, by client object: aedes keeps no username of its own.
  const who = new WeakMap<Client, string>();

  broker.authenticate = (client, username, password, done) => {
    const refuse = (reason: string) => {
      opts.onRefused({ what: 'login', username, clientId: client.id, address: address(client), reason });
      const err = new Error(reason) as AuthenticateError;
      err.returnCode = 5;
      done(err, false);
    };
    if (!username) return refuse('no username');
    if (username === controller.username) {
      if (!sameSecret(password, controller.password)) return refuse('wrong secret');
      if (client.id !== controllerClientId(opts.baseTopic)) return refuse(`controller must use client id ${controllerClientId(opts.baseTopic)}`);
    } else if (observer && username === observer.username) {
      if (!sameSecret(password, observer.password)) return refuse('wrong secret');
      const prefix = observerClientIdPrefix(opts.baseTopic);
      // A name after the separator is required: `{base}:observer:` alone names no one.
      if (!client.id.startsWith(prefix) || client.id.length === prefix.length)
        return refuse(`observer must use a client id starting with ${prefix} and a name of its own`);
    } else if (opts.secrets.homeassistant && username === opts.secrets.homeassistant.username) {
      if (!homeAssistant) return refuse('Home Assistant discovery is not enabled in the site file');
      if (!sameSecret(password, homeAssistant.password)) return refuse('wrong secret');
      const prefix = homeAssistantClientIdPrefix(opts.baseTopic);
      if (!client.id.startsWith(prefix) || client.id.length === prefix.length)
        return refuse(`Home Assistant must use a client id starting with ${prefix} and a name of its own`);
    } else {
      const secret = opts.secrets.devices[username];
      if (!secret) return refuse('unknown device');
      if (!sameSecret(password, secret)) return refuse('wrong secret');
      // A fixed client id per device stops one device from taking over another's session.
      if (client.id !== deviceClientId(opts.baseTopic, username)) return refuse(`device must use client id ${deviceClientId(opts.baseTopic, username)}`);
    }
    who.set(client, username);
    done(null, true);
  };

  broker.authorizePublish = (client, packet, done) => {
    if (!client) return done(null); // a stored will of a client already gone: checked when it was set
    const username = who.get(client);
    const allowed =
      username === controller.username
        ? packet.topic.startsWith(`${opts.baseTopic}/`) || (ha !== undefined && packet.topic.startsWith(`${ha.discoveryPrefix}/`))
        : homeAssistant && username === homeAssistant.username
          ? packet.topic === ha?.haStatus
          : username !== undefined &&
            username !== observer?.username &&
            (packet.topic === topics.device(username, 'events') || packet.topic === topics.device(username, 'status'));
    if (allowed) return done(null);
    opts.onRefused({ what: 'publish', username, clientId: client.id, topic: packet.topic, address: address(client), reason: 'topic not allowed' });
    done(new Error(`publish to ${packet.topic} not allowed`));
  };

  broker.authorizeSubscribe = (client, sub, done) => {
    const username = who.get(client);
    const allowed =
      username === controller.username
        ? sub.topic.startsWith(`${opts.baseTopic}/`)
        : observer && username === observer.username
          ? sub.topic === topics.checkpoints
          : homeAssistant && username === homeAssistant.username
            ? homeAssistantMayRead(sub.topic)
            : username !== undefined && sub.topic === topics.device(username, 'commands');
    if (allowed) return done(null, sub);
    opts.onRefused({ what: 'subscribe', username, clientId: client.id, topic: sub.topic, address: address(client), reason: 'topic not allowed' });
    done(null, null); // SUBACK 0x80: refused, connection kept
  };

  const accept = (socket: Socket) => {
    // Nagle would hold QoS 1 acknowledgements back by 40 ms or more (on a TLS socket: its TCP socket's).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  };
  // A handshake that takes longer than this is dropped: an idle half-open TLS client holds a socket.
  const server: Server = createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2', handshakeTimeout: 10_000 }, accept);
  server.on('tlsClientError', (err, socket) => {
    opts.onRefused({
      what: 'login',
      address: socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : undefined,
      reason: `TLS handshake failed: ${err.message}`,
    });
  });
  const servers: Server[] = [server];
  const listen = (srv: Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, opts.host, () => {
        srv.off('error', reject);
        resolve((srv.address() as { port: number }).port);
      });
    });
  const port = await listen(server, opts.port);
  let plainPort: number | undefined;
  if (opts.plainPort !== undefined) {
    const plain = createServer(accept);
    servers.push(plain);
    try {
      plainPort = await listen(plain, opts.plainPort);
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      throw Object.assign(err as Error, { plainPort: opts.plainPort });
    }
  }
  return {
    port,
    plainPort,
    sockets: () => [...sockets],
    connectInProcess() {
      const { socket1: brokerSide, socket2: clientSide } = new DuplexPair();
      inProcess.add(clientSide as unknown as Duplex);
      // Closed by the broker (after a DISCONNECT, a takeover, a keepalive timeout): close the client's
      // end too, as a socket would. Left open, the client's clean disconnect waited forever for it.
      brokerSide.on('close', () => {
        inProcess.delete(clientSide as unknown as Duplex);
        clientSide.destroy();
      });
      broker.handle(brokerSide as unknown as Duplex);
      return clientSide as unknown as Duplex;
    },
    link() {
      return new InProcessLink(broker);
    },
    async close() {
      for (const s of sockets) s.destroy();
      for (const s of inProcess) s.destroy();
      for (const srv of servers) await new Promise<void>((resolve) => srv.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
