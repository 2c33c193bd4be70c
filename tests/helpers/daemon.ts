// Runs the real daemon as a child process (the built CLI), with its own data directory and ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse, stringify } from 'yaml';
import Database from 'better-sqlite3';
import { loadSecrets, ensureSecrets, type Secrets } from '../../src/devices/secrets.js';
import { parseSiteText } from '../../src/site/load.js';
import type { SiteFile } from '../../src/site/schema.js';
import type { Health } from '../../src/controller/controller.js';
import { freePort, waitFor } from './ports.js';
import { openDatabase } from '../../src/store/db.js';
import { PeopleStore } from '../../src/store/people.js';
import { hashPin } from '../../src/store/pin.js';
import { ensureDeviceTls, TLS_FILES } from '../../src/devices/tls.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');
export const FIXTURE_SITE = join(ROOT, 'examples/site.yaml');

/**
 * The parsed site file as a test edits it before it is written: plain YAML data that tests reach
 * into by path (find a door, push a device, replace a section), checked by the schema when loaded.
 */
// biome-ignore lint/suspicious/noExplicitAny: untyped YAML on purpose; the schema's types would need a guard at every step of a test's edit
export type RawSite = any;

export type BrokerKind = { kind: 'embedded' } | { kind: 'external'; url: string };

export interface DaemonOptions {
  broker: BrokerKind;
  /** Site file to start from (default: the example site); the base topic is made unique. */
  siteFile?: string;
  /** Reuse a data directory (restarts). */
  dataDir?: string;
  baseTopic?: string;
  /** Changes to the parsed site file before it is written. */
  edit?: (raw: RawSite) => void;
  /** More command-line arguments for `tobira start`. */
  extraArgs?: string[];
}

export interface Daemon {
  proc: ChildProcess;
  pid: number;
  dataDir: string;
  siteFile: string;
  site: SiteFile;
  secrets: Secrets;
  /** mqtts:// on the embedded broker. */
  mqttUrl: string;
  mqttPort: number;
  /** The CA certificate (PEM) the devices trust: the data directory's. */
  ca: string;
  apiUrl: string;
  baseTopic: string;
  output: () => string;
  health(): Promise<Health>;
  /** SIGTERM (graceful) by default; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** A read-only view of the daemon's database. */
  db(): Database.Database;
}

let tlsCache: string | undefined;

/**
 * Puts a device-link CA and server certificate into a data directory, as the daemon makes at first
 * start. Made once per test process and copied: making RSA keys takes about a second.
 */
export function seedDeviceTls(dataDir: string): void {
  if (existsSync(join(dataDir, TLS_FILES.caCert))) return;
  tlsCache ??= (() => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-tls-'));
    ensureDeviceTls(dir);
    return dir;
  })();
  for (const name of Object.values(TLS_FILES)) {
    copyFileSync(join(tlsCache, name), join(dataDir, name));
  }
}

/** The CA (PEM) of a data directory. */
export function dataDirCa(dataDir: string): string {
  return readFileSync(join(dataDir, TLS_FILES.caCert), 'utf8');
}

/** Writes the site file (with its own base topic) and the device secrets into a data directory. */
export function prepareData(opts: { dataDir?: string; baseTopic?: string; siteFile?: string; edit?: (raw: RawSite) => void } = {}): {
  dataDir: string;
  baseTopic: string;
  siteFile: string;
  site: SiteFile;
} {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'tobira-data-'));
  const baseTopic = opts.baseTopic ?? `tobira-test-${randomBytes(4).toString('hex')}`;
  const raw = parse(readFileSync(opts.siteFile ?? FIXTURE_SITE, 'utf8')) as { mqtt?: Record<string, unknown> };
  raw.mqtt = { ...(raw.mqtt ?? {}), baseTopic };
  opts.edit?.(raw);
  const siteFile = join(dataDir, 'site.yaml');
  writeFileSync(siteFile, stringify(raw));
  const site = parseSiteText(readFileSync(siteFile, 'utf8'), siteFile);
  ensureSecrets(
    dataDir,
    site.devices.map((d) => d.id),
  );
  seedDeviceTls(dataDir);
  return { dataDir, baseTopic, siteFile, site };
}

/**
 * Spawns `tobira start` with its output collected; the caller waits for readiness. The environment's
 * broker settings are dropped so the flags alone decide.
 */
export function spawnStart(o: {
  siteFile: string;
  dataDir: string;
  apiPort: number;
  broker: { port: number } | { url: string };
  logLevel: string;
  extraArgs?: string[];
}): { proc: ChildProcess; output: () => string } {
  const args = [CLI, 'start', '--site', o.siteFile, '--data', o.dataDir, '--api-port', String(o.apiPort)];
  if ('port' in o.broker) args.push('--mqtt-port', String(o.broker.port));
  else args.push('--mqtt-url', o.broker.url);
  args.push(...(o.extraArgs ?? []));
  const env: NodeJS.ProcessEnv = { ...process.env, TOBIRA_LOG_LEVEL: o.logLevel };
  delete env.TOBIRA_MQTT_URL;
  delete env.TOBIRA_MQTT_PORT;
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d) => (output += d));
  proc.stderr!.on('data', (d) => (output += d));
  return { proc, output: () => output };
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const { dataDir, baseTopic, siteFile, site } = prepareData(opts);
  const apiPort = await freePort();
  const mqttPort = opts.broker.kind === 'embedded' ? await freePort() : Number(new URL(opts.broker.url).port || 8883);
  const { proc, output: out } = spawnStart({
    siteFile,
    dataDir,
    apiPort,
    logLevel: 'debug',
    extraArgs: opts.extraArgs,
    broker: opts.broker.kind === 'embedded' ? { port: mqttPort } : { url: opts.broker.url },
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));

  try {
    await waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`daemon exited with ${proc.exitCode}:\n${out()}`);
        return /"msg":"ready"/.test(out());
      },
      // Generous: a loaded two-core machine (several test files at once) can take a while to start.
      30_000,
      'the daemon to be ready',
    );
  } catch (err) {
    // A daemon that never got ready is nobody's to stop: do not leave it running.
    if (proc.exitCode === null) proc.kill('SIGKILL');
    throw err;
  }
  const apiUrl = `${opts.extraArgs?.includes('--tls-cert') ? 'https' : 'http'}://127.0.0.1:${apiPort}`;
  return {
    proc,
    pid: proc.pid!,
    dataDir,
    siteFile,
    site,
    secrets: loadSecrets(dataDir),
    mqttUrl: opts.broker.kind === 'embedded' ? `mqtts://127.0.0.1:${mqttPort}` : opts.broker.url,
    mqttPort,
    ca: dataDirCa(dataDir),
    apiUrl,
    baseTopic,
    output: out,
    health: async () => (await (await fetch(`${apiUrl}/healthz`)).json()) as Health,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
    db: () => new Database(join(dataDir, 'tobira.db'), { readonly: true }),
  };
}

/** Rows of the entry log, oldest first. */
export function entries(daemon: Daemon): Record<string, unknown>[] {
  const db = daemon.db();
  try {
    return db.prepare('SELECT * FROM entry_log ORDER BY seq').all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

export function events(daemon: Daemon, type?: string): Record<string, unknown>[] {
  const db = daemon.db();
  try {
    return (type ? db.prepare('SELECT * FROM events WHERE type = ? ORDER BY id').all(type) : db.prepare('SELECT * FROM events ORDER BY id').all()) as Record<
      string,
      unknown
    >[];
  } finally {
    db.close();
  }
}

export interface Enrolment {
  name: string;
  affiliation?: string;
  card: string;
  pin?: string;
  duressPin?: string;
  number?: number;
  roles?: string[];
  areas: string[];
  purpose?: string;
  outOfHours?: boolean;
  /** Last training, ISO; default a month ago. null: never trained. */
  trainedAt?: string | null;
  /** Pledge on file (default true). */
  pledge?: boolean;
}

/** Enrols an access holder straight into the daemon's database, as the API and `tobira people add` do. */
export async function enrol(daemon: { dataDir: string }, p: Enrolment): Promise<{ personId: string; grantIds: number[]; credentialId: number }> {
  const pinHash = p.pin ? await hashPin(p.pin) : undefined;
  const duressHash = p.duressPin ? await hashPin(p.duressPin) : undefined;
  const db = openDatabase(daemon.dataDir);
  try {
    const people = new PeopleStore(db);
    return db.transaction(() => {
      const person = people.addPerson({ name: p.name, affiliation: p.affiliation ?? 'R&D', number: p.number ?? null, roles: p.roles ?? [] });
      const credential = people.addCredential(person.id, 'card', p.card);
      if (pinHash) people.addCredential(person.id, 'pin', pinHash);
      if (duressHash) people.addCredential(person.id, 'pin', duressHash, 'duress');
      const trainedAt = p.trainedAt === undefined ? new Date(Date.now() - 30 * 86_400_000).toISOString() : p.trainedAt;
      if (trainedAt) people.addTraining(person.id, trainedAt, 'annual security training');
      if (p.pledge ?? true) people.addPledge(person.id, new Date(Date.now() - 86_400_000).toISOString(), 'confidentiality pledge v1');
      const grantIds = p.areas.map(
        (areaId) =>
          people.addGrant({ personId: person.id, areaId, purpose: p.purpose ?? 'project work', outOfHours: p.outOfHours ?? true, grantedBy: 'test' }).id,
      );
      return { personId: person.id, grantIds, credentialId: credential.id };
    })();
  } finally {
    db.close();
  }
}

export function revokeGrant(daemon: Daemon, grantId: number): void {
  const db = openDatabase(daemon.dataDir);
  try {
    new PeopleStore(db).revokeGrant(grantId);
  } finally {
    db.close();
  }
}

/** The wired fixture site's access holder (tests/fixtures/wired-site.yaml): card A0A0A0A0, a grant for `store`. */
export function enrolWiredHolder(people: PeopleStore): void {
  const person = people.addPerson({ name: 'Ito Jun', affiliation: '製造部' });
  people.addCredential(person.id, 'card', 'A0A0A0A0');
  people.addGrant({ personId: person.id, areaId: 'store', purpose: 'inventory' });
  people.addTraining(person.id, new Date(Date.now() - 86_400_000).toISOString());
  people.addPledge(person.id, new Date(Date.now() - 86_400_000).toISOString());
}
