// TCP no-delay, read from the kernel: Nagle would stall every QoS 1 round trip by 40-90 ms.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Simulator } from '../../firmware-sim/index.js';
import { ROOT, prepareData, startDaemon, type Daemon } from '../helpers/daemon.js';
import { mosquittoBinary, startAclMosquitto } from '../helpers/mosquitto.js';

const hasMosquitto = mosquittoBinary() !== undefined;

interface SocketOption {
  fd: number;
  local: number;
  remote: number;
  side: 'server' | 'client';
  nodelay: boolean;
}

function socketsOf(pid: number, port: number): SocketOption[] {
  const out = execFileSync('python3', [join(ROOT, 'tests/helpers/nodelay.py'), String(pid), String(port)], { encoding: 'utf8' });
  return JSON.parse(out) as SocketOption[];
}

describe('TCP no-delay on every MQTT socket', () => {
  let daemon: Daemon;
  let sim: Simulator;
  beforeAll(async () => {
    daemon = await startDaemon({ broker: { kind: 'embedded' } });
    sim = await Simulator.start({ site: daemon.site, url: daemon.mqttUrl, ca: daemon.ca, secrets: daemon.secrets, only: ['lab-reader', 'lab-lock'] });
  });
  afterAll(async () => {
    await sim?.stop();
    await daemon?.stop();
  });

  it("is set on the embedded broker's accepted sockets; the controller reaches its own broker without a socket", () => {
    const sockets = socketsOf(daemon.pid, daemon.mqttPort);
    const server = sockets.filter((s) => s.side === 'server');
    const client = sockets.filter((s) => s.side === 'client');
    // The two simulated devices are connected over TCP; the controller's client talks to the broker
    // in its own process through an in-memory stream, so it has no socket on the port.
    expect(server.length).toBe(2);
    expect(client.length).toBe(0);
    expect(sockets.filter((s) => !s.nodelay)).toEqual([]);
  });

  it("is set on the simulated firmware's client sockets", () => {
    const sockets = socketsOf(process.pid, daemon.mqttPort).filter((s) => s.side === 'client');
    expect(sockets.length).toBe(2);
    expect(sockets.every((s) => s.nodelay)).toBe(true);
  });

  it.skipIf(!hasMosquitto && !process.env.CI)("is set on the controller's client socket to an external broker (Mosquitto, TLS)", async () => {
    const prepared = prepareData();
    const mosquitto = await startAclMosquitto(prepared);
    const external = await startDaemon({ broker: { kind: 'external', url: mosquitto.url }, dataDir: prepared.dataDir, baseTopic: prepared.baseTopic });
    try {
      const client = socketsOf(external.pid, mosquitto.port).filter((s) => s.side === 'client');
      expect(client.length).toBe(1);
      expect(client[0]!.nodelay).toBe(true);
    } finally {
      await external.stop();
      await mosquitto.stop();
    }
  });

  it('reads a socket without no-delay as such (the check itself can fail)', async () => {
    const { connect } = await import('node:net');
    const plain = connect({ port: daemon.mqttPort, host: '127.0.0.1', noDelay: false });
    await new Promise((r) => plain.once('connect', r));
    try {
      const mine = socketsOf(process.pid, daemon.mqttPort).find((s) => s.side === 'client' && s.local === plain.localPort);
      expect(mine).toMatchObject({ nodelay: false });
    } finally {
      plain.destroy();
    }
  });
});
