// Mosquitto for the hardware-in-the-loop tests: the machine's shared server at 127.0.0.1:1883, and
// servers of a test's own (with tobira's password and ACL files) on free loopback ports.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { portOpen, waitFor } from './ports.js';

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
  await waitFor(() => {
    if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${output}`);
    return portOpen(port);
  }, 5000, `mosquitto on port ${port}`);
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
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
