// The API load, in its own process so its event loop does not disturb the devices' timestamps:
// autocannon on every route at once, each at a fixed rate spread evenly over the second, every
// response time kept raw (percentiles are the caller's, nearest rank).
import autocannon from 'autocannon';
import { writeFileSync } from 'node:fs';

export interface LoadRoute {
  name: string;
  method: 'GET' | 'POST';
  /** Paths to cycle through (one per request, in order). */
  paths: string[];
  body?: unknown;
  token: string;
  rate: number;
}

export interface LoadArgs {
  url: string;
  seconds: number;
  routes: LoadRoute[];
  out: string;
}

export interface RouteResult {
  name: string;
  samples: number[];
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  sent: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as LoadArgs;

/**
 * One route at `route.rate` requests a second, evenly spread: autocannon's own rate limit sends a
 * second's requests back to back at the start of each second (a burst every second that queues
 * behind itself), so the route gets `rate` instances of one connection at one request a second,
 * their starts staggered by 1/rate s. Paths are shared in order: a revocation never repeats while
 * there are ids left.
 */
async function run(route: LoadRoute): Promise<RouteResult> {
  const samples: number[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  let errors = 0;
  let timeouts = 0;
  let sent = 0;
  const one = (delayMs: number) =>
    new Promise<void>((resolve) =>
      setTimeout(() => {
        const instance = autocannon(
          {
            url: args.url,
            duration: args.seconds - delayMs / 1000,
            connections: 1,
            overallRate: 1,
            timeout: 30,
            requests: [
              {
                method: route.method,
                headers: { authorization: `Bearer ${route.token}`, ...(route.body !== undefined ? { 'content-type': 'application/json' } : {}) },
                ...(route.body !== undefined ? { body: JSON.stringify(route.body) } : {}),
                setupRequest: (req: Record<string, unknown>) => ({ ...req, path: route.paths[next++ % route.paths.length] }),
              },
            ],
          },
          (err, result) => {
            if (err) errors++;
            else {
              errors += result.errors;
              timeouts += result.timeouts;
              sent += result.requests.sent;
            }
            resolve();
          },
        );
        instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
          samples.push(responseTime);
          statuses[status] = (statuses[status] ?? 0) + 1;
        });
      }, delayMs),
    );
  const n = Math.max(1, Math.round(route.rate));
  await Promise.all(Array.from({ length: n }, (_, k) => one((k * 1000) / n)));
  return { name: route.name, samples, statuses, errors, timeouts, sent };
}

const results = await Promise.all(args.routes.map(run));
writeFileSync(args.out, JSON.stringify(results));
console.log('DONE');
