// The fault suite's last line: `faults: <injected> injected, <survived> survived, <lost> records lost, <crashes> crashes`,
// summed over the result files the fault tests of this run write (tests/faults/.results/<run>/*.json,
// see FaultTally in tests/helpers/faults.ts). Listed after the default reporter, so the line ends the run:
//   reporters: ['default', './tests/faults/summary-reporter.ts']
// or on the command line: vitest run tests/faults --reporter=default --reporter=./tests/faults/summary-reporter.ts
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

const RESULTS_DIR = resolve(import.meta.dirname, '.results');

interface FileCounts {
  name: string;
  injected: number;
  survived: number;
  lost: number;
  crashes: number;
}

/** The summary line over one run's result files. */
export function summarise(dir: string): { line: string; files: FileCounts[] } {
  const files: FileCounts[] = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as FileCounts)
    : [];
  const sum = (k: keyof Omit<FileCounts, 'name'>) => files.reduce((n, f) => n + (Number(f[k]) || 0), 0);
  return { line: `faults: ${sum('injected')} injected, ${sum('survived')} survived, ${sum('lost')} records lost, ${sum('crashes')} crashes`, files };
}

export default class FaultSummaryReporter implements Reporter {
  private readonly run = `run-${process.pid}`;

  onInit(): void {
    // Test workers (forked after this) write under this run's name; other runs in the checkout keep theirs.
    process.env.TOBIRA_FAULT_RUN = this.run;
    rmSync(join(RESULTS_DIR, this.run), { recursive: true, force: true });
    // Tidy up after runs of a day ago and more.
    if (existsSync(RESULTS_DIR)) {
      for (const d of readdirSync(RESULTS_DIR)) {
        const path = join(RESULTS_DIR, d);
        if (Date.now() - statSync(path).mtimeMs > 86_400_000) rmSync(path, { recursive: true, force: true });
      }
    }
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const faultModules = testModules.filter((m) => m.moduleId.includes('/tests/faults/'));
    if (faultModules.length === 0) return; // not a fault run: no line
    const { line, files } = summarise(join(RESULTS_DIR, this.run));
    const reported = new Set(files.map((f) => f.name));
    const silent = faultModules
      .map((m) =>
        m.moduleId
          .split('/')
          .pop()!
          .replace(/\.test\.ts$/, ''),
      )
      .filter((n) => !reported.has(n));
    if (silent.length) process.stderr.write(`fault files that recorded no counts (failed before counting?): ${silent.join(', ')}\n`);
    process.stdout.write(`${line}\n`);
  }
}
