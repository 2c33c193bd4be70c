// The floor under a decision: one durable SQLite commit of one entry-log row with the daemon's own
// settings (openDatabase: WAL, synchronous=FULL), one argon2id PIN check with the daemon's cost, and
// the lean echo: the same broker software, plain, in its own process, between two plain clients.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { openDatabase } from '../../src/store/db.js';
import { setClientNoDelay } from '../../src/devices/mqtt-driver.js';
import { EntryLog } from '../../src/store/entry-log.js';
import { hashPin, verifyPin } from '../../src/store/pin.js';
import { ms } from './stats.js';
import { grantedPerson, personIdOf, rng, type DbMeta } from './datagen.js';
import { freePort, mosquittoBinary, portOpen, sleep, startHelper, track, waitFor } from './procs.js';

/**
 * `n` commits (after `warmup`), each one record appended by EntryLog.append in its own transaction,
 * on a copy of the database the daemon is about to use (so the chain stays valid for it). The row is
 * shaped like a grant the daemon writes: a random card holder at a bench door, with its grant id.
 * `gapMs` between commits, as between quiet reads: a commit after an idle pause is slower than one
 * right after another (the disk and the CPU have gone idle), and the decisions are paced that way too.
 */
export async function commitFloor(dataDir: string, meta: DbMeta, n: number, warmup: number, gapMs: number): Promise<number[]> {
  const db = openDatabase(dataDir);
  const samples: number[] = [];
  try {
    const log = new EntryLog(db);
    const random = rng(42);
    for (let i = 0; i < warmup + n; i++) {
      const j = Math.floor(random() * meta.cardHolders);
      const index = grantedPerson(meta, j);
      const input = {
        at: new Date().toISOString(),
        kind: 'decision' as const,
        doorId: 'd01',
        areaId: 'office',
        direction: 'in' as const,
        personId: personIdOf(index),
        personName: `Bench Person ${index}`,
        affiliation: 'R&D',
        purpose: 'benchmark',
        factors: ['card'],
        decision: 'granted' as const,
        reason: 'granted',
        deviceId: 'bench-commit-floor',
        deviceBoot: 1,
        deviceSeq: i + 1,
        linkedSeq: null,
        linkedPersonId: null,
        detail: { grantId: j + 1 },
      };
      const t0 = process.hrtime.bigint();
      db.transaction(() => log.append(input))();
      const t1 = process.hrtime.bigint();
      if (i >= warmup) samples.push(ms(t0, t1));
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    }
  } finally {
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  }
  return samples;
}

/** One argon2id PIN check with the daemon's parameters (src/store/pin.ts), `n` times. */
export async function pinFloor(n: number): Promise<number[]> {
  const hash = await hashPin('2580');
  await verifyPin(hash, '2580');
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await verifyPin(hash, '2580');
    samples.push(ms(t0, process.hrtime.bigint()));
  }
  return samples;
}

/** Durable appends per second: each append its own transaction (as a decision commits), and batched. */
export function appendRate(dataDir: string, single: number, batched: number): { perCommitPerSec: number; batchedPerSec: number; batchSize: number } {
  const db = openDatabase(dataDir);
  try {
    const log = new EntryLog(db);
    const input = (i: number) => ({
      at: new Date().toISOString(),
      kind: 'decision' as const,
      doorId: 'd01',
      areaId: 'office',
      direction: 'in' as const,
      personId: personIdOf(i),
      personName: `Bench Person ${i}`,
      affiliation: 'R&D',
      purpose: 'benchmark',
      factors: ['card'],
      decision: 'granted' as const,
      reason: 'granted',
      deviceId: 'bench-append-rate',
      deviceBoot: 1,
      deviceSeq: i + 1,
      detail: { grantId: 1 },
    });
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < single; i++) db.transaction(() => log.append(input(i)))();
    const perCommit = single / (ms(t0, process.hrtime.bigint()) / 1000);
    const batchSize = 1000;
    t0 = process.hrtime.bigint();
    for (let b = 0; b < batched; b += batchSize) {
      db.transaction(() => {
        for (let i = b; i < Math.min(batched, b + batchSize); i++) log.append(input(single + i));
      })();
    }
    const batchedRate = batched / (ms(t0, process.hrtime.bigint()) / 1000);
    return { perCommitPerSec: Math.round(perCommit), batchedPerSec: Math.round(batchedRate), batchSize };
  } finally {
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  }
}

export type LeanBroker = 'aedes' | 'mosquitto';

/** A plain broker of the same software as the daemon's, in its own process, on a loopback port. */
async function startLeanBroker(kind: LeanBroker): Promise<{ url: string; pid: number; detail: string; stop(): Promise<void> }> {
  if (kind === 'aedes') {
    const h = startHelper('lean-echo.js', { role: 'broker' });
    const line = await h.waitLine(/^READY \d+/, 10_000);
    return {
      url: `mqtt://127.0.0.1:${line.split(' ')[1]}`,
      pid: h.pid,
      detail: 'a minimal standalone aedes (its defaults, plain TCP, no TLS, no login) in a child process',
      stop: () => h.stop(),
    };
  }
  const bin = mosquittoBinary();
  if (!bin) throw new Error('mosquitto is not installed');
  const port = await freePort();
  // The minimal plain config: one loopback listener, anonymous, no persistence. set_tcp_nodelay as
  // in the daemon's files: without it the broker's Nagle may hold a forwarded message behind a PUBACK.
  const dir = mkdtempSync(join(tmpdir(), 'tobira-bench-lean-mosq-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n`);
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'mosquitto', dir]);
  const proc = track(spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`mosquitto (lean) exited: ${out}`);
      return portOpen(port);
    },
    5000,
    `mosquitto (lean) on port ${port}`,
  );
  return {
    url: `mqtt://127.0.0.1:${port}`,
    pid: proc.pid!,
    detail: 'its own Mosquitto with a minimal plain config (loopback listener, anonymous, no persistence, set_tcp_nodelay true)',
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface LeanEcho {
  samples: number[];
  lost: number;
  /** TCP no-delay set on both clients' sockets. */
  noDelay: boolean;
  process: string;
}

/**
 * The lean echo floor: a plain broker of the same software in its own process, two plain mqtt.js
 * clients, QoS 1 both ways, TCP no-delay on both. Timed from just before the publish to the echo's
 * arrival in the message handler; one echo outstanding at a time, `gapMs` between, as the
 * daemon-shaped echo. Both clients live in the benchmark's process (`echoIn: 'child'` puts the
 * echoing one in a process of its own: a third process on the two cores, +0.2 to 0.3 ms at p50 here).
 */
export async function leanEcho(
  kind: LeanBroker,
  n: number,
  warmup: number,
  gapMs: number,
  opts: { echoIn?: 'child' | 'same'; timeoutMs?: number } = {},
): Promise<LeanEcho> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const broker = await startLeanBroker(kind);
  const topicIn = `lean-echo/${process.pid}/ping`;
  const topicOut = `lean-echo/${process.pid}/pong`;
  const echo = opts.echoIn !== 'child' ? undefined : startHelper('lean-echo.js', { role: 'echo', url: broker.url, topicIn, topicOut });
  let client: MqttClient | undefined;
  let echoer: MqttClient | undefined;
  try {
    let ready = 'READY nodelay';
    if (echo) ready = await echo.waitLine(/^READY /, 10_000);
    else {
      const e = mqtt.connect(broker.url, { protocolVersion: 4, clean: true, keepalive: 60, reconnectPeriod: 0, connectTimeout: 5000 });
      echoer = e;
      await new Promise<void>((resolve, reject) => {
        e.once('error', reject);
        e.once('connect', () => resolve());
      });
      if (!setClientNoDelay(e)) ready = 'READY delay';
      e.on('message', (_topic, payload) => e.publish(topicOut, payload, { qos: 1 }));
      await e.subscribeAsync(topicIn, { qos: 1 });
    }
    client = mqtt.connect(broker.url, { protocolVersion: 4, clean: true, keepalive: 60, reconnectPeriod: 0, connectTimeout: 5000 });
    const c = client;
    await new Promise<void>((resolve, reject) => {
      c.once('error', reject);
      c.once('connect', () => resolve());
    });
    c.on('error', () => {});
    const noDelay = setClientNoDelay(c) && ready.includes('nodelay');
    await c.subscribeAsync(topicOut, { qos: 1 });
    let waiting: { seq: string; done: (at: bigint) => void } | undefined;
    c.on('message', (_topic, payload) => {
      const at = process.hrtime.bigint();
      if (waiting && payload.toString() === waiting.seq) waiting.done(at);
    });
    const samples: number[] = [];
    let lost = 0;
    for (let i = 0; i < warmup + n; i++) {
      const seq = String(i);
      let t0 = 0n;
      const at = await new Promise<bigint | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        waiting = {
          seq,
          done: (t) => {
            clearTimeout(timer);
            resolve(t);
          },
        };
        t0 = process.hrtime.bigint();
        c.publish(topicIn, seq, { qos: 1 });
      });
      waiting = undefined;
      if (i >= warmup) {
        if (at === undefined) lost++;
        else samples.push(ms(t0, at));
      }
      await sleep(gapMs);
    }
    return {
      samples,
      lost,
      noDelay,
      process: `${broker.detail}; ${echo ? "the echoing mqtt.js client in a child process of its own, the timing one in the benchmark's" : "both mqtt.js clients in the benchmark's process"}`,
    };
  } finally {
    await client?.endAsync(false).catch(() => undefined);
    await echoer?.endAsync(false).catch(() => undefined);
    await echo?.stop();
    await broker.stop();
  }
}
