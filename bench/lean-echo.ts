// The lean echo floor's helper processes: nothing of the daemon's shape, only the broker software
// and the MQTT round trip. `broker`: a minimal standalone aedes server (aedes' defaults, plain TCP on
// a loopback port, no TLS, no login, TCP no-delay on its sockets). `echo` (leanEcho's `echoIn:
// 'child'` only; by default both clients are in the benchmark's process): a plain mqtt.js client
// subscribed at QoS 1 that publishes every message it gets back on another topic at QoS 1. The
// timing client publishes and waits for the echo: bench/lib/floors.ts.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { setClientNoDelay } from '../src/devices/mqtt-driver.js';

type Args = { role: 'broker' } | { role: 'echo'; url: string; topicIn: string; topicOut: string };

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
let stop: () => Promise<void>;

if (args.role === 'broker') {
  const broker = await Aedes.createBroker();
  // No-delay on the broker's side too: otherwise Nagle may hold a forwarded message behind an
  // unacknowledged PUBACK on the same socket, which measures the kernel's delayed ACK, not the broker.
  const server = createServer({ noDelay: true }, broker.handle as (socket: unknown) => void);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  console.log(`READY ${typeof address === 'object' && address ? address.port : 0}`);
  stop = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    server.close();
  };
} else {
  const client = mqtt.connect(args.url, { protocolVersion: 4, clean: true, keepalive: 60, reconnectPeriod: 0, connectTimeout: 5000 });
  client.on('message', (_topic, payload) => client.publish(args.topicOut, payload, { qos: 1 }));
  client.on('error', (err) => console.error(`mqtt: ${err.message}`));
  client.once('connect', () => {
    const noDelay = setClientNoDelay(client);
    client.subscribe(args.topicIn, { qos: 1 }, (err) => {
      if (err) {
        console.error(`subscribe failed: ${err.message}`);
        process.exit(1);
      }
      console.log(`READY ${noDelay ? 'nodelay' : 'delay'}`);
    });
  });
  stop = async () => {
    await client.endAsync(false).catch(() => undefined);
  };
}

const end = async () => {
  await stop();
  process.exit(0);
};
process.on('SIGTERM', () => void end());
process.on('SIGINT', () => void end());
