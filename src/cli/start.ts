// `tobira start`: the process wiring around the controller and the API.
import { Controller, BrokerPortInUseError } from '../controller/controller.js';
import { buildServer } from '../api/server.js';
import { formatProblem, loadSiteFile, SiteFileError } from '../site/load.js';
import { createLogger } from './logger.js';
import { brokerChoice, dataDir, parsePort, sitePath, UsageError, type CommonFlags } from './options.js';

export interface StartFlags extends CommonFlags {
  apiPort?: string;
  apiHost?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export async function start(flags: StartFlags): Promise<void> {
  const log = createLogger();
  const file = sitePath(flags);
  const site = loadSiteFile(file); // throws SiteFileError with every problem listed
  const broker = brokerChoice(flags, site);
  const apiPort = parsePort(flags.apiPort ?? process.env.TOBIRA_API_PORT ?? '8080', '--api-port');
  const apiHost = flags.apiHost ?? process.env.TOBIRA_API_HOST ?? '127.0.0.1';
  const data = dataDir(flags);
  log.info({ site: file, data, broker: broker.mode === 'embedded' ? `embedded on ${broker.host}:${broker.port} (TLS)` : broker.url }, 'starting tobira');

  let controller: Controller;
  try {
    controller = await Controller.start({ site, dataDir: data, log, broker });
  } catch (err) {
    if (err instanceof BrokerPortInUseError) {
      // Not "use the broker already there": a broker without tobira's rules is an open device bus.
      throw new UsageError(
        `${err.message}.\n  Run the embedded broker on another port with --mqtt-port N (or TOBIRA_MQTT_PORT=N).\n` +
          '  To use a Mosquitto instead, configure it with the files `tobira mqtt-acl --out DIR` writes (logins, ACL, TLS listener)\n' +
          '  and give --mqtt-url mqtts://HOST:PORT; the controller refuses a broker that lets anyone in.',
      );
    }
    throw err;
  }

  const tlsCert = flags.tlsCert ?? process.env.TOBIRA_TLS_CERT;
  const tlsKey = flags.tlsKey ?? process.env.TOBIRA_TLS_KEY;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    await controller.stop();
    throw new UsageError('give both --tls-cert and --tls-key (or TOBIRA_TLS_CERT and TOBIRA_TLS_KEY) for HTTPS');
  }
  const api = await buildServer({ controller, log, tls: tlsCert && tlsKey ? { cert: tlsCert, key: tlsKey } : undefined });
  try {
    await api.listen({ port: apiPort, host: apiHost });
  } catch (err) {
    await controller.stop();
    throw new UsageError(`the API cannot listen on ${apiHost}:${apiPort}: ${(err as Error).message}. Use --api-port N (or TOBIRA_API_PORT).`);
  }
  if (!tlsCert && apiHost !== '127.0.0.1' && apiHost !== '::1' && apiHost !== 'localhost') {
    log.warn(
      { host: apiHost },
      'the API listens beyond this machine without TLS: passwords and tokens cross the network in clear; give --tls-cert and --tls-key',
    );
  }
  log.info({ api: `${tlsCert ? 'https' : 'http'}://${apiHost}:${(api.server.address() as { port: number }).port}` }, 'ready');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await api.close().catch(() => undefined);
    await controller.stop();
    log.flush?.();
    process.exit(0);
  };
  // SIGHUP: reload the site file (policy changes apply live; see Controller.reload).
  process.on('SIGHUP', () => {
    try {
      const result = controller.reload(loadSiteFile(file));
      log.info({ ...result, site: file }, 'site file reloaded');
    } catch (err) {
      const problems = err instanceof SiteFileError ? err.problems.map(formatProblem) : [(err as Error).message];
      controller.reload({ problems });
      log.warn({ problems }, 'site file reload refused');
    }
  });
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
