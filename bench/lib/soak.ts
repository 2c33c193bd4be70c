// Soak: N reads at a steady rate the daemon sustains (open loop, round-robin over the card doors),
// the daemon's RSS and heap and the reads' latency sampled per window of reads (10,000 by default).
// Flat or not: the RSS slope over the second half of the windows (the first fills bounded caches:
// SQLite's page cache, V8's heap, the JIT), and the latency of the last quarter against the second.
//
// Matching: each read's outcome is its record in the entry log, by (reader, boot, seq); the k-th
// unlock at a door is the k-th grant there in log order (a refusal, if any, overtakes the reads queued
// before it, so answers are not taken first in, first out).
import Database from 'better-sqlite3';
import { residentMB } from './machine.js';
import { metric } from './overload.js';
import { sleep, type DaemonHandle } from './procs.js';
import { ms, summarize } from './stats.js';
import type { DoorRig } from './devices.js';
export interface SoakWindow {
  /** Reads sent before this window ended. */
  reads: number;
  /** Daemon RSS when the window's last read was sent, MB; V8 heap in use (from /metrics), MB. */
  rssMB: number | null;
  heapMB: number | null;
  /** Latency of the window's reads (publish → unlock), ms. */
  p50: number | null;
  p99: number | null;
  max: number | null;
  /** Denied (refused as controller-busy among them), and lost: no record, or a grant without its unlock. */
  denied: number;
  refused: number;
  lost: number;
}

export interface SoakResult {
  reads: number;
  rate: number;
  sentRate: number;
  seconds: number;
  doors: number;
  windowReads: number;
  windows: SoakWindow[];
  denied: number;
  refused: number;
  lost: number;
  /** Least-squares slope of RSS (and heap) over the second half of the windows, MB per 100,000 reads. */
  rssSlopeMBPer100k: number | null;
  heapSlopeMBPer100k: number | null;
  /** RSS over the second half: the lowest window, the last, the highest; VmHWM at the end. */
  rss: { afterWarmup: number | null; last: number | null; max: number | null; peak: number | null };
  /** p50 / p99 of the last quarter's windows ÷ the second quarter's (medians of the windows' figures). */
  latencyDrift: { p50: number | null; p99: number | null };
  /** Flat: RSS slope under 1 MB per 100,000 reads and latency drift under 1.5 at p50 and p99. */
  rssFlat: boolean | null;
  latencyFlat: boolean | null;
  daemonCrashed: boolean;
}

export async function soak(
  s: { dir: string; daemon: DaemonHandle; cardRigs: DoorRig[] },
  card: () => string,
  opts: { reads: number; rate: number; windowReads?: number; drainMs?: number },
): Promise<SoakResult> {
  const rigs = s.cardRigs;
  const n = rigs.length;
  const windowReads = opts.windowReads ?? 10_000;
  const nWindows = Math.ceil(opts.reads / windowReads);
  // Read i goes to door i mod n with that reader's seq firstSeq + floor(i / n); its send time, ms after t0.
  const sentAt = new Float64Array(opts.reads);
  const firstSeq = rigs.map(() => 0);
  const unlocks = rigs.map(() => [] as number[]);
  let indications = 0;
  const t0 = process.hrtime.bigint();
  const since = (at: bigint) => ms(t0, at);
  rigs.forEach((rig, i) => {
    rig.lock.listener = (cmd, at) => {
      if (cmd.command === 'unlock') unlocks[i]!.push(since(at));
    };
    rig.reader.listener = (cmd) => {
      if (cmd.command === 'indicate' && cmd.pattern !== 'pin-required') indications++;
    };
  });

  let sent = 0;
  const samples: { rss: number | null; heap: Promise<number | null> }[] = [];
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = since(process.hrtime.bigint()) / 1000;
      const due = Math.min(opts.reads, Math.floor(elapsed * opts.rate) + 1);
      while (sent < due) {
        sentAt[sent] = since(process.hrtime.bigint());
        const seq = rigs[sent % n]!.reader.publish({ type: 'credential', credential: { kind: 'card', value: card() } });
        if (sent < n) firstSeq[sent] = seq;
        sent++;
        if (sent % windowReads === 0 || sent === opts.reads) {
          samples.push({ rss: residentMB(s.daemon.pid)?.rss ?? null, heap: metric(s.daemon.apiUrl, 'tobira_memory_bytes{kind="heap_used"}') });
        }
      }
      if (sent >= opts.reads || !s.daemon.alive()) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  const seconds = since(process.hrtime.bigint()) / 1000;
  const drainStart = Date.now();
  while (indications < sent && Date.now() - drainStart < (opts.drainMs ?? 15_000) && s.daemon.alive()) await sleep(50);
  await sleep(300);

  // Outcomes from the log, per door in log order.
  const latencies: number[][] = Array.from({ length: nWindows }, () => []);
  const denied = new Array<number>(nWindows).fill(0);
  const refused = new Array<number>(nWindows).fill(0);
  const lost = new Array<number>(nWindows).fill(0);
  const db = new Database(`${s.dir}/tobira.db`, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare(
      "SELECT device_seq AS seq, decision, reason FROM entry_log WHERE kind = 'decision' AND device_id = ? AND device_boot = ? AND device_seq >= ? ORDER BY seq",
    );
    rigs.forEach((rig, d) => {
      const count = Math.floor(sent / n) + (d < sent % n ? 1 : 0);
      const logged = new Uint8Array(count);
      let grants = 0;
      for (const r of rows.iterate(rig.reader.id, rig.reader.boot, firstSeq[d]!) as Iterable<{ seq: number; decision: string; reason: string }>) {
        const k = r.seq - firstSeq[d]!;
        if (k < 0 || k >= count) continue;
        logged[k] = 1;
        const i = k * n + d;
        const w = Math.floor(i / windowReads);
        if (r.decision === 'granted') {
          const at = unlocks[d]![grants++];
          if (at === undefined) lost[w]!++;
          else latencies[w]!.push(at - sentAt[i]!);
        } else {
          denied[w]!++;
          if (r.reason === 'controller-busy') refused[w]!++;
        }
      }
      for (let k = 0; k < count; k++) if (!logged[k]) lost[Math.floor((k * n + d) / windowReads)]!++;
    });
  } finally {
    db.close();
  }
  const windows: SoakWindow[] = [];
  for (let w = 0; w < nWindows; w++) {
    const l = summarize(latencies[w]!);
    const sample = samples[w];
    const heap = sample ? await sample.heap : null;
    windows.push({
      reads: Math.min(opts.reads, (w + 1) * windowReads),
      rssMB: sample?.rss ?? null,
      heapMB: heap === null ? null : Number((heap / 2 ** 20).toFixed(1)),
      p50: l.p50,
      p99: l.p99,
      max: l.max,
      denied: denied[w]!,
      refused: refused[w]!,
      lost: lost[w]!,
    });
  }
  for (const rig of rigs) rig.reset();

  // The second half: the first fills what is bounded but filled as it is used (SQLite's page cache,
  // `cache_size` in src/store/db.ts: 32 MB; V8's heap up to its flags), which is no leak.
  const warm = windows.slice(Math.floor(windows.length / 2));
  const slope = (pick: (w: SoakWindow) => number | null) => {
    const pts = warm.map((w) => [w.reads, pick(w)] as const).filter((p): p is readonly [number, number] => p[1] !== null);
    if (pts.length < 3) return null;
    const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
    const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
    const num = pts.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
    const den = pts.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
    return den > 0 ? Number(((num / den) * 100_000).toFixed(2)) : null;
  };
  const median = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return v.length ? v[Math.floor(v.length / 2)]! : null;
  };
  const q = Math.floor(windows.length / 4);
  const second = windows.slice(q, 2 * q);
  const last = windows.slice(windows.length - q);
  const drift = (k: 'p50' | 'p99') => {
    const a = median(second.map((w) => w[k]));
    const b = median(last.map((w) => w[k]));
    return a && b !== null && q > 0 ? Number((b / a).toFixed(2)) : null;
  };
  const rssSlope = slope((w) => w.rssMB);
  const latencyDrift = { p50: drift('p50'), p99: drift('p99') };
  const rssWarm = warm.map((w) => w.rssMB).filter((x): x is number => x !== null);
  const daemonCrashed = !s.daemon.alive();
  return {
    reads: sent,
    rate: opts.rate,
    sentRate: Math.round(sent / seconds),
    seconds: Number(seconds.toFixed(1)),
    doors: rigs.length,
    windowReads,
    windows,
    denied: denied.reduce((a, x) => a + x, 0),
    refused: refused.reduce((a, x) => a + x, 0),
    lost: lost.reduce((a, x) => a + x, 0),
    rssSlopeMBPer100k: rssSlope,
    heapSlopeMBPer100k: slope((w) => w.heapMB),
    rss: {
      afterWarmup: rssWarm.length ? Math.min(...rssWarm) : null,
      last: windows.at(-1)?.rssMB ?? null,
      max: rssWarm.length ? Math.max(...rssWarm) : null,
      peak: s.daemon.peakRssMB(),
    },
    latencyDrift,
    rssFlat: rssSlope === null ? null : Math.abs(rssSlope) < 1,
    latencyFlat: latencyDrift.p50 === null || latencyDrift.p99 === null ? null : latencyDrift.p50 < 1.5 && latencyDrift.p99 < 1.5,
    daemonCrashed,
  };
}

/** The soak in a daemon of its own. */
export async function runSoak<S extends { dir: string; daemon: DaemonHandle; cardRigs: DoorRig[] }>(d: {
  soak: { reads: number; rate: number };
  say: (line: string) => void;
  card: () => string;
  session: <T>(label: string, body: (s: S) => Promise<T>) => Promise<T>;
  errors: string[];
}): Promise<SoakResult> {
  const { reads, rate } = d.soak;
  d.say(`soak: ${reads.toLocaleString('en')} reads at ${rate}/s (about ${Math.round(reads / rate)} s), RSS and latency per 10,000 reads`);
  return d.session('soak', async (s) => {
    const r = await soak(s, d.card, { reads, rate });
    for (const w of r.windows)
      if (w.reads % 100_000 === 0 || w === r.windows.at(-1))
        d.say(`  ${w.reads.toLocaleString('en')} reads: RSS ${w.rssMB} MB, heap ${w.heapMB} MB, p50 ${w.p50} ms, p99 ${w.p99} ms`);
    d.say(
      `  RSS ${r.rssFlat ? 'flat' : 'NOT flat'}: ${r.rssSlopeMBPer100k} MB per 100,000 reads over the second half (heap ${r.heapSlopeMBPer100k}); ${r.rss.afterWarmup} → ${r.rss.last} MB, peak ${r.rss.peak} MB`,
    );
    d.say(
      `  latency ${r.latencyFlat ? 'flat' : 'NOT flat'}: last quarter ÷ second quarter p50 ${r.latencyDrift.p50}, p99 ${r.latencyDrift.p99}; ${r.denied} denied (${r.refused} refused as controller-busy), ${r.lost} lost`,
    );
    if (r.lost) d.errors.push(`soak: ${r.lost} reads lost`);
    if (r.daemonCrashed) d.errors.push('soak: the daemon died');
    return r;
  });
}
