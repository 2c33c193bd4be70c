// The machine the figures come from, and how busy it was with other work while they were taken.
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';

export interface Machine {
  cpuModel: string;
  cores: number;
  node: string;
  platform: string;
  kernel: string;
  memoryGB: number;
  freeMemoryGB: number;
  loadAverageAtStart: number[];
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    node: process.version,
    platform: process.platform,
    kernel: release(),
    memoryGB: Number((totalmem() / 2 ** 30).toFixed(1)),
    freeMemoryGB: Number((freemem() / 2 ** 30).toFixed(1)),
    loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
  };
}

export function machineLine(m: Machine): string {
  return `${m.cpuModel}, ${m.cores} cores, Node ${m.node}, ${m.platform} ${m.kernel}, ${m.memoryGB} GB; load average ${m.loadAverageAtStart.join(' / ')}`;
}

/** Clock ticks of the whole machine (busy, total) from /proc/stat; undefined off Linux. */
function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

const lastTicks = new Map<number, number>();
/** Clock ticks (user + system) a process has used; the last reading once it is gone. */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    lastTicks.set(pid, ticks);
    return ticks;
  } catch {
    return lastTicks.get(pid) ?? 0;
  }
}

export interface CpuShare {
  /** Seconds of wall time measured. */
  seconds: number;
  /** Machine-wide CPU use, in cores (0 … cores). */
  machineCores: number;
  /** CPU used by the benchmark's own processes (bench, daemon, broker), in cores. */
  benchCores: number;
  /** The rest: other people's work on this machine while we measured, in cores. */
  otherCores: number;
  /** CPU used by each measured process, in cores, by pid. */
  byPid: Record<number, number>;
  loadAverage: number[];
}

/**
 * Measures CPU use over a phase: the whole machine's, the benchmark's own processes', and the
 * difference (other work: someone's test suite running at the same time makes figures noisy).
 */
export class CpuMeter {
  private readonly start = machineTicks();
  private readonly startPids = new Map<number, number>();
  private readonly t0 = Date.now();

  private readonly poll: NodeJS.Timeout;

  constructor(private readonly pids: () => number[]) {
    for (const pid of pids()) this.startPids.set(pid, processTicks(pid));
    // Read now and then, so a process that ends during the phase still counts up to its end.
    this.poll = setInterval(() => {
      for (const pid of this.startPids.keys()) processTicks(pid);
    }, 200);
    this.poll.unref();
  }

  stop(): CpuShare | undefined {
    clearInterval(this.poll);
    const end = machineTicks();
    if (!this.start || !end) return undefined;
    const seconds = (Date.now() - this.t0) / 1000;
    const hz = 100; // USER_HZ on Linux
    const cores = cpus().length;
    const totalTicks = end.total - this.start.total;
    const machineCores = totalTicks > 0 ? ((end.busy - this.start.busy) / totalTicks) * cores : 0;
    let own = 0;
    const byPid: Record<number, number> = {};
    const r = (x: number) => Number(Math.max(0, x).toFixed(2));
    for (const pid of new Set([...this.startPids.keys(), ...this.pids()])) {
      const ticks = processTicks(pid) - (this.startPids.get(pid) ?? 0);
      own += ticks;
      byPid[pid] = seconds > 0 ? r(ticks / hz / seconds) : 0;
    }
    const benchCores = seconds > 0 ? own / hz / seconds : 0;
    return {
      seconds: r(seconds),
      machineCores: r(machineCores),
      benchCores: r(benchCores),
      otherCores: r(machineCores - benchCores),
      byPid,
      loadAverage: loadavg().map((x) => Number(x.toFixed(2))),
    };
  }
}

/** Resident memory of a process (VmRSS) and its peak (VmHWM), in MB. */
export function residentMB(pid: number): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const rss = kb('VmRSS');
    const peak = kb('VmHWM');
    // A process that has exited but not been reaped (a zombie) has a status without memory lines.
    if (!Number.isFinite(rss) || !Number.isFinite(peak)) return undefined;
    return { rss: Number((rss / 1024).toFixed(1)), peak: Number((peak / 1024).toFixed(1)) };
  } catch {
    return undefined;
  }
}
