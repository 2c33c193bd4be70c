// `tobira start --service` as systemd runs it (packaging/tobira.service): the service's site file and
// data directory from CONFIGURATION_DIRECTORY and STATE_DIRECTORY, the demo site refused unless
// allowed, and the sd_notify messages (READY, WATCHDOG, RELOADING, STOPPING) read from a real unix
// datagram socket standing in for systemd's: Node cannot bind one, so python3 receives.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isDemoSite, serviceLocations } from '../../src/cli/service.js';
import { parseSiteText } from '../../src/site/load.js';
import { seedDeviceTls } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/tobira.js');
const EXAMPLE = join(ROOT, 'examples/site.yaml');

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const e = { ...process.env, ...extra };
  for (const name of ['TOBIRA_SITE', 'TOBIRA_DATA', 'TOBIRA_MQTT_URL', 'TOBIRA_MQTT_PORT', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) {
    if (!(name in extra)) delete e[name];
  }
  return e;
}

function tobira(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', env: cleanEnv(env) }, (_e, stdout, stderr) =>
      done({ code: child.exitCode, stdout, stderr }),
    );
  });
}

const tmp = (what: string) => mkdtempSync(join(tmpdir(), `tobira-svc-${what}-`));

describe('the service locations', () => {
  it("are systemd's directories when it sets them, else /etc/tobira and /var/lib/tobira; flags and TOBIRA_* win", () => {
    expect(serviceLocations({}, {})).toEqual({ site: '/etc/tobira/site.yaml', data: '/var/lib/tobira' });
    expect(serviceLocations({}, { CONFIGURATION_DIRECTORY: '/etc/tobira:/etc/other', STATE_DIRECTORY: '/var/lib/tobira:/x' })).toEqual({
      site: '/etc/tobira/site.yaml',
      data: '/var/lib/tobira',
    });
    expect(serviceLocations({}, { TOBIRA_SITE: '/srv/s.yaml', TOBIRA_DATA: '/srv/d', STATE_DIRECTORY: '/var/lib/tobira' })).toEqual({
      site: '/srv/s.yaml',
      data: '/srv/d',
    });
    expect(serviceLocations({ site: '/a.yaml', data: '/b' }, { TOBIRA_SITE: '/srv/s.yaml' })).toEqual({ site: '/a.yaml', data: '/b' });
  });

  it('know the demo site by its path and as an unchanged copy, and not once edited', () => {
    const dir = tmp('demo');
    copyFileSync(EXAMPLE, join(dir, 'copy.yaml'));
    writeFileSync(join(dir, 'edited.yaml'), `${readFileSync(EXAMPLE, 'utf8')}\n# ours\n`);
    expect(isDemoSite(EXAMPLE)).toBe(true);
    expect(isDemoSite(join(dir, 'copy.yaml'))).toBe(true);
    expect(isDemoSite(join(dir, 'edited.yaml'))).toBe(false);
    expect(isDemoSite(join(dir, 'missing.yaml'))).toBe(false);
  });
});

describe('docs/install.md', () => {
  it("has a site file that loads: the Pi's door on GPIO 17, 22 and 23 at chip base 512", () => {
    const doc = readFileSync(join(ROOT, 'docs/install.md'), 'utf8');
    const yaml = /## 6\. The site file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(yaml).toBeDefined();
    const site = parseSiteText(yaml!, 'docs/install.md');
    expect(site.gpio?.chipBase).toBe(512);
    expect(site.devices.filter((d) => d.transport === 'gpio').map((d) => [d.id, d.gpio?.pin])).toEqual([
      ['front-lock', 17],
      ['front-contact', 22],
      ['front-rex', 23],
    ]);
  });
});

describe.concurrent('tobira start --service refuses', { timeout: 60_000 }, () => {
  it('without a site file in the configuration directory: 2, naming where it looked', async () => {
    const conf = tmp('conf');
    const r = await tobira(['start', '--service'], { CONFIGURATION_DIRECTORY: conf, STATE_DIRECTORY: tmp('state') });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`no site file at ${join(conf, 'site.yaml')}`);
  });

  it('the bundled demo site, copied unchanged: 2, saying --allow-demo-site', async () => {
    const conf = tmp('conf');
    copyFileSync(EXAMPLE, join(conf, 'site.yaml'));
    const state = tmp('state');
    const r = await tobira(['start', '--service'], { CONFIGURATION_DIRECTORY: conf, STATE_DIRECTORY: state });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/is the bundled demo site .*--allow-demo-site/);
    expect(existsSync(join(state, 'tobira.db'))).toBe(false);
  });

  it("as root, a data directory that is another user's: 2", async () => {
    if (process.geteuid?.() !== 0) return; // the check is about root; CI and this machine run as root
    const conf = tmp('conf');
    copyFileSync(EXAMPLE, join(conf, 'site.yaml'));
    const state = tmp('state');
    chownSync(state, 65534, 65534);
    const r = await tobira(['devices', '--service'], { CONFIGURATION_DIRECTORY: conf, STATE_DIRECTORY: state });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${state} belongs to uid 65534, not root: run this as the service's user (sudo -u tobira tobira devices ... --service)`);
  });
});

describe('under systemd (a fake NOTIFY_SOCKET)', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /** A unix datagram socket read by python3, one line per message (newlines inside shown as " | "). */
  async function notifySocket(): Promise<{ path: string; messages: () => string[] }> {
    const path = join(tmp('notify'), 'notify.sock');
    const receiver = spawn(
      'python3',
      [
        '-c',
        `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    # No room for ancillary data: the kernel closes systemd-notify's barrier fd, which releases it.
    print(s.recv(4096).decode().replace("\\n", " | "), flush=True)`,
        path,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(receiver);
    let out = '';
    receiver.stdout!.on('data', (d) => (out += d));
    await waitFor(() => out.startsWith('bound\n'), 20_000, 'the notify socket to be bound');
    return { path, messages: () => out.split('\n').slice(1).filter(Boolean) };
  }

  it('uses the service directories, tells READY, feeds the watchdog, and says RELOADING and STOPPING', { timeout: 90_000 }, async () => {
    const conf = tmp('conf');
    const state = tmp('state');
    mkdirSync(state, { recursive: true });
    copyFileSync(EXAMPLE, join(conf, 'site.yaml')); // the demo, allowed below
    seedDeviceTls(state);
    const notify = await notifySocket();
    const [apiPort, mqttPort] = [await freePort(), await freePort()];
    const daemon = spawn(process.execPath, [BIN, 'start', '--service', '--allow-demo-site', '--api-port', String(apiPort), '--mqtt-port', String(mqttPort)], {
      env: cleanEnv({ CONFIGURATION_DIRECTORY: conf, STATE_DIRECTORY: state, NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '400000' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(daemon);
    let log = '';
    daemon.stdout!.on('data', (d) => (log += d));
    daemon.stderr!.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => daemon.once('exit', (c) => r(c)));
    const seen = (pattern: RegExp, from = 0) =>
      notify
        .messages()
        .slice(from)
        .findIndex((m) => pattern.test(m)) + from;
    const wait = (pattern: RegExp, what: string, from = 0) =>
      waitFor(
        () => {
          if (daemon.exitCode !== null) throw new Error(`the daemon exited with ${daemon.exitCode}:\n${log}`);
          const i = seen(pattern, from);
          return i >= from ? i + 1 : undefined;
        },
        30_000,
        what,
      );

    const ready = await wait(/(^| )READY=1( |$)/, 'READY=1');
    expect(notify.messages()[ready - 1]).toBe(`MAINPID=${daemon.pid} | READY=1 | STATUS=ready`);
    // Nothing before READY but the barriers systemd-notify adds.
    expect(
      notify
        .messages()
        .slice(0, ready - 1)
        .every((m) => m === 'BARRIER=1'),
    ).toBe(true);
    // The API answers by then, and the data went to STATE_DIRECTORY.
    expect((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status).toBeLessThan(500);
    expect(existsSync(join(state, 'tobira.db'))).toBe(true);
    await waitFor(() => log.includes(join(conf, 'site.yaml')), 10_000, 'the site file named in the log');

    const fed = await wait(/(^| )WATCHDOG=1$/, 'a first WATCHDOG=1', ready);
    await wait(/(^| )WATCHDOG=1$/, 'a second WATCHDOG=1', fed);

    const before = notify.messages().length;
    daemon.kill('SIGHUP');
    const reloading = await wait(/(^| )RELOADING=1 \| MONOTONIC_USEC=\d+ \| STATUS=reloading the site file$/, 'RELOADING=1', before);
    await wait(/(^| )READY=1( |$)/, 'READY=1 after the reload', reloading);
    // Logged before READY=1 is sent, but stdout and the notify socket are two channels: on a loaded
    // machine the datagram can reach this test before the pipe's data does.
    await waitFor(() => log.includes('site file reloaded'), 10_000, 'the reload logged');

    const beforeStop = notify.messages().length;
    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(
      notify
        .messages()
        .slice(beforeStop)
        .some((m) => /(^| )STOPPING=1( |$)/.test(m)),
    ).toBe(true);
    // Every message was delivered: systemd-notify never failed.
    expect(log).not.toMatch(/systemd-notify failed|cannot tell systemd/);
  });

  it('does not feed a watchdog meant for another process (WATCHDOG_PID)', { timeout: 90_000 }, async () => {
    const state = tmp('state');
    seedDeviceTls(state);
    const notify = await notifySocket();
    const [apiPort, mqttPort] = [await freePort(), await freePort()];
    const daemon = spawn(process.execPath, [BIN, 'start', '--site', EXAMPLE, '--data', state, '--api-port', String(apiPort), '--mqtt-port', String(mqttPort)], {
      env: cleanEnv({ NOTIFY_SOCKET: notify.path, WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' }),
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    children.push(daemon);
    const exited = new Promise<number | null>((r) => daemon.once('exit', (c) => r(c)));
    await waitFor(() => notify.messages().some((m) => m.includes('READY=1')), 30_000, 'READY=1');
    // Stopping sends STOPPING=1 after every earlier message: had a feed been due (every 50 ms), it
    // would be among them by then.
    await new Promise((r) => setTimeout(r, 500));
    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    await waitFor(() => notify.messages().some((m) => m.includes('STOPPING=1')), 10_000, 'STOPPING=1');
    expect(notify.messages().filter((m) => m.includes('WATCHDOG=1'))).toEqual([]);
  });
});
