// `tobira start`: the process wiring around the controller and the API.
import { Controller, BrokerPortInUseError } from '../controller/controller.js';
import { buildServer } from '../api/server.js';
import { apiTransport } from '../api/transport.js';
import { loadSecrets } from '../devices/secrets.js';
import { ensureApiTls } from '../devices/tls.js';
import { formatProblem, loadSiteFile, SiteFileError } from '../site/load.js';
import { createLogger } from './logger.js';
import { systemdNotifier } from './service.js';
import { brokerChoice, dataDir, insecureHttp, parsePort, sitePath, UsageError, type CommonFlags } from './options.js';

export interface StartFlags extends CommonFlags {
  apiPort?: string;
  apiHost?: string;
  tlsCert?: string;
  tlsKey?: string;
  insecureHttp?: boolean;
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
    controller = await Controller.start({ site, dataDir: data, log, broker, sitePath: file });
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
  const insecure = insecureHttp(flags.insecureHttp);
  if (insecure && tlsCert) {
    await controller.stop();
    throw new UsageError('give --tls-cert/--tls-key (HTTPS) or --insecure-http (plain HTTP), not both');
  }
  // Never in clear beyond this machine unless asked: HTTPS with the gateway's own CA by default.
  const transport = apiTransport({ host: apiHost, operatorCertificate: tlsCert !== undefined, insecureHttp: insecure });
  let tls: { cert: string; key: string } | undefined;
  if (transport.certificate === 'operator') tls = { cert: tlsCert!, key: tlsKey! };
  else if (transport.certificate === 'gateway-ca') {
    const own = ensureApiTls(data, apiHost);
    tls = { cert: own.certFile, key: own.keyFile };
    log.info(
      { cert: own.certFile, ca: own.caFile },
      "the API serves HTTPS with a certificate of the gateway's own CA (clients trust the CA `tobira devices --ca` prints)",
    );
  }
  // Beyond loopback the counts of /metrics are for the scraper holding the token alone.
  const metricsToken = transport.beyondLoopback ? loadSecrets(data).metrics : undefined;
  const api = await buildServer({ controller, log, tls, metricsToken });
  try {
    await api.listen({ port: apiPort, host: apiHost });
  } catch (err) {
    await controller.stop();
    throw new UsageError(`the API cannot listen on ${apiHost}:${apiPort}: ${(err as Error).message}. Use --api-port N (or TOBIRA_API_PORT).`);
  }
  const apiUrl = `${transport.scheme}://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${(api.server.address() as { port: number }).port}`;
  if (transport.insecure) {
    log.warn(
      { url: apiUrl },
      'the API and console are served over plain HTTP beyond this machine, as asked (--insecure-http): passwords, codes and session cookies cross the network in clear',
    );
    controller.raiseSecurity({ type: 'api-plain-http', since: new Date().toISOString(), source: 'api', detail: { url: apiUrl } });
  }
  log.info({ api: apiUrl }, 'ready');
  const notifier = systemdNotifier(log); // under systemd: READY, the watchdog, RELOADING, STOPPING
  notifier.ready();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    notifier.stopping();
    log.info({ signal }, 'shutting down');
    await api.close().catch(() => undefined);
    await controller.stop();
    log.flush?.();
    await notifier.settled(2000);
    process.exit(0);
  };
  // SIGHUP: reload the site file (policy changes apply live; see Controller.reload).
  process.on('SIGHUP', () => {
    notifier.reloading();
    try {
      const result = controller.reload(loadSiteFile(file));
      log.info({ ...result, site: file }, 'site file reloaded');
    } catch (err) {
      const problems = err instanceof SiteFileError ? err.problems.map(formatProblem) : [(err as Error).message];
      controller.reload({ problems });
      log.warn({ problems }, 'site file reload refused');
    }
    notifier.ready();
  });
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
