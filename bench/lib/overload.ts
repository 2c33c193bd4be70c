// Overload: the daemon's capacity, measured (closed loop: every door keeps a few reads outstanding,
// the next sent as soon as one is answered), then an open-loop burst at twice that rate. What must
// hold: memory bounded, the excess refused quickly as `controller-busy` and counted, no read lost
// (each has an unlock or a denial record), no refused read opening anything.
//
// The devices' command listeners are replaced for the scenario (the rig's FIFO matching assumes
// answers in read order; a refusal overtakes the reads queued before it). Each read's outcome is taken
// from the entry log by (reader, boot, seq); the k-th unlock at a door is the k-th grant in the log
// order, the k-th indication at its reader the k-th decision record (commands are sent in commit
// order, MQTT keeps order per client).
import Database from 'better-sqlite3';
import type { DoorRig } from './devices.js';
import { residentMB } from './machine.js';
import { sleep, type DaemonHandle } from './procs.js';
import { ms, summarize, type Summary } from './stats.js';

export interface OverloadSession {
  dir: string;
  daemon: DaemonHandle;
  cardRigs: DoorRig[];
}

export interface CapacityResult {
  /** Reads per second decided (granted) under saturation; null if none. */
  readsPerSec: number;
  how: 'measured' | 'given';
  /** Closed loop: reads outstanding per door, and how long it was measured (after a second of warm-up). */
  window?: number;
  seconds?: number;
  latency?: Summary;
  /** The daemon's CPU per decided read, ms (user + system, all threads). */
  daemonCpuMsPerRead?: number | null;
}

export interface OverloadResult {
  capacity: CapacityResult;
  doors: number;
  /** Twice the capacity (or --overload-rate), reads per second over all doors, for `seconds`. */
  rate: number;
  seconds: number;
  sentRate: number;
  reads: number;
  /** By the entry log's record for each read. */
  granted: number;
  refused: number;
  stale: number;
  otherDenied: number;
  /** Reads with no record in the entry log (never decided nor refused). */
  missing: number;
  /** Reads with more than one record. */
  duplicated: number;
  /** Reads with no record, or granted without an unlock at the lock. */
  lost: number;
  /** Unlocks beyond the grants at a door: a refused read must never open. */
  extraUnlocks: number;
  /** A refused read's device `at` → its record's `at` (the refusal taken), ms. */
  refusalDecided: Summary;
  /** A refused read published → the reader's `denied` indication for it, ms (null when the indications do not line up with the log). */
  refusalSeen: Summary | null;
  /** A granted read published → its unlock at the lock, ms. */
  grantLatency: Summary;
  /** From the daemon's /metrics: reads refused during the burst. */
  metricsRefused: number | null;
  /** Daemon RSS, MB: settled before, highest sample during the burst and drain, VmHWM (the session's peak), after. */
  rss: { before: number | null; maxSampled: number | null; peak: number | null; after: number | null };
  /** Daemon heap in use before and after (from /metrics), MB. */
  heapMB: { before: number | null; after: number | null };
  drainMs: number;
  daemonCrashed: boolean;
}

interface SentRead {
  rig: number;
  seq: number;
  sentAt: bigint;
  /** Date.now() at the publish: the `at` the device stamps on the read. */
  wallAt: number;
}

/** Per door: the times of the lock's unlocks and of the reader's indications (not pin-required), in order of arrival. */
interface Heard {
  unlocks: bigint[];
  indications: bigint[];
}

function listen(rigs: DoorRig[]): Heard[] {
  return rigs.map((rig) => {
    const heard: Heard = { unlocks: [], indications: [] };
    rig.lock.listener = (cmd, at) => {
      if (cmd.command === 'unlock') heard.unlocks.push(at);
    };
    rig.reader.listener = (cmd, at) => {
      if (cmd.command === 'indicate' && cmd.pattern !== 'pin-required') heard.indications.push(at);
    };
    return heard;
  });
}

/** Reads the daemon's /metrics: a number by name (and label set). */
export async function metric(apiUrl: string, name: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${apiUrl}/metrics`)).text();
    const escaped = name.replace(/[{}"=|]/g, (c) => `\\${c}`);
    const v = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)?.[1];
    return v === undefined ? null : Number(v);
  } catch {
    return null;
  }
}

const mb = (bytes: number | null) => (bytes === null ? null : Number((bytes / 2 ** 20).toFixed(1)));

/**
 * Closed loop: each door keeps `window` reads outstanding (fewer than the per-door bound, so nothing
 * is refused), the next sent when one is answered; decided reads per second over `seconds` after a
 * second of warm-up. What the daemon (with the devices' own load beside it on this machine) sustains.
 */
export async function measureCapacity(
  s: OverloadSession,
  card: () => string,
  opts: { window: number; seconds: number; cpu: () => { stop(): { byPid: Record<number, number>; seconds: number } | undefined } },
): Promise<CapacityResult> {
  const rigs = s.cardRigs;
  const heard = listen(rigs);
  const outstanding = rigs.map(() => [] as bigint[]);
  const latencies: number[] = [];
  let counting = false;
  let decided = 0;
  let stopped = false;
  const send = (i: number) => {
    outstanding[i]!.push(process.hrtime.bigint());
    rigs[i]!.reader.publish({ type: 'credential', credential: { kind: 'card', value: card() } });
  };
  // Each answer (an unlock, or a denied indication) frees a slot at its door.
  rigs.forEach((rig, i) => {
    rig.lock.listener = (cmd, at) => {
      if (cmd.command !== 'unlock') return;
      const sentAt = outstanding[i]!.shift();
      if (sentAt === undefined) return;
      if (counting) {
        decided++;
        latencies.push(ms(sentAt, at));
      }
      if (!stopped) send(i);
    };
    rig.reader.listener = (cmd) => {
      if (cmd.command !== 'indicate' || cmd.pattern !== 'denied') return;
      outstanding[i]!.shift();
      if (!stopped) send(i);
    };
  });
  for (let i = 0; i < rigs.length; i++) for (let k = 0; k < opts.window; k++) send(i);
  await sleep(1000);
  const meter = opts.cpu();
  counting = true;
  const t0 = process.hrtime.bigint();
  await sleep(opts.seconds * 1000);
  counting = false;
  const seconds = ms(t0, process.hrtime.bigint()) / 1000;
  const cpu = meter.stop();
  stopped = true;
  // Let the last reads finish before the next phase.
  const deadline = Date.now() + 10_000;
  while (outstanding.some((o) => o.length > 0) && Date.now() < deadline) await sleep(20);
  void heard;
  const daemonCores = cpu?.byPid[s.daemon.pid];
  return {
    readsPerSec: Math.round(decided / seconds),
    how: 'measured',
    window: opts.window,
    seconds: Number(seconds.toFixed(1)),
    latency: summarize(latencies),
    daemonCpuMsPerRead: daemonCores !== undefined && cpu && decided > 0 ? Number(((daemonCores * cpu.seconds * 1000) / decided).toFixed(3)) : null,
  };
}

/** An open-loop burst at `rate` reads per second over all card doors for `seconds`, then the drain; outcomes from the entry log. */
export async function overloadBurst(
  s: OverloadSession,
  card: () => string,
  capacity: CapacityResult,
  rate: number,
  seconds: number,
  drainMs: number,
): Promise<OverloadResult> {
  const rigs = s.cardRigs;
  const dbFile = `${s.dir}/tobira.db`;
  const head = logHead(dbFile);
  const refusedBefore = await metric(s.daemon.apiUrl, 'tobira_reads_refused_total');
  const heapBefore = await metric(s.daemon.apiUrl, 'tobira_memory_bytes{kind="heap_used"}');
  const rssBefore = residentMB(s.daemon.pid)?.rss ?? null;
  const heard = listen(rigs);
  const sent: SentRead[] = [];
  const total = Math.round(rate * seconds);
  const samplesFrom = s.daemon.rssSamples.length;
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = ms(t0, process.hrtime.bigint()) / 1000;
      const due = Math.min(total, Math.floor(elapsed * rate) + 1);
      while (sent.length < due) {
        const i = sent.length % rigs.length;
        const wallAt = Date.now();
        const sentAt = process.hrtime.bigint();
        const seq = rigs[i]!.reader.publish({ type: 'credential', credential: { kind: 'card', value: card() } });
        sent.push({ rig: i, seq, sentAt, wallAt });
      }
      if (sent.length >= total || !s.daemon.alive()) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  const sendSeconds = ms(t0, process.hrtime.bigint()) / 1000;
  // The drain: until every read has its indication at the reader (or the time is up).
  const drainStart = Date.now();
  const answered = () => heard.reduce((a, h) => a + h.indications.length, 0);
  while (answered() < sent.length && Date.now() - drainStart < drainMs && s.daemon.alive()) await sleep(50);
  await sleep(300);
  const drainUsed = Date.now() - drainStart;
  const daemonCrashed = !s.daemon.alive();
  const rssAfter = daemonCrashed ? null : (residentMB(s.daemon.pid)?.rss ?? null);
  const peak = s.daemon.peakRssMB();
  const sampled = s.daemon.rssSamples.slice(samplesFrom).map((x) => x.rss);
  const refusedAfter = daemonCrashed ? null : await metric(s.daemon.apiUrl, 'tobira_reads_refused_total');
  const heapAfter = daemonCrashed ? null : await metric(s.daemon.apiUrl, 'tobira_memory_bytes{kind="heap_used"}');

  // Outcomes from the log, then the commands heard matched to the records in log order, per door.
  const records = readRecords(dbFile, head);
  const byKey = new Map<string, LogRow[]>();
  for (const r of records) {
    const k = `${r.device}\u0000${r.boot}\u0000${r.seq}`;
    byKey.set(k, [...(byKey.get(k) ?? []), r]);
  }
  const out = { granted: 0, refused: 0, stale: 0, otherDenied: 0, missing: 0, duplicated: 0, lost: 0, extraUnlocks: 0 };
  const refusalDecided: number[] = [];
  const refusalSeen: number[] = [];
  const grantLatency: number[] = [];
  let aligned = true;
  const sentAtOf = new Map<string, SentRead>();
  for (const r of sent) sentAtOf.set(`${rigs[r.rig]!.reader.id}\u0000${rigs[r.rig]!.reader.boot}\u0000${r.seq}`, r);
  for (const r of sent) {
    const rig = rigs[r.rig]!;
    const found = byKey.get(`${rig.reader.id}\u0000${rig.reader.boot}\u0000${r.seq}`);
    if (!found) {
      out.missing++;
      out.lost++;
      continue;
    }
    if (found.length > 1) out.duplicated++;
    const rec = found[0]!;
    if (rec.decision === 'granted') out.granted++;
    else if (rec.reason === 'controller-busy') {
      out.refused++;
      refusalDecided.push(rec.at - r.wallAt);
    } else if (rec.reason === 'stale-read') out.stale++;
    else out.otherDenied++;
  }
  rigs.forEach((rig, i) => {
    const mine = records.filter((r) => r.device === rig.reader.id && r.boot === rig.reader.boot).sort((a, b) => a.logSeq - b.logSeq);
    const grants = mine.filter((r) => r.decision === 'granted');
    const h = heard[i]!;
    if (h.unlocks.length > grants.length) out.extraUnlocks += h.unlocks.length - grants.length;
    // A grant without its unlock heard: lost on the way to the lock.
    if (h.unlocks.length < grants.length) out.lost += grants.length - h.unlocks.length;
    grants.forEach((g, k) => {
      const at = h.unlocks[k];
      const read = sentAtOf.get(`${g.device}\u0000${g.boot}\u0000${g.seq}`);
      if (at !== undefined && read) grantLatency.push(ms(read.sentAt, at));
    });
    if (h.indications.length !== mine.length) aligned = false;
    mine.forEach((rec, k) => {
      const at = h.indications[k];
      const read = sentAtOf.get(`${rec.device}\u0000${rec.boot}\u0000${rec.seq}`);
      if (rec.reason === 'controller-busy' && at !== undefined && read) refusalSeen.push(ms(read.sentAt, at));
    });
  });
  for (const rig of rigs) rig.reset();
  return {
    capacity,
    doors: rigs.length,
    rate,
    seconds,
    sentRate: Math.round(sent.length / sendSeconds),
    reads: sent.length,
    ...out,
    refusalDecided: summarize(refusalDecided),
    refusalSeen: aligned ? summarize(refusalSeen) : null,
    grantLatency: summarize(grantLatency),
    metricsRefused: refusedBefore !== null && refusedAfter !== null ? refusedAfter - refusedBefore : null,
    rss: { before: rssBefore, maxSampled: sampled.length ? Math.max(...sampled) : null, peak, after: rssAfter },
    heapMB: { before: mb(heapBefore), after: mb(heapAfter) },
    drainMs: drainUsed,
    daemonCrashed,
  };
}

interface LogRow {
  logSeq: number;
  device: string;
  boot: number;
  seq: number;
  decision: string;
  reason: string;
  /** The record's time, ms. */
  at: number;
}

function logHead(dbFile: string): number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT coalesce(max(seq), 0) AS n FROM entry_log').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Decision records after `afterSeq` that name a device read, in log order. */
function readRecords(dbFile: string, afterSeq: number): LogRow[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT seq, device_id AS device, device_boot AS boot, device_seq AS dseq, decision, reason, at
         FROM entry_log WHERE seq > ? AND kind = 'decision' AND device_seq IS NOT NULL ORDER BY seq`,
      )
      .all(afterSeq) as { seq: number; device: string; boot: number; dseq: number; decision: string; reason: string; at: string }[];
    return rows.map((r) => ({
      logSeq: r.seq,
      device: r.device,
      boot: r.boot,
      seq: r.dseq,
      decision: r.decision,
      reason: r.reason,
      at: Date.parse(r.at),
    }));
  } finally {
    db.close();
  }
}

/** What the scenario needs from the orchestration (bench/run.ts): a daemon session of its own, cards to read, a logger. */
export interface ScenarioDeps<S extends OverloadSession> {
  overload: { window: number; capacitySeconds: number; seconds: number; drainMs: number };
  say: (line: string) => void;
  card: () => string;
  session: <T>(label: string, body: (s: S) => Promise<T>) => Promise<T>;
  cpu: (s: S) => { stop(): { byPid: Record<number, number>; seconds: number } | undefined };
  /** `--capacity N`: take this capacity instead of measuring it. */
  capacity?: number;
  errors: string[];
}

/** The overload scenario in a daemon of its own: capacity (measured or given), then twice it. */
export async function runOverload<S extends OverloadSession>(d: ScenarioDeps<S>): Promise<OverloadResult> {
  const { say, overload: o } = d;
  return d.session('overload', async (s) => {
    let capacity: CapacityResult;
    if (d.capacity) capacity = { readsPerSec: d.capacity, how: 'given' };
    else {
      say(`overload: capacity, closed loop, ${o.window} reads outstanding per door at ${s.cardRigs.length} doors for ${o.capacitySeconds} s`);
      capacity = await measureCapacity(s, d.card, { window: o.window, seconds: o.capacitySeconds, cpu: () => d.cpu(s) });
      say(
        `  capacity: ${capacity.readsPerSec} reads/s decided (p50 ${capacity.latency?.p50} ms, p99 ${capacity.latency?.p99} ms; daemon CPU ${capacity.daemonCpuMsPerRead ?? '?'} ms per read)`,
      );
    }
    const rate = 2 * capacity.readsPerSec;
    say(`overload: ${rate} reads/s (twice ${capacity.how === 'given' ? 'the given' : 'the measured'} capacity) for ${o.seconds} s, open loop`);
    const r = await overloadBurst(s, d.card, capacity, rate, o.seconds, o.drainMs);
    say(
      `  sent ${r.reads} at ${r.sentRate}/s: granted ${r.granted}, refused ${r.refused} (controller-busy; /metrics says ${r.metricsRefused ?? '?'}), stale ${r.stale}, other denials ${r.otherDenied}; lost ${r.lost}, missing from the log ${r.missing}, logged twice ${r.duplicated}, unlocks beyond the grants ${r.extraUnlocks}`,
    );
    say(
      `  refusal: decided ${r.refusalDecided.p50} / ${r.refusalDecided.p99} / ${r.refusalDecided.max} ms after the read (p50 / p99 / max), seen at the reader ${r.refusalSeen ? `${r.refusalSeen.p50} / ${r.refusalSeen.p99} / ${r.refusalSeen.max} ms` : '(indications did not line up)'}; grants p50 ${r.grantLatency.p50} ms, p99 ${r.grantLatency.p99} ms`,
    );
    say(
      `  daemon RSS: ${r.rss.before} MB before, ${r.rss.maxSampled} MB at most during, peak (VmHWM) ${r.rss.peak} MB, ${r.rss.after} MB after; heap ${r.heapMB.before} → ${r.heapMB.after} MB`,
    );
    if (r.lost || r.duplicated || r.extraUnlocks)
      d.errors.push(`overload: ${r.lost} lost, ${r.duplicated} logged twice, ${r.extraUnlocks} unlocks beyond the grants`);
    if (r.daemonCrashed) d.errors.push('overload: the daemon died');
    return r;
  });
}
