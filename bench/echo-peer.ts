// The echo floor's far end, as its own process (as the daemon is): an MQTT client with the
// controller's login and options that answers each reader's credential event with an unlock
// command to that door's lock, QoS 1 both ways, TCP no-delay. With `embedded`, this process also
// runs the embedded broker (aedes, the daemon's own code and settings), exactly as the daemon does:
// broker and controller client in one process, joined by an in-memory stream. No parsing beyond
// the JSON, no database.
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../src/devices/broker.js';
import { Topics, controllerClientId } from '../src/devices/protocol.js';
import { setClientNoDelay } from '../src/devices/mqtt-driver.js';
import { loadSecrets } from '../src/devices/secrets.js';
import { ensureDeviceTls } from '../src/devices/tls.js';

interface Args {
  mode: 'embedded' | 'external';
  url?: string;
  port?: number;
  /** Embedded: serve plain MQTT as well, for the plain echo (what TLS adds). */
  plainPort?: number;
  baseTopic: string;
  dataDir: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const secrets = loadSecrets(args.dataDir);
const topics = new Topics(args.baseTopic);
// The daemon's own TLS settings: the same certificate, the same listener code.
const tls = ensureDeviceTls(args.dataDir);
const broker =
  args.mode === 'embedded'
    ? await startEmbeddedBroker({
        host: '127.0.0.1',
        port: args.port ?? 0,
        plainPort: args.plainPort,
        tls,
        baseTopic: args.baseTopic,
        secrets,
        onRefused: (r) => console.error('refused', JSON.stringify(r)),
      })
    : undefined;
const url = broker ? `mqtts://127.0.0.1:${broker.port}` : args.url!;
const plainUrl = broker?.plainPort !== undefined ? `mqtt://127.0.0.1:${broker.plainPort}` : '';

// As the controller does with its embedded broker: the client reaches it through an in-memory
// stream, subscribed at QoS 0 (the devices' legs stay QoS 1). With Mosquitto: TCP, QoS 1.
const options = {
  protocolVersion: 4 as const,
  clientId: controllerClientId(args.baseTopic),
  username: secrets.controller.username,
  password: secrets.controller.password,
  // The controller keeps a persistent session; a clean one here leaves nothing behind on a shared
  // Mosquitto for the daemon that takes this client id next. Delivery is the same either way.
  clean: true,
  reconnectPeriod: 1000,
  connectTimeout: 5000,
  keepalive: 15,
};
const client = broker
  ? new mqtt.MqttClient((() => broker.connectInProcess()) as () => never, { ...options, protocol: 'mqtt' })
  : mqtt.connect(url, { ...options, ca: tls.ca });
let n = 0;
client.on('message', (topic, payload) => {
  const parsed = topics.parseDeviceTopic(topic);
  if (parsed?.channel !== 'events') return;
  const event = JSON.parse(payload.toString('utf8')) as { type?: string };
  if (event.type !== 'credential') return;
  const lock = parsed.deviceId.replace(/-(reader|keypad)$/, '-lock');
  client.publish(topics.device(lock, 'commands'), JSON.stringify({ id: `echo-${++n}`, command: 'unlock', durationMs: 5000 }), { qos: 1 });
});
client.on('connect', () => {
  setClientNoDelay(client);
  client.subscribe([topics.allDeviceEvents], { qos: broker ? 0 : 1 }, (err) => {
    if (err) {
      console.error(`subscribe failed: ${err.message}`);
      process.exit(1);
    }
    console.log(`READY ${url} ${plainUrl}`.trim());
  });
});
client.on('error', (err) => console.error(`mqtt: ${err.message}`));

const stop = async () => {
  await client.endAsync(false).catch(() => undefined);
  await broker?.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
