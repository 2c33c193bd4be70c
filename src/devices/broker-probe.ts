// Is an external broker open? A broker without tobira's rules lets anyone read unlock commands and
// inject exit-button presses. Two probes, each as an attacker would try:
//   1. an anonymous client connects;
//   2. a device login reads commands meant for another device: the controller publishes to a probe
//      device's commands topic and we watch whether device A's subscription receives it. Mosquitto's
//      acl_file grants the SUBACK and filters delivery, so only delivery tells.
// The probe device does not exist: no real device ever sees the probe message.
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { Topics } from './protocol.js';

export interface ProbeOptions {
  url: string;
  baseTopic: string;
  /** TLS settings for mqtts:// (ca, cert, key), as the controller connects. */
  tls: Pick<IClientOptions, 'ca' | 'cert' | 'key'>;
  controller: { username: string; password: string };
  /** A device login to try reading another device's commands with; none: that probe is skipped. */
  device?: { username: string; password: string };
  /** How long to wait for the probe message (absence means the ACL held). */
  deliveryTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export interface ProbeResult {
  /** What an attacker could do; empty when the broker held. */
  open: string[];
  /** Probes that could not be made (broker unreachable, login refused): not evidence either way. */
  inconclusive: string[];
}

/** The device id whose commands topic the probe uses: no site device can have it (upper case). */
export const PROBE_DEVICE = 'TOBIRA-PROBE';

function connect(url: string, opts: IClientOptions, timeoutMs: number): Promise<{ client?: MqttClient; error?: string }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: timeoutMs, clean: true, ...opts });
    const timer = setTimeout(() => done({ error: 'no answer' }), timeoutMs + 500);
    const done = (r: { client?: MqttClient; error?: string }) => {
      clearTimeout(timer);
      client.removeAllListeners('connect');
      if (!r.client) client.end(true);
      resolve(r);
    };
    client.once('connect', () => done({ client }));
    client.once('error', (err) => done({ error: err.message }));
    client.once('close', () => done({ error: 'connection closed' }));
  });
}

const close = (c?: MqttClient) => c?.endAsync(true).catch(() => undefined);

export async function probeBroker(o: ProbeOptions): Promise<ProbeResult> {
  const connectTimeoutMs = o.connectTimeoutMs ?? 3000;
  const result: ProbeResult = { open: [], inconclusive: [] };
  const nonce = randomBytes(6).toString('hex');
  const client = (suffix: string) => `${o.baseTopic}:probe-${suffix}-${nonce}`;

  const anonymous = await connect(o.url, { ...o.tls, clientId: client('anonymous') }, connectTimeoutMs);
  if (anonymous.client) {
    result.open.push('an anonymous client (no username) can connect');
    await close(anonymous.client);
  }

  if (o.device) {
    const topic = new Topics(o.baseTopic).device(PROBE_DEVICE, 'commands');
    const reader = await connect(o.url, { ...o.tls, clientId: client('device'), username: o.device.username, password: o.device.password }, connectTimeoutMs);
    let writer: { client?: MqttClient; error?: string } = {};
    try {
      if (!reader.client) {
        result.inconclusive.push(`the device login "${o.device.username}" could not connect: ${reader.error}`);
      } else {
        const granted = await reader.client.subscribeAsync(topic, { qos: 1 }).catch(() => []);
        if (granted[0] && granted[0].qos !== 128) {
          const payload = JSON.stringify({ probe: nonce });
          const received = new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), o.deliveryTimeoutMs ?? 1000);
            reader.client!.on('message', (t, p) => {
              if (t === topic && p.toString() === payload) {
                clearTimeout(timer);
                resolve(true);
              }
            });
          });
          writer = await connect(o.url, { ...o.tls, clientId: client('controller'), username: o.controller.username, password: o.controller.password }, connectTimeoutMs);
          if (!writer.client) {
            result.inconclusive.push(`the controller login could not connect: ${writer.error}`);
          } else {
            await writer.client.publishAsync(topic, payload, { qos: 1 }).catch(() => undefined);
            if (await received) result.open.push(`the device login "${o.device.username}" receives commands meant for another device`);
          }
        }
      }
    } finally {
      await close(reader.client);
      await close(writer.client);
    }
  }
  return result;
}
