// Percentiles from raw samples: sort, nearest rank. No histograms, no interpolation.

export interface Summary {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  min: number | null;
  mean: number | null;
}

/** Nearest-rank percentile of an ascending array: the value at rank ceil(p/100 · n). */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

const round = (x: number | null, digits = 3): number | null => (x === null ? null : Number(x.toFixed(digits)));

/** p50, p99, max (and min, mean) of samples in milliseconds, rounded to microseconds. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  const n = arr.length;
  let sum = 0;
  for (const x of arr) sum += x;
  return {
    count: n,
    p50: round(nearestRank(arr, 50)),
    p99: round(nearestRank(arr, 99)),
    max: round(n ? arr[n - 1]! : null),
    min: round(n ? arr[0]! : null),
    mean: round(n ? sum / n : null),
  };
}

/** Merges sample arrays (e.g. an echo floor measured before and after the decision runs). */
export function concat(...parts: readonly (readonly number[])[]): number[] {
  const out: number[] = [];
  for (const p of parts) for (const x of p) out.push(x);
  return out;
}

/** a ÷ b, rounded; null when either side is missing. */
export function ratio(a: number | null | undefined, b: number | null | undefined, digits = 2): number | null {
  if (a == null || b == null || b === 0) return null;
  return Number((a / b).toFixed(digits));
}

/** Elapsed milliseconds between two process.hrtime.bigint() readings. */
export function ms(from: bigint, to: bigint): number {
  return Number(to - from) / 1e6;
}
