// Summarises a V8 CPU profile (node --cpu-prof): where the daemon's one thread spends its time,
// by function (self time) and by package. Time blocked in a synchronous call (SQLite's fsync inside
// better-sqlite3) is sampled on the JS frame that made the call, so it shows there.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** The part of the profile summarised: ms after the process started. */
  window: { fromMs: number; toMs: number };
  totalMs: number;
  /** Share of the profile's wall time spent idle (waiting for I/O): 1 − busy. */
  idlePct: number;
  topFunctions: { fn: string; selfMs: number; pct: number }[];
  byPackage: { pkg: string; selfMs: number; pct: number }[];
  /** Inclusive time of a few functions that matter to a decision. */
  inclusive: { fn: string; totalMs: number; pct: number }[];
}

function packageOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const src = /\/dist\/(src\/[^/]+)\//.exec(url);
  if (src) return src[1]!;
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/');
}

function label(n: ProfileNode): string {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url ? `${url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

const INCLUSIVE = [
  'onCredential',
  'firstFactor',
  'grant',
  'decide',
  'append',
  'onMessage',
  'parseDeviceEvent',
  'send',
  'publishEvent',
  'raise',
  'authenticate',
];

/**
 * Summarises the newest main-thread profile in `dir`, only the samples between `fromMs` and `untilMs` after the
 * process started (the profile starts with it): start-up and shutdown stay out of a scenario's figures.
 */
export function summarizeProfile(dir: string, fromMs = 0, untilMs = Infinity): ProfileSummary | undefined {
  let files: string[];
  try {
    // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread, the one that
    // decides; the daemon's worker threads (the WAL checkpointer) write profiles of their own.
    files = readdirSync(dir).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  } catch {
    return undefined;
  }
  const file = files.sort().at(-1);
  if (!file) return undefined;
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let t = prof.startTime;
  const from = prof.startTime + fromMs * 1000;
  const to = prof.startTime + untilMs * 1000;
  let totalUs = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = prof.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from || t > to) continue;
    const id = prof.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + dt);
    totalUs += dt;
  }
  if (totalUs === 0) return undefined;
  const fnSelf = new Map<string, number>();
  const pkgSelf = new Map<string, number>();
  let idleUs = 0;
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') idleUs += us;
    fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + us);
    const pkg = packageOf(n.callFrame.url, n.callFrame.functionName);
    pkgSelf.set(pkg, (pkgSelf.get(pkg) ?? 0) + us);
    // Inclusive: once per named function on the stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = byId.get(cur)!.callFrame.functionName;
      if (INCLUSIVE.includes(name) && !seen.has(name) && byId.get(cur)!.callFrame.url.includes('/dist/src/')) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + us);
      }
    }
  }
  const pct = (us: number) => Number(((us / totalUs) * 100).toFixed(1));
  const toMs = (us: number) => Number((us / 1000).toFixed(1));
  const top = <K extends string>(m: Map<string, number>, key: K, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => ({ [key]: k, selfMs: toMs(us), pct: pct(us) }) as { [P in K]: string } & { selfMs: number; pct: number });
  return {
    file: join(dir, file),
    window: { fromMs: Math.round(fromMs), toMs: Math.round(Math.min(untilMs, (prof.endTime - prof.startTime) / 1000)) },
    totalMs: toMs(totalUs),
    idlePct: pct(idleUs),
    topFunctions: top(fnSelf, 'fn', 25),
    byPackage: top(pkgSelf, 'pkg', 15),
    inclusive: [...inclusive.entries()].sort((a, b) => b[1] - a[1]).map(([fn, us]) => ({ fn, totalMs: toMs(us), pct: pct(us) })),
  };
}
