// The embedded MQTT broker (aedes) for sites without their own. Every client logs in with its own
// id and secret; a device may publish only under its own topics and subscribe only to its commands.
import { Aedes, type Client, type AuthenticateError } from 'aedes';
import { createServer, type Server, type Socket } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { Topics, deviceClientId, controllerClientId } from './protocol.js';
import type { Secrets } from './secrets.js';

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
  port: number;
  baseTopic: string;
  secrets: Secrets;
  onRefused(refusal: BrokerRefusal): void;
}

export interface EmbeddedBroker {
  port: number;
  /** The sockets the broker accepted, for supervision and the no-delay check. */
  sockets(): Socket[];
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
  const broker = await Aedes.createBroker({ drainTimeout: 10_000, maxClientsIdLength: 200, maxTopicLevels: 16 });
  const sockets = new Set<Socket>();
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
        ? packet.topic.startsWith(`${opts.baseTopic}/`)
        : username !== undefined &&
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
        : username !== undefined && sub.topic === topics.device(username, 'commands');
    if (allowed) return done(null, sub);
    opts.onRefused({ what: 'subscribe', username, clientId: client.id, topic: sub.topic, address: address(client), reason: 'topic not allowed' });
    done(null, null); // SUBACK 0x80: refused, connection kept
  };

  const server: Server = createServer((socket) => {
    // Nagle would hold QoS 1 acknowledgements back by 40 ms or more.
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    port,
    sockets: () => [...sockets],
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
