// What the decisions cost the disk: bytes the daemon writes per decision, from the kernel's own
// per-process counters (/proc/<pid>/io), and how large the write-ahead log grows meanwhile. An SD
// card wears out by the bytes written to it, so this is the figure that says how long one lasts.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { logHead } from './drive.js';

/** The counters of /proc/<pid>/io that matter here (bytes; every thread of the process). */
export interface IoCounters {
  /** Bytes the process sent to the storage layer (page-cache pages it dirtied): what reaches the disk. */
  writeBytes: number;
  /** Bytes the process truncated away before they were written back (subtracted from writeBytes). */
  cancelledWriteBytes: number;
  /** Bytes passed to write() and friends, to files and sockets alike (an upper bound; MQTT included). */
  wchar: number;
}

export function readIo(pid: number): IoCounters | null {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const get = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    const io = { writeBytes: get('write_bytes'), cancelledWriteBytes: get('cancelled_write_bytes'), wchar: get('wchar') };
    return Object.values(io).every(Number.isFinite) ? io : null;
  } catch {
    return null;
  }
}

export interface StorageRun {
  /** quiet: one read at a time; burst: all doors at once (see the README). */
  phase: 'quiet' | 'burst';
  label: string;
  /** Entry-log records appended over the run (its decisions). */
  decisions: number;
  seconds: number;
  writeBytes: number | null;
  wchar: number | null;
  bytesWrittenPerDecision: number | null;
  wcharPerDecision: number | null;
  /** The WAL file's largest size over the run (sampled every 50 ms), and at its end. */
  walPeakMB: number;
  walEndMB: number;
}

const WAL_SAMPLE_MS = 50;
/** After the reads: a checkpoint interval and a bit, so the copy of the run's frames into the database is counted. */
const SETTLE_MS = 1200;

const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(2));

/** Every measured run of this benchmark, in order (run.ts puts their summary in the results). */
export const storageRuns: StorageRun[] = [];

/**
 * Starts measuring the daemon `pid` working on `dataDir`; `stop()` (after the reads and their drain)
 * waits for the next checkpoint, records the run in `storageRuns` and returns it.
 */
export function meterStorage(pid: number, dataDir: string, phase: StorageRun['phase'], label: string): { stop(): Promise<StorageRun> } {
  const dbFile = join(dataDir, 'tobira.db');
  const walFile = `${dbFile}-wal`;
  const walSize = () => {
    try {
      return statSync(walFile).size;
    } catch {
      return 0;
    }
  };
  let walPeak = walSize();
  const sampler = setInterval(() => {
    walPeak = Math.max(walPeak, walSize());
  }, WAL_SAMPLE_MS);
  const head0 = logHead(dbFile);
  const io0 = readIo(pid);
  const t0 = Date.now();
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      clearInterval(sampler);
      const io1 = readIo(pid);
      const decisions = logHead(dbFile) - head0;
      const walEnd = walSize();
      walPeak = Math.max(walPeak, walEnd);
      const written = io0 && io1 ? io1.writeBytes - io0.writeBytes - (io1.cancelledWriteBytes - io0.cancelledWriteBytes) : null;
      const wchar = io0 && io1 ? io1.wchar - io0.wchar : null;
      const per = (x: number | null) => (x !== null && decisions > 0 ? Math.round(x / decisions) : null);
      const run: StorageRun = {
        phase,
        label,
        decisions,
        seconds: Number(((Date.now() - t0) / 1000).toFixed(1)),
        writeBytes: written,
        wchar,
        bytesWrittenPerDecision: per(written),
        wcharPerDecision: per(wchar),
        walPeakMB: mb(walPeak),
        walEndMB: mb(walEnd),
      };
      storageRuns.push(run);
      return run;
    },
  };
}

/**
 * What the bytes per decision mean for a 32 GB SD card. The assumption, stated: a consumer card's
 * flash takes about 500 program/erase cycles (TLC), so 32 GB × 500 = 16 TB written before it wears
 * out, counting bytes as the card receives them. Inside the card, small scattered 4 KB writes cost
 * more than their size (write amplification: erase blocks of megabytes, a simple controller); no card
 * states it, so the years are given at 1× (the best case) and at an assumed 10×.
 */
export const ENDURANCE_ASSUMPTION = {
  cardGB: 32,
  enduranceTBW: 16,
  basis: 'consumer microSD, TLC flash: ~500 program/erase cycles x 32 GB = 16 TB written (vendors rarely state it; high-endurance cards several times more)',
  writeAmplification: 'unknown (not stated by card vendors); years given at 1x (best case) and at an assumed 10x for small scattered synchronous writes',
};

export interface Endurance {
  assumption: typeof ENDURANCE_ASSUMPTION;
  bytesPerDecision: number;
  /** From the larger of the quiet and burst figures. */
  basis: 'quiet' | 'burst';
  perDay: { readsPerDay: number; gbPerDay: number; yearsAt1x: number; yearsAt10x: number }[];
}

export function endurance(bytesPerDecision: number, basis: Endurance['basis']): Endurance {
  const tbw = ENDURANCE_ASSUMPTION.enduranceTBW * 1e12;
  return {
    assumption: ENDURANCE_ASSUMPTION,
    bytesPerDecision,
    basis,
    perDay: [10_000, 100_000].map((readsPerDay) => {
      const perDay = bytesPerDecision * readsPerDay;
      const years = (wa: number) => Number((tbw / (perDay * wa * 365)).toFixed(1));
      return { readsPerDay, gbPerDay: Number((perDay / 1e9).toFixed(2)), yearsAt1x: years(1), yearsAt10x: years(10) };
    }),
  };
}

export interface StorageResults {
  /** The largest WAL file over every measured run (MB). */
  walPeakMB: number | null;
  /** Bytes the daemon wrote to disk per decision (write_bytes), in the first quiet and the first burst run (embedded broker). */
  bytesWrittenPerDecision: { quiet: number | null; burst: number | null };
  wcharPerDecision: { quiet: number | null; burst: number | null };
  /** From write_bytes (counted per folio: may overstate, see the README), and from wchar (SQLite's writes as made). */
  endurance: { fromWriteBytes: Endurance | null; fromWchar: Endurance | null };
  runs: StorageRun[];
}

export function storageResults(runs: StorageRun[] = storageRuns): StorageResults {
  const first = (phase: StorageRun['phase']) => runs.find((r) => r.phase === phase && r.bytesWrittenPerDecision !== null);
  const quiet = first('quiet');
  const burst = first('burst');
  const worst = (key: 'bytesWrittenPerDecision' | 'wcharPerDecision') =>
    [quiet, burst].filter((r) => r !== undefined && r[key] !== null).sort((a, b) => b![key]! - a![key]!)[0];
  const fromWriteBytes = worst('bytesWrittenPerDecision');
  const fromWchar = worst('wcharPerDecision');
  return {
    walPeakMB: runs.length ? Math.max(...runs.map((r) => r.walPeakMB)) : null,
    bytesWrittenPerDecision: { quiet: quiet?.bytesWrittenPerDecision ?? null, burst: burst?.bytesWrittenPerDecision ?? null },
    wcharPerDecision: { quiet: quiet?.wcharPerDecision ?? null, burst: burst?.wcharPerDecision ?? null },
    endurance: {
      fromWriteBytes: fromWriteBytes ? endurance(fromWriteBytes.bytesWrittenPerDecision!, fromWriteBytes.phase) : null,
      fromWchar: fromWchar ? endurance(fromWchar.wcharPerDecision!, fromWchar.phase) : null,
    },
    runs,
  };
}
