// Child processes the benchmark starts: the daemon, Mosquitto, the echo peer, the API load. Each is
// ended by its own pid when its phase is over (and on exit), never by name.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, type WriteStream } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { mosquittoAclFile, mosquittoConfSnippet, mosquittoPasswordFile } from '../../src/devices/mosquitto.js';
import type { Secrets } from '../../src/devices/secrets.js';
import type { DeviceTls } from '../../src/devices/tls.js';
import mqtt from 'mqtt';
import { residentMB } from './machine.js';
import { freePort } from '../../tests/helpers/ports.js';

// dist/bench/lib → the repository.
export const ROOT = resolve(import.meta.dirname, '../../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');

const live = new Set<ChildProcess>();
/** Ends whatever is still running (an error or Ctrl-C mid-run), each by its own pid. */
export function killAll(): void {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}
process.once('exit', killAll);

export function track(p: ChildProcess): ChildProcess {
  live.add(p);
  p.once('exit', () => live.delete(p));
  return p;
}

export function livePids(): number[] {
  return [...live].filter((p) => p.exitCode === null && p.pid !== undefined).map((p) => p.pid!);
}

export { freePort };

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect({ port, host });
    const end = (ok: boolean) => {
      sock.destroy();
      done(ok);
    };
    sock.setTimeout(500, () => end(false));
    sock.once('connect', () => end(true));
    sock.once('error', () => end(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

function stopChild(p: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((done) => {
    if (p.exitCode !== null || p.signalCode !== null) return done(p.exitCode);
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
    p.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------------------------------------
// The daemon

export interface DaemonHandle {
  pid: number;
  apiUrl: string;
  mqttUrl: string;
  /** Spawn → the "ready" log line (its own timestamp), in ms. */
  readyMs: number;
  /** Spawn → its first log line ("starting tobira"): Node and the modules loading, in ms. */
  bootMs: number;
  /** Date.now() when it was spawned. */
  spawnedAt: number;
  /** Resident memory samples (MB) taken every 250 ms while it runs. */
  rssSamples: { atMs: number; rss: number }[];
  /** Warnings and errors it logged, counted by message. */
  problems(): Record<string, number>;
  /** Clears the counted problems (e.g. after settling). */
  resetProblems(): void;
  peakRssMB(): number | null;
  /** Still running? */
  alive(): boolean;
  /** How it ended, if it did on its own: exit code or signal, and the end of its output (a crash's stack). */
  crash(): { code: number | null; signal: string | null; tail: string } | undefined;
  stop(): Promise<{ code: number | null; stopMs: number }>;
}

const START_WARNINGS = new Set(['lock not reached at start; it is locked when it comes online']);

/** The Node options the service runs the daemon with (packaging/tobira.service): the benchmark measures what ships. */
export const SERVICE_NODE_OPTIONS: string[] =
  /^Environment="?NODE_OPTIONS=([^"\n]*)"?$/m
    .exec(readFileSync(join(ROOT, 'packaging/tobira.service'), 'utf8'))?.[1]
    ?.trim()
    .split(/\s+/) ?? [];

export async function startDaemon(opts: {
  dataDir: string;
  siteFile: string;
  broker: { mode: 'embedded' } | { mode: 'external'; url: string };
  logFile: string;
  nodeArgs?: string[];
  readyTimeoutMs?: number;
}): Promise<DaemonHandle> {
  const apiPort = await freePort();
  const mqttPort = opts.broker.mode === 'embedded' ? await freePort() : 0;
  const args = [...(opts.nodeArgs ?? []), CLI, 'start', '--site', opts.siteFile, '--data', opts.dataDir, '--api-port', String(apiPort)];
  args.unshift(...SERVICE_NODE_OPTIONS);
  if (opts.broker.mode === 'embedded') args.push('--mqtt-port', String(mqttPort));
  else args.push('--mqtt-url', opts.broker.url);
  const env: NodeJS.ProcessEnv = { ...process.env, TOBIRA_LOG_LEVEL: 'info' };
  for (const k of Object.keys(env)) if (k.startsWith('TOBIRA_') && k !== 'TOBIRA_LOG_LEVEL') delete env[k];
  const spawnedAt = Date.now();
  const proc = track(spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT }));
  const log: WriteStream = createWriteStream(opts.logFile);
  let readyAt: number | undefined;
  let firstAt: number | undefined;
  let tail = '';
  let problems: Record<string, number> = {};
  let partial = '';
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    const text = partial + chunk.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      tail = `${tail + line}\n`.slice(-4000);
      if (!line.startsWith('{')) continue;
      try {
        const j = JSON.parse(line) as { level?: number; msg?: string; time?: number };
        if (firstAt === undefined) firstAt = j.time ?? Date.now();
        if (j.msg === 'ready' && readyAt === undefined) readyAt = j.time ?? Date.now();
        // Locks not connected yet when the daemon starts are reported once, 2 s later: expected here.
        if ((j.level ?? 0) >= 40 && !START_WARNINGS.has(j.msg ?? '')) {
          // "alarm/lock-fault from d05": counted by kind, not by door.
          const key = (j.msg ?? '?').replace(/ from \S+$/, '');
          problems[key] = (problems[key] ?? 0) + 1;
        }
      } catch {
        // not a log line
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', (d: Buffer) => {
    log.write(d);
    tail = (tail + d.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`the daemon exited with ${proc.exitCode}:\n${tail}`);
      return readyAt !== undefined;
    },
    opts.readyTimeoutMs ?? 120_000,
    'the daemon to be ready',
  );
  const rssSamples: { atMs: number; rss: number }[] = [];
  let lastPeak: number | null = null;
  let stopping = false;
  const sampler = setInterval(() => {
    const m = residentMB(proc.pid!);
    if (m) {
      rssSamples.push({ atMs: Date.now() - spawnedAt, rss: m.rss });
      lastPeak = m.peak;
    }
  }, 250);
  sampler.unref();
  return {
    pid: proc.pid!,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    mqttUrl: opts.broker.mode === 'embedded' ? `mqtts://127.0.0.1:${mqttPort}` : opts.broker.url,
    readyMs: readyAt! - spawnedAt,
    bootMs: (firstAt ?? readyAt!) - spawnedAt,
    spawnedAt,
    rssSamples,
    problems: () => ({ ...problems }),
    resetProblems: () => {
      problems = {};
    },
    peakRssMB: () => residentMB(proc.pid!)?.peak ?? lastPeak,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    crash: () => ((proc.exitCode === null && proc.signalCode === null) || stopping ? undefined : { code: proc.exitCode, signal: proc.signalCode, tail }),
    stop: async () => {
      stopping = true;
      lastPeak = residentMB(proc.pid!)?.peak ?? lastPeak;
      clearInterval(sampler);
      const t0 = Date.now();
      const code = await Promise.race([exited, stopChild(proc, 30_000)]);
      await new Promise<void>((r) => log.end(() => r()));
      return { code, stopMs: Date.now() - t0 };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Mosquitto, with the files `tobira mqtt-acl` writes (the same functions), on a free loopback port

export function mosquittoBinary(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v mosquitto || ls /usr/sbin/mosquitto 2>/dev/null'], { encoding: 'utf8' });
  return r.stdout.trim().split('\n')[0] || undefined;
}

export interface MosquittoHandle {
  url: string;
  pid: number;
  version: string;
  /** Mosquitto's count of messages it dropped (queues full), from $SYS; undefined if not known. */
  dropped(): Promise<number | undefined>;
  stop(): Promise<void>;
}

export async function startMosquitto(secrets: Secrets, baseTopic: string, deviceIds: string[], tls: DeviceTls): Promise<MosquittoHandle> {
  const bin = mosquittoBinary();
  if (!bin) throw new Error('mosquitto is not installed');
  const port = await freePort();
  // In the system temp dir: Mosquitto started as root drops to user mosquitto, which must reach the files.
  const dir = mkdtempSync(join(tmpdir(), 'tobira-bench-mosq-'));
  const passwordFile = join(dir, 'passwd');
  const aclFile = join(dir, 'acl');
  writeFileSync(passwordFile, mosquittoPasswordFile(secrets, deviceIds), { mode: 0o600 });
  // The files `tobira mqtt-acl` writes, plus, for the benchmark only, the broker's own counters
  // ($SYS, every second) readable by the controller's login: how many messages Mosquitto dropped.
  const caFile = join(dir, 'ca.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server.key');
  writeFileSync(caFile, tls.ca);
  writeFileSync(certFile, tls.cert);
  writeFileSync(keyFile, tls.key, { mode: 0o600 });
  writeFileSync(
    aclFile,
    mosquittoAclFile(baseTopic, secrets.controller.username, deviceIds, secrets.observer?.username) +
      `\n# benchmark only\nuser ${secrets.controller.username}\ntopic read $SYS/#\n`,
  );
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    mosquittoConfSnippet({ port, host: '127.0.0.1', passwordFile, aclFile, caFile, certFile, keyFile }) +
      '# benchmark only: $SYS counters every second\nsys_interval 1\n',
  );
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'mosquitto', dir]);
  const version = spawnSync(bin, ['-h'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim() ?? '';
  const proc = track(spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${out}`);
      return portOpen(port);
    },
    5000,
    `mosquitto on port ${port}`,
  );
  const url = `mqtts://127.0.0.1:${port}`;
  const dropped = followSysCounter(url, secrets, tls.ca, '$SYS/broker/publish/messages/dropped');
  return {
    url,
    pid: proc.pid!,
    version,
    dropped: () => dropped.latest(),
    stop: async () => {
      dropped.close();
      await stopChild(proc, 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Follows one $SYS counter (retained, refreshed every second) for the broker's whole life, with the
 * controller's login and a client id of its own; `latest()` waits for a fresh value first.
 */
function followSysCounter(url: string, secrets: Secrets, ca: string, topic: string): { latest(): Promise<number | undefined>; close(): void } {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    clientId: `bench-sys-${process.pid}`,
    username: secrets.controller.username,
    password: secrets.controller.password,
    ca,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 15_000,
    keepalive: 30,
  });
  let value: number | undefined;
  let at = 0;
  client.on('error', () => {});
  client.on('connect', () => client.subscribe(topic, { qos: 0 }));
  client.on('message', (_t, payload) => {
    value = Number(payload.toString('utf8'));
    at = Date.now();
  });
  return {
    latest: async () => {
      const asked = Date.now();
      // Mosquitto publishes a $SYS value only when it changes: a second without news is the value.
      while (Date.now() - asked < 1500 && at < asked) await sleep(50);
      return value;
    },
    close: () => client.end(true),
  };
}

// ---------------------------------------------------------------------------------------------
// Helper processes of the benchmark itself (dist/bench/*.js)

export interface HelperHandle {
  proc: ChildProcess;
  pid: number;
  output(): string;
  waitLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export function startHelper(script: string, arg: unknown): HelperHandle {
  const proc = track(spawn(process.execPath, [join(ROOT, 'dist/bench', script), JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    pid: proc.pid!,
    output: () => out,
    exited,
    waitLine: async (pattern, timeoutMs) => {
      let found: string | undefined;
      await waitFor(
        () => {
          found = out.split('\n').find((l) => pattern.test(l));
          if (!found && proc.exitCode !== null) throw new Error(`${script} exited with ${proc.exitCode}: ${out.slice(-2000)}`);
          return found !== undefined;
        },
        timeoutMs,
        `${script}: ${pattern}`,
      );
      return found!;
    },
    stop: async () => {
      await stopChild(proc, 5000);
    },
  };
}
