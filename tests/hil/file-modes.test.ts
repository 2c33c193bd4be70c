// The data directory holds card numbers, personal data, device secrets, keys and TOTP seeds: a
// directory the daemon creates is 0700 and every file in it 0600 (issue 9, finding 5); files an
// operator loosened are warned about at start and shown in /healthz.
import { chmodSync, existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Health } from '../../src/controller/controller.js';
import { prepareData, spawnStart } from '../helpers/daemon.js';
import { freePort, waitFor } from '../helpers/ports.js';

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('data directory modes', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  async function start(siteFile: string, dataDir: string) {
    const apiPort = await freePort();
    const d = spawnStart({ siteFile, dataDir, apiPort, broker: { port: await freePort() }, logLevel: 'info' });
    const exited = new Promise<void>((r) => d.proc.once('exit', () => r()));
    const stop = async () => {
      if (d.proc.exitCode === null) d.proc.kill('SIGTERM');
      await exited;
    };
    stops.push(stop);
    await waitFor(
      () => {
        if (d.proc.exitCode !== null) throw new Error(`daemon exited with ${d.proc.exitCode}:\n${d.output()}`);
        return /"msg":"ready"/.test(d.output());
      },
      15_000,
      'the daemon to be ready',
    );
    const health = async () => (await (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).json()) as Health;
    return { ...d, stop, health };
  }

  it('creates the data directory 0700 and its files 0600, and warns when they are loosened', async () => {
    // The site file lives elsewhere; the data directory does not exist yet: the daemon makes it.
    const { siteFile } = prepareData();
    const dataDir = join(mkdtempSync(join(tmpdir(), 'tobira-modes-')), 'var', 'data');
    expect(existsSync(dataDir)).toBe(false);

    const first = await start(siteFile, dataDir);
    expect(mode(dataDir)).toBe('700');
    const files = readdirSync(dataDir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name);
    // The database with its WAL, the device secrets, the log's signing key at least.
    expect(files).toEqual(expect.arrayContaining(['tobira.db', 'tobira.db-wal', 'secrets.json']));
    for (const name of files) expect({ name, mode: mode(join(dataDir, name)) }).toEqual({ name, mode: '600' });
    for (const dir of readdirSync(dataDir, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      expect({ name: dir.name, mode: mode(join(dataDir, dir.name)) }).toEqual({ name: dir.name, mode: '700' });
    }
    const healthy = await first.health();
    expect(healthy.files).toEqual({ ok: true, loose: [] });
    expect(first.output()).not.toContain('readable by other users');
    await first.stop();

    // An operator (or an older version) left them world-readable: said at start and in /healthz.
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, 'tobira.db'), 0o644);
    const second = await start(siteFile, dataDir);
    expect(second.output()).toContain('the data directory is readable by other users');
    const health = await second.health();
    expect(health.files.ok).toBe(false);
    expect(health.files.loose).toEqual(
      expect.arrayContaining([
        { path: '.', mode: '755', want: '700' },
        { path: 'tobira.db', mode: '644', want: '600' },
      ]),
    );
  });
});
