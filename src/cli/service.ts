// Running as the installed service (systemd, the Debian package): where its files are, refusing the
// demo site, and telling systemd how the daemon is doing (sd_notify, through `systemd-notify`).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { UsageError } from './options.js';
import { EXAMPLE_SITE } from './paths.js';

/** Where the package puts the site file and the data when systemd does not say (it does, below). */
export const SERVICE_CONFIG_DIR = '/etc/tobira';
export const SERVICE_STATE_DIR = '/var/lib/tobira';

export interface ServiceFlags {
  service?: boolean;
  allowDemoSite?: boolean;
  site?: string;
  data?: string;
}

/**
 * The service's site file and data directory. systemd passes the directories it made for
 * ConfigurationDirectory= and StateDirectory= as colon-separated lists; tobira asks for one each.
 * A flag, then TOBIRA_SITE / TOBIRA_DATA, still win, as everywhere else.
 */
export function serviceLocations(flags: ServiceFlags, env: NodeJS.ProcessEnv = process.env): { site: string; data: string } {
  const first = (list: string | undefined, fallback: string) => (list ? (list.split(':')[0] ?? fallback) : fallback) || fallback;
  const configDir = first(env.CONFIGURATION_DIRECTORY, SERVICE_CONFIG_DIR);
  return {
    site: resolve(flags.site ?? env.TOBIRA_SITE ?? join(configDir, 'site.yaml')),
    data: resolve(flags.data ?? env.TOBIRA_DATA ?? first(env.STATE_DIRECTORY, SERVICE_STATE_DIR)),
  };
}

/** True for the bundled example, whether named by its own path or copied unchanged. */
export function isDemoSite(file: string): boolean {
  try {
    if (realpathSync(file) === realpathSync(EXAMPLE_SITE)) return true;
    return readFileSync(file).equals(readFileSync(EXAMPLE_SITE));
  } catch {
    return false; // an unreadable site file is the loader's to report, with its path
  }
}

/**
 * `--service`: the site file and data directory become the service's, and the checks a gateway
 * needs before they are used. Throws UsageError (exit 2) for what a person must fix.
 */
export function applyServiceMode(flags: ServiceFlags, command: string, env: NodeJS.ProcessEnv = process.env): { site: string; data: string } {
  const where = serviceLocations(flags, env);
  if (command === 'start' && !existsSync(where.site)) {
    throw new UsageError(
      `no site file at ${where.site}: write the site's own (docs/install.md; the example is ${EXAMPLE_SITE}), check it with \`tobira config check\``,
    );
  }
  // Files made by root in the service's data directory would lock the service out of them.
  const uid = process.geteuid?.();
  if (uid === 0 && existsSync(where.data)) {
    const owner = statSync(where.data).uid;
    if (owner !== 0) {
      throw new UsageError(`${where.data} belongs to uid ${owner}, not root: run this as the service's user (sudo -u tobira tobira ${command} ... --service)`);
    }
  }
  if (command === 'start' && !flags.allowDemoSite && isDemoSite(where.site)) {
    throw new UsageError(
      `${where.site} is the bundled demo site (a lab with made-up devices): write the site's own (docs/install.md), ` +
        'or give --allow-demo-site to run the demo as a service',
    );
  }
  return where;
}

/** What the daemon tells systemd (sd_notify(3)); every method is a no-op outside a Type=notify unit. */
export interface ServiceNotifier {
  ready(status?: string): void;
  reloading(): void;
  stopping(): void;
  /** Resolves when every message sent so far has been delivered or given up on, or after `maxMs`. */
  settled(maxMs: number): Promise<void>;
}

const NO_NOTIFIER: ServiceNotifier = {
  ready: () => undefined,
  reloading: () => undefined,
  stopping: () => undefined,
  settled: async () => undefined,
};

/**
 * Node's dgram has no unix datagram sockets, so each message goes through the `systemd-notify`
 * binary (systemd itself, on every systemd host): no native addon to build on the gateway. It waits
 * until the manager has read the message (its barrier), so a message is never lost to the sender
 * having exited; the unit needs NotifyAccess=all since the sender is a child. Messages are sent one
 * after another, in order. The watchdog is fed from a timer on the event loop at half of
 * WATCHDOG_USEC: a loop stuck that long stops feeding it and systemd restarts the daemon.
 */
export function systemdNotifier(log: Logger, env: NodeJS.ProcessEnv = process.env, binary = 'systemd-notify'): ServiceNotifier {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return NO_NOTIFIER;
  const watchdogUsec = Number(env.WATCHDOG_USEC);
  const watchdogForUs = Number.isFinite(watchdogUsec) && watchdogUsec > 0 && (!env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === process.pid);
  // Not for our own children (sd_notify's unset_environment): they would speak for the daemon.
  for (const name of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete env[name];

  let chain = Promise.resolve();
  let failed = false;
  let feeding = false;
  const send = (vars: string[]): Promise<void> => {
    chain = chain.then(
      () =>
        new Promise<void>((done) => {
          const child = spawn(binary, [`--pid=${process.pid}`, ...vars], {
            env: { NOTIFY_SOCKET: socket, PATH: process.env.PATH ?? '/usr/bin:/bin' },
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let stderr = '';
          child.stderr?.on('data', (d) => (stderr += d));
          child.once('error', (err) => {
            if (!failed) log.warn({ err: err.message }, 'cannot tell systemd how the daemon is (systemd-notify)');
            failed = true;
            done();
          });
          child.once('exit', (code) => {
            if (code !== 0 && !failed) {
              failed = true;
              log.warn({ code, stderr: stderr.trim(), vars }, 'systemd-notify failed');
            }
            done();
          });
        }),
    );
    return chain;
  };

  let watchdog: NodeJS.Timeout | undefined;
  const status = (text: string) => `STATUS=${text.replace(/\n/g, ' ')}`;
  return {
    ready(text = 'ready') {
      send(['READY=1', status(text)]);
      if (watchdogForUs && !watchdog) {
        watchdog = setInterval(
          () => {
            if (feeding) return; // the last feed is still on its way: one in flight is enough
            feeding = true;
            void send(['WATCHDOG=1']).then(() => (feeding = false));
          },
          Math.max(1, Math.floor(watchdogUsec / 2000)),
        );
        watchdog.unref();
      }
    },
    reloading() {
      // MONOTONIC_USEC: newer systemd wants it beside RELOADING=1 (CLOCK_MONOTONIC, as hrtime is).
      send(['RELOADING=1', `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, status('reloading the site file')]);
    },
    stopping() {
      if (watchdog) clearInterval(watchdog);
      send(['STOPPING=1', status('stopping: locking every lock')]);
    },
    settled: (maxMs) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((r) => (timer = setTimeout(r, maxMs)));
      return Promise.race([chain, late]).finally(() => clearTimeout(timer));
    },
  };
}
