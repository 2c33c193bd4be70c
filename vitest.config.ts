import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Hardware-in-the-loop files each run a daemon process; two cores here.
    maxWorkers: 2,
    // The fault suite ends with its one-line summary (printed only when fault files ran).
    reporters: ['default', './tests/faults/summary-reporter.ts'],
  },
});
