// `npm run bench` (full) and `npm run bench -- --quick` (CI): the real daemon, against its embedded
// broker and against a Mosquitto of the benchmark's own, driven by lean simulated devices. Writes
// bench/results/latest.{json,md} (quick: quick.{json,md}). Targets are reported, never asserted: the
// process exits 0 when targets are missed, 1 only when the harness itself failed.
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureSecrets, type Secrets } from '../src/devices/secrets.js';
import { ensureDeviceTls, TLS_FILES } from '../src/devices/tls.js';
import { verifyEntryLogFile } from '../src/store/verify-parallel.js';
import { FULL, QUICK, TARGETS, type BenchConfig } from './lib/config.js';
import { CpuMeter, machine, machineLine, residentMB, type CpuShare } from './lib/machine.js';
import { benchSite, CARD_AREA, type BenchSite } from './lib/site.js';
import { BENCH_PIN, cardOf, copyDb, ensureDb, grantedPerson, personIdOf, rng, type CachedDb } from './lib/datagen.js';
import { closeRigs, connectRigs, makeRigs, trustCa, type DoorRig } from './lib/devices.js';
import { burst, checkLog, logHead, quietReads, type BurstResult, type QuietResult } from './lib/drive.js';
import { meterStorage, storageResults, storageRuns, type StorageResults } from './lib/storage.js';
import { appendRate, commitFloor, leanEcho, pinFloor } from './lib/floors.js';
import {
  killAll,
  mosquittoBinary,
  ROOT,
  sleep,
  startDaemon,
  startHelper,
  startMosquitto,
  freePort,
  type DaemonHandle,
  type MosquittoHandle,
} from './lib/procs.js';
import { prepareApi, probe, signIn, type ApiPrep } from './lib/api.js';
import { summarize, concat, ratio, type Summary } from './lib/stats.js';
import { summarizeProfile, type ProfileSummary } from './lib/profile.js';
import { renderMarkdown } from './lib/report.js';
import { duringBackup, type DuringBackupResult } from './lib/backup.js';
import type { LoadArgs, LoadRoute, RouteResult } from './api-load.js';
import { parseSizes, runGrowth } from './lib/growth.js';
import { runOverload, type OverloadResult } from './lib/overload.js';
import { runSoak, type SoakResult } from './lib/soak.js';

const argv = process.argv.slice(2);
/** The quick run on one core: the daemon, the brokers and the clients all pinned to CPU 0 (quick-1core.*). */
const oneCore = argv.includes('--one-core');
if (oneCore && process.env.TOBIRA_BENCH_PINNED === undefined) {
  // Re-run this whole process under taskset: every child (daemon, brokers, helpers) inherits the affinity.
  const r = spawnSync('taskset', ['-c', '0', process.execPath, ...process.execArgv, process.argv[1]!, ...argv], {
    stdio: 'inherit',
    env: { ...process.env, TOBIRA_BENCH_PINNED: '0' },
  });
  if (r.error) console.error(`--one-core needs taskset (util-linux): ${r.error.message}`);
  process.exit(r.status ?? 1);
}
const quick = argv.includes('--quick') || oneCore;
const cfg: BenchConfig = { ...(quick ? QUICK : FULL) };
if (argv.includes('--profile')) cfg.profile = { ...cfg.profile, enabled: true };
if (argv.includes('--no-profile')) cfg.profile = { ...cfg.profile, enabled: false };
// Quick sizes through every path of the full run (API alone, Mosquitto burst, profile): for working on the harness.
if (quick && argv.includes('--all-paths')) {
  cfg.profile = { ...cfg.profile, enabled: true };
  cfg.burstOnMosquitto = true;
  cfg.api = { ...cfg.api, aloneSeconds: 3 };
}
const noMosquitto = argv.includes('--no-mosquitto');
// Development overrides: the burst's total rate, seconds and the number of card-only doors.
const flagValue = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : undefined;
};
const overrideRate = flagValue('--burst-rate');
const overrideSeconds = flagValue('--burst-seconds');
const overrideDoors = flagValue('--doors');
if (overrideRate || overrideSeconds) cfg.burst = { ...cfg.burst, rate: overrideRate ?? cfg.burst.rate, seconds: overrideSeconds ?? cfg.burst.seconds };
if (overrideSeconds) cfg.api = { ...cfg.api, seconds: overrideSeconds };
if (overrideDoors) cfg.cardDoors = overrideDoors;
/** Only generate (or migrate) the cached databases, e.g. while the machine is busy with other work. */
const prepareOnly = argv.includes('--prepare-only');
// --overload (twice the measured capacity, or twice --capacity N), --soak N (at --soak-rate R);
// --only: those alone, written to <mode>-only.{json,md}.
if (argv.includes('--overload') || flagValue('--capacity')) cfg.overload = { ...cfg.overload, enabled: true };
if (flagValue('--overload-seconds')) cfg.overload = { ...cfg.overload, seconds: flagValue('--overload-seconds')! };
if (flagValue('--soak')) cfg.soak = { reads: flagValue('--soak')!, rate: flagValue('--soak-rate') ?? cfg.soak.rate };
const onlyScenarios = argv.includes('--only');

const RESULTS = join(ROOT, 'bench/results');
const TMP = join(RESULTS, 'tmp');
const CACHE = join(TMP, 'db');
const RUN = join(TMP, `run-${cfg.mode}`);
const started = Date.now();
const say = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);

type BrokerName = 'embedded' | 'mosquitto';
/** What the current daemon session is doing (for a crash report). */
let phase = '';
let theMosquitto: MosquittoHandle | undefined;

export interface Results {
  headline: Record<string, number | null>;
  mode: BenchConfig['mode'];
  /** `--one-core`: the CPU list the whole run was pinned to (taskset -c). */
  pinnedTo?: string;
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  machine: ReturnType<typeof machine>;
  loadNote: string;
  targets: { key: string; what: string; target: string; value: number | null; met: boolean | null; note?: string }[];
  config: BenchConfig;
  brokers: { name: BrokerName; detail: string }[];
  floors: {
    echo: Partial<Record<BrokerName, { before: Summary; after: Summary; pooled: Summary; noDelay: boolean; process: string }>>;
    /** The embedded broker's echo over plain MQTT: the TLS echo minus this is what TLS adds to a round trip. */
    plainEcho?: Summary;
    commit: { broker: BrokerName; credentials: number; summary: Summary; backToBack: Summary }[];
    pinVerify?: Summary;
    /**
     * The lean floor (the headline ratios'): the broker software alone, plain, in its own process,
     * between two plain clients; the commit floor's back-to-back figure. The daemon-shaped echo
     * (`echo`) and the paced commit stay beside it as the like-for-like floor.
     */
    lean?: { echo: Partial<Record<BrokerName, { before: Summary; after: Summary; pooled: Summary; noDelay: boolean; process: string }>> };
  };
  decision: {
    broker: BrokerName;
    credentials: number;
    door: 'card' | 'card+pin';
    latency: Summary;
    lost: number;
    denied: number;
    floor: { p50: number | null; p99: number | null; parts: string };
    ratioP50: number | null;
    ratioP99: number | null;
    /** Against the daemon-shaped echo peer and the paced commit (the floor before the lean one). */
    likeForLike?: { floor: { p50: number | null; p99: number | null; parts: string }; ratioP50: number | null; ratioP99: number | null };
    promptLatency?: Summary;
    pinToUnlock?: Summary;
    cpu?: CpuShare;
    daemonWarnings?: Record<string, number>;
  }[];
  burst: (Omit<BurstResult, 'keys'> & {
    broker: BrokerName;
    withApi: boolean;
    quietP99: number | null;
    p99OverQuiet: number | null;
    log: ReturnType<typeof checkLog> | null;
    cpu?: CpuShare;
    daemonCpuPerRead?: number | null;
    commits?: { commits: number; writes: number } | null;
    daemonWarnings?: Record<string, number>;
    daemonCrashed: boolean;
    brokerDropped?: number | null;
  })[];
  api: {
    phase: 'alone' | 'during burst';
    routes: { name: string; available: boolean; why?: string; latency: Summary | null; statuses: Record<string, number>; rate: number; errors: number }[];
  }[];
  logIntegrity: {
    rows: number;
    verify: { ok: boolean; records: number; seconds: number; recordsPerSec: number; breakAt?: unknown } | null;
    append: ReturnType<typeof appendRate> | null;
  };
  footprint: {
    credentials: number;
    logRows: number;
    broker: BrokerName;
    readyMs: number;
    bootMs: number;
    rssAtReadyMB: number | null;
    rssSettledMB: number | null;
    peakRssMB: number | null;
    dbMB: number;
    note: string;
  } | null;
  profiles: (ProfileSummary & { scenario: string })[];
  /** Decision latency while `tobira backup` runs on the big database (embedded broker). */
  duringBackup: DuringBackupResult | null;
  databases: { key: string; buildSeconds: number; mb: number }[];
  /** A burst at twice the capacity (--overload; on in the full run) and the soak (--soak N). */
  overload?: OverloadResult | null;
  soak?: SoakResult | null;
  /** The daemon ending on its own during a session: a finding, not a harness error. */
  crashes: { session: string; during: string; code: number | null; signal: string | null; output: string }[];
  /** Bytes written per decision and the WAL's size, on the big database (bench/lib/storage.ts). */
  storage?: StorageResults;
  errors: string[];
}

const m = machine();
const results: Results = {
  headline: {},
  mode: cfg.mode,
  ...(oneCore ? { pinnedTo: process.env.TOBIRA_BENCH_PINNED } : {}),
  startedAt: new Date(started).toISOString(),
  machine: m,
  loadNote: '',
  targets: [],
  config: cfg,
  brokers: [],
  floors: { echo: {}, commit: [], lean: { echo: {} } },
  decision: [],
  burst: [],
  api: [],
  logIntegrity: { rows: cfg.logRows, verify: null, append: null },
  footprint: null,
  profiles: [],
  duringBackup: null,
  databases: [],
  crashes: [],
  errors: [],
};

async function main(): Promise<void> {
  say(`tobira benchmark, ${cfg.mode} mode`);
  say(`machine: ${machineLine(m)}`);
  if (cfg.mode === 'full') {
    say(
      'the full run takes about 12 minutes here once its databases are cached (the first run generates them: about 10 more minutes, ~7.5 GB under bench/results/tmp/db/, and each run copies the 6 GB one)',
    );
  }
  rmSync(RUN, { recursive: true, force: true });
  mkdirSync(RUN, { recursive: true });
  mkdirSync(CACHE, { recursive: true });

  // ---- databases
  say('databases (cached by size and schema under bench/results/tmp/db/)');
  const sizeDbs = new Map<number, CachedDb>();
  for (const n of cfg.sizes) sizeDbs.set(n, await ensureDb(CACHE, { credentials: n, grants: cfg.grants, pinHolders: cfg.pinHolders, logRows: 0 }, say));
  const big = await ensureDb(CACHE, { credentials: cfg.bigCredentials, grants: cfg.grants, pinHolders: cfg.pinHolders, logRows: cfg.logRows }, say);
  for (const db of [...sizeDbs.values(), big])
    results.databases.push({ key: db.meta.key, buildSeconds: db.meta.buildSeconds, mb: Math.round(db.meta.bytes / 2 ** 20) });
  if (prepareOnly) {
    say('--prepare-only: the databases are ready; nothing measured');
    process.exit(0);
  }

  // ---- site, secrets, brokers
  const baseTopic = `tobira-bench-${randomBytes(3).toString('hex')}`;
  const site = benchSite({ baseTopic, cardDoors: cfg.cardDoors, pinDoors: cfg.pinDoors });
  const secretsDir = join(RUN, 'secrets');
  mkdirSync(secretsDir, { recursive: true });
  const { secrets } = ensureSecrets(secretsDir, site.deviceIds);
  // Every device link is MQTT over TLS, as on a site: one CA for the run, copied into each daemon's data directory.
  const tls = ensureDeviceTls(secretsDir);
  trustCa(tls.ca);
  const brokers: BrokerName[] = ['embedded'];
  let mosquitto: MosquittoHandle | undefined;
  results.brokers.push({ name: 'embedded', detail: 'aedes inside the daemon process (the default)' });
  if (!noMosquitto && mosquittoBinary()) {
    mosquitto = await startMosquitto(secrets, baseTopic, site.deviceIds, tls);
    theMosquitto = mosquitto;
    brokers.push('mosquitto');
    results.brokers.push({
      name: 'mosquitto',
      detail: `${mosquitto.version}, own instance on ${mosquitto.url}, files from \`tobira mqtt-acl\` (TLS listener, set_tcp_nodelay true)`,
    });
    say(`Mosquitto: ${mosquitto.version} at ${mosquitto.url}`);
  } else {
    const why = noMosquitto ? '--no-mosquitto' : 'mosquitto is not installed';
    results.brokers.push({ name: 'mosquitto', detail: `not measured: ${why}` });
    say(`!!! Mosquitto not measured: ${why}`);
  }

  try {
    if (onlyScenarios) return await scenarios(site, secrets, sizeDbs.get(Math.max(...cfg.sizes))!);
    // ---- floors that need no broker
    say(`PIN check floor: ${cfg.pinFloor} argon2id verifications with the daemon's parameters`);
    results.floors.pinVerify = summarize(await pinFloor(cfg.pinFloor));

    // ---- decision latency, per broker and size, between two echo floors
    for (const broker of brokers) {
      const leanBefore = await leanEchoFloor(broker);
      const echoBefore = await echoFloor(broker, site, secrets, secretsDir, mosquitto);
      if (broker === 'embedded') {
        // The same echo over plain MQTT: what TLS adds to one device round trip (a decision has one).
        const plain = await echoFloor(broker, site, secrets, secretsDir, mosquitto, 'plain');
        results.floors.plainEcho = summarize(plain.samples);
        const tlsEcho = summarize(echoBefore.samples);
        const plainEcho = results.floors.plainEcho;
        say(
          `TLS adds ${((tlsEcho.p50 ?? 0) - (plainEcho.p50 ?? 0)).toFixed(2)} ms at p50, ${((tlsEcho.p99 ?? 0) - (plainEcho.p99 ?? 0)).toFixed(2)} ms at p99 to the echo (embedded)`,
        );
      }
      for (const n of cfg.sizes) await decisionSession(broker, sizeDbs.get(n)!, site, secrets, mosquitto);
      const echoAfter = await echoFloor(broker, site, secrets, secretsDir, mosquitto);
      const leanAfter = cfg.leanEcho.after ? await leanEchoFloor(broker) : { samples: [], noDelay: true };
      results.floors.lean!.echo[broker] = {
        before: summarize(leanBefore.samples),
        after: summarize(leanAfter.samples),
        pooled: summarize(concat(leanBefore.samples, leanAfter.samples)),
        noDelay: leanBefore.noDelay && leanAfter.noDelay,
        process: leanBefore.process,
      };
      results.floors.echo[broker] = {
        before: summarize(echoBefore.samples),
        after: summarize(echoAfter.samples),
        pooled: summarize(concat(echoBefore.samples, echoAfter.samples)),
        noDelay: echoBefore.noDelay,
        process:
          broker === 'embedded'
            ? 'echo peer = aedes + controller-login client in one child process (as the daemon)'
            : 'echo peer = controller-login client in its own child process (as the daemon)',
      };
      // Now that the echo floor is known, the ratios of this broker's decisions.
      for (const d of results.decision.filter((x) => x.broker === broker)) fillRatio(d);
    }

    // ---- the big database: log integrity, footprint, burst, API
    await bigDatabase(big, site, secrets, brokers, mosquitto);
    await scenarios(site, secrets, sizeDbs.get(Math.max(...cfg.sizes))!);
  } finally {
    await mosquitto?.stop();
  }
}

// ------------------------------------------------------------------------------------------------

/** The lean echo: the broker's software alone (aedes standalone for the embedded one), plain clients. */
async function leanEchoFloor(broker: BrokerName): Promise<{ samples: number[]; noDelay: boolean; process: string }> {
  const e = await leanEcho(broker === 'embedded' ? 'aedes' : 'mosquitto', cfg.leanEcho.n, cfg.leanEcho.warmup, cfg.gapMs);
  const s = summarize(e.samples);
  say(
    `lean echo floor (${broker === 'embedded' ? 'aedes standalone' : 'Mosquitto, plain'}): p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms, n ${s.count}${e.lost ? `, ${e.lost} LOST` : ''}`,
  );
  if (e.lost) results.errors.push(`lean echo floor (${broker}): ${e.lost} echoes lost`);
  return e;
}

async function echoFloor(
  broker: BrokerName,
  site: BenchSite,
  secrets: Secrets,
  secretsDir: string,
  mosquitto?: MosquittoHandle,
  transport: 'tls' | 'plain' = 'tls',
): Promise<{ samples: number[]; noDelay: boolean }> {
  const peer = startHelper(
    'echo-peer.js',
    broker === 'embedded'
      ? {
          mode: 'embedded',
          port: await freePort(),
          ...(transport === 'plain' ? { plainPort: await freePort() } : {}),
          baseTopic: site.site.mqtt.baseTopic,
          dataDir: secretsDir,
        }
      : { mode: 'external', url: mosquitto!.url, baseTopic: site.site.mqtt.baseTopic, dataDir: secretsDir },
  );
  try {
    const line = await peer.waitLine(/^READY /, 10_000);
    const [tlsUrl, plainUrl] = line.slice('READY '.length).trim().split(' ');
    const url = transport === 'plain' ? plainUrl! : tlsUrl!;
    const rigs = makeRigs(site.cardDoors.slice(0, cfg.quietDoors), site.site.mqtt.baseTopic, secrets, BENCH_PIN);
    for (const r of rigs) r.expectIndication = false;
    await connectRigs(rigs, url, { waitLocked: false });
    const random = rng(7);
    const meter = new CpuMeter(() => [process.pid, peer.pid, ...(mosquitto ? [mosquitto.pid] : [])]);
    const q = await quietReads(rigs, () => cardOf(Math.floor(random() * 1000)), cfg.echo.n, cfg.echo.warmup, cfg.gapMs);
    const cpu = meter.stop();
    const noDelay = rigs.every((r) => r.reader.noDelay && r.lock.noDelay);
    await closeRigs(rigs);
    const s = summarize(q.samples);
    say(
      `echo floor (${broker}${transport === 'plain' ? ', plain MQTT' : ', TLS'}): p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms, n ${s.count}${q.lost ? `, ${q.lost} LOST` : ''}${cpu ? `; other load ${cpu.otherCores} cores` : ''}`,
    );
    if (q.lost) results.errors.push(`echo floor (${broker}): ${q.lost} echoes lost`);
    return { samples: q.samples, noDelay };
  } finally {
    await peer.stop();
  }
}

interface Session {
  label: string;
  dir: string;
  daemon: DaemonHandle;
  rigs: DoorRig[];
  cardRigs: DoorRig[];
  pinRigs: DoorRig[];
  rssAtReadyMB: number | null;
  cpu(): CpuMeter;
}

/** Starts the daemon on a working copy (or an existing directory), connects every device, waits for the locks, runs `body`, stops. */
async function withDaemon<T>(
  label: string,
  broker: BrokerName,
  site: BenchSite,
  secrets: Secrets,
  mosquitto: MosquittoHandle | undefined,
  data: { copyOf: CachedDb } | { dir: string },
  body: (s: Session) => Promise<T>,
  opts: { prepare?: (dir: string) => Promise<void> | void; nodeArgs?: string[]; cleanup?: boolean } = {},
): Promise<T> {
  const dir = 'dir' in data ? data.dir : join(RUN, label);
  if ('copyOf' in data) {
    rmSync(dir, { recursive: true, force: true });
    copyDb(data.copyOf, dir);
  }
  writeFileSync(join(dir, 'secrets.json'), JSON.stringify(secrets, null, 2), { mode: 0o600 });
  for (const name of Object.values(TLS_FILES)) copyFileSync(join(RUN, 'secrets', name), join(dir, name));
  const siteFile = join(dir, 'site.yaml');
  writeFileSync(siteFile, site.yaml);
  await opts.prepare?.(dir);
  const daemon = await startDaemon({
    dataDir: dir,
    siteFile,
    logFile: join(RUN, `${label}.daemon.log`),
    nodeArgs: opts.nodeArgs,
    broker: broker === 'embedded' ? { mode: 'embedded' } : { mode: 'external', url: mosquitto!.url },
  });
  const rssAtReadyMB = residentMB(daemon.pid)?.rss ?? null;
  const rigs = makeRigs([...site.cardDoors, ...site.pinDoors], site.site.mqtt.baseTopic, secrets, BENCH_PIN);
  phase = 'connecting the devices';
  try {
    await connectRigs(rigs, daemon.mqttUrl, { waitLocked: true });
    // Every lock has been driven to rest; a moment for the rest of the start-up traffic to pass.
    await sleep(300);
    daemon.resetProblems();
    const pids = () => [process.pid, daemon.pid, ...(broker === 'mosquitto' && mosquitto ? [mosquitto.pid] : [])];
    return await body({
      label,
      dir,
      daemon,
      rigs,
      rssAtReadyMB,
      cardRigs: rigs.filter((r) => r.door.kind === 'card'),
      pinRigs: rigs.filter((r) => r.door.kind === 'card+pin'),
      cpu: () => new CpuMeter(pids),
    });
  } finally {
    const crash = daemon.crash();
    if (crash) {
      results.crashes.push({ session: label, during: phase, code: crash.code, signal: crash.signal, output: crash.tail.slice(-1500) });
      say(
        `!!! the daemon (${label}) ended on its own during ${phase}: exit ${crash.code ?? crash.signal}; ${
          crash.tail
            .trim()
            .split('\n')
            .find((l) => /Error/.test(l)) ?? ''
        }`,
      );
    }
    // The devices stay until the daemon has stopped: it locks every lock on the way out, and they acknowledge.
    const { code } = await daemon.stop();
    await closeRigs(rigs);
    if (opts.cleanup) rmSync(dir, { recursive: true, force: true });
    if (!crash && code !== 0 && code !== null) results.errors.push(`${label}: the daemon exited with ${code} when stopped (see ${label}.daemon.log)`);
  }
}

function cardPicker(db: CachedDb): () => string {
  const random = rng(db.meta.spec.credentials);
  return () => cardOf(grantedPerson(db.meta, Math.floor(random() * db.meta.cardHolders)));
}

async function decisionSession(broker: BrokerName, db: CachedDb, site: BenchSite, secrets: Secrets, mosquitto?: MosquittoHandle): Promise<void> {
  const n = db.meta.spec.credentials;
  const label = `decision-${broker}-${n}`;
  say(`decision latency: ${broker}, ${n.toLocaleString('en')} credentials (copying the database, starting the daemon)`);
  await withDaemon(
    label,
    broker,
    site,
    secrets,
    mosquitto,
    { copyOf: db },
    async (s) => {
      const card = cardPicker(db);
      let meter = s.cpu();
      phase = 'quiet card reads';
      const c = await quietReads(s.cardRigs.slice(0, cfg.quietDoors), () => card(), cfg.card.n, cfg.card.warmup, cfg.gapMs);
      const cpuCard = meter.stop();
      const warnCard = s.daemon.problems();
      s.daemon.resetProblems();
      record(broker, n, 'card', c, cpuCard, warnCard);
      const holders = db.meta.pinHolders;
      const random = rng(3);
      meter = s.cpu();
      const p = await quietReads(s.pinRigs, () => holders[Math.floor(random() * holders.length)]!.card, cfg.pin.n, cfg.pin.warmup, cfg.gapMs, 10_000);
      record(broker, n, 'card+pin', p, meter.stop(), s.daemon.problems());
    },
    {
      // The working copy goes once the session is over (up to 1.4 GB each); its daemon log stays.
      cleanup: true,
      // The commit floor on this very copy, before the daemon opens it.
      prepare: async (dir) => {
        const sum = summarize(await commitFloor(dir, db.meta, cfg.commit.n, cfg.commit.warmup, cfg.gapMs));
        const hot = summarize(await commitFloor(dir, db.meta, cfg.commit.n, cfg.commit.warmup, 0));
        results.floors.commit.push({ broker, credentials: n, summary: sum, backToBack: hot });
        say(
          `  commit floor: back to back (lean) p50 ${hot.p50} ms, p99 ${hot.p99} ms; paced (like-for-like) p50 ${sum.p50} ms, p99 ${sum.p99} ms, max ${sum.max} ms`,
        );
      },
    },
  );
}

function record(
  broker: BrokerName,
  credentials: number,
  door: 'card' | 'card+pin',
  q: QuietResult,
  cpu: CpuShare | undefined,
  warnings: Record<string, number>,
): void {
  const latency = summarize(q.samples);
  results.decision.push({
    broker,
    credentials,
    door,
    latency,
    lost: q.lost,
    denied: q.denied,
    floor: { p50: null, p99: null, parts: '' },
    ratioP50: null,
    ratioP99: null,
    ...(door === 'card+pin' ? { promptLatency: summarize(q.promptSamples), pinToUnlock: summarize(q.pinSamples) } : {}),
    cpu,
    daemonWarnings: warnings,
  });
  say(
    `  ${door}: p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms, n ${latency.count}${q.lost ? `, ${q.lost} LOST` : ''}${q.denied ? `, ${q.denied} DENIED` : ''}${cpu ? `; other load ${cpu.otherCores} cores` : ''}`,
  );
  if (q.lost || q.denied) results.errors.push(`decision ${broker} ${credentials} ${door}: ${q.lost} lost, ${q.denied} denied (every read should be granted)`);
}

/**
 * decision ÷ floor. Card: echo + commit. Card + PIN: two echoes (card → prompt, PIN → unlock) +
 * commit + one argon2id check. The floor: the lean echo and the back-to-back commit; like-for-like:
 * the daemon-shaped echo peer and the commit paced like the reads. Missing figures (an older results
 * file) leave it null.
 */
function fillRatio(d: Results['decision'][number]): void {
  const commit = results.floors.commit.find((c) => c.broker === d.broker && c.credentials === d.credentials);
  const pin = results.floors.pinVerify;
  const add = (...xs: (number | null | undefined)[]) => (xs.some((x) => x == null) ? null : Number(xs.reduce<number>((a, x) => a + x!, 0).toFixed(3)));
  const floorOf = (echo: Summary | undefined, c: Summary | undefined, what: string) =>
    d.door === 'card'
      ? { p50: add(echo?.p50, c?.p50), p99: add(echo?.p99, c?.p99), parts: `${what}: echo + commit` }
      : {
          p50: add(echo?.p50, echo?.p50, c?.p50, pin?.p50),
          p99: add(echo?.p99, echo?.p99, c?.p99, pin?.p99),
          parts: `${what}: 2 × echo + commit + PIN check`,
        };
  d.floor = floorOf(results.floors.lean?.echo[d.broker]?.pooled, commit?.backToBack, 'lean');
  d.ratioP50 = ratio(d.latency.p50, d.floor.p50);
  d.ratioP99 = ratio(d.latency.p99, d.floor.p99);
  const like = floorOf(results.floors.echo[d.broker]?.pooled, commit?.summary, 'like-for-like');
  d.likeForLike = { floor: like, ratioP50: ratio(d.latency.p50, like.p50), ratioP99: ratio(d.latency.p99, like.p99) };
}

// ------------------------------------------------------------------------------------------------

async function bigDatabase(big: CachedDb, site: BenchSite, secrets: Secrets, brokers: BrokerName[], mosquitto?: MosquittoHandle): Promise<void> {
  const rows = big.meta.log?.rows ?? 0;
  // Log integrity: the whole chain, read as `tobira log verify` reads it (the cached file, not written;
  // worker threads, one per core, each with its own read-only connection).
  say(`log integrity: verifying the hash chain of ${rows.toLocaleString('en')} records`);
  {
    const t0 = process.hrtime.bigint();
    const v = await verifyEntryLogFile(big.file);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    results.logIntegrity.verify = {
      ok: v.ok,
      records: v.records,
      seconds: Number(seconds.toFixed(2)),
      recordsPerSec: Math.round(v.records / seconds),
      ...(v.breakAt ? { breakAt: v.breakAt } : {}),
    };
    say(
      `  ${v.ok ? 'ok' : 'BROKEN'}: ${v.records.toLocaleString('en')} records in ${seconds.toFixed(2)} s = ${Math.round(v.records / seconds).toLocaleString('en')} records/s`,
    );
    if (!v.ok) results.errors.push(`the generated entry log does not verify: ${JSON.stringify(v.breakAt)}`);
  }
  const dir = join(RUN, 'big');
  say(`copying the big database (${Math.round(big.meta.bytes / 2 ** 20)} MB) for the daemon`);
  rmSync(dir, { recursive: true, force: true });
  copyDb(big, dir);
  say(`durable append rate: ${cfg.append.single} appends, each its own transaction; ${cfg.append.batched} in transactions of 1,000`);
  results.logIntegrity.append = appendRate(dir, cfg.append.single, cfg.append.batched);
  say(
    `  ${results.logIntegrity.append.perCommitPerSec.toLocaleString('en')}/s one per commit, ${results.logIntegrity.append.batchedPerSec.toLocaleString('en')}/s batched`,
  );

  let apiPrep: ApiPrep | undefined;
  // Quiet reads on this database, daemon and broker: the burst's "quiet value".
  const quietFirst = async (s: Session, broker: BrokerName): Promise<Summary> => {
    phase = 'quiet reads';
    const card = cardPicker(big);
    const io = meterStorage(s.daemon.pid, s.dir, 'quiet', `${s.label} quiet`);
    const q = await quietReads(s.cardRigs.slice(0, cfg.quietDoors), () => card(), cfg.bigQuiet.n, cfg.bigQuiet.warmup, cfg.gapMs);
    const w = await io.stop();
    say(`  disk: ${w.bytesWrittenPerDecision ?? '?'} bytes written per decision (wchar ${w.wcharPerDecision ?? '?'}), WAL peak ${w.walPeakMB} MB`);
    if (q.lost || q.denied) results.errors.push(`big database, ${broker}: ${q.lost} quiet reads lost, ${q.denied} denied`);
    const quiet = summarize(q.samples);
    say(`  quiet: p50 ${quiet.p50} ms, p99 ${quiet.p99} ms, max ${quiet.max} ms`);
    s.daemon.resetProblems();
    return quiet;
  };
  const peak = (mb: number | null) => {
    if (results.footprint && mb !== null) results.footprint.peakRssMB = Math.max(results.footprint.peakRssMB ?? 0, mb);
  };
  for (const broker of brokers) {
    if (broker === 'mosquitto' && !cfg.burstOnMosquitto) continue;
    say(
      `big database (${big.meta.spec.credentials.toLocaleString('en')} credentials, ${rows.toLocaleString('en')} log rows), ${broker}: ${broker === 'embedded' ? 'start-up, ' : ''}quiet reads, burst`,
    );
    await withDaemon(
      `big-${broker}`,
      broker,
      site,
      secrets,
      mosquitto,
      { dir },
      async (s) => {
        if (broker === 'embedded') {
          results.footprint = {
            credentials: big.meta.spec.credentials,
            logRows: rows,
            broker,
            readyMs: s.daemon.readyMs,
            bootMs: s.daemon.bootMs,
            rssAtReadyMB: s.rssAtReadyMB,
            rssSettledMB: residentMB(s.daemon.pid)?.rss ?? null,
            peakRssMB: null,
            dbMB: Math.round(big.meta.bytes / 2 ** 20),
            note: 'embedded broker (everything in one process, as on the gateway); database in the page cache (just copied); peak over this session and the API one',
          };
          say(`  ready in ${s.daemon.readyMs} ms (Node and modules ${s.daemon.bootMs} ms, then the controller), RSS ${s.rssAtReadyMB} MB at ready`);
        }
        const quiet = await quietFirst(s, broker);
        await runBurst(s, broker, big, quiet, false);
        if (broker === 'embedded') peak(s.daemon.peakRssMB());
        if (broker === 'embedded') await backupScenario(s);
      },
      {
        prepare: async (d) => {
          if (broker === 'embedded') apiPrep = await prepareApi(d, site.site, big.meta, cfg.api.revocable);
        },
      },
    );
    if (broker === 'embedded') {
      // A fresh daemon for the API (whatever the burst did to the last one).
      say(`big database, ${broker}: API${cfg.api.aloneSeconds > 0 ? ' alone, then' : ''} during a burst`);
      await withDaemon(`big-${broker}-api`, broker, site, secrets, mosquitto, { dir }, async (s) => {
        const quiet = await quietFirst(s, broker);
        await apiScenario(s, broker, big, quiet);
        peak(s.daemon.peakRssMB());
      });
    }
  }
  if (cfg.profile.enabled) {
    say(
      `profile: the daemon under ${cfg.profile.quiet} quiet reads, then a ${cfg.profile.burstSeconds} s burst with the API load, with --cpu-prof (embedded broker, big database)`,
    );
    const profDir = join(RUN, 'profile');
    rmSync(profDir, { recursive: true, force: true });
    mkdirSync(profDir, { recursive: true });
    const windows: { scenario: string; from: number; to: number }[] = [];
    await withDaemon(
      'profile',
      'embedded',
      site,
      secrets,
      undefined,
      { dir },
      async (s) => {
        const card = cardPicker(big);
        let from = Date.now() - s.daemon.spawnedAt;
        phase = 'profiled quiet reads';
        const q = await quietReads(s.cardRigs.slice(0, cfg.quietDoors), () => card(), cfg.profile.quiet, 0, cfg.gapMs);
        windows.push({ scenario: `${cfg.profile.quiet} quiet reads (one at a time)`, from, to: Date.now() - s.daemon.spawnedAt });
        if (q.lost || q.denied) results.errors.push(`profile session: ${q.lost} quiet reads lost, ${q.denied} denied`);
        const load = apiPrep ? await prepareLoad(s, big, apiPrep) : undefined;
        from = Date.now() - s.daemon.spawnedAt;
        const loading = load?.run(cfg.profile.burstSeconds);
        phase = 'the profiled burst';
        await burst(s.cardRigs, card, cfg.burst.rate, cfg.profile.burstSeconds, cfg.burst.drainMs, () => s.daemon.alive());
        await loading;
        windows.push({
          scenario: `burst of ${cfg.burst.rate}/s over ${cfg.cardDoors} doors for ${cfg.profile.burstSeconds} s${load?.routes.length ? ' with the API load' : ''}`,
          from,
          to: Date.now() - s.daemon.spawnedAt,
        });
      },
      { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] },
    );
    for (const w of windows) {
      const p = summarizeProfile(profDir, w.from, w.to);
      if (p) results.profiles.push({ ...p, scenario: w.scenario });
      else results.errors.push(`profile: no samples for ${w.scenario} (was a .cpuprofile written?)`);
    }
  }

  // The big working copy (about 6 GB in the full run) is not kept; the logs and the profile are.
  rmSync(dir, { recursive: true, force: true });

  /** Quiet reads again, then for as long as a backup of the big database runs beside the daemon. */
  async function backupScenario(s: Session): Promise<void> {
    say(`big database, embedded: quiet reads, then reads for as long as \`tobira backup\` runs (${Math.round(big.meta.bytes / 2 ** 20)} MB)`);
    const quiet = await quietFirst(s, 'embedded');
    phase = 'reads during a backup';
    const b = await duringBackup({
      dataDir: s.dir,
      siteFile: join(s.dir, 'site.yaml'),
      out: join(RUN, 'bench.tobira-backup'),
      rigs: s.cardRigs.slice(0, cfg.quietDoors),
      card: cardPicker(big),
      quiet,
      gapMs: cfg.gapMs,
      ...cfg.duringBackup,
    });
    results.duringBackup = b;
    if (b.lost || b.denied) results.errors.push(`during the backup: ${b.lost} quiet reads lost, ${b.denied} denied`);
    if (b.finished && b.exitCode !== 0) results.errors.push(`tobira backup exited ${b.exitCode}: ${b.stderr.trim().split('\n').at(-1) ?? ''}`);
    say(
      `  backup ${b.finished ? 'done' : `stopped after ${cfg.duringBackup.maxSeconds} s`} in ${b.seconds} s (copy ${b.copySeconds ?? '—'} s, archive and encrypt ${b.encryptSeconds ?? '—'} s), ${b.archiveMB ?? '—'} MB`,
    );
    say(
      `  during it: p50 ${b.during.p50} ms, p99 ${b.during.p99} ms, max ${b.during.max} ms over ${b.during.count} reads (copy p99 ${b.copy.p99} ms, encrypt p99 ${b.encrypt.p99} ms); p99 ÷ quiet p99 = ${b.p99OverQuiet}`,
    );
  }

  async function apiScenario(s: Session, broker: BrokerName, db: CachedDb, quiet: Summary): Promise<void> {
    const load = await prepareLoad(s, db, apiPrep!);
    const toPhase = (phase: 'alone' | 'during burst', seconds: number, rs: RouteResult[]) => ({
      phase,
      routes: [
        ...rs.map((r) => ({
          name: r.name,
          available: true,
          latency: summarize(r.samples),
          statuses: r.statuses,
          errors: r.errors + r.timeouts,
          rate: Number((r.samples.length / seconds).toFixed(1)),
        })),
        ...load.unavailable.map((u) => ({ name: u.name, available: false, why: u.why, latency: null, statuses: {}, rate: 0, errors: 0 })),
      ],
    });
    if (cfg.api.aloneSeconds > 0 && load.routes.length > 0) {
      phase = 'the API load alone';
      say(`  API alone for ${cfg.api.aloneSeconds} s`);
      const alone = await load.run(cfg.api.aloneSeconds);
      results.api.push(toPhase('alone', cfg.api.aloneSeconds, alone));
      logApi(alone);
    }
    say(`  API load during a burst of ${cfg.burst.rate}/s for ${cfg.burst.seconds} s`);
    const loadPromise = load.run(cfg.api.seconds);
    await runBurst(s, broker, db, quiet, true);
    const during = await loadPromise;
    results.api.push(toPhase('during burst', cfg.api.seconds, during));
    logApi(during);
  }
}

/** Signed-in tokens, kept across the daemon sessions on the big database (sessions live in it). */
let tokens: { manager: string; auditor: string } | undefined;
/** Grants to revoke, each used once. */
let revocable: number[] | undefined;

/**
 * Signs in (once), probes each route, and returns the routes to load with autocannon (a route that
 * is not there yet is reported as not available) and a runner for a given number of seconds.
 */
async function prepareLoad(
  s: Session,
  db: CachedDb,
  prep: ApiPrep,
): Promise<{ routes: LoadRoute[]; unavailable: { name: string; why: string }[]; run(seconds: number): Promise<RouteResult[]> }> {
  const account = (role: string) => prep.accounts.find((a) => a.role === role)!;
  const login = async (offsetSteps: number) => ({
    manager: await signIn(s.daemon.apiUrl, account('manager'), offsetSteps),
    auditor: await signIn(s.daemon.apiUrl, account('auditor'), offsetSteps),
  });
  tokens ??= await login(0);
  revocable ??= [...prep.revocableGrantIds];
  const random = rng(11);
  const persons: string[] = [];
  for (let k = 0; k < 500; k++) persons.push(personIdOf(grantedPerson(db.meta, Math.floor(random() * db.meta.cardHolders))));
  const days: string[] = [];
  const first = Date.parse(db.meta.log!.firstAt);
  const last = Date.parse(db.meta.log!.lastAt);
  for (let k = 0; k < 200; k++) {
    const day = new Date(first + random() * (last - first));
    day.setUTCHours(0, 0, 0, 0);
    days.push(day.toISOString());
  }
  const dayPath = (d: string) =>
    `/api/v1/entries?areaId=${CARD_AREA}&from=${encodeURIComponent(d)}&to=${encodeURIComponent(new Date(Date.parse(d) + 86_400_000).toISOString())}`;
  const createBody = { personId: persons[0]!, areaId: 'zone09', purpose: 'benchmark load' };
  // Each grant is revoked once: the probe takes one now, each load its own (see run).
  const probeId = revocable.shift();
  const revokePath = (id: number) => `/api/v1/grants/${id}/revoke`;
  const candidates: (Omit<LoadRoute, 'token' | 'rate'> & {
    rateKey: 'create' | 'revoke' | 'byPerson' | 'byAreaDay';
    probe: { method: 'GET' | 'POST'; path: string; body?: unknown };
  })[] = [
    {
      name: 'grant create (POST /api/v1/grants)',
      method: 'POST',
      paths: ['/api/v1/grants'],
      body: createBody,
      rateKey: 'create',
      probe: { method: 'POST', path: '/api/v1/grants', body: createBody },
    },
    {
      name: 'grant revoke (POST /api/v1/grants/:id/revoke)',
      method: 'POST',
      paths: [],
      body: {},
      rateKey: 'revoke',
      probe: { method: 'POST', path: revokePath(probeId!), body: {} },
    },
    {
      name: 'entries by person (GET /api/v1/entries?personId=)',
      method: 'GET',
      paths: persons.map((p) => `/api/v1/entries?personId=${p}`),
      rateKey: 'byPerson',
      probe: { method: 'GET', path: `/api/v1/entries?personId=${persons[1]}` },
    },
    {
      name: 'entries by area and day (GET /api/v1/entries?areaId=&from=&to=)',
      method: 'GET',
      paths: days.map(dayPath),
      rateKey: 'byAreaDay',
      probe: { method: 'GET', path: dayPath(days[0]!) },
    },
  ];
  const routes: LoadRoute[] = [];
  const unavailable: { name: string; why: string }[] = [];
  for (const c of candidates) {
    let token = tokens.manager;
    let p = await probe(s.daemon.apiUrl, c.probe.method, c.probe.path, token, c.probe.body);
    if (p.status === 401) {
      // The session ended (idle): sign in again, with the next TOTP step (a code is good once).
      tokens = await login(1);
      token = tokens.manager;
      p = await probe(s.daemon.apiUrl, c.probe.method, c.probe.path, token, c.probe.body);
    }
    if (!p.available && p.status === 403) {
      token = tokens.auditor;
      p = await probe(s.daemon.apiUrl, c.probe.method, c.probe.path, token, c.probe.body);
    }
    if (!p.available) {
      unavailable.push({ name: c.name, why: `not available: ${p.why}` });
      say(`  API ${c.name}: not available (${p.why}${p.status !== 404 ? `: ${p.body.slice(0, 120)}` : ''})`);
      if (p.status !== 404) results.errors.push(`API ${c.name}: ${p.status} ${p.body.slice(0, 200)}`);
      continue;
    }
    routes.push({ name: c.name, method: c.method, paths: c.paths, ...(c.body !== undefined ? { body: c.body } : {}), token, rate: cfg.api[c.rateKey] });
  }
  const run = async (seconds: number): Promise<RouteResult[]> => {
    if (routes.length === 0 || seconds <= 0) return [];
    const out = join(RUN, `api-${Date.now()}.json`);
    // Fresh grants to revoke for this load: enough for its rate and length, with room.
    const fresh = routes.map((r) =>
      r.name.startsWith('grant revoke') ? { ...r, paths: revocable!.splice(0, Math.ceil(r.rate * seconds * 1.5) + 2).map(revokePath) } : r,
    );
    const args: LoadArgs = { url: s.daemon.apiUrl, seconds, routes: fresh, out };
    const h = startHelper('api-load.js', args);
    const code = await h.exited;
    if (code !== 0) throw new Error(`api-load exited with ${code}: ${h.output().slice(-2000)}`);
    return JSON.parse(readFileSync(out, 'utf8')) as RouteResult[];
  };
  return { routes, unavailable, run };
}

function logApi(rs: RouteResult[]): void {
  for (const r of rs) {
    const l = summarize(r.samples);
    const bad = Object.entries(r.statuses).filter(([k]) => !k.startsWith('2'));
    say(
      `    ${r.name}: p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms, n ${l.count}${bad.length ? `, non-2xx ${JSON.stringify(Object.fromEntries(bad))}` : ''}`,
    );
  }
}

/** Returns whether the daemon died during it. */
async function runBurst(s: Session, broker: BrokerName, db: CachedDb, quiet: Summary, withApi: boolean): Promise<boolean> {
  const dbFile = join(s.dir, 'tobira.db');
  const head = logHead(dbFile);
  const card = cardPicker(db);
  say(`  burst${withApi ? ' (with API load)' : ''}: ${cfg.cardDoors} doors, ${cfg.burst.rate} reads/s in total for ${cfg.burst.seconds} s`);
  s.daemon.resetProblems();
  const droppedBefore = broker === 'mosquitto' ? await theMosquitto?.dropped() : undefined;
  if (broker === 'mosquitto' && droppedBefore === undefined) say("    (could not read Mosquitto's dropped-messages counter before the burst)");
  const commitsBefore = await commitCounters(s.daemon.apiUrl);
  const meter = s.cpu();
  phase = `the burst${withApi ? ' with API load' : ''}`;
  const io = meterStorage(s.daemon.pid, s.dir, 'burst', `${s.label} burst${withApi ? ' with API load' : ''}`);
  const b = await burst(s.cardRigs, card, cfg.burst.rate, cfg.burst.seconds, cfg.burst.drainMs, () => s.daemon.alive());
  const cpu = meter.stop();
  const w = await io.stop();
  say(`    disk: ${w.bytesWrittenPerDecision ?? '?'} bytes written per decision (wchar ${w.wcharPerDecision ?? '?'}), WAL peak ${w.walPeakMB} MB`);
  const daemonCrashed = !s.daemon.alive();
  let brokerDropped: number | null = null;
  if (broker === 'mosquitto' && droppedBefore !== undefined) {
    await sleep(1500); // $SYS is refreshed every second
    const after = await theMosquitto?.dropped();
    if (after !== undefined) brokerDropped = after - droppedBefore;
    else say("    (could not read Mosquitto's dropped-messages counter after the burst)");
  }
  let log: ReturnType<typeof checkLog> | null = null;
  try {
    log = checkLog(dbFile, head, b.keys);
  } catch (err) {
    results.errors.push(`burst log check: ${(err as Error).message}`);
  }
  const { keys: _keys, ...rest } = b;
  const p99OverQuiet = ratio(b.latency.p99, quiet.p99);
  // The daemon's CPU per read: robust to other work on the machine, unlike the latencies.
  const daemonCpuPerRead =
    cpu && cpu.byPid[s.daemon.pid] !== undefined && b.reads > 0 ? Number(((cpu.byPid[s.daemon.pid]! * cpu.seconds * 1000) / b.reads).toFixed(3)) : null;
  const commitsAfter = daemonCrashed ? null : await commitCounters(s.daemon.apiUrl);
  const commits =
    commitsAfter && commitsBefore ? { commits: commitsAfter.commits - commitsBefore.commits, writes: commitsAfter.writes - commitsBefore.writes } : null;
  results.burst.push({
    ...rest,
    broker,
    withApi,
    quietP99: quiet.p99,
    p99OverQuiet,
    log,
    cpu,
    daemonCpuPerRead,
    commits,
    daemonWarnings: s.daemon.problems(),
    daemonCrashed,
    brokerDropped,
  });
  say(
    `    sent ${b.reads} at ${b.sentRate}/s (max backlog ${b.maxBacklog})${b.unsent ? `, ${b.unsent} never sent (daemon gone)` : ''}; answered ${b.answered}, lost ${b.lost}, duplicated ${b.duplicated}, denied ${b.denied}; p50 ${b.latency.p50} ms, p99 ${b.latency.p99} ms (${p99OverQuiet}× quiet), max ${b.latency.max} ms`,
  );
  const warnings = Object.entries(s.daemon.problems())
    .sort((a, b2) => b2[1] - a[1])
    .slice(0, 3);
  if (warnings.length) say(`    daemon warnings: ${warnings.map(([k, v]) => `${v} × ${k}`).join('; ')}`);
  if (log)
    say(
      `    entry log: ${log.logged} logged once, ${log.missing} missing, ${log.duplicated} more than once; ${log.unlockedNotLogged} unlocked without a record`,
    );
  if (cpu)
    say(
      `    CPU: machine ${cpu.machineCores} cores, bench processes ${cpu.benchCores}, other work ${cpu.otherCores}; the daemon ${cpu.byPid[s.daemon.pid] ?? '?'} cores${daemonCpuPerRead !== null ? `, ${daemonCpuPerRead} ms of CPU per read` : ''}`,
    );
  if (commits)
    say(
      `    group commit: ${commits.writes} decisions in ${commits.commits} durable transactions (${(commits.writes / Math.max(1, commits.commits)).toFixed(1)} per commit)`,
    );
  if (brokerDropped !== null)
    say(`    Mosquitto dropped ${brokerDropped} messages during it ($SYS/broker/publish/messages/dropped: a client's queue was full)`);
  return daemonCrashed;
}

/** The access flow's group-commit counters, from the daemon's public /metrics. */
async function commitCounters(apiUrl: string): Promise<{ commits: number; writes: number } | null> {
  try {
    const text = await (await fetch(`${apiUrl}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text)?.[1] ?? NaN);
    const commits = read('tobira_decision_commits_total');
    const writes = read('tobira_decision_commit_writes_total');
    return Number.isFinite(commits) && Number.isFinite(writes) ? { commits, writes } : null;
  } catch {
    return null;
  }
}

/** Overload and soak (bench/lib/overload.ts, soak.ts), each with a daemon of its own on the largest decision database, embedded broker. */
async function scenarios(site: BenchSite, secrets: Secrets, db: CachedDb): Promise<void> {
  const session = <T>(label: string, body: (s: Session) => Promise<T>) =>
    withDaemon(label, 'embedded', site, secrets, undefined, { copyOf: db }, body, {
      cleanup: true,
      ...(process.env.BENCH_NODE_ARGS ? { nodeArgs: process.env.BENCH_NODE_ARGS.split(' ') } : {}),
    });
  const common = { say, session, errors: results.errors };
  if (cfg.overload.enabled)
    results.overload = await runOverload({ ...common, overload: cfg.overload, card: cardPicker(db), cpu: (s) => s.cpu(), capacity: flagValue('--capacity') });
  if (cfg.soak.reads > 0) results.soak = await runSoak({ ...common, soak: cfg.soak, card: cardPicker(db) });
}

// ------------------------------------------------------------------------------------------------

function headline(): void {
  results.targets = [];
  // The ratios again from the floors (a rerendered file gets today's definition; none when its floors are missing).
  for (const d of results.decision) fillRatio(d);
  const maxSize = Math.max(...results.config.sizes);
  const cardAtMax = results.decision.filter((d) => d.door === 'card' && d.credentials === maxSize);
  const worst = (k: 'ratioP50' | 'ratioP99') => {
    const xs = cardAtMax.map((d) => d[k]).filter((x): x is number => x !== null);
    return xs.length ? Math.max(...xs) : null;
  };
  const sum = (f: (b: Results['burst'][number]) => number) => (results.burst.length ? results.burst.reduce((a, b) => a + f(b), 0) : null);
  const during = results.api.find((p) => p.phase === 'during burst');
  const queryP99s = (during?.routes ?? [])
    .filter((r) => r.name.startsWith('entries') && r.latency)
    .map((r) => r.latency!.p99!)
    .filter((x) => x !== null);
  results.headline = {
    decisionP50Ratio: worst('ratioP50'),
    decisionP99Ratio: worst('ratioP99'),
    credentials: maxSize,
    burstLost: sum((b) => Math.max(b.lost, b.log?.missing ?? 0)),
    burstDuplicated: sum((b) => Math.max(b.duplicated, b.log?.duplicated ?? 0)),
    queryP99Ms: queryP99s.length ? Math.max(...queryP99s) : null,
    verifyRecordsPerSec: results.logIntegrity.verify?.recordsPerSec ?? null,
    readyMs: results.footprint?.readyMs ?? null,
    rssMB: results.footprint?.rssSettledMB ?? null,
  };
  Object.assign(results.headline, headlineMore(cardAtMax));
  const h = results.headline;
  const t = (key: string, what: string, target: string, value: number | null, met: boolean | null, note?: string) =>
    results.targets.push({ key, what, target, value, met, ...(note ? { note } : {}) });
  const le = (v: number | null, lim: number) => (v === null ? null : v <= lim);
  const ge = (v: number | null, lim: number) => (v === null ? null : v >= lim);
  const brokersNote = `worst of ${cardAtMax.map((d) => d.broker).join(' and ')}`;
  t(
    'decisionP50Ratio',
    `decision ÷ lean floor (lean echo + lean commit), p50, card-only, ${maxSize.toLocaleString('en')} credentials`,
    `≤ ${TARGETS.decisionP50Ratio}`,
    h.decisionP50Ratio!,
    le(h.decisionP50Ratio!, TARGETS.decisionP50Ratio),
    `${brokersNote}; like-for-like ${h.decisionP50RatioLikeForLike ?? '—'}`,
  );
  t(
    'decisionP99Ratio',
    `decision ÷ lean floor (lean echo + lean commit), p99, card-only, ${maxSize.toLocaleString('en')} credentials`,
    `≤ ${TARGETS.decisionP99Ratio}`,
    h.decisionP99Ratio!,
    le(h.decisionP99Ratio!, TARGETS.decisionP99Ratio),
    `${brokersNote}; like-for-like ${h.decisionP99RatioLikeForLike ?? '—'}`,
  );
  t('burstLost', 'burst: reads lost (no unlock, or no entry-log record)', '0', h.burstLost!, h.burstLost === null ? null : h.burstLost === 0);
  t('burstDuplicated', 'burst: reads answered twice (or logged twice)', '0', h.burstDuplicated!, h.burstDuplicated === null ? null : h.burstDuplicated === 0);
  const wb = h.burstP99Ratio ?? null;
  t('burstP99OverQuiet', 'burst p99 ÷ quiet p99 (worst burst)', `≤ ${TARGETS.burstP99OverQuiet}`, wb, le(wb, TARGETS.burstP99OverQuiet));
  const notLogged = results.burst.reduce((a, b) => a + (b.log ? b.log.missing : 0), 0);
  t('burstLogged', 'burst: decisions missing from the entry log', '0', results.burst.length ? notLogged : null, results.burst.length ? notLogged === 0 : null);
  t(
    'queryP99Ms',
    'entry-log query p99 under load (worst of by-person, by-area-and-day)',
    `≤ ${TARGETS.queryP99Ms} ms`,
    h.queryP99Ms!,
    le(h.queryP99Ms!, TARGETS.queryP99Ms),
    h.queryP99Ms === null ? 'not available: GET /api/v1/entries answered 404' : undefined,
  );
  t(
    'verifyRecordsPerSec',
    'hash-chain verification rate',
    `≥ ${TARGETS.verifyRecordsPerSec.toLocaleString('en')}/s`,
    h.verifyRecordsPerSec!,
    ge(h.verifyRecordsPerSec!, TARGETS.verifyRecordsPerSec),
  );
  t('readyMs', 'start-up to ready, big database', `≤ ${TARGETS.readyMs} ms`, h.readyMs!, le(h.readyMs!, TARGETS.readyMs));
  t('rssMB', 'resident memory, big database, started with every device connected', `≤ ${TARGETS.rssMB} MB`, h.rssMB!, le(h.rssMB!, TARGETS.rssMB));
  const peakRss = h.peakRssMB ?? null;
  t(
    'rssPeakMB',
    'resident memory, peak over the big-database sessions (bursts and API load included)',
    `≤ ${TARGETS.peakRssMB} MB`,
    peakRss,
    le(peakRss, TARGETS.peakRssMB),
    peakRss === null ? 'not recorded' : undefined,
  );
  t(
    'cpuPerReadMs',
    'daemon CPU per read in the burst (worst burst without API load)',
    `≤ ${TARGETS.cpuPerReadMs} ms`,
    h.cpuPerReadMs ?? null,
    le(h.cpuPerReadMs ?? null, TARGETS.cpuPerReadMs),
    h.cpuPerReadMs == null ? 'not recorded' : undefined,
  );
  t(
    'walPeakMB',
    'WAL file, peak size (storage)',
    `≤ ${TARGETS.walPeakMB} MB`,
    h.walPeakMB ?? null,
    le(h.walPeakMB ?? null, TARGETS.walPeakMB),
    h.walPeakMB == null ? 'not in this results file' : undefined,
  );
}

/**
 * The headline's newer keys: like-for-like ratios, figures already measured elsewhere in the results
 * (the burst, the footprint), the lean echo, and the storage section's (null when absent: older files).
 */
function headlineMore(cardAtMax: Results['decision']): Record<string, number | null> {
  const max = (xs: (number | null | undefined)[]) => {
    const ys = xs.filter((x): x is number => typeof x === 'number');
    return ys.length ? Math.max(...ys) : null;
  };
  // CPU per read: the bursts without API load (with it the daemon's CPU also serves the API).
  const plainBursts = results.burst.filter((b) => !b.withApi);
  const storage = (results as { storage?: { walPeakMB?: number | null; bytesWrittenPerDecision?: { quiet?: number | null; burst?: number | null } | null } })
    .storage;
  return {
    decisionP50RatioLikeForLike: max(cardAtMax.map((d) => d.likeForLike?.ratioP50)),
    decisionP99RatioLikeForLike: max(cardAtMax.map((d) => d.likeForLike?.ratioP99)),
    burstP99Ratio: max(results.burst.map((b) => b.p99OverQuiet)),
    peakRssMB: results.footprint?.peakRssMB ?? null,
    cpuPerReadMs: max((plainBursts.length ? plainBursts : results.burst).map((b) => b.daemonCpuPerRead)),
    // The worst broker's lean echo p50.
    floorEchoMs: max(Object.values(results.floors.lean?.echo ?? {}).map((e) => e?.pooled.p50)),
    walPeakMB: storage?.walPeakMB ?? null,
    bytesWrittenPerDecision: storage?.bytesWrittenPerDecision?.burst ?? storage?.bytesWrittenPerDecision?.quiet ?? null,
  };
}

function loadNote(): string {
  const others = [...results.decision.map((d) => d.cpu), ...results.burst.map((b) => b.cpu)].filter((c): c is CpuShare => c !== undefined);
  if (!others.length) return '';
  const avg = others.reduce((a, c) => a + c.otherCores, 0) / others.length;
  const max = Math.max(...others.map((c) => c.otherCores));
  const mm = results.machine;
  return `other work on the machine while measuring: ${avg.toFixed(2)} cores on average, ${max.toFixed(2)} at most (of ${mm.cores}); load average at start ${mm.loadAverageAtStart.join(' / ')}`;
}

function write(rerendered = false): void {
  if (storageRuns.length) results.storage = storageResults();
  headline();
  results.loadNote = loadNote();
  if (!rerendered) {
    results.finishedAt = new Date().toISOString();
    results.durationSeconds = Math.round((Date.now() - started) / 1000);
  }
  const name = `${results.mode === 'full' ? 'latest' : 'quick'}${results.pinnedTo !== undefined ? '-1core' : ''}${onlyScenarios ? '-only' : ''}`;
  mkdirSync(RESULTS, { recursive: true });
  // headline first: JSON keeps insertion order.
  writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  // The quick run's markdown shows the one-core run's figures beside its own, when there is one.
  const oneCoreFile = join(RESULTS, 'quick-1core.json');
  const oneCoreResults = name === 'quick' && existsSync(oneCoreFile) ? (JSON.parse(readFileSync(oneCoreFile, 'utf8')) as Results) : undefined;
  writeFileSync(join(RESULTS, `${name}.md`), renderMarkdown(results, oneCoreResults));
  say(`wrote bench/results/${name}.json and bench/results/${name}.md`);
  console.log(`\nheadline: ${JSON.stringify(results.headline)}`);
  for (const t of results.targets)
    console.log(
      `  ${t.met === null ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'} ${t.what}: ${t.value ?? '—'} (target ${t.target})${t.note ? ` — ${t.note}` : ''}`,
    );
  console.log(`machine: ${machineLine(results.machine)}${results.loadNote ? `\n${results.loadNote}` : ''}`);
}

// --growth: its own mode (bench/lib/growth.ts), nothing of the run above.
if (argv.includes('--growth')) {
  const i = argv.indexOf('--log-sizes');
  const ok = await runGrowth({ root: ROOT, quick, logSizes: i >= 0 ? parseSizes(argv[i + 1]) : undefined, say });
  process.exit(ok ? 0 : 1);
}

// --rerender: the headline, targets and markdown again from a results file's own figures (after a
// change to how they are presented), without measuring anything.
const rerender = argv.indexOf('--rerender');
if (rerender >= 0) {
  const file = argv[rerender + 1] ?? join(RESULTS, 'latest.json');
  const loaded = JSON.parse(readFileSync(file, 'utf8')) as Results;
  const { headline: _h, ...rest } = loaded;
  Object.assign(results, { headline: {} }, rest);
  results.profiles ??= [];
  results.crashes ??= [];
  write(true);
  process.exit(0);
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  results.errors.push(`aborted: ${(err as Error).stack ?? String(err)}`);
  console.error(err);
} finally {
  killAll();
}
try {
  write();
} catch (err) {
  failed = true;
  console.error(err);
}
if (results.errors.length) {
  console.error(`\n${results.errors.length} problem(s) with the harness run:\n  ${results.errors.join('\n  ')}`);
}
process.exit(failed || results.errors.length > 0 ? 1 : 0);
