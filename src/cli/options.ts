// Resolving the CLI contract: a flag beats its environment twin, which beats the site file,
// which beats the embedded default.
import { resolve } from 'node:path';
import type { BrokerChoice } from '../controller/controller.js';
import type { SiteFile } from '../site/schema.js';
import { EXAMPLE_SITE } from './paths.js';

export interface CommonFlags {
  site?: string;
  data?: string;
  mqttUrl?: string;
  mqttPort?: string;
  mqttPlainPort?: string;
  mqttHost?: string;
  mqttUsername?: string;
  mqttCa?: string;
  mqttCert?: string;
  mqttKey?: string;
}

export class UsageError extends Error {}

export function sitePath(flags: CommonFlags, env = process.env): string {
  return resolve(flags.site ?? env.TOBIRA_SITE ?? EXAMPLE_SITE);
}

export function dataDir(flags: CommonFlags, env = process.env): string {
  return resolve(flags.data ?? env.TOBIRA_DATA ?? 'data');
}

export function parsePort(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${what}: "${value}" is not a port number (0-65535)`);
  return n;
}

/** --insecure-http or TOBIRA_INSECURE_HTTP=1: plain HTTP beyond loopback (a warning and a standing security alarm). */
export function insecureHttp(flag: boolean | undefined, env = process.env): boolean {
  return flag === true || env.TOBIRA_INSECURE_HTTP === '1' || env.TOBIRA_INSECURE_HTTP === 'true';
}

export function brokerChoice(flags: CommonFlags, site: SiteFile, env = process.env): BrokerChoice {
  const url = flags.mqttUrl ?? env.TOBIRA_MQTT_URL;
  const port = flags.mqttPort ?? env.TOBIRA_MQTT_PORT;
  if (flags.mqttUrl && flags.mqttPort) throw new UsageError('give --mqtt-url (an external broker) or --mqtt-port (the embedded one), not both');
  const external = url ?? (port === undefined ? site.mqtt.url : undefined);
  if (external) {
    const passwordEnv = site.mqtt.passwordEnv;
    return {
      mode: 'external',
      url: external,
      username: flags.mqttUsername ?? env.TOBIRA_MQTT_USERNAME ?? site.mqtt.username,
      password: env.TOBIRA_MQTT_PASSWORD ?? (passwordEnv ? env[passwordEnv] : undefined),
      ca: flags.mqttCa ?? env.TOBIRA_MQTT_CA ?? site.mqtt.ca,
      cert: flags.mqttCert ?? env.TOBIRA_MQTT_CERT ?? site.mqtt.cert,
      key: flags.mqttKey ?? env.TOBIRA_MQTT_KEY ?? site.mqtt.key,
    };
  }
  const plain = flags.mqttPlainPort ?? env.TOBIRA_MQTT_PLAIN_PORT;
  const plainPort = plain !== undefined ? parsePort(plain, '--mqtt-plain-port') : site.mqtt.plainPort;
  return {
    mode: 'embedded',
    host: flags.mqttHost ?? env.TOBIRA_MQTT_HOST ?? '127.0.0.1',
    port: parsePort(port ?? '8883', '--mqtt-port'),
    ...(plainPort !== undefined ? { plainPort } : {}),
  };
}

/** The URL a client on this machine uses to reach the chosen broker (TLS on the embedded one). */
export function brokerUrl(choice: BrokerChoice): string {
  return choice.mode === 'external' ? choice.url : `mqtts://${choice.host}:${choice.port}`;
}
