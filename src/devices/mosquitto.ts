// Password and ACL files for an external Mosquitto that enforce what the embedded broker does:
// each device publishes only its own events and status and reads only its own commands.
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { Topics } from './protocol.js';
import type { Secrets } from './secrets.js';
import { HomeAssistantTopics } from './homeassistant.js';

/** Mosquitto 2's "$7$" format: PBKDF2-SHA512, 101 iterations, 12-byte salt (as mosquitto_passwd writes). */
export function mosquittoPasswordHash(password: string): string {
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, 101, 64, 'sha512');
  return `$7$101$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function mosquittoPasswordFile(secrets: Secrets, deviceIds: readonly string[], homeAssistant = false): string {
  const lines = [`${secrets.controller.username}:${mosquittoPasswordHash(secrets.controller.password)}`];
  if (secrets.observer) lines.push(`${secrets.observer.username}:${mosquittoPasswordHash(secrets.observer.password)}`);
  if (homeAssistant && secrets.homeassistant) lines.push(`${secrets.homeassistant.username}:${mosquittoPasswordHash(secrets.homeassistant.password)}`);
  for (const id of deviceIds) {
    const secret = secrets.devices[id];
    if (secret) lines.push(`${id}:${mosquittoPasswordHash(secret)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function mosquittoAclFile(
  baseTopic: string,
  controllerUsername: string,
  deviceIds: readonly string[],
  observerUsername?: string,
  homeAssistant?: { username: string; discoveryPrefix: string },
): string {
  const t = new Topics(baseTopic);
  const out = ['# Written by `tobira mqtt-acl`. Anything not listed is refused.', '', `user ${controllerUsername}`, `topic readwrite ${baseTopic}/#`];
  // The controller announces its entities to Home Assistant under the discovery prefix.
  if (homeAssistant) out.push(`topic write ${homeAssistant.discoveryPrefix}/#`);
  out.push('');
  // The off-gateway copy of the log checkpoints: read-only, and nothing else.
  if (observerUsername) out.push(`user ${observerUsername}`, `topic read ${t.checkpoints}`, '');
  if (homeAssistant) {
    // Home Assistant reads, never writes: no unlock, no disarm, no device topic. Its birth and last
    // will (on by default in its MQTT integration) are the one thing it may publish.
    const ha = new HomeAssistantTopics(baseTopic, homeAssistant.discoveryPrefix, '+');
    out.push(
      `user ${homeAssistant.username}`,
      `topic read ${homeAssistant.discoveryPrefix}/#`,
      `topic read ${ha.stateRoot}/#`,
      `topic read ${t.controllerStatus}`,
      `topic write ${ha.haStatus}`,
      '',
    );
  }
  for (const id of deviceIds) {
    out.push(`user ${id}`, `topic write ${t.device(id, 'events')}`, `topic write ${t.device(id, 'status')}`, `topic read ${t.device(id, 'commands')}`, '');
  }
  return out.join('\n');
}

/**
 * Queue limits for the generated config. Mosquitto applies them to each client; the one that matters is
 * the controller, which receives every device's events: 100,000 messages is 50 s of a 2,000 reads/s
 * burst, and 64 MiB bounds the memory a queue can take (a camera's snapshot is up to 2 MiB).
 */
export const MOSQUITTO_LIMITS = {
  maxQueuedMessages: 100_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  maxInflightMessages: 20,
} as const;

/** A listener block to include in mosquitto.conf. */
export function mosquittoConfSnippet(opts: {
  port: number;
  host: string;
  passwordFile: string;
  aclFile: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}): string {
  return [
    '# tobira: include from mosquitto.conf, or run `mosquitto -c` on this file',
    'per_listener_settings false',
    '# MQTT over TLS only: card numbers, PINs and unlock commands must not cross the network in clear.',
    `listener ${opts.port} ${opts.host}`,
    `cafile ${opts.caFile}`,
    `certfile ${opts.certFile}`,
    `keyfile ${opts.keyFile}`,
    'tls_version tlsv1.2',
    'allow_anonymous false',
    `password_file ${opts.passwordFile}`,
    `acl_file ${opts.aclFile}`,
    '# Nagle holds back QoS 1 acknowledgements by 40-90 ms: turn it off.',
    'set_tcp_nodelay true',
    '# Mosquitto queues at most 1000 QoS 1 messages per client by default and silently drops the rest:',
    "# in a burst of card reads the controller's queue overflowed and reads were lost without a record.",
    '# Queue far more for it; reads that waited too long are denied as stale and logged, not lost.',
    '# These limits apply to every client (Mosquitto has no per-client setting); devices get few commands.',
    `max_queued_messages ${MOSQUITTO_LIMITS.maxQueuedMessages}`,
    `max_queued_bytes ${MOSQUITTO_LIMITS.maxQueuedBytes}`,
    "# In flight per client (Mosquitto's default): more would only move the backlog into the socket.",
    `max_inflight_messages ${MOSQUITTO_LIMITS.maxInflightMessages}`,
    '',
  ].join('\n');
}
