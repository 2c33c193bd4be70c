// The device links' CA and server certificate (src/devices/tls.ts), made with node:crypto keys and
// checked with node:crypto's X509Certificate: what a device's TLS stack would check.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDeviceTls, TLS_FILES } from '../../src/devices/tls.js';

describe('device-link certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-tls-unit-'));
  const first = ensureDeviceTls(dir);

  it('a CA (basic constraints CA) and a server certificate it issued, for loopback and localhost; keys 0600, PEM with plain newlines', () => {
    const ca = new X509Certificate(first.ca);
    const server = new X509Certificate(first.cert);
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkHost('attacker.example')).toBeUndefined();
    expect(server.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
    for (const f of [TLS_FILES.caKey, TLS_FILES.serverKey]) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(first.ca).not.toContain('\r');
  });

  it('is made once: a second start reads the same CA and certificate', () => {
    const again = ensureDeviceTls(dir);
    expect(again.ca).toBe(first.ca);
    expect(again.cert).toBe(first.cert);
  });

  it('a new listen address gets a new server certificate naming it, from the same CA (devices keep trusting it)', () => {
    const moved = ensureDeviceTls(dir, '192.0.2.7');
    expect(moved.ca).toBe(first.ca);
    expect(moved.cert).not.toBe(first.cert);
    const server = new X509Certificate(moved.cert);
    expect(server.checkIP('192.0.2.7')).toBe('192.0.2.7');
    expect(server.checkIssued(new X509Certificate(first.ca))).toBe(true);
    expect(readFileSync(join(dir, TLS_FILES.serverCert), 'utf8')).toBe(moved.cert);
  });
});
