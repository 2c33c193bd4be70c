// `npm run bench -- --growth`: how the figures move as the data grows. Decision latency (quiet card
// reads, embedded broker) and start-up to ready at 10k … 10M credentials; durable log appends, the
// API's two entry-log queries and the verification rate at 10M (and, asked for, 100M) records, with
// the database's size on disk per million records. Writes bench/results/growth.{json,md,svg}
// (`--quick`: growth-quick.*, tiny sizes, seconds). The databases come from datagen's cache.
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSecrets } from '../../src/devices/secrets.js';
import { ensureDeviceTls, TLS_FILES } from '../../src/devices/tls.js';
import { openDatabase } from '../../src/store/db.js';
import { EntryLog } from '../../src/store/entry-log.js';
import { verifyEntryLogFile } from '../../src/store/verify-parallel.js';
import { BENCH_PIN, cardOf, copyDb, ensureDb, grantedPerson, personIdOf, rng, type CachedDb, type DbSpec } from './datagen.js';
import { closeRigs, connectRigs, makeRigs, trustCa } from './devices.js';
import { quietReads } from './drive.js';
import { appendRate } from './floors.js';
import { machine, machineLine, residentMB, type Machine } from './machine.js';
import { killAll, sleep, startDaemon } from './procs.js';
import { benchSite, CARD_AREA } from './site.js';
import { ms, summarize, type Summary } from './stats.js';
import { shortNumber, svgDocument, type Chart } from './svg.js';

export interface GrowthConfig {
  mode: 'full' | 'quick';
  credentials: number[];
  grants: number;
  pinHolders: number;
  /** The people under the log databases (the full run's big database: 2M). */
  logCredentials: number;
  logSizes: number[];
  card: { n: number; warmup: number };
  queries: { n: number; warmup: number };
  appends: number;
  gapMs: number;
}

export const GROWTH_FULL: GrowthConfig = {
  mode: 'full',
  credentials: [10_000, 200_000, 2_000_000, 10_000_000],
  grants: 100_000,
  pinHolders: 32,
  logCredentials: 2_000_000,
  logSizes: [10_000_000],
  card: { n: 3000, warmup: 300 },
  queries: { n: 300, warmup: 30 },
  appends: 2000,
  gapMs: 2,
};

export const GROWTH_QUICK: GrowthConfig = {
  mode: 'quick',
  credentials: [1_000, 10_000],
  grants: 1_000,
  pinHolders: 8,
  logCredentials: 10_000,
  logSizes: [20_000, 100_000],
  card: { n: 200, warmup: 30 },
  queries: { n: 50, warmup: 10 },
  appends: 200,
  gapMs: 2,
};

/** Bytes on disk per log row, for the space check before generating (measured: ~480 at 10M). */
const ROW_BYTES_ESTIMATE = 600;

export interface GrowthResults {
  mode: GrowthConfig['mode'];
  startedAt: string;
  finishedAt?: string;
  durationSeconds?: number;
  machine: Machine;
  config: GrowthConfig;
  decision: {
    credentials: number;
    dbMB: number;
    /** Generating the cached database (0 when it was cached already). */
    buildSeconds: number;
    readyMs: number | null;
    bootMs: number | null;
    rssAtReadyMB: number | null;
    latency: Summary | null;
    lost: number;
    denied: number;
    seconds: number;
  }[];
  log: {
    rows: number;
    dbMB: number;
    /** Database size over the same people without a log, per million records. */
    mbPerMillion: number | null;
    buildSeconds: number;
    verify: { ok: boolean; records: number; seconds: number; recordsPerSec: number } | null;
    queryByPerson: Summary | null;
    queryByAreaDay: Summary | null;
    appendPerCommitPerSec: number | null;
    /** Appended to the cached database itself (no room for a working copy), not to a copy. */
    appendedInPlace: boolean;
    seconds: number;
  }[];
  notMeasured: { what: string; why: string }[];
  errors: string[];
}

export async function runGrowth(opts: { root: string; quick: boolean; logSizes?: number[]; say: (line: string) => void }): Promise<boolean> {
  const { say } = opts;
  const cfg: GrowthConfig = { ...(opts.quick ? GROWTH_QUICK : GROWTH_FULL) };
  if (opts.logSizes?.length) cfg.logSizes = opts.logSizes;
  const results: GrowthResults = {
    mode: cfg.mode,
    startedAt: new Date().toISOString(),
    machine: machine(),
    config: cfg,
    decision: [],
    log: [],
    notMeasured: [],
    errors: [],
  };
  const started = Date.now();
  const resultsDir = join(opts.root, 'bench/results');
  const cache = join(resultsDir, 'tmp/db');
  const run = join(resultsDir, `tmp/run-growth-${cfg.mode}`);
  rmSync(run, { recursive: true, force: true });
  mkdirSync(run, { recursive: true });
  mkdirSync(cache, { recursive: true });
  say(`growth, ${cfg.mode}: credentials ${cfg.credentials.map(shortNumber).join(', ')}; log ${cfg.logSizes.map(shortNumber).join(', ')} records`);
  say(`machine: ${machineLine(results.machine)}`);
  let failed = false;
  try {
    await decisions(cfg, cache, run, results, say);
    await logs(cfg, cache, run, results, say);
  } catch (err) {
    failed = true;
    results.errors.push(`aborted: ${(err as Error).stack ?? String(err)}`);
    console.error(err);
  } finally {
    killAll();
  }
  results.finishedAt = new Date().toISOString();
  results.durationSeconds = Math.round((Date.now() - started) / 1000);
  const name = cfg.mode === 'full' ? 'growth' : 'growth-quick';
  writeFileSync(join(resultsDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(resultsDir, `${name}.md`), renderGrowth(results, name));
  writeFileSync(join(resultsDir, `${name}.svg`), growthSvg(results));
  say(`wrote bench/results/${name}.json, ${name}.md and ${name}.svg`);
  if (results.errors.length) console.error(`\n${results.errors.length} problem(s):\n  ${results.errors.join('\n  ')}`);
  return !failed && results.errors.length === 0;
}

const freeBytes = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};
const sizeOf = (db: CachedDb) => statSync(db.file).size;
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

async function decisions(cfg: GrowthConfig, cache: string, run: string, results: GrowthResults, say: (line: string) => void): Promise<void> {
  const baseTopic = `tobira-growth-${randomBytes(3).toString('hex')}`;
  const site = benchSite({ baseTopic, cardDoors: 4, pinDoors: 0 });
  const secretsDir = join(run, 'secrets');
  mkdirSync(secretsDir, { recursive: true });
  const { secrets } = ensureSecrets(secretsDir, site.deviceIds);
  const tls = ensureDeviceTls(secretsDir);
  trustCa(tls.ca);
  for (const n of cfg.credentials) {
    const t0 = Date.now();
    const spec: DbSpec = { credentials: n, grants: cfg.grants, pinHolders: cfg.pinHolders, logRows: 0 };
    // A new size needs about 0.75 KB a credential for the cache and as much again for the working copy.
    const need = n * 750 * 2 + 2 ** 30;
    const got = await ensureDbIfRoom(cache, spec, need, `decision latency at ${shortNumber(n)} credentials`, results, say);
    if (!got) continue;
    const { db } = got;
    const buildSeconds = got.generated ? db.meta.buildSeconds : 0;
    if (freeBytes(cache) < sizeOf(db) + 2 ** 30) {
      results.notMeasured.push({ what: `decision latency at ${shortNumber(n)} credentials`, why: 'no disk space for a working copy of its database' });
      continue;
    }
    const dir = join(run, `c${n}`);
    say(`decision latency and start-up: ${n.toLocaleString('en')} credentials (${mb(sizeOf(db))} MB; copying, starting the daemon)`);
    copyDb(db, dir);
    writeFileSync(join(dir, 'secrets.json'), JSON.stringify(secrets, null, 2), { mode: 0o600 });
    for (const f of Object.values(TLS_FILES)) copyFileSync(join(secretsDir, f), join(dir, f));
    const siteFile = join(dir, 'site.yaml');
    writeFileSync(siteFile, site.yaml);
    const row: GrowthResults['decision'][number] = {
      credentials: n,
      dbMB: mb(sizeOf(db)),
      buildSeconds,
      readyMs: null,
      bootMs: null,
      rssAtReadyMB: null,
      latency: null,
      lost: 0,
      denied: 0,
      seconds: 0,
    };
    results.decision.push(row);
    const daemon = await startDaemon({ dataDir: dir, siteFile, broker: { mode: 'embedded' }, logFile: join(run, `c${n}.daemon.log`), readyTimeoutMs: 600_000 });
    row.readyMs = daemon.readyMs;
    row.bootMs = daemon.bootMs;
    row.rssAtReadyMB = residentMB(daemon.pid)?.rss ?? null;
    const rigs = makeRigs(site.cardDoors, baseTopic, secrets, BENCH_PIN);
    try {
      await connectRigs(rigs, daemon.mqttUrl, { waitLocked: true });
      await sleep(300);
      const random = rng(n);
      const q = await quietReads(
        rigs,
        () => cardOf(grantedPerson(db.meta, Math.floor(random() * db.meta.cardHolders))),
        cfg.card.n,
        cfg.card.warmup,
        cfg.gapMs,
      );
      row.latency = summarize(q.samples);
      row.lost = q.lost;
      row.denied = q.denied;
      if (q.lost || q.denied) results.errors.push(`${shortNumber(n)} credentials: ${q.lost} reads lost, ${q.denied} denied (every read should be granted)`);
      say(`  ready in ${daemon.readyMs} ms; card reads p50 ${row.latency.p50} ms, p99 ${row.latency.p99} ms, n ${row.latency.count}`);
    } finally {
      const { code } = await daemon.stop();
      await closeRigs(rigs);
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0 && code !== null) results.errors.push(`${shortNumber(n)} credentials: the daemon exited with ${code}`);
    }
    row.seconds = Math.round((Date.now() - t0) / 1000);
  }
}

/** The cached database, generated if missing and the disk has room for it; otherwise recorded as not measured. */
async function ensureDbIfRoom(
  cache: string,
  spec: DbSpec,
  needBytes: number,
  what: string,
  results: GrowthResults,
  say: (line: string) => void,
): Promise<{ db: CachedDb; generated: boolean } | undefined> {
  // A cached one costs no space: ensureDb returns it at once. Only a new one is checked.
  const free = freeBytes(cache);
  const cached = await ensureDbCached(cache, spec, say);
  if (cached) return { db: cached, generated: false };
  if (free < needBytes) {
    const why = `not enough disk: about ${Math.round(needBytes / 2 ** 30)} GB needed, ${Math.round(free / 2 ** 30)} GB free`;
    results.notMeasured.push({ what, why });
    say(`!!! ${what} not measured: ${why}`);
    return undefined;
  }
  return { db: await ensureDb(cache, spec, say), generated: true };
}

/** The database if it is cached (or only needs a migration), without generating anything. */
async function ensureDbCached(cache: string, spec: DbSpec, say: (line: string) => void): Promise<CachedDb | undefined> {
  const prefix = `c${spec.credentials}-g${spec.grants}-p${spec.pinHolders}-l${spec.logRows}-v`;
  const there = readdirSync(cache).some((d) => d.startsWith(prefix) && !d.includes('.building'));
  return there ? ensureDb(cache, spec, say) : undefined;
}

async function logs(cfg: GrowthConfig, cache: string, run: string, results: GrowthResults, say: (line: string) => void): Promise<void> {
  const baseSpec: DbSpec = { credentials: cfg.logCredentials, grants: cfg.grants, pinHolders: cfg.pinHolders, logRows: 0 };
  for (const rows of cfg.logSizes) {
    const t0 = Date.now();
    const spec: DbSpec = { ...baseSpec, logRows: rows };
    const need = rows * ROW_BYTES_ESTIMATE + cfg.logCredentials * 750 + 2 ** 30;
    if (!(await ensureDbCached(cache, spec, say)))
      say(
        `log database of ${rows.toLocaleString('en')} records is not cached: generating it (about ${((rows * ROW_BYTES_ESTIMATE) / 2 ** 30).toFixed(1)} GB, roughly a minute per million records here)`,
      );
    const got = await ensureDbIfRoom(cache, spec, need, `the log at ${shortNumber(rows)} records`, results, say);
    if (!got) continue;
    const { db } = got;
    const base = await ensureDb(cache, baseSpec, say);
    const buildSeconds = got.generated ? db.meta.buildSeconds : 0;
    const bytes = sizeOf(db);
    const row: GrowthResults['log'][number] = {
      rows,
      dbMB: mb(bytes),
      mbPerMillion: Number(((((bytes - sizeOf(base)) / rows) * 1e6) / 2 ** 20).toFixed(1)),
      buildSeconds,
      verify: null,
      queryByPerson: null,
      queryByAreaDay: null,
      appendPerCommitPerSec: null,
      appendedInPlace: false,
      seconds: 0,
    };
    results.log.push(row);
    say(`log at ${rows.toLocaleString('en')} records (${row.dbMB} MB, ${row.mbPerMillion} MB per million records)`);

    // Verification over the whole chain, as `tobira log verify` (the cached file, read only).
    {
      const v0 = process.hrtime.bigint();
      const v = await verifyEntryLogFile(db.file);
      const seconds = Number(process.hrtime.bigint() - v0) / 1e9;
      row.verify = { ok: v.ok, records: v.records, seconds: Number(seconds.toFixed(2)), recordsPerSec: Math.round(v.records / seconds) };
      if (!v.ok) results.errors.push(`the log at ${shortNumber(rows)} does not verify`);
      say(`  verify: ${v.records.toLocaleString('en')} records in ${seconds.toFixed(1)} s = ${row.verify.recordsPerSec.toLocaleString('en')}/s`);
    }

    // Queries and appends on a working copy when the disk has room for one, else on the cache itself
    // (appending keeps its chain valid: the records are appended as the daemon appends them).
    let dir = db.dir;
    if (freeBytes(cache) > bytes * 1.05 + 2 ** 30) {
      dir = join(run, `l${rows}`);
      say(`  copying it (${row.dbMB} MB) for the appends`);
      copyDb(db, dir);
    } else {
      row.appendedInPlace = true;
      say('  no room for a working copy: the appends go to the cached database itself');
    }
    try {
      const conn = openDatabase(dir);
      try {
        const log = new EntryLog(conn);
        const random = rng(rows);
        const first = Date.parse(db.meta.log!.firstAt);
        const last = Date.parse(db.meta.log!.lastAt);
        const time = (f: () => unknown) => {
          const q0 = process.hrtime.bigint();
          f();
          return ms(q0, process.hrtime.bigint());
        };
        // The API's queries (GET /api/v1/entries: EntryLog.query, its default page): by person, and by area and day.
        const byPerson: number[] = [];
        const byDay: number[] = [];
        for (let i = 0; i < cfg.queries.warmup + cfg.queries.n; i++) {
          const personId = personIdOf(grantedPerson(db.meta, Math.floor(random() * db.meta.cardHolders)));
          const day = new Date(first + random() * (last - first));
          day.setUTCHours(0, 0, 0, 0);
          const a = time(() => log.query({ personId }));
          const b = time(() => log.query({ areaId: CARD_AREA, from: day.toISOString(), to: new Date(day.getTime() + 86_400_000).toISOString() }));
          if (i >= cfg.queries.warmup) {
            byPerson.push(a);
            byDay.push(b);
          }
        }
        row.queryByPerson = summarize(byPerson);
        row.queryByAreaDay = summarize(byDay);
        say(
          `  queries: by person p50 ${row.queryByPerson.p50} ms, p99 ${row.queryByPerson.p99} ms; by area and day p50 ${row.queryByAreaDay.p50} ms, p99 ${row.queryByAreaDay.p99} ms`,
        );
      } finally {
        conn.close();
      }
      const a = appendRate(dir, cfg.appends, 0);
      row.appendPerCommitPerSec = a.perCommitPerSec;
      say(`  durable appends, one per transaction: ${a.perCommitPerSec.toLocaleString('en')}/s`);
    } finally {
      if (dir !== db.dir) rmSync(dir, { recursive: true, force: true });
    }
    row.seconds = Math.round((Date.now() - t0) / 1000);
  }
  const measured = new Set(results.log.map((l) => l.rows));
  for (const size of [10_000_000, 100_000_000])
    if (cfg.mode === 'full' && !measured.has(size) && !results.notMeasured.some((x) => x.what.includes(shortNumber(size))))
      results.notMeasured.push({
        what: `the log at ${shortNumber(size)} records`,
        why:
          size === 100_000_000
            ? 'not asked for: ~60 GB and ~100 minutes to generate here; run with `--log-sizes 10000000,100000000`'
            : 'not asked for (`--log-sizes`)',
      });
}

// ------------------------------------------------------------------------------------------------

const f = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined ? '—' : Number(x.toFixed(digits)).toLocaleString('en'));
const n0 = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : Math.round(x).toLocaleString('en'));

export function renderGrowth(r: GrowthResults, name: string): string {
  const out: string[] = [];
  const p = (...lines: string[]) => out.push(...lines);
  p(`# tobira benchmark — growth${r.mode === 'quick' ? ' (quick)' : ''}`, '');
  p(
    `${r.startedAt} · ${r.durationSeconds ?? '?'} s · \`npm run bench -- --growth${r.mode === 'quick' ? ' --quick' : ''}${r.mode === 'full' && r.config.logSizes.join(',') !== '10000000' ? ` --log-sizes ${r.config.logSizes.join(',')}` : ''}\` · [bench/README.md](../README.md#growth)`,
    '',
  );
  p(`**Machine:** ${machineLine(r.machine)}.`, '');
  if (r.mode === 'quick') p('> Quick growth run: tiny sizes, to try the harness; the figures mean nothing. The full run is `growth.md`.', '');
  p(`![growth](${name}.svg)`, '');
  p(
    '## Decision latency and start-up by credentials',
    '',
    `Quiet card reads (one at a time, ${r.config.gapMs} ms apart, over 4 doors, random card holders; ${n0(r.config.card.n)} after ${n0(r.config.card.warmup)} warm-up), embedded broker, TLS, ${n0(r.config.grants)} grants; start-up = daemon spawned → its \`ready\` line, database just copied (in the page cache). Latency in ms.`,
    '',
  );
  p('| credentials | database MB | ready ms | RSS at ready MB | p50 | p99 | max | count |', '|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const d of r.decision)
    p(
      `| ${n0(d.credentials)} | ${n0(d.dbMB)} | ${n0(d.readyMs)} | ${f(d.rssAtReadyMB, 1)} | ${f(d.latency?.p50)} | ${f(d.latency?.p99)} | ${f(d.latency?.max)} | ${n0(d.latency?.count)} |`,
    );
  if (!r.decision.length) p('| — | not measured | | | | | | |');
  p('');
  p(
    '## The entry log by records',
    '',
    `On ${n0(r.config.logCredentials)} credentials. Verify: \`verifyEntryLogFile\` over the whole chain (worker threads, one per core). Queries: \`EntryLog.query\` as \`GET /api/v1/entries\` runs it (default page of 50), by person and by area and one day, ${n0(r.config.queries.n)} each, on the daemon's connection settings. Appends: \`EntryLog.append\`, each its own durable transaction (as a decision commits), ${n0(r.config.appends)}. Size: the database over the same people without a log, per million records.`,
    '',
  );
  p(
    '| records | database MB | MB per million records | verify records/s | by person p50 / p99 ms | by area and day p50 / p99 ms | appends/s (one per commit) |',
    '|---:|---:|---:|---:|---|---|---:|',
  );
  for (const l of r.log)
    p(
      `| ${n0(l.rows)} | ${n0(l.dbMB)} | ${f(l.mbPerMillion, 1)} | ${n0(l.verify?.recordsPerSec)}${l.verify && !l.verify.ok ? ' **BROKEN**' : ''} | ${f(l.queryByPerson?.p50)} / ${f(l.queryByPerson?.p99)} | ${f(l.queryByAreaDay?.p50)} / ${f(l.queryByAreaDay?.p99)} | ${n0(l.appendPerCommitPerSec)}${l.appendedInPlace ? ' (in place)' : ''} |`,
    );
  if (!r.log.length) p('| — | not measured | | | | | |');
  p('');
  p('## Which sizes', '');
  p(
    `Measured: credentials ${r.decision.map((d) => shortNumber(d.credentials)).join(', ') || 'none'}; log ${r.log.map((l) => shortNumber(l.rows)).join(', ') || 'none'}.`,
  );
  if (r.notMeasured.length) {
    p('', 'Not measured:', '');
    for (const x of r.notMeasured) p(`- ${x.what}: ${x.why}`);
  }
  const inPlace = r.log.filter((l) => l.appendedInPlace);
  if (inPlace.length)
    p('', `The appends at ${inPlace.map((l) => shortNumber(l.rows)).join(', ')} went to the cached database itself (no room on the disk for a working copy).`);
  const times = [
    ...r.decision.map(
      (d) => `${shortNumber(d.credentials)} credentials ${d.seconds} s${d.buildSeconds >= 1 ? ` (of which ${Math.round(d.buildSeconds)} s generating)` : ''}`,
    ),
    ...r.log.map((l) => `log ${shortNumber(l.rows)} ${l.seconds} s${l.buildSeconds >= 1 ? ` (of which ${Math.round(l.buildSeconds)} s generating)` : ''}`),
  ];
  if (times.length) p('', `Time per size: ${times.join('; ')}.`);
  if (r.errors.length) p('', 'Problems with the run itself:', '', ...r.errors.map((e) => `- ${e.split('\n')[0]}`));
  p('');
  return out.join('\n');
}

export function growthSvg(r: GrowthResults): string {
  const dec = r.decision.filter((d) => d.latency);
  const charts: Chart[] = [
    {
      title: 'Decision latency (quiet card reads, embedded)',
      xLabel: 'credentials',
      yLabel: 'ms',
      series: [
        { name: 'p50', points: dec.map((d) => [d.credentials, d.latency!.p50 ?? NaN]) },
        { name: 'p99', points: dec.map((d) => [d.credentials, d.latency!.p99 ?? NaN]), dashed: true, color: 0 },
      ],
    },
    {
      title: 'Start-up to ready',
      xLabel: 'credentials',
      yLabel: 'ms',
      series: [{ name: 'spawned → ready', points: r.decision.map((d) => [d.credentials, d.readyMs ?? NaN]) }],
    },
    {
      title: 'Entry-log queries (the API’s)',
      xLabel: 'records',
      yLabel: 'ms',
      series: [
        { name: 'by person p50', points: r.log.map((l) => [l.rows, l.queryByPerson?.p50 ?? NaN]) },
        { name: 'by person p99', points: r.log.map((l) => [l.rows, l.queryByPerson?.p99 ?? NaN]), dashed: true, color: 0 },
        { name: 'by area and day p50', points: r.log.map((l) => [l.rows, l.queryByAreaDay?.p50 ?? NaN]), color: 1 },
        { name: 'by area and day p99', points: r.log.map((l) => [l.rows, l.queryByAreaDay?.p99 ?? NaN]), dashed: true, color: 1 },
      ],
    },
    {
      title: 'Entry-log rates',
      xLabel: 'records',
      yLabel: 'records per second',
      logY: true,
      series: [
        { name: 'verify', points: r.log.map((l) => [l.rows, l.verify?.recordsPerSec ?? NaN]) },
        { name: 'appends (one per commit)', points: r.log.map((l) => [l.rows, l.appendPerCommitPerSec ?? NaN]) },
      ],
    },
  ];
  return svgDocument(`tobira growth${r.mode === 'quick' ? ' (quick: tiny sizes)' : ''}, ${r.startedAt.slice(0, 10)}`, charts);
}

/** `--log-sizes 10000000,100000000` → [1e7, 1e8]. */
export function parseSizes(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const xs = text.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  if (xs.some((x) => !Number.isInteger(x) || x <= 0)) throw new Error(`--log-sizes: "${text}" is not a list of whole numbers`);
  return xs;
}
