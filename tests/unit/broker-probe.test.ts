// The open-broker probe (src/devices/broker-probe.ts) against real brokers: aedes of the test's own,
// open (reached directly or through a proxy that slows the controller login's handshake) or with
// rules, and brokers that cannot be probed at all.
import { Aedes, type AuthenticateError } from 'aedes';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isAuthorisationRefusal, probeBroker, probeConnect } from '../../src/devices/broker-probe.js';
import { freePort } from '../helpers/ports.js';

const BASE = 'probe';
const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const listen = (srv: Server) => new Promise<number>((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port)));
const closeServer = (srv: Server, sockets: Set<Socket>) => {
  for (const s of sockets) s.destroy();
  return new Promise<void>((resolve) => srv.close(() => resolve()));
};

/** An aedes with no rules at all (anyone connects, anyone reads anything), unless `rules` adds some. */
async function openBroker(rules?: (broker: Aedes) => void): Promise<number> {
  const broker = await Aedes.createBroker();
  rules?.(broker);
  const sockets = new Set<Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    broker.handle(s);
  });
  const port = await listen(srv);
  cleanups.push(async () => {
    await closeServer(srv, sockets);
    await new Promise<void>((r) => broker.close(() => r()));
  });
  return port;
}

/**
 * A TCP proxy to `port` that holds back, by `delayMs`, the first bytes of a connection whose MQTT
 * CONNECT names `slowClient` in its client id: a slow handshake for one login only.
 */
async function slowProxy(port: number, slowClient: string, delayMs: number): Promise<number> {
  const sockets = new Set<Socket>();
  const srv = createServer((inbound) => {
    const upstream = tcpConnect(port, '127.0.0.1');
    for (const s of [inbound, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.once('data', (first) => {
      const forward = () => {
        upstream.write(first);
        inbound.pipe(upstream);
      };
      if (first.includes(slowClient)) setTimeout(forward, delayMs);
      else forward();
    });
    upstream.pipe(inbound);
    inbound.on('close', () => upstream.destroy());
    upstream.on('close', () => inbound.destroy());
  });
  const proxyPort = await listen(srv);
  cleanups.push(() => closeServer(srv, sockets));
  return proxyPort;
}

const logins = {
  controller: { username: 'tobira-controller', password: 'controller-secret-0123' },
  device: { username: 'lab-reader', password: 'device-secret-0123456' },
};

describe('the open-broker probe', () => {
  it("an open broker: the anonymous login and a device login reading another device's commands are both found", async () => {
    const port = await openBroker();
    const found = await probeBroker({ url: `mqtt://127.0.0.1:${port}`, baseTopic: BASE, tls: {}, ...logins });
    expect(found.inconclusive).toEqual([]);
    expect(found.open).toEqual(['an anonymous client (no username) can connect', 'the device login "lab-reader" receives commands meant for another device']);
  });

  it('the wait for delivery starts after the publish: a controller login whose handshake takes 1.5 s still finds the reader open', async () => {
    // Before the fix the 1 s delivery timer ran from before the controller login connected, so this
    // broker was called closed although a device login reads other devices' commands.
    const port = await slowProxy(await openBroker(), `${BASE}:probe-controller-`, 1500);
    const found = await probeBroker({ url: `mqtt://127.0.0.1:${port}`, baseTopic: BASE, tls: {}, ...logins });
    expect(found.open).toContain('the device login "lab-reader" receives commands meant for another device');
  });

  for (const code of [4, 5]) {
    it(`a broker with rules: anonymous refused (CONNACK ${code}) and another device's commands refused (SUBACK 0x80): closed, nothing inconclusive`, async () => {
      const port = await openBroker((broker) => {
        broker.authenticate = (_client, username, _password, done) => {
          if (username) return done(null, true);
          done(Object.assign(new Error('no username'), { returnCode: code }) as AuthenticateError, false);
        };
        broker.authorizeSubscribe = (_client, _sub, done) => done(null, null);
      });
      const found = await probeBroker({ url: `mqtt://127.0.0.1:${port}`, baseTopic: BASE, tls: {}, ...logins });
      expect(found).toEqual({ open: [], inconclusive: [] });
    });
  }

  it('a broker that cannot be reached, or drops the anonymous client without a CONNACK, is inconclusive, never closed', async () => {
    // Before the fix both counted as closed: only a refusal of the login is evidence.
    const nobody = await freePort();
    const unreachable = await probeBroker({
      url: `mqtt://127.0.0.1:${nobody}`,
      baseTopic: BASE,
      tls: {},
      controller: logins.controller,
      connectTimeoutMs: 1000,
    });
    expect(unreachable.open).toEqual([]);
    expect(unreachable.inconclusive).toEqual([expect.stringMatching(/^the anonymous login was not refused by the broker, it failed: .*ECONNREFUSED/)]);

    const sockets = new Set<Socket>();
    const dropper = createServer((s) => s.destroy());
    const port = await listen(dropper);
    cleanups.push(() => closeServer(dropper, sockets));
    const dropped = await probeBroker({ url: `mqtt://127.0.0.1:${port}`, baseTopic: BASE, tls: {}, controller: logins.controller, connectTimeoutMs: 1000 });
    expect(dropped.open).toEqual([]);
    expect(dropped.inconclusive).toHaveLength(1);
  });

  it('only CONNACK 4/5 (MQTT 5: 0x86/0x87) count as the broker refusing a login', () => {
    for (const code of [4, 5, 0x86, 0x87]) expect(isAuthorisationRefusal(code), String(code)).toBe(true);
    for (const code of [undefined, 1, 2, 3, 0x80, 0x88, 'ECONNREFUSED']) expect(isAuthorisationRefusal(code), String(code)).toBe(false);
  });

  it('a probe client keeps an error listener for its whole life: a second error is not an uncaught exception', async () => {
    // The probe listened with once('error') only: the first error after the connection was taken,
    // a second had no listener of the probe's. mqtt.js 5's mqtt.connect() adds a no-op listener of its
    // own, so this holds with or without the probe's; the probe keeps its own rather than rely on that.
    const port = await openBroker();
    const { client } = await probeConnect(`mqtt://127.0.0.1:${port}`, { clientId: `${BASE}:probe-errors` }, 2000);
    expect(client).toBeDefined();
    cleanups.push(() => client!.endAsync(true));
    expect(() => {
      client!.emit('error', new Error('first'));
      client!.emit('error', new Error('second'));
    }).not.toThrow();
  });
});
