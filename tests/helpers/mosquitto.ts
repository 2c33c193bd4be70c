// Mosquitto for the hardware-in-the-loop tests: the machine's shared server at 127.0.0.1:1883, and
// servers of a test's own (with tobira's password and ACL files) on free loopback ports.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, portOpen, waitFor } from './ports.js';

const CLI = join(resolve(import.meta.dirname, '../..'), 'dist/src/cli/main.js');

export const SHARED_MOSQUITTO = { host: '127.0.0.1', port: 1883 };

/**
 * Whether the shared Mosquitto is there. Without it the Mosquitto tests skip, loudly; in CI
 * (CI=true) its absence is a failure, not a skip.
 */
export async function sharedMosquittoAvailable(): Promise<boolean> {
  const up = await portOpen(SHARED_MOSQUITTO.port, SHARED_MOSQUITTO.host);
  if (!up) {
    const msg = `Mosquitto is not running at ${SHARED_MOSQUITTO.host}:${SHARED_MOSQUITTO.port}: the Mosquitto hardware-in-the-loop tests cannot run`;
    if (process.env.CI === 'true') throw new Error(`${msg} (CI=true: this is a failure)`);
    console.warn(`\n!!! ${msg}; SKIPPING them. Start it with: mosquitto -d -c /etc/mosquitto/mosquitto.conf\n`);
  }
  return up;
}

export function mosquittoBinary(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v mosquitto || ls /usr/sbin/mosquitto'], { encoding: 'utf8' });
  const path = r.stdout.trim().split('\n')[0];
  return path || undefined;
}

export interface OwnMosquitto {
  port: number;
  url: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a Mosquitto of the test's own on `port` from a config file (e.g. written by `tobira mqtt-acl`). */
export async function startOwnMosquitto(confFile: string, port: number): Promise<OwnMosquitto> {
  const bin = mosquittoBinary();
  if (!bin) throw new Error('mosquitto binary not found');
  const proc = spawn(bin, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (d) => (output += d));
  proc.stderr?.on('data', (d) => (output += d));
  await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${output}`);
      return portOpen(port);
    },
    5000,
    `mosquitto on port ${port}`,
  );
  const tls = /^\s*certfile /m.test(readFileSync(confFile, 'utf8'));
  return {
    port,
    url: `${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`,
    proc,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export interface AclMosquitto extends OwnMosquitto {
  /** The directory `tobira mqtt-acl` wrote (passwd, acl, ca.pem, server.pem, server.key, mosquitto.conf). */
  dir: string;
  conf: string;
  /** Starts it again on the same port with the same files. */
  restart(): Promise<void>;
}

/**
 * A Mosquitto of the test's own, configured by `tobira mqtt-acl` on a data directory (TLS listener
 * with the data directory's CA, logins, ACL) on a free loopback port. `edit` may change
 * mosquitto.conf's lines first (persistence, dropped queue limits...).
 */
export async function startAclMosquitto(o: { siteFile: string; dataDir: string; edit?: (lines: string[], dir: string) => string[] }): Promise<AclMosquitto> {
  const port = await freePort();
  if (port === 1883) throw new Error('refusing the shared Mosquitto port');
  const dir = mkdtempSync(join(tmpdir(), 'tobira-mosq-acl-'));
  execFileSync(process.execPath, [CLI, 'mqtt-acl', '--site', o.siteFile, '--data', o.dataDir, '--out', dir, '--port', String(port)]);
  const conf = join(dir, 'mosquitto.conf');
  if (o.edit) writeFileSync(conf, `${o.edit(readFileSync(conf, 'utf8').split('\n'), dir).join('\n')}\n`);
  chmodSync(dir, 0o755);
  // Started as root, Mosquitto drops to its own user, which must be able to read the files (as an installer would chown them).
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'mosquitto', dir]);
  let broker = await startOwnMosquitto(conf, port);
  const handle: AclMosquitto = {
    port,
    url: broker.url,
    dir,
    conf: readFileSync(conf, 'utf8'),
    get proc() {
      return broker.proc;
    },
    output: () => broker.output(),
    stop: () => broker.stop(),
    restart: async () => {
      await waitFor(async () => !(await portOpen(port)), 5000, `port ${port} to be released`);
      broker = await startOwnMosquitto(conf, port);
    },
  };
  return handle;
}
