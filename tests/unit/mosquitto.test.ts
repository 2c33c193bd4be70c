import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MOSQUITTO_LIMITS, mosquittoAclFile, mosquittoConfSnippet } from '../../src/devices/mosquitto.js';
import { ROOT } from '../helpers/daemon.js';

const conf = mosquittoConfSnippet({
  port: 8883,
  host: '127.0.0.1',
  passwordFile: '/etc/mosquitto/tobira/passwd',
  aclFile: '/etc/mosquitto/tobira/acl',
  caFile: '/etc/mosquitto/tobira/ca.pem',
  certFile: '/etc/mosquitto/tobira/server.pem',
  keyFile: '/etc/mosquitto/tobira/server.key',
});

describe('Mosquitto files of `tobira mqtt-acl`', () => {
  it('the listener block serves TLS only, turns Nagle off and raises the per-client queue, each with a comment saying why', () => {
    const lines = conf.split('\n');
    const settings = lines.filter((l) => l && !l.startsWith('#'));
    expect(settings).toEqual([
      'per_listener_settings false',
      'listener 8883 127.0.0.1',
      'cafile /etc/mosquitto/tobira/ca.pem',
      'certfile /etc/mosquitto/tobira/server.pem',
      'keyfile /etc/mosquitto/tobira/server.key',
      'tls_version tlsv1.2',
      'allow_anonymous false',
      'password_file /etc/mosquitto/tobira/passwd',
      'acl_file /etc/mosquitto/tobira/acl',
      'set_tcp_nodelay true',
      'max_queued_messages 100000',
      'max_queued_bytes 67108864',
      'max_inflight_messages 20',
    ]);
    expect(MOSQUITTO_LIMITS.maxQueuedMessages).toBeGreaterThan(1000);
    // Each setting beyond the listener's own is explained by the comment just above it.
    for (const setting of ['listener', 'set_tcp_nodelay', 'max_queued_messages', 'max_inflight_messages']) {
      const at = lines.findIndex((l) => l.startsWith(setting));
      expect(lines[at - 1], setting).toMatch(/^# /);
    }
    expect(conf).toMatch(/1000 QoS 1 messages per client by default/);
  });

  it('docs/device-protocol.md shows the block exactly as it is written', () => {
    const doc = readFileSync(join(ROOT, 'docs/device-protocol.md'), 'utf8');
    const block = /```\n( {2}# tobira: include from mosquitto\.conf[\s\S]*?\n) {2}```/.exec(doc)?.[1];
    expect(block?.replace(/^ {2}/gm, '')).toBe(conf);
  });

  it('the ACL lets the observer only read the log checkpoints', () => {
    const acl = mosquittoAclFile('tobira', 'tobira-controller', ['lab-reader'], 'tobira-observer');
    expect(acl).toContain('user tobira-observer\ntopic read tobira/log/checkpoints\n\n');
  });

  it('the ACL lets each device write only its own events and status and read only its commands', () => {
    expect(mosquittoAclFile('tobira', 'tobira-controller', ['lab-reader'])).toContain(
      'user lab-reader\ntopic write tobira/devices/lab-reader/events\ntopic write tobira/devices/lab-reader/status\ntopic read tobira/devices/lab-reader/commands\n',
    );
  });
});
