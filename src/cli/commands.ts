// The smaller subcommands: config check, devices, mqtt-acl, people add, sim.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Simulator, runRepl } from '../../firmware-sim/index.js';
import { ensureSecrets, loadSecrets, secretsPath } from '../devices/secrets.js';
import { deviceClientId, observerClientIdPrefix, Topics } from '../devices/protocol.js';
import { ensureDeviceTls, readCa } from '../devices/tls.js';
import { homeAssistantClientIdPrefix } from '../devices/homeassistant.js';
import { mosquittoAclFile, mosquittoConfSnippet, mosquittoPasswordFile } from '../devices/mosquitto.js';
import { loadSiteFile } from '../site/load.js';
import { labelText } from '../site/schema.js';
import { createServices, localOperator, ServiceError } from '../services/index.js';
import { openStore } from '../store/index.js';
import { isValidPin } from '../store/pin.js';
import { brokerChoice, brokerUrl, dataDir, sitePath, UsageError, type CommonFlags } from './options.js';
import { signAuditHead } from './sign-audit.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

export function configCheck(file: string): void {
  const site = loadSiteFile(resolve(file), { checkFiles: true });
  out(`${file}: OK — ${site.areas.length} areas, ${site.doors.length} doors, ${site.devices.length} devices (${site.site.timezone})`);
}

export function devicesCommand(flags: CommonFlags & { secrets?: boolean; ca?: boolean }): void {
  const site = loadSiteFile(sitePath(flags));
  if (flags.ca) {
    // Made here if the daemon has not started yet: the installer can set devices up first.
    process.stdout.write(ensureDeviceTls(dataDir(flags)).ca);
    return;
  }
  const secrets = flags.secrets
    ? ensureSecrets(
        dataDir(flags),
        site.devices.map((d) => d.id),
      ).secrets
    : undefined;
  const topics = new Topics(site.mqtt.baseTopic);
  for (const d of site.devices) {
    const where =
      d.transport === 'gpio'
        ? `gpio pin ${d.gpio?.pin} (sysfs ${site.gpio.chipBase + (d.gpio?.pin ?? 0)})`
        : d.transport === 'http'
          ? `${d.http?.url} (login: secrets.json cameras.${d.id})`
          : topics.device(d.id, 'events');
    out(`${d.id.padEnd(20)} ${d.kind.padEnd(10)} ${d.transport.padEnd(5)} ${labelText(d.name).padEnd(24)} ${where}`);
    if (secrets && d.transport === 'mqtt') {
      out(`${''.padEnd(20)} username=${d.id} password=${secrets.devices[d.id]} clientId=${deviceClientId(site.mqtt.baseTopic, d.id)}`);
    }
  }
  if (secrets?.observer) {
    out(`\n${'observer'.padEnd(20)} read-only: may subscribe to ${topics.checkpoints} and nothing else`);
    out(
      `${''.padEnd(20)} username=${secrets.observer.username} password=${secrets.observer.password} clientId=${observerClientIdPrefix(site.mqtt.baseTopic)}NAME (e.g. ${observerClientIdPrefix(site.mqtt.baseTopic)}offsite)`,
    );
  }
  if (secrets?.homeassistant && site.homeassistant.enabled) {
    const prefix = site.homeassistant.discoveryPrefix;
    out(
      `\n${'homeassistant'.padEnd(20)} read-only: may read ${prefix}/#, ${topics.base}/ha/# and ${topics.controllerStatus}; publishes only its own ${prefix}/status`,
    );
    out(
      `${''.padEnd(20)} username=${secrets.homeassistant.username} password=${secrets.homeassistant.password} clientId=${homeAssistantClientIdPrefix(site.mqtt.baseTopic)}NAME (e.g. ${homeAssistantClientIdPrefix(site.mqtt.baseTopic)}ha)`,
    );
  }
  if (secrets?.metrics) {
    out(`\n${'metrics'.padEnd(20)} /metrics when the API listens beyond loopback (a Prometheus scraper's bearer_token)`);
    out(`${''.padEnd(20)} Authorization: Bearer ${secrets.metrics}`);
  }
  if (secrets) out(`\nSecrets are kept in ${secretsPath(dataDir(flags))} (mode 0600). Treat this output as confidential.`);
}

export function mqttAcl(flags: CommonFlags & { out: string; port: string; host: string }): void {
  const site = loadSiteFile(sitePath(flags));
  const ids = site.devices.filter((d) => d.transport === 'mqtt').map((d) => d.id);
  const { secrets } = ensureSecrets(
    dataDir(flags),
    site.devices.map((d) => d.id),
  );
  const dir = resolve(flags.out);
  mkdirSync(dir, { recursive: true });
  const passwordFile = join(dir, 'passwd');
  const aclFile = join(dir, 'acl');
  // The same CA and server certificate as the embedded broker: devices trust one CA either way.
  const tls = ensureDeviceTls(dataDir(flags), flags.host);
  const caFile = join(dir, 'ca.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server.key');
  // Certificates are public (Mosquitto's own user reads them); only the key is private. In the data
  // directory all three are 0600: nothing there is for anyone but the daemon.
  for (const [file, pem] of [
    [caFile, tls.ca],
    [certFile, tls.cert],
  ] as const) {
    writeFileSync(file, pem);
    chmodSync(file, 0o644);
  }
  writeFileSync(keyFile, tls.key, { mode: 0o600 });
  // Home Assistant's read-only login only while discovery is on: a login nobody uses is a door left ajar.
  const homeAssistant =
    site.homeassistant.enabled && secrets.homeassistant
      ? { username: secrets.homeassistant.username, discoveryPrefix: site.homeassistant.discoveryPrefix }
      : undefined;
  writeFileSync(passwordFile, mosquittoPasswordFile(secrets, ids, homeAssistant !== undefined), { mode: 0o600 });
  writeFileSync(aclFile, mosquittoAclFile(site.mqtt.baseTopic, secrets.controller.username, ids, secrets.observer?.username, homeAssistant));
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    mosquittoConfSnippet({ port: Number(flags.port), host: flags.host, passwordFile, aclFile, caFile, certFile, keyFile }),
  );
  out(
    `wrote ${passwordFile}, ${aclFile}, ${caFile}, ${certFile}, ${keyFile} and ${join(dir, 'mosquitto.conf')} for ${ids.length} devices, the controller, the observer${homeAssistant ? ' and Home Assistant (read-only)' : ''}`,
  );
  out(
    `the controller connects with --mqtt-url mqtts://${flags.host}:${flags.port}; Mosquitto must be able to read passwd and server.key (chown them to its user)`,
  );
}

interface PeopleAddFlags extends CommonFlags {
  name: string;
  affiliation: string;
  number?: string;
  card?: string;
  pin?: string;
  duressPin?: string;
  role?: string[];
  trainedOn?: string;
  pledgeSignedOn?: string;
  grant?: string[];
  purpose: string;
  outOfHours?: boolean;
}

function isoDate(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) throw new UsageError(`${flag}: "${value}" is not a date (YYYY-MM-DD)`);
  return new Date(value).toISOString();
}

/** The CLI's flag for a field a service names in a refusal. */
const FLAG_OF: Record<string, string> = {
  pin: '--pin',
  duressPin: '--duress-pin',
  value: '--card',
  purpose: '--purpose',
  completedAt: '--trained-on',
  signedAt: '--pledge-signed-on',
  areaId: '--grant',
};

/**
 * Enrols an access holder through the same services as the API, as the local operator: every part
 * is in the audit log, the duress PIN must differ from the PIN, and with four-eyes on (the site's
 * api.fourEyes) the grants wait for a manager's or an auditor's approval in the API, as a manager's
 * own grants do. All of it is one transaction: a refused part enrols nothing.
 */
export async function peopleAdd(flags: PeopleAddFlags): Promise<void> {
  const site = loadSiteFile(sitePath(flags));
  // A grant names an area, or a safe (its holders: docs/safes.md).
  const areas = new Set([...site.areas, ...site.safes].map((a) => a.id));
  for (const area of flags.grant ?? []) if (!areas.has(area)) throw new UsageError(`unknown area or safe "${area}" (the site has ${[...areas].join(', ')})`);
  for (const [pin, flag] of [
    [flags.pin, '--pin'],
    [flags.duressPin, '--duress-pin'],
  ] as const) {
    if (pin !== undefined && !isValidPin(pin)) throw new UsageError(`${flag}: a PIN is 4 to 12 digits`);
  }
  const number = flags.number === undefined ? null : Number(flags.number);
  if (number !== null && (!Number.isInteger(number) || number < 0)) throw new UsageError(`--number: "${flags.number}" is not a staff number`);
  const trainedAt = isoDate(flags.trainedOn, '--trained-on');
  const pledgeAt = isoDate(flags.pledgeSignedOn, '--pledge-signed-on');
  const store = openStore(dataDir(flags));
  try {
    const services = createServices({ store, now: () => new Date(), site: () => site });
    const actor = localOperator();
    const auditBefore = store.audit.count;
    const { person, grants } = await services.enrolment.enrolHolder(actor, {
      name: flags.name,
      affiliation: flags.affiliation,
      number,
      roles: flags.role ?? [],
      card: flags.card,
      pin: flags.pin,
      duressPin: flags.duressPin,
      training: trainedAt ? { completedAt: trainedAt, course: 'annual security training' } : undefined,
      pledge: pledgeAt ? { signedAt: pledgeAt, document: 'confidentiality pledge' } : undefined,
      grants: (flags.grant ?? []).map((areaId) => ({ areaId, purpose: flags.purpose, outOfHours: flags.outOfHours ?? false })),
    });
    out(
      `added ${person.name} (${person.id})${flags.card ? ` with card ${flags.card}` : ''}${grants.length ? `, granted ${grants.map((g) => g.areaId).join(', ')}` : ''}`,
    );
    const pending = grants.filter((g) => g.status === 'pending');
    if (pending.length) {
      out(
        `  pending approval (four-eyes): ${pending.map((g) => `grant ${g.id} (${g.areaId})`).join(', ')} opens nothing until a manager or an auditor approves it (POST /api/v1/grants/ID/approve)`,
      );
    }
    if (!trainedAt) out('  note: no training on record: restricted areas refuse this person until it is (--trained-on)');
    if (!pledgeAt) out('  note: no confidentiality pledge on record: restricted areas refuse this person until it is (--pledge-signed-on)');
    out(`  audit log: ${store.audit.count - auditBefore} records by ${actor.username} (tobira log verify --audit)`);
    signAuditHead(store, dataDir(flags));
  } catch (err) {
    if (err instanceof ServiceError) {
      const field = err.details?.[0];
      throw new UsageError(field ? `${FLAG_OF[field.path] ?? field.path}: ${field.message}` : err.message);
    }
    throw err;
  } finally {
    store.close();
  }
}

export async function simCommand(flags: CommonFlags & { only?: string }): Promise<void> {
  const site = loadSiteFile(sitePath(flags));
  const url = brokerUrl(brokerChoice(flags, site));
  const secrets = loadSecrets(dataDir(flags));
  // Devices trust the daemon's CA (or the one given for an external broker).
  const ca = flags.mqttCa ? readFileSync(flags.mqttCa, 'utf8') : readCa(dataDir(flags));
  // The prompt prints the simulator's log itself.
  const sim = await Simulator.start({ site, url, secrets, ca, only: flags.only?.split(',').map((s) => s.trim()) });
  out(`simulating ${site.devices.filter((d) => d.transport === 'mqtt').length} devices on ${url}; type "help" for commands`);
  await runRepl(sim, site);
  await sim.stop();
}
