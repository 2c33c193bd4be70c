#!/usr/bin/env node
// The `tobira` command line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, type CommanderError, Option } from 'commander';
import { SiteFileError } from '../site/load.js';
import { UsageError } from './options.js';
import { StartupError } from '../controller/controller.js';
import { SecretKeyError } from '../store/secret-box.js';
import { start } from './start.js';
import { adminCreate } from './admin.js';
import { configCheck, devicesCommand, mqttAcl, peopleAdd, simCommand } from './commands.js';
import { CODE_FLAGS, dialLockRotate } from './dial-locks.js';
import { logExport, logPubkey, logVerify, usageExit } from './log-commands.js';
import { PACKAGE_ROOT } from './paths.js';
import { applyServiceMode } from './service.js';
import { registerBackupCommands } from './backup.js';
import { registerPeopleImport } from './people-import.js';

// Exit codes (docs/cli.md): 0 done, 1 failure, 2 usage or configuration error.
// A reader that stops early (`tobira devices | head -1`) closes the pipe: done, not a failure, and no
// stack. The daemon keeps running instead: its doors matter more than a log reader gone away.
let daemon = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (!daemon) process.exit(0);
  });
}
const { version } = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };

const program = new Command('tobira')
  .description('tobira: access control for restricted areas and safes')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError()
  // Commander exits 1 for an unknown option or command; those are usage errors (2). Every command
  // defined below inherits this; help and --version still exit 0.
  .exitOverride((e: CommanderError) => process.exit(e.exitCode === 0 ? 0 : 2));

// --service: the installed service's files (/etc/tobira/site.yaml, /var/lib/tobira, or systemd's
// CONFIGURATION_DIRECTORY and STATE_DIRECTORY) instead of the demo site and ./data. Explicit rather
// than guessed from INVOCATION_ID: anything systemd runs (a CI runner, a shell in a unit) has that.
program.hook('preAction', (_root, action) => {
  if (action.name() === 'start') daemon = true;
  const flags = action.opts<{ service?: boolean; allowDemoSite?: boolean; site?: string; data?: string }>();
  if (!flags.service) return;
  const names: string[] = [];
  for (let c: Command | null = action; c?.parent; c = c.parent) names.unshift(c.name());
  const where = applyServiceMode(flags, names.join(' '));
  if (action.options.some((o) => o.attributeName() === 'site')) action.setOptionValue('site', where.site);
  action.setOptionValue('data', where.data);
});
const SERVICE_HELP = "use the installed service's site file and data directory (/etc/tobira, /var/lib/tobira): docs/install.md";

const common = (cmd: Command) =>
  cmd
    .option('--site <file>', 'site file (env TOBIRA_SITE; default: the bundled example site)')
    .option('--data <dir>', 'data directory (env TOBIRA_DATA; default: ./data)')
    .option('--service', SERVICE_HELP);
const brokerFlags = (cmd: Command) =>
  cmd
    .option('--mqtt-url <url>', 'use an external broker configured by `tobira mqtt-acl`, e.g. mqtts://127.0.0.1:8883 (env TOBIRA_MQTT_URL)')
    .option('--mqtt-port <n>', 'MQTT-over-TLS port of the embedded broker (env TOBIRA_MQTT_PORT; default 8883)')
    .option('--mqtt-plain-port <n>', 'also serve plain MQTT on this port: insecure, raises a standing security alarm (env TOBIRA_MQTT_PLAIN_PORT)')
    .option('--mqtt-host <addr>', 'address the embedded broker listens on (env TOBIRA_MQTT_HOST; default 127.0.0.1)')
    .option('--mqtt-username <name>', 'username at the external broker (env TOBIRA_MQTT_USERNAME; password in TOBIRA_MQTT_PASSWORD)')
    .option('--mqtt-ca <file>', "CA certificate for mqtts:// (env TOBIRA_MQTT_CA; default: public CAs and the data directory's CA)")
    .option('--mqtt-cert <file>', 'client certificate (env TOBIRA_MQTT_CERT)')
    .option('--mqtt-key <file>', 'client key (env TOBIRA_MQTT_KEY)');

brokerFlags(common(program.command('start').description('run the controller')))
  .option('--api-port <n>', 'HTTP API port (env TOBIRA_API_PORT; default 8080)')
  .option('--api-host <host>', 'HTTP API address (env TOBIRA_API_HOST; default 127.0.0.1)')
  .option('--tls-cert <file>', "serve the API over HTTPS with this certificate (env TOBIRA_TLS_CERT; default beyond loopback: one from the gateway's own CA)")
  .option('--tls-key <file>', 'and this key (env TOBIRA_TLS_KEY)')
  .option(
    '--insecure-http',
    'serve plain HTTP even beyond loopback: passwords and sessions in clear; warns and raises a standing security alarm (env TOBIRA_INSECURE_HTTP=1)',
  )
  .option('--allow-demo-site', 'with --service: run on the bundled demo site all the same')
  .action(start);

brokerFlags(common(program.command('sim').description('simulate every MQTT device of a site, driven from a prompt')))
  .option('--only <ids>', 'simulate only these devices (comma-separated)')
  .action(simCommand);

program
  .command('config')
  .description('site file tools')
  .command('check <file>')
  .description('validate a site file; lists every problem with its path and line')
  .action(configCheck);

common(program.command('devices').description("list the site's devices"))
  .option('--secrets', "print each device's MQTT login, the read-only observer login and the /metrics token (for the installer)")
  .option('--ca', 'print the CA certificate (PEM) devices must trust for MQTT over TLS')
  .action(devicesCommand);

common(program.command('mqtt-acl').description("write Mosquitto password, ACL and listener files for the site's devices"))
  .requiredOption('--out <dir>', 'directory to write passwd, acl and mosquitto.conf into')
  .option('--port <n>', 'TLS listener port in mosquitto.conf', '8883')
  .option('--host <addr>', 'listener address in mosquitto.conf', '127.0.0.1')
  .action(mqttAcl);

const peopleCommand = program.command('people').description('access holders');
common(peopleCommand.command('add').description('enrol an access holder (demo and installer use; managers use the API)'))
  .requiredOption('--name <name>', 'full name')
  .option('--affiliation <text>', 'department or company', '')
  .option('--number <n>', 'staff number (typed as "number#PIN" where a PIN is the first factor)')
  .option('--card <number>', 'card number (hex)')
  .option('--pin <digits>', 'PIN, 4 to 12 digits (kept only as an argon2id hash)')
  .option('--duress-pin <digits>', 'duress PIN: opens, and raises a silent duress alarm')
  .option('--role <role...>', 'roles (for example security: passes an area locked down for that role)')
  .option('--trained-on <date>', 'date of the last annual security training (YYYY-MM-DD)')
  .option('--pledge-signed-on <date>', 'date the confidentiality pledge was signed (YYYY-MM-DD)')
  .option('--grant <area...>', 'grant access to these areas (or safes: docs/safes.md)')
  .option('--purpose <text>', 'purpose of the grant (need-to-know)', '')
  .option('--out-of-hours', 'the grant also passes outside business hours')
  .action(peopleAdd);

common(
  program
    .command('admin')
    .description('accounts')
    .command('create <username>')
    .description('create the first admin: prints a one-time password and the TOTP enrolment (URI and QR code)'),
)
  .option('--name <display name>', "the admin's full name")
  .option('--force', 'create another admin although one exists (recovery; audited)')
  .action(adminCreate);

const dialRotate = common(
  program
    .command('dial-locks')
    .description("safes' dial locks")
    .command('rotate <lock>')
    .description('record that a dial code changed (never the code: docs/safes.md#dial-code-rotation)'),
)
  .requiredOption('--by <who>', 'who changed it (staff number or name)')
  .requiredOption('--reason <text>', 'why (yearly, holder left, leak reported, ...)')
  .option('--at <time>', 'when (ISO time; default now)');
for (const flag of CODE_FLAGS) dialRotate.addOption(new Option(flag).hideHelp());
dialRotate.action(dialLockRotate);

const logCommand = program.command('log').description('the entry log: verify, export, public key').exitOverride(usageExit);
const logData = (cmd: Command) => cmd.option('--data <dir>', 'data directory (env TOBIRA_DATA; default: ./data)').option('--service', SERVICE_HELP);
logData(logCommand.command('verify').description('check the whole hash chain and the signed checkpoints; exits 1 at any break, naming the record'))
  .option('--checkpoint <file>', 'also check the log against a checkpoint kept off the gateway (JSON as published on {base}/log/checkpoints)')
  .option('--export <file>', 'verify a JSON Lines export offline instead of the database (with --pubkey)')
  .option('--pubkey <file>', "the log's public key (PEM, from `tobira log pubkey`) to check signatures with")
  .option('--audit', 'check the audit log of admin actions instead of the entry log')
  .option(
    '--chain-only',
    'with no signing key at hand, check the hash chain alone instead of failing (proves little: anyone with the database can recompute it)',
  )
  .action(logVerify);
logData(logCommand.command('export').description('export records, oldest first, as CSV (Excel) or JSON Lines with the chain fields (auditors)'))
  .requiredOption('--format <format>', 'csv or jsonl')
  .option('--lang <lang>', 'CSV headers in en or ja', 'en')
  .option('--area <id>', 'only this area')
  .option('--door <id>', 'only this door')
  .option('--person <id>', 'only this person')
  .option('--decision <decision>', 'only granted or denied')
  .option('--reason <code>', 'only this reason code')
  .option('--from <time>', 'records at or after this ISO time (e.g. 2026-11-01T00:00+09:00)')
  .option('--to <time>', 'records before this ISO time')
  .option('--out <file>', 'write to this file instead of standard output')
  .action(logExport);
logData(logCommand.command('pubkey').description("print the entry log's public key (PEM), for auditors and checkpoint subscribers")).action(logPubkey);

registerBackupCommands(program, common);
registerPeopleImport(peopleCommand, common);

program.parseAsync().catch((err: unknown) => {
  // A configuration a person must fix: a message, no stack, exit 2.
  if (err instanceof SiteFileError || err instanceof UsageError || err instanceof StartupError || err instanceof SecretKeyError) {
    process.stderr.write(`tobira: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tobira: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
