// packaging/tobira.service, the unit the Debian package installs: `systemd-analyze verify` passes
// with no warning, its hardening is what docs/install.md says, and `systemd-analyze security` rates
// it. verify insists that ExecStart's program exists; on this machine (and CI) the package is not
// installed, so a copy is verified with ExecStart pointing at this Node and this checkout's
// bin/tobira.js, with the same arguments. The original's ExecStart is checked separately, and the
// package test (deb-package.test.ts) checks that the package puts /usr/bin/tobira there.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const UNIT = join(ROOT, 'packaging/tobira.service');
const ANALYZE = '/usr/bin/systemd-analyze';
const present = existsSync(ANALYZE);
if (!present && !process.env.CI) console.warn(`\n*** ${ANALYZE} is missing: the systemd unit is NOT verified (CI fails here) ***\n`);

const text = readFileSync(UNIT, 'utf8');
/** Every value of a setting, in order (a unit may repeat one). */
const values = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);

/** A copy of the unit whose ExecStart runs this checkout, in a directory of its own. */
function verifiable(extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-unit-'));
  const unit = text.replace(/^ExecStart=\/usr\/bin\/tobira /m, `ExecStart=${process.execPath} ${join(ROOT, 'bin/tobira.js')} `) + extra;
  expect(unit).not.toBe(text);
  writeFileSync(join(dir, 'tobira.service'), unit);
  return join(dir, 'tobira.service');
}

function analyze(...args: string[]) {
  return spawnSync(ANALYZE, args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0', NO_COLOR: '1' } });
}

describe('the systemd unit', () => {
  it('runs `tobira start --service` as the package installs it, reloads with SIGHUP', () => {
    expect(values('ExecStart')).toEqual(['/usr/bin/tobira start --service']);
    expect(values('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(values('Type')).toEqual(['notify']);
    expect(values('NotifyAccess')).toEqual(['all']); // systemd-notify is the daemon's child
    expect(values('WatchdogSec')).toEqual(['30s']);
    expect(values('RestartPreventExitStatus')).toEqual(['2']);
  });

  it('is hardened as docs/install.md says, without what breaks Node or GPIO', () => {
    expect(values('User')).toEqual(['tobira']);
    expect(values('SupplementaryGroups')).toEqual(['gpio']);
    expect(values('StateDirectory')).toEqual(['tobira']);
    expect(values('ConfigurationDirectory')).toEqual(['tobira']);
    expect(values('UMask')).toEqual(['0027']);
    for (const key of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'ProtectKernelTunables', 'RestrictSUIDSGID', 'LockPersonality']) {
      expect(values(key), key).toEqual(['yes']);
    }
    expect(values('ProtectSystem')).toEqual(['strict']);
    expect(values('CapabilityBoundingSet')).toEqual(['']);
    expect(values('SystemCallFilter')).toEqual(['@system-service', '~@privileged @resources']);
    expect(values('RestrictAddressFamilies')).toEqual(['AF_UNIX AF_INET AF_INET6 AF_NETLINK']);
    expect(values('ReadWritePaths')).toEqual(['-/sys/class/gpio -/sys/devices/platform']);
    expect(values('MemoryDenyWriteExecute')).toEqual([]); // V8's JIT
  });

  it.skipIf(!present && !process.env.CI)('passes `systemd-analyze verify` with nothing to say', () => {
    const r = analyze('verify', verifiable());
    expect(r.error, `${ANALYZE} must be installed in CI`).toBeUndefined();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!present && !process.env.CI)('(and verify does speak up: a misspelt setting is reported)', () => {
    const r = analyze('verify', verifiable('WatchdogSecs=30s\n'));
    expect(r.stderr).toMatch(/Unknown key 'WatchdogSecs'/);
  });

  it.skipIf(!present && !process.env.CI)('rates "OK" or better in `systemd-analyze security`', () => {
    const r = analyze('security', '--offline=yes', '--no-pager', verifiable());
    expect(r.error).toBeUndefined();
    const level = /Overall exposure level for tobira\.service: ([\d.]+) (\w+)/.exec(r.stdout);
    expect(level, r.stdout + r.stderr).not.toBeNull();
    // 1.5 when written: the rest is the network it must reach, the gpio group, NotifyAccess=all
    // and the V8 JIT. Loosening the sandboxing shows here.
    expect(Number(level![1])).toBeLessThanOrEqual(2);
  });
});
