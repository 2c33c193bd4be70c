// Soak: N reads at a steady rate the daemon sustains (open loop, round-robin over the card doors),
// the daemon's RSS and heap and the reads' latency sampled per window of reads (10,000 by default).
// Flat or not: the RSS slope over the windows after the first tenth (the warm-up: caches, JIT), and
// the latency of the last quarter against the second (p50 and p99).
//
// Matching: every read is an enrolled holder's and the rate is below capacity, so each door's
// answers come in read order (first in, first out); a denied read is matched by its indication.
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
  denied: number;
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
  lost: number;
  /** Least-squares slope of RSS (and heap) over the windows after the warm-up, MB per 100,000 reads. */
  rssSlopeMBPer100k: number | null;
  heapSlopeMBPer100k: number | null;
  /** RSS after the warm-up: the lowest window, the last, the highest; VmHWM at the end. */
  rss: { afterWarmup: number | null; last: number | null; max: number | null; peak: number | null };
  /** p50 / p99 of the last quarter's windows ÷ the second quarter's (medians of the windows' figures). */
  latencyDrift: { p50: number | null; p99: number | null };
  /** Flat: RSS slope under 1 MB per 100,000 reads and latency drift under 1.5 at p50 and p99. */
  rssFlat: boolean | null;
  latencyFlat: boolean | null;
  daemonCrashed: boolean;
}

interface Pending {
  sentAt: bigint;
  window: number;
  denied: boolean;
  unlocked: boolean;
  indicated: boolean;
}

export async function soak(
  s: { daemon: DaemonHandle; cardRigs: DoorRig[] },
  card: () => string,
  opts: { reads: number; rate: number; windowReads?: number; drainMs?: number },
): Promise<SoakResult> {
  const rigs = s.cardRigs;
  const windowReads = opts.windowReads ?? 10_000;
  const nWindows = Math.ceil(opts.reads / windowReads);
  const latencies: number[][] = Array.from({ length: nWindows }, () => []);
  const denied = new Array<number>(nWindows).fill(0);
  const windows: SoakWindow[] = [];
  // Per door, the reads not yet answered (head index: no shifting of a long array).
  const pending = rigs.map(() => ({ list: [] as Pending[], unlockIdx: 0, indicateIdx: 0 }));
  const compact = (q: (typeof pending)[number]) => {
    const done = Math.min(q.unlockIdx, q.indicateIdx);
    if (done > 1024) {
      q.list.splice(0, done);
      q.unlockIdx -= done;
      q.indicateIdx -= done;
    }
  };
  rigs.forEach((rig, i) => {
    const q = pending[i]!;
    rig.lock.listener = (cmd, at) => {
      if (cmd.command !== 'unlock') return;
      while (q.unlockIdx < q.list.length && q.list[q.unlockIdx]!.denied) q.unlockIdx++;
      const r = q.list[q.unlockIdx++];
      if (!r) return;
      r.unlocked = true;
      latencies[r.window]!.push(ms(r.sentAt, at));
      compact(q);
    };
    rig.reader.listener = (cmd) => {
      if (cmd.command !== 'indicate' || cmd.pattern === 'pin-required') return;
      const r = q.list[q.indicateIdx++];
      if (!r) return;
      r.indicated = true;
      if (cmd.pattern === 'denied') {
        r.denied = true;
        denied[r.window]!++;
      }
      compact(q);
    };
  });

  let sent = 0;
  const samples: { rss: number | null; heap: Promise<number | null> }[] = [];
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = ms(t0, process.hrtime.bigint()) / 1000;
      const due = Math.min(opts.reads, Math.floor(elapsed * opts.rate) + 1);
      while (sent < due) {
        const i = sent % rigs.length;
        const window = Math.floor(sent / windowReads);
        pending[i]!.list.push({ sentAt: process.hrtime.bigint(), window, denied: false, unlocked: false, indicated: false });
        rigs[i]!.reader.publish({ type: 'credential', credential: { kind: 'card', value: card() } });
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
  const seconds = ms(t0, process.hrtime.bigint()) / 1000;
  const open = () => pending.reduce((a, q) => a + q.list.filter((r) => !r.denied && !r.unlocked).length, 0);
  const drainStart = Date.now();
  while (open() > 0 && Date.now() - drainStart < (opts.drainMs ?? 10_000) && s.daemon.alive()) await sleep(50);
  const lost = new Array<number>(nWindows).fill(0);
  for (const q of pending) for (const r of q.list) if (!r.denied && !r.unlocked) lost[r.window]!++;
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
      lost: lost[w]!,
    });
  }
  for (const rig of rigs) rig.reset();

  const warm = windows.slice(Math.max(1, Math.floor(windows.length / 10)));
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
export async function runSoak<S extends { daemon: DaemonHandle; cardRigs: DoorRig[] }>(d: {
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
      `  RSS ${r.rssFlat ? 'flat' : 'NOT flat'}: ${r.rssSlopeMBPer100k} MB per 100,000 reads after the warm-up (heap ${r.heapSlopeMBPer100k}); ${r.rss.afterWarmup} → ${r.rss.last} MB, peak ${r.rss.peak} MB`,
    );
    d.say(`  latency ${r.latencyFlat ? 'flat' : 'NOT flat'}: last quarter ÷ second quarter p50 ${r.latencyDrift.p50}, p99 ${r.latencyDrift.p99}; ${r.denied} denied, ${r.lost} lost`);
    if (r.lost) d.errors.push(`soak: ${r.lost} reads lost`);
    if (r.daemonCrashed) d.errors.push('soak: the daemon died');
    return r;
  });
}
