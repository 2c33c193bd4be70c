// The built `tobira` command's contract with scripts (docs/cli.md): --version, and the exit codes
// 0 done, 1 failure, 2 usage or configuration error (unknown options included), and no stack trace
// when the reader of its output goes away.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { loadOrCreateLogKey } from '../../src/store/log-key.js';
import { appendDecisions } from '../helpers/entries.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/tobira.js');

function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.TOBIRA_SITE;
  delete e.TOBIRA_DATA;
  return e;
}

/** Runs the CLI; async so that a file's cases run side by side (each start loads the whole app). */
/** Runs tobira with the only read end of its stdout closed at once: a reader that went away before it wrote. */
async function readerGone(...args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  return { code, stderr };
}

function tobira(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      // The timeout ends a command that parsed what it should have refused (`start` would run on).
      { encoding: 'utf8', env: env(), cwd: mkdtempSync(join(tmpdir(), 'tobira-cli-')), timeout: 60_000 },
      (_err, stdout, stderr) => done({ code: child.exitCode, stdout, stderr }),
    );
  });
}

describe.concurrent('tobira --version', { timeout: 90_000 }, () => {
  it("prints the package's version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await tobira(flag);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });
});

describe.concurrent('exit codes', { timeout: 90_000 }, () => {
  it.each([
    [['--bogus'], /unknown option '--bogus'/],
    [['devices', '--bogus'], /unknown option '--bogus'/],
    [['log', 'verify', '--bogus'], /unknown option '--bogus'/],
    [['people', 'add', '--name', 'x', '--bogus'], /unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['mqtt-acl'], /required option '--out <dir>' not specified/],
    [['config', 'check'], /missing required argument 'file'/],
    [['devices', 'extra'], /too many arguments/],
    [[], /Usage: tobira/],
  ])('%j is a usage error: 2, with the reason and no stack', async (args, message) => {
    const r = await tobira(...args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a site file with problems is a configuration error: 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-cli-'));
    writeFileSync(join(dir, 'site.yaml'), 'site: { name: x }\n');
    const r = await tobira('config', 'check', join(dir, 'site.yaml'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/problem/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([[['--help']], [['devices', '--help']], [['help', 'log']]])('%j is done: 0', async (args) => {
    const r = await tobira(...args);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Usage: tobira/);
  });

  it('a check that fails is a failure: 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-cli-'));
    const { publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'key.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(dir, 'export.jsonl'), '{"seq":1,"not":"a record"}\n');
    const r = await tobira('log', 'verify', '--export', join(dir, 'export.jsonl'), '--pubkey', join(dir, 'key.pem'));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/export BROKEN at line 1/);
  });
});

// Every command `tobira --help` leads to, with the arguments that satisfy its required ones (Commander
// checks required options before unknown ones: without them the unknown option is never reached).
const LEAVES: Record<string, string[]> = {
  start: [],
  sim: [],
  'config check': ['site.yaml'],
  devices: [],
  'mqtt-acl': ['--out', 'acl'],
  'people add': ['--name', 'x'],
  'people import': ['people.csv'],
  'admin create': ['root'],
  'dial-locks rotate': ['vault-dial', '--by', 'x', '--reason', 'y'],
  'log verify': [],
  'log export': ['--format', 'csv'],
  'log pubkey': [],
  backup: ['--out', 'x.tobira-backup'],
  restore: ['x.tobira-backup'],
};

/** The commands listed under "Commands:" in a help text, less `help`. */
function listed(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

describe.concurrent('usage errors on every subcommand', { timeout: 90_000 }, () => {
  it('the table covers every command `tobira --help` leads to', async () => {
    const leaves: string[] = [];
    const walk = async (path: string[]): Promise<void> => {
      const r = await tobira(...path, '--help');
      expect(r.code, r.stderr).toBe(0);
      const children = listed(r.stdout);
      if (path.length && !children.length) leaves.push(path.join(' '));
      await Promise.all(children.map((c) => walk([...path, c])));
    };
    await walk([]);
    expect(leaves.sort()).toEqual(Object.keys(LEAVES).sort());
  });

  it.each(Object.entries(LEAVES))('`%s` with an unknown option: 2, the reason, no stack, nothing done', async (command, needed) => {
    const r = await tobira(...command.split(' '), ...needed, '--bogus');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/error: unknown option '--bogus'/);
    expect(r.stderr).toMatch(/Usage: tobira/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it.each([
    [['config', 'check'], /missing required argument 'file'/],
    [['people', 'add'], /required option '--name <name>' not specified/],
    [['people', 'import'], /missing required argument 'file'/],
    [['admin', 'create'], /missing required argument 'username'/],
    [['dial-locks', 'rotate', '--by', 'x', '--reason', 'y'], /missing required argument 'lock'/],
    [['dial-locks', 'rotate', 'vault-dial', '--reason', 'y'], /required option '--by <who>' not specified/],
    [['dial-locks', 'rotate', 'vault-dial', '--by', 'x'], /required option '--reason <text>' not specified/],
    [['log', 'export'], /required option '--format <format>' not specified/],
    [['log', 'export', '--format'], /option '--format <format>' argument missing/],
    [['log', 'verify', '--checkpoint'], /option '--checkpoint <file>' argument missing/],
    [['backup'], /required option '--out <file>' not specified/],
    [['backup', '--out'], /option '--out <file>' argument missing/],
    [['restore'], /missing required argument 'file'/],
    [['restore', 'x.tobira-backup'], /give the directory to restore into: --data DIR/],
    [['restore', 'x.tobira-backup', '--data'], /option '--data <dir>' argument missing/],
  ])('%j lacks what it needs: 2, the reason, no stack', async (args, message) => {
    const r = await tobira(...args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });
});

describe.concurrent('a closed pipe', { timeout: 90_000 }, () => {
  // `tobira devices | head -1` with the reader gone before tobira writes: made certain here by
  // closing the only read end of the pipe at once, where `head` would only usually be that quick.
  // (Help and --version exit before the error would surface; a listing goes on writing.)
  it('`devices` exits 0 without a stack trace', async () => {
    const { code, stderr } = await readerGone('devices');
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('through a shell pipeline into head', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${BIN}" devices | head -1`], { encoding: 'utf8', env: env() });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toBe('');
  });

  // `tobira log export | head -1` (docs/cli.md, "Closed pipes"): an export far larger than a pipe's
  // buffer, so that tobira is still writing (and waiting for the pipe to drain) when the reader goes.
  describe('`log export`', () => {
    let data: string;
    beforeAll(() => {
      data = mkdtempSync(join(tmpdir(), 'tobira-cli-export-'));
      const db = openDatabase(data);
      loadOrCreateLogKey(data);
      appendDecisions(db, 1, 1500, Date.parse('2026-11-25T00:00:01.000Z'), 1000);
      db.close();
    });

    it.each(['jsonl', 'csv'])('--format %s exits 0 without a stack trace when its reader is gone', async (format) => {
      const { code, stderr } = await readerGone('log', 'export', '--format', format, '--data', data);
      expect(stderr).toBe('');
      expect(code).toBe(0);
    });

    it.each(['jsonl', 'csv'])('--format %s through a shell pipeline into head -1: tobira exits 0, nothing on stderr', (format) => {
      // pipefail: the pipeline's status is tobira's too, not head's alone.
      const whole = spawnSync(process.execPath, [BIN, 'log', 'export', '--format', format, '--data', data], { env: env(), maxBuffer: 64 << 20 });
      expect(whole.status).toBe(0);
      expect(whole.stdout.length).toBeGreaterThan(256 << 10);
      const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" log export --format ${format} --data "${data}" | head -1`], {
        encoding: 'utf8',
        env: env(),
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    });
  });
});
