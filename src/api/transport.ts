// How the API is served: never in clear beyond this machine. On loopback, plain HTTP as always (or
// the operator's certificate); beyond it, HTTPS with the operator's certificate or, by default, one
// the gateway's own CA issues (the CA the device links use); plain HTTP there only when asked
// (--insecure-http), which the caller announces with a warning and a standing security alarm.
// Beyond loopback, /metrics also needs its bearer token.
import { isIP } from 'node:net';

/** Whether an address to listen on reaches only this machine. A host name other than localhost counts as beyond. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export interface ApiTransport {
  scheme: 'https' | 'http';
  /** Whose certificate HTTPS uses: the operator's files, or one the gateway's CA issues. */
  certificate: 'operator' | 'gateway-ca' | null;
  /** Listening beyond loopback: /metrics needs its token. */
  beyondLoopback: boolean;
  /** Plain HTTP beyond loopback, as asked: warn at start and keep a security alarm standing. */
  insecure: boolean;
}

export function apiTransport(o: { host: string; operatorCertificate: boolean; insecureHttp: boolean }): ApiTransport {
  const beyondLoopback = !isLoopbackHost(o.host);
  if (o.operatorCertificate) return { scheme: 'https', certificate: 'operator', beyondLoopback, insecure: false };
  if (!beyondLoopback) return { scheme: 'http', certificate: null, beyondLoopback, insecure: false };
  if (o.insecureHttp) return { scheme: 'http', certificate: null, beyondLoopback, insecure: true };
  return { scheme: 'https', certificate: 'gateway-ca', beyondLoopback, insecure: false };
}
