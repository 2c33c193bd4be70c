// packaging/build-deb.sh builds the Debian package from `npm pack`; its metadata, contents and
// maintainer scripts are checked with dpkg-deb, and the unpacked tree runs. Nothing is installed:
// the postinst would add a user to this machine. (xz is the release's compression; gzip here, which
// takes seconds where xz takes minutes on two cores.)
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const present = existsSync('/usr/bin/dpkg-deb');
if (!present && !process.env.CI) console.warn('\n*** dpkg-deb is missing: the Debian package is NOT built or checked (CI fails here) ***\n');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const major = Number(process.versions.node.split('.')[0]);

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return r;
}

describe.skipIf(!present && !process.env.CI)('the Debian package', { timeout: 300_000 }, () => {
  let deb = '';
  let listing: string[] = [];
  let unpacked = '';

  beforeAll(() => {
    const out = mkdtempSync(join(tmpdir(), 'tobira-deb-'));
    const r = run('bash', ['packaging/build-deb.sh', out], { ...process.env, TOBIRA_DEB_NO_BUILD: '1', TOBIRA_DEB_COMPRESSION: 'gzip' });
    expect(r.status, r.stderr).toBe(0);
    deb = r.stdout.trim();
    const arch = run('dpkg', ['--print-architecture']).stdout.trim();
    expect(deb).toBe(join(out, `tobira_${pkg.version}_${arch}.deb`));
    listing = run('dpkg-deb', ['-c', deb]).stdout.trim().split('\n');
    unpacked = mkdtempSync(join(tmpdir(), 'tobira-deb-x-'));
    expect(run('dpkg-deb', ['-x', deb, unpacked]).status).toBe(0);
  }, 300_000);

  const paths = () => listing.map((l) => l.slice(l.indexOf('./') + 1).replace(/ -> .*$/, ''));

  it('says what it is, for this architecture and this Node major (its native modules are built for it)', () => {
    const info = run('dpkg-deb', ['-I', deb]).stdout;
    const field = (name: string) => new RegExp(`^ ${name}: (.*)$`, 'm').exec(info)?.[1];
    expect(field('Package')).toBe('tobira');
    expect(field('Version')).toBe(pkg.version);
    expect(field('Architecture')).toBe(run('dpkg', ['--print-architecture']).stdout.trim());
    expect(field('Depends')).toBe(`nodejs (>= ${major}), nodejs (<< ${major + 1}), adduser, systemd`);
    expect(Number(field('Installed-Size'))).toBeGreaterThan(1000);
    for (const script of ['postinst', 'prerm', 'postrm']) expect(info).toMatch(new RegExp(`\\d+ lines\\s+\\*\\s+${script}\\s`));
  });

  it('installs the command, the unit as written, and the npm package with its production dependencies only', () => {
    const files = paths();
    expect(files).toContain('/lib/systemd/system/tobira.service');
    expect(readFileSync(join(unpacked, 'lib/systemd/system/tobira.service'), 'utf8')).toBe(readFileSync(join(ROOT, 'packaging/tobira.service'), 'utf8'));
    // The unit's ExecStart=/usr/bin/tobira.
    expect(lstatSync(join(unpacked, 'usr/bin/tobira')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(unpacked, 'usr/bin/tobira'))).toBe('../lib/tobira/bin/tobira.js');
    for (const f of [
      '/usr/lib/tobira/package.json',
      '/usr/lib/tobira/dist/src/cli/main.js',
      '/usr/lib/tobira/dist/console/index.html',
      '/usr/lib/tobira/examples/site.yaml',
      '/usr/lib/tobira/docs/cli.md',
      '/usr/lib/tobira/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      '/usr/lib/tobira/node_modules/fastify/package.json',
      '/usr/lib/tobira/node_modules/onoff/package.json',
      '/usr/share/doc/tobira/copyright',
    ]) {
      expect(files, f).toContain(f);
    }
    for (const absent of [
      '/usr/lib/tobira/dist/tests/',
      '/usr/lib/tobira/node_modules/vitest/',
      '/usr/lib/tobira/node_modules/typescript/',
      '/usr/lib/tobira/node_modules/@biomejs/',
      '/usr/lib/tobira/src/',
      '/usr/lib/tobira/data/',
    ]) {
      expect(
        files.some((f) => f.startsWith(absent)),
        absent,
      ).toBe(false);
    }
    expect(listing.every((l) => l.split(/\s+/)[1] === 'root/root')).toBe(true);
  });

  it('runs from the unpacked tree: every module the command loads is there', () => {
    const bin = join(unpacked, 'usr/bin/tobira');
    const version = run(process.execPath, [bin, '--version']);
    expect(version.stdout, version.stderr).toBe(`${pkg.version}\n`);
    const check = run(process.execPath, [bin, 'config', 'check', join(unpacked, 'usr/lib/tobira/examples/site.yaml')]);
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/OK/);
  });

  it('has maintainer scripts that make the user, the gpio group and private directories, and keep the data on purge', () => {
    const script = (name: string) => run('dpkg-deb', ['-I', deb, name]).stdout;
    for (const name of ['postinst', 'prerm', 'postrm']) expect(run('sh', ['-n', '-c', script(name)]).status, name).toBe(0);
    const postinst = script('postinst');
    expect(postinst).toMatch(/addgroup --quiet --system gpio/);
    expect(postinst).toMatch(/adduser --quiet --system --ingroup tobira --home \/var\/lib\/tobira --no-create-home\s+\\\s+--shell \/usr\/sbin\/nologin/);
    expect(postinst).toContain('install -d -o tobira -g tobira -m 0750 /var/lib/tobira');
    expect(postinst).toContain('install -d -o root -g tobira -m 0750 /etc/tobira');
    expect(postinst).toContain('systemctl try-restart tobira.service');
    expect(script('prerm')).toContain('systemctl stop tobira.service');
    const postrm = script('postrm');
    expect(postrm).not.toMatch(/rm -rf \/var\/lib\/tobira/);
    expect(postrm).toContain('kept /var/lib/tobira');
  });
});
