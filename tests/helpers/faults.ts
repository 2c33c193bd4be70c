// The fault suite's harness: honest fault counts per test file, the real daemon process on ports the
// test chooses (so it can be killed and restarted in place), small card-only sites, bulk enrolment,
// a Mosquitto of the test's own that can be stopped and restarted, accounts for the API.
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate as totpCode } from 'otplib';
import { stringify } from 'yaml';
import Database from 'better-sqlite3';
import { AuthService } from '../../src/services/auth.js';
import type { Health } from '../../src/controller/controller.js';
import { loadSecrets, type Secrets } from '../../src/devices/secrets.js';
import type { Role } from '../../src/store/accounts.js';
import { openDatabase } from '../../src/store/db.js';
import { openStore } from '../../src/store/index.js';
import { PeopleStore } from '../../src/store/people.js';
import type { SiteFile } from '../../src/site/schema.js';
import { CLI, ROOT, dataDirCa, prepareData, spawnStart } from './daemon.js';
import { mosquittoBinary, startOwnMosquitto, type OwnMosquitto } from './mosquitto.js';
import { freePort, portOpen, waitFor } from './ports.js';

// --- counting -----------------------------------------------------------------------------------

export const RESULTS_DIR = join(ROOT, 'tests/faults/.results');

/**
 * This vitest run's results directory: runs by different people in one checkout must not mix. The
 * summary reporter names the run (TOBIRA_FAULT_RUN, its own pid); without it, the parent process
 * (vitest itself, for its forked workers) does.
 */
export function runResultsDir(): string {
  return join(RESULTS_DIR, process.env.TOBIRA_FAULT_RUN ?? `run-${process.ppid}`);
}

export interface FaultCounts {
  /** Faults injected. */
  injected: number;
  /** Faults after which every check passed. */
  survived: number;
  /** Committed records missing afterwards. */
  lost: number;
  /** Daemon exits the test did not cause. */
  crashes: number;
}

/**
 * One test file's fault counts, written to tests/faults/.results/<name>.json for the summary
 * reporter. `fault()` runs one injected fault and its checks: it counts the fault as survived only
 * if every check passed, and remembers the failure instead of stopping the loop, so a run of twenty
 * reports "19 survived" rather than stopping at the first. `assertAllSurvived()` then fails the test.
 */
export class FaultTally {
  readonly counts: FaultCounts = { injected: 0, survived: 0, lost: 0, crashes: 0 };
  readonly failures: string[] = [];
  readonly notes: string[] = [];

  constructor(readonly name: string) {}

  async fault(label: string, run: () => Promise<void> | void): Promise<boolean> {
    this.counts.injected++;
    try {
      await run();
      this.counts.survived++;
      return true;
    } catch (err) {
      this.failures.push(`${label}: ${(err as Error).stack ?? String(err)}`);
      return false;
    }
  }

  /** Like fault(), but a fault not survived also fails the calling test, here and now. */
  async mustSurvive(label: string, run: () => Promise<void> | void): Promise<void> {
    if (!(await this.fault(label, run))) throw new Error(this.failures.at(-1));
  }

  lost(n: number, what: string): void {
    if (n <= 0) return;
    this.counts.lost += n;
    this.notes.push(`${n} committed record(s) lost: ${what}`);
  }

  crash(what: string): void {
    this.counts.crashes++;
    this.notes.push(`crash: ${what}`);
  }

  note(line: string): void {
    this.notes.push(line);
  }

  assertAllSurvived(): void {
    if (this.failures.length) {
      throw new Error(`${this.failures.length} of ${this.counts.injected} injected faults not survived:\n\n${this.failures.join('\n\n')}`);
    }
  }

  write(): void {
    const dir = runResultsDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, `${this.name}.json`),
      `${JSON.stringify({ name: this.name, ...this.counts, failures: this.failures.length, notes: this.notes, at: new Date().toISOString() }, null, 2)}\n`,
    );
  }
}

// --- sites and people ---------------------------------------------------------------------------

export interface CardDoorsOptions {
  /** Number of doors, each with its own reader and lock (and a contact if `contacts`). */
  doors: number;
  contacts?: boolean;
  unlockMs?: number;
  heartbeatSeconds?: number;
  log?: { checkpointEveryRecords?: number; checkpointIntervalSeconds?: number };
}

/**
 * A site of card-only doors into one always-open area ("store"): door dN has reader rN and lock lN
 * (and contact cN). No schedule, no anti-passback: a swipe by an access holder is granted, every time.
 */
export function cardDoorsSite(o: CardDoorsOptions): Record<string, unknown> {
  const devices: Record<string, unknown>[] = [];
  const doors: Record<string, unknown>[] = [];
  for (let i = 1; i <= o.doors; i++) {
    const hb = o.heartbeatSeconds ? { heartbeatSeconds: o.heartbeatSeconds } : {};
    devices.push({ id: `r${i}`, kind: 'reader', transport: 'mqtt', ...hb }, { id: `l${i}`, kind: 'lock', transport: 'mqtt', ...hb });
    if (o.contacts) devices.push({ id: `c${i}`, kind: 'contact', transport: 'mqtt', ...hb });
    doors.push({
      id: `d${i}`,
      name: `Door ${i}`,
      area: 'store',
      entryReader: `r${i}`,
      lock: `l${i}`,
      ...(o.contacts ? { contact: `c${i}` } : {}),
      unlockMs: o.unlockMs ?? 1000,
      failMode: 'secure',
    });
  }
  return {
    site: { name: 'Fault test site', timezone: 'Asia/Tokyo' },
    mqtt: { baseTopic: 'tobira', commandTimeoutMs: 2000 },
    ...(o.log ? { log: o.log } : {}),
    areas: [{ id: 'store', name: { en: 'Store', ja: '倉庫' }, factors: ['card'] }],
    devices,
    doors,
  };
}

/** Writes a site file (YAML) into a fresh temp dir; returns its path (for prepareData's siteFile). */
export function writeSiteFile(raw: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-fault-site-'));
  const file = join(dir, 'site.yaml');
  writeFileSync(file, stringify(raw));
  return file;
}

export interface Holder {
  personId: string;
  name: string;
  card: string;
}

/** Enrols many card holders at once (one transaction): trained, pledge on file, granted the areas. */
export function enrolMany(dataDir: string, n: number, opts: { areas: string[]; cardPrefix?: string; namePrefix?: string }): Holder[] {
  const db = openDatabase(dataDir);
  try {
    const people = new PeopleStore(db);
    const trained = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const pledged = new Date(Date.now() - 86_400_000).toISOString();
    return db.transaction(() => {
      const out: Holder[] = [];
      for (let i = 1; i <= n; i++) {
        const name = `${opts.namePrefix ?? 'Holder'} ${i}`;
        const card = `${opts.cardPrefix ?? 'C'}${i.toString(16).toUpperCase().padStart(7, '0')}`;
        const person = people.addPerson({ name, affiliation: 'Fault suite' });
        people.addCredential(person.id, 'card', card);
        people.addTraining(person.id, trained, 'annual security training');
        people.addPledge(person.id, pledged, 'confidentiality pledge v1');
        for (const areaId of opts.areas) people.addGrant({ personId: person.id, areaId, purpose: 'fault suite', outOfHours: true, grantedBy: 'test' });
        out.push({ personId: person.id, name, card });
      }
      return out;
    })();
  } finally {
    db.close();
  }
}

// --- the daemon process -------------------------------------------------------------------------

export type FaultBroker = { kind: 'embedded'; port: number } | { kind: 'external'; url: string };

export interface LaunchOptions {
  dataDir: string;
  siteFile: string;
  broker: FaultBroker;
  apiPort: number;
  /** Called when the process exits without the test having asked it to (a crash). */
  onCrash?: (what: string) => void;
  readyTimeoutMs?: number;
}

export interface DaemonProcess {
  proc: ChildProcess;
  pid: number;
  apiUrl: string;
  /** mqtts:// on the embedded broker. */
  mqttUrl: string;
  /** The CA (PEM) the devices trust. */
  ca: string;
  output(): string;
  /** Parsed JSON log lines (non-JSON lines skipped). */
  logLines(): Record<string, unknown>[];
  health(): Promise<Health>;
  /** kill -9: the pulled plug. Resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Whether it has exited. */
  readonly exited: boolean;
}

/**
 * Starts `tobira start` on the given data directory, site file and ports (a restart uses the same
 * ones, so devices reconnect by themselves). An exit the test did not ask for is reported to onCrash.
 */
export async function launchDaemon(o: LaunchOptions): Promise<DaemonProcess> {
  const { proc, output: out } = spawnStart({
    siteFile: o.siteFile,
    dataDir: o.dataDir,
    apiPort: o.apiPort,
    logLevel: 'info',
    broker: o.broker.kind === 'embedded' ? { port: o.broker.port } : { url: o.broker.url },
  });
  let expected = false;
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    proc.once('exit', (code, signal) => {
      exited = true;
      if (!expected) o.onCrash?.(`daemon pid ${proc.pid} exited by itself (code ${code}, signal ${signal}); last output:\n${out().slice(-3000)}`);
      resolve(code);
    }),
  );
  try {
    await waitFor(
      () => {
        if (exited) throw new Error(`daemon exited before it was ready:\n${out().slice(-3000)}`);
        return /"msg":"ready"/.test(out());
      },
      o.readyTimeoutMs ?? 15_000,
      'the daemon to be ready',
    );
  } catch (err) {
    expected = true;
    if (!exited) proc.kill('SIGKILL');
    throw err;
  }
  const apiUrl = `http://127.0.0.1:${o.apiPort}`;
  return {
    proc,
    pid: proc.pid!,
    apiUrl,
    mqttUrl: o.broker.kind === 'embedded' ? `mqtts://127.0.0.1:${o.broker.port}` : o.broker.url,
    ca: dataDirCa(o.dataDir),
    output: () => out(),
    logLines: () =>
      out()
        .split('\n')
        .flatMap((l) => {
          if (!l.startsWith('{')) return [];
          try {
            return [JSON.parse(l) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    // /healthz answers 503 while the broker or the database is down: the body is the health all the same.
    health: async () => (await (await fetch(`${apiUrl}/healthz`)).json()) as Health,
    kill9: async () => {
      expected = true;
      if (!exited) proc.kill('SIGKILL');
      await exit;
    },
    stop: async () => {
      expected = true;
      if (!exited) proc.kill('SIGTERM');
      return exit;
    },
    get exited() {
      return exited;
    },
  };
}

/** prepareData for a site given as an object, with its own base topic. */
/** Sets mqtt.allowOpenBroker in a raw site: for the tests that run on the anonymous ownMosquitto(). */
export function allowOpenBroker<T extends Record<string, unknown>>(raw: T): T {
  const r = raw as Record<string, unknown>;
  r.mqtt = { ...((r.mqtt as Record<string, unknown> | undefined) ?? {}), allowOpenBroker: true };
  return raw;
}

export function prepareSite(
  raw: Record<string, unknown>,
  dataDir?: string,
): { dataDir: string; baseTopic: string; siteFile: string; site: SiteFile; secrets: Secrets } {
  const prepared = prepareData({ siteFile: writeSiteFile(raw), dataDir });
  return { ...prepared, secrets: loadSecrets(prepared.dataDir) };
}

/** `tobira log verify --data DIR` (the built CLI). */
export function verifyLog(dataDir: string, extra: string[] = []): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'log', 'verify', '--data', dataDir, ...extra], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Entry-log rows, oldest first, through a read-only connection of its own. */
export function readEntries(dataDir: string, sinceSeq = 0): Record<string, unknown>[] {
  const db = new Database(join(dataDir, 'tobira.db'), { readonly: true });
  try {
    db.pragma('busy_timeout = 5000');
    return db.prepare('SELECT * FROM entry_log WHERE seq > ? ORDER BY seq').all(sinceSeq) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/** Stored events (the events table), oldest first; optionally of one type. */
export function readEvents(dataDir: string, type?: string): Record<string, unknown>[] {
  const db = new Database(join(dataDir, 'tobira.db'), { readonly: true });
  try {
    db.pragma('busy_timeout = 5000');
    return (type ? db.prepare('SELECT * FROM events WHERE type = ? ORDER BY id').all(type) : db.prepare('SELECT * FROM events ORDER BY id').all()) as Record<
      string,
      unknown
    >[];
  } finally {
    db.close();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Fault timings are reproducible from the seed the test prints. */
export { prng } from './prng.js';

/** The seed for a run: FAULT_SEED from the environment, else the clock. */
export function runSeed(): number {
  const env = Number(process.env.FAULT_SEED);
  return Number.isInteger(env) && env > 0 ? env : Date.now() % 2_147_483_647;
}

// --- a Mosquitto of the test's own --------------------------------------------------------------

export interface RestartableMosquitto {
  port: number;
  url: string;
  dir: string;
  current(): OwnMosquitto;
  /** SIGTERM: a persistent broker saves its sessions first. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same configuration (and saved sessions). */
  start(): Promise<void>;
}

/**
 * An anonymous Mosquitto (an open broker: the daemon refuses it unless the site sets
 * mqtt.allowOpenBroker, as the tests that use it do) on a free loopback port (never the machine's shared one on 1883), with
 * persistence in its own directory so persistent sessions survive a restart. Files are handed to the
 * mosquitto user, which it drops to when started as root.
 */
export async function ownMosquitto(opts: { persistence?: boolean; extra?: string[] } = {}): Promise<RestartableMosquitto> {
  if (!mosquittoBinary()) throw new Error('mosquitto is not installed');
  const port = await freePort();
  if (port === 1883) throw new Error('refusing the shared Mosquitto port');
  const dir = mkdtempSync(join(tmpdir(), 'tobira-fault-mosq-'));
  const conf = join(dir, 'mosquitto.conf');
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'set_tcp_nodelay true',
    // No queue limits: a burst of QoS 1 messages to a busy subscriber is delayed, never dropped.
    'max_queued_messages 0',
    'max_inflight_messages 0',
    ...(opts.persistence ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1'] : ['persistence false']),
    'log_dest stdout',
    'log_type error',
    'log_type warning',
    ...(opts.extra ?? []),
  ];
  writeFileSync(conf, `${lines.join('\n')}\n`);
  chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'mosquitto', dir]);
  let broker = await startOwnMosquitto(conf, port);
  return {
    port,
    url: broker.url,
    dir,
    current: () => broker,
    stop: () => broker.stop(),
    start: async () => {
      // The old listener is gone once its process has exited; wait for the port to be free.
      await waitFor(async () => !(await portOpen(port)), 5000, `port ${port} to be released`);
      broker = await startOwnMosquitto(conf, port);
    },
  };
}

// --- accounts for the API -----------------------------------------------------------------------

export interface ApiAccount {
  username: string;
  role: Role;
  password: string;
  totpSecret: string | null;
}

export const FAULT_PASSWORD = 'tram-ocean-7-violet-kite';

/** Creates accounts with a known password straight in the database (before the daemon starts). */
export async function createAccounts(dataDir: string, site: SiteFile, wanted: { username: string; role: Role }[]): Promise<ApiAccount[]> {
  const store = openStore(dataDir);
  try {
    const auth = new AuthService(store, () => site.api);
    const out: ApiAccount[] = [];
    for (const w of wanted) {
      const created = await auth.createAccount('fault-suite', { username: w.username, displayName: `Fault ${w.role}`, role: w.role });
      await auth.setPassword(created.account, FAULT_PASSWORD, false);
      const totpSecret = created.totpUri ? new URL(created.totpUri).searchParams.get('secret') : null;
      out.push({ username: w.username, role: w.role, password: FAULT_PASSWORD, totpSecret });
    }
    return out;
  } finally {
    store.close();
  }
}

/** Signs in over HTTP; returns the bearer token. */
export async function signIn(apiUrl: string, a: ApiAccount): Promise<string> {
  const totp = a.totpSecret ? await totpCode({ secret: a.totpSecret }) : undefined;
  const res = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: a.username, password: a.password, ...(totp ? { totp } : {}) }),
  });
  if (res.status !== 200) throw new Error(`cannot sign in ${a.username}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}
