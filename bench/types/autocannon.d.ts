// autocannon ships no types; the benchmark uses a small part of its programmatic API.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';
  interface Instance extends EventEmitter {
    stop(): void;
  }
  interface Result {
    requests: { total: number; average: number; sent: number };
    non2xx: number;
    errors: number;
    timeouts: number;
    duration: number;
    statusCodeStats?: Record<string, { count: number }>;
    [key: string]: unknown;
  }
  type Callback = (err: Error | null, result: Result) => void;
  function autocannon(opts: Record<string, unknown>, cb?: Callback): Instance;
  export default autocannon;
  export type { Instance, Result };
}
