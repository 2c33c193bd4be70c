// Is an external broker open? A broker without tobira's rules lets anyone read unlock commands and
// inject exit-button presses. Two probes, each as an attacker would try:
//   1. an anonymous client connects;
//   2. a device login reads commands meant for another device: the controller publishes to a probe
//      device's commands topic and we watch whether device A's subscription receives it. Mosquitto's
//      acl_file grants the SUBACK and filters delivery, so only delivery tells.
// A probe that could not be made (unreachable, timed out, dropped) is inconclusive, never "closed":
// only a broker's own refusal is evidence that it held.
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
  /** A device login to try reading another device's commands with; none (no MQTT devices): that probe is skipped. */
  device?: { username: string; password: string };
  /**
   * How long to wait for the probe message once the broker has taken it (absence means the ACL
   * held). Counted from the publish's acknowledgement, so a slow login or handshake cannot eat it.
   */
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

/** Long enough for a loaded broker to route one message; the wait starts after its PUBACK. */
export const PROBE_DELIVERY_TIMEOUT_MS = 2000;

/**
 * CONNACK codes that are a broker's refusal of the login itself: MQTT 3.1.1's 4 (bad user name or
 * password) and 5 (not authorised), MQTT 5's 0x86 and 0x87. Anything else (a timeout, a refused TCP
 * connection, a TLS failure, a dropped socket) says nothing about whether the broker is open.
 */
export function isAuthorisationRefusal(code: unknown): boolean {
  return code === 4 || code === 5 || code === 0x86 || code === 0x87;
}

export interface ProbeConnection {
  client?: MqttClient;
  error?: string;
  /** The CONNACK return (or reason) code of a refused login. */
  code?: number;
}

/**
 * Connects one probe client, without reconnecting. The client keeps a no-op error listener for its
 * whole life: a second error (a reset socket after a refused login, a malformed packet while the
 * probe waits) must not become an uncaught exception in the daemon.
 */
export function probeConnect(url: string, opts: IClientOptions, timeoutMs: number): Promise<ProbeConnection> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: timeoutMs, clean: true, ...opts });
    client.on('error', () => undefined);
    let settled = false;
    const timer = setTimeout(() => done({ error: 'no answer' }), timeoutMs + 500);
    const done = (r: ProbeConnection) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!r.client) client.end(true);
      resolve(r);
    };
    client.once('connect', () => done({ client }));
    client.once('error', (err) => {
      const code = (err as { code?: unknown }).code;
      done({ error: err.message, ...(typeof code === 'number' ? { code } : {}) });
    });
    client.once('close', () => done({ error: 'connection closed' }));
  });
}

const close = (c?: MqttClient) => c?.endAsync(true).catch(() => undefined);

export async function probeBroker(o: ProbeOptions): Promise<ProbeResult> {
  const connectTimeoutMs = o.connectTimeoutMs ?? 3000;
  const deliveryTimeoutMs = o.deliveryTimeoutMs ?? PROBE_DELIVERY_TIMEOUT_MS;
  const result: ProbeResult = { open: [], inconclusive: [] };
  const nonce = randomBytes(6).toString('hex');
  const client = (suffix: string) => `${o.baseTopic}:probe-${suffix}-${nonce}`;

  const anonymous = await probeConnect(o.url, { ...o.tls, clientId: client('anonymous') }, connectTimeoutMs);
  if (anonymous.client) {
    result.open.push('an anonymous client (no username) can connect');
    await close(anonymous.client);
  } else if (!isAuthorisationRefusal(anonymous.code)) {
    result.inconclusive.push(`the anonymous login was not refused by the broker, it failed: ${anonymous.error}`);
  }

  if (o.device) {
    const topic = new Topics(o.baseTopic).device(PROBE_DEVICE, 'commands');
    const reader = await probeConnect(
      o.url,
      { ...o.tls, clientId: client('device'), username: o.device.username, password: o.device.password },
      connectTimeoutMs,
    );
    let writer: ProbeConnection = {};
    try {
      if (!reader.client) {
        result.inconclusive.push(`the device login "${o.device.username}" could not connect: ${reader.error}`);
      } else {
        const r = reader.client;
        const subscribed = await r.subscribeAsync(topic, { qos: 1 }).then(
          (granted) => (granted[0] && granted[0].qos !== 128 ? 'granted' : 'refused'),
          // A SUBACK 0x80 (aedes) is the broker's refusal; anything else (a dropped link) is no answer.
          (err: { packet?: { granted?: unknown[] }; message: string }) =>
            err.packet?.granted?.some((code) => typeof code === 'number' && (code & 0x80) !== 0) ? 'refused' : `failed: ${err.message}`,
        );
        if (subscribed.startsWith('failed')) {
          result.inconclusive.push(`the device login "${o.device.username}" could not subscribe: ${subscribed}`);
        } else if (subscribed === 'granted') {
          const payload = JSON.stringify({ probe: nonce });
          // Listening before the publish: delivery can beat the PUBACK.
          let delivered = false;
          let lost = false;
          let wake = () => {};
          r.on('message', (t, p) => {
            if (t === topic && p.toString() === payload) {
              delivered = true;
              wake();
            }
          });
          r.once('close', () => {
            lost = true;
            wake();
          });
          writer = await probeConnect(
            o.url,
            { ...o.tls, clientId: client('controller'), username: o.controller.username, password: o.controller.password },
            connectTimeoutMs,
          );
          if (!writer.client) {
            result.inconclusive.push(`the controller login could not connect: ${writer.error}`);
          } else {
            const published = await writer.client.publishAsync(topic, payload, { qos: 1 }).then(
              () => undefined,
              (err: Error) => err.message,
            );
            if (published !== undefined) {
              result.inconclusive.push(`the controller login could not publish the probe message: ${published}`);
            } else {
              // The wait starts only now, once the broker has the message.
              if (!delivered && !lost) {
                await new Promise<void>((resolve) => {
                  const timer = setTimeout(resolve, deliveryTimeoutMs);
                  wake = () => {
                    clearTimeout(timer);
                    resolve();
                  };
                });
              }
              if (delivered) result.open.push(`the device login "${o.device.username}" receives commands meant for another device`);
              else if (lost) result.inconclusive.push(`the device login "${o.device.username}" lost its connection while waiting for the probe message`);
            }
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
