// The device links' TLS: a CA and a server certificate the daemon makes in its data directory at
// first start. Devices trust the CA (`tobira devices --ca`); the embedded broker (or a Mosquitto
// configured by `tobira mqtt-acl`) serves the server certificate. Everything in the data directory
// is 0600: the certificates are public, but nothing there is for anyone but the daemon (`tobira
// mqtt-acl` writes readable copies of them for Mosquitto).
import { constants, generateKeyPairSync, privateEncrypt, randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export const TLS_FILES = {
  caCert: 'mqtt-ca.pem',
  caKey: 'mqtt-ca.key',
  serverCert: 'mqtt-server.pem',
  serverKey: 'mqtt-server.key',
} as const;

/** The API's HTTPS certificate, issued by the same CA (a browser or client trusts that CA once for both). */
export const API_TLS_FILES = { cert: 'api-server.pem', key: 'api-server.key' } as const;

export interface DeviceTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
  cert: string;
  key: string;
}

const YEAR_MS = 365 * 86_400_000;

function writePrivate(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
  chmodSync(file, mode);
}

function newKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function serial(): string {
  // Positive (top bit clear) and unique enough: RFC 5280 asks for up to 20 octets, unpredictable is better.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

/**
 * The names a device may use to reach this machine's broker: loopback, the host name, the listen
 * address; listening on every address (0.0.0.0, ::), every address of this machine's interfaces.
 */
export function serverNames(listenHost?: string): { dns: string[]; ips: string[] } {
  const dns = new Set(['localhost', hostname()]);
  const ips = new Set(['127.0.0.1', '::1']);
  if (listenHost === '0.0.0.0' || listenHost === '::') {
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) if (!a.address.includes('%')) ips.add(a.address);
    }
  } else if (listenHost) {
    (isIP(listenHost) ? ips : dns).add(listenHost);
  }
  return { dns: [...dns].filter(Boolean), ips: [...ips] };
}

/** DER prefix of a SHA-256 DigestInfo (RFC 8017, 9.2): what PKCS #1 v1.5 signs, followed by the hash. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A signer for forge's certificate.sign that signs with node:crypto: forge's own RSA takes a quarter
 * of a second per certificate in JavaScript, node's a millisecond.
 */
function nativeSigner(keyPem: string): forge.pki.PrivateKey {
  return {
    sign: (md: { digest(): { getBytes(): string } }) =>
      privateEncrypt(
        { key: keyPem, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO, Buffer.from(md.digest().getBytes(), 'binary')]),
      ).toString('binary'),
  } as forge.pki.PrivateKey;
}

function issue(o: {
  subject: string;
  publicPem: string;
  issuer?: { cert: forge.pki.Certificate; keyPem: string };
  selfKeyPem?: string;
  years: number;
  ca: boolean;
  names?: { dns: string[]; ips: string[] };
}): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(o.publicPem);
  cert.serialNumber = serial();
  // An hour back: a device whose clock is slightly behind still accepts a certificate made just now.
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + o.years * YEAR_MS);
  const subject = [
    { name: 'commonName', value: o.subject },
    { name: 'organizationName', value: 'tobira' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(o.issuer ? o.issuer.cert.subject.attributes : subject);
  const extensions: object[] = o.ca
    ? [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        { name: 'subjectKeyIdentifier' },
      ]
    : [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [...(o.names?.dns ?? []).map((value) => ({ type: 2, value })), ...(o.names?.ips ?? []).map((ip) => ({ type: 7, ip }))],
        },
        { name: 'subjectKeyIdentifier' },
      ];
  if (o.issuer) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: o.issuer.cert.generateSubjectKeyIdentifier().getBytes() });
  cert.setExtensions(extensions);
  cert.sign(nativeSigner(o.issuer ? o.issuer.keyPem : o.selfKeyPem!), forge.md.sha256.create());
  // forge ends PEM lines with CRLF; devices and `tobira devices --ca` get plain newlines.
  return forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n');
}

export function caPath(dataDir: string): string {
  return join(dataDir, TLS_FILES.caCert);
}

/** The CA certificate (PEM) devices must trust, or undefined before the daemon first made it. */
export function readCa(dataDir: string): string | undefined {
  const file = caPath(dataDir);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

function certCovers(certPem: string, caPem: string, names: { dns: string[]; ips: string[] }): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
    // Renewed a month before it runs out.
    if (Date.parse(cert.validTo) - Date.now() < 30 * 86_400_000) return false;
    return names.dns.every((n) => cert.checkHost(n) !== undefined) && names.ips.every((ip) => cert.checkIP(ip) !== undefined);
  } catch {
    return false;
  }
}

/**
 * Loads the device-link CA and server certificate from the data directory, making them at first
 * start. The CA is kept for good (devices trust it); the server certificate is issued again when it
 * does not name the listen address, nears its end or was not issued by this CA.
 */
export function ensureDeviceTls(dataDir: string, listenHost?: string): DeviceTls {
  const f = (name: keyof typeof TLS_FILES) => join(dataDir, TLS_FILES[name]);
  return ensureServerCert(dataDir, f('serverCert'), f('serverKey'), listenHost);
}

/** The data directory's CA (made at first use, kept for good): its certificate and key files. */
function ensureCa(dataDir: string): { caFile: string; keyFile: string } {
  const f = (name: keyof typeof TLS_FILES) => join(dataDir, TLS_FILES[name]);
  if (!existsSync(f('caCert')) || !existsSync(f('caKey'))) {
    const keys = newKeyPair();
    const pem = issue({ subject: `tobira device CA ${hostname()}`, publicPem: keys.publicPem, selfKeyPem: keys.privatePem, years: 20, ca: true });
    writePrivate(f('caKey'), keys.privatePem, 0o600);
    writePrivate(f('caCert'), pem, 0o600);
  }
  for (const name of ['caKey', 'caCert'] as const) chmodSync(f(name), 0o600);
  return { caFile: f('caCert'), keyFile: f('caKey') };
}

/** A server certificate of the CA in these files, issued again when it does not cover the names, nears its end or is another CA's. */
function ensureServerCert(dataDir: string, certFile: string, keyFile: string, listenHost?: string): DeviceTls {
  const ca = ensureCa(dataDir);
  const caPem = readFileSync(ca.caFile, 'utf8');
  const names = serverNames(listenHost);
  const have = existsSync(certFile) && existsSync(keyFile) ? readFileSync(certFile, 'utf8') : undefined;
  if (!have || !certCovers(have, caPem, names)) {
    const keys = newKeyPair();
    const issuer = { cert: forge.pki.certificateFromPem(caPem), keyPem: readFileSync(ca.keyFile, 'utf8') };
    const pem = issue({ subject: names.dns[1] ?? 'localhost', publicPem: keys.publicPem, issuer, years: 5, ca: false, names });
    writePrivate(keyFile, keys.privatePem, 0o600);
    writePrivate(certFile, pem, 0o600);
  }
  for (const file of [keyFile, certFile]) chmodSync(file, 0o600);
  return {
    caFile: ca.caFile,
    certFile,
    keyFile,
    ca: caPem,
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
  };
}

/**
 * The API's HTTPS certificate, from the same CA as the device links (clients trust the CA printed
 * by `tobira devices --ca`): names localhost, 127.0.0.1, ::1, this host's name and the listen
 * address (every interface's address when listening on all). Issued again like the broker's.
 */
export function ensureApiTls(dataDir: string, listenHost: string): DeviceTls {
  return ensureServerCert(dataDir, join(dataDir, API_TLS_FILES.cert), join(dataDir, API_TLS_FILES.key), listenHost);
}
