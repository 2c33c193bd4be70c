// The two sizes of the benchmark: the full run (the figures) and the quick one (CI, < 1 min).

export interface BenchConfig {
  mode: 'full' | 'quick';
  /** Credentials in the decision-latency databases (each with `grants` grants and no log). */
  sizes: number[];
  grants: number;
  /** People with a card + PIN (a lab grant and a PIN hash each). */
  pinHolders: number;
  /** The big database: credentials and entry-log rows (burst, API, log integrity, footprint). */
  bigCredentials: number;
  logRows: number;
  /** Card-only doors in the site (the burst uses all of them) and card + PIN doors. */
  cardDoors: number;
  pinDoors: number;
  /** Card-only doors the quiet reads rotate over. */
  quietDoors: number;
  /** Pause between quiet reads (and between echoes), ms. */
  gapMs: number;
  echo: { n: number; warmup: number };
  /**
   * The lean echo: the echo's count; a longer warm-up, its broker being a fresh process (JIT).
   * `after`: measured after the decision runs too, and pooled (the quick run saves the time).
   */
  leanEcho: { n: number; warmup: number; after: boolean };
  commit: { n: number; warmup: number };
  card: { n: number; warmup: number };
  pin: { n: number; warmup: number };
  pinFloor: number;
  /** Quiet reads on the big database right before its burst (the burst's "quiet value"). */
  bigQuiet: { n: number; warmup: number };
  burst: { rate: number; seconds: number; drainMs: number };
  /** API load per route (requests per second, evenly spread), alone and during the burst. */
  api: { seconds: number; aloneSeconds: number; create: number; revoke: number; byPerson: number; byAreaDay: number; revocable: number };
  append: { single: number; batched: number };
  /** A CPU profile of the daemon under quiet reads and a burst (its own short session). */
  profile: { enabled: boolean; quiet: number; burstSeconds: number };
  /** Run the burst a second time through Mosquitto (without API load). */
  burstOnMosquitto: boolean;
  /** Quiet reads for as long as `tobira backup` runs on the big database (batches of `batch`), stopped after `maxSeconds`. */
  duringBackup: { batch: number; maxSeconds: number };
  /**
   * Overload (bench/lib/overload.ts): capacity measured closed loop (`window` reads outstanding per
   * door for `capacitySeconds`), then a burst at twice it for `seconds`. `--overload` turns it on.
   */
  overload: { enabled: boolean; window: number; capacitySeconds: number; seconds: number; drainMs: number };
  /** Soak (bench/lib/soak.ts, `--soak N`): N reads at `rate` per second; 0 reads: not run. */
  soak: { reads: number; rate: number };
}

export const FULL: BenchConfig = {
  mode: 'full',
  sizes: [10_000, 200_000, 2_000_000],
  grants: 100_000,
  pinHolders: 32,
  bigCredentials: 2_000_000,
  logRows: 10_000_000,
  cardDoors: 64,
  pinDoors: 2,
  quietDoors: 4,
  gapMs: 2,
  echo: { n: 5000, warmup: 500 },
  leanEcho: { n: 5000, warmup: 1000, after: true },
  commit: { n: 3000, warmup: 200 },
  card: { n: 3000, warmup: 300 },
  pin: { n: 300, warmup: 20 },
  pinFloor: 200,
  bigQuiet: { n: 1000, warmup: 200 },
  burst: { rate: 2000, seconds: 30, drainMs: 30_000 },
  api: { seconds: 30, aloneSeconds: 10, create: 10, revoke: 10, byPerson: 20, byAreaDay: 20, revocable: 5000 },
  append: { single: 2000, batched: 50_000 },
  profile: { enabled: true, quiet: 1000, burstSeconds: 10 },
  burstOnMosquitto: true,
  duringBackup: { batch: 100, maxSeconds: 1800 },
  overload: { enabled: true, window: 4, capacitySeconds: 5, seconds: 20, drainMs: 30_000 },
  soak: { reads: 0, rate: 1000 },
};

export const QUICK: BenchConfig = {
  mode: 'quick',
  sizes: [10_000],
  grants: 1_000,
  pinHolders: 8,
  bigCredentials: 10_000,
  logRows: 100_000,
  cardDoors: 8,
  pinDoors: 2,
  quietDoors: 4,
  gapMs: 2,
  echo: { n: 400, warmup: 50 },
  leanEcho: { n: 400, warmup: 300, after: false },
  commit: { n: 300, warmup: 30 },
  card: { n: 400, warmup: 50 },
  pin: { n: 40, warmup: 5 },
  pinFloor: 20,
  bigQuiet: { n: 200, warmup: 30 },
  // The full burst's rate per door (2,000 / 64) at 8 doors.
  burst: { rate: 250, seconds: 5, drainMs: 10_000 },
  api: { seconds: 5, aloneSeconds: 0, create: 10, revoke: 10, byPerson: 20, byAreaDay: 20, revocable: 500 },
  append: { single: 300, batched: 10_000 },
  profile: { enabled: false, quiet: 300, burstSeconds: 3 },
  burstOnMosquitto: false,
  duringBackup: { batch: 25, maxSeconds: 60 },
  overload: { enabled: false, window: 4, capacitySeconds: 5, seconds: 10, drainMs: 15_000 },
  soak: { reads: 0, rate: 1000 },
};

export const TARGETS = {
  decisionP50Ratio: 1.3,
  decisionP99Ratio: 2,
  burstP99OverQuiet: 3,
  queryP99Ms: 50,
  verifyRecordsPerSec: 500_000,
  readyMs: 3000,
  rssMB: 200,
  peakRssMB: 200,
  cpuPerReadMs: 0.1,
  walPeakMB: 64,
};
