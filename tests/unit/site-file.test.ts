import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSiteText, SiteFileError, formatProblem } from '../../src/site/load.js';
import { CLI, FIXTURE_SITE } from '../helpers/daemon.js';

const example = readFileSync(FIXTURE_SITE, 'utf8');

function problems(text: string): string[] {
  try {
    parseSiteText(text, 'site.yaml');
  } catch (err) {
    if (err instanceof SiteFileError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

describe('site file validation', () => {
  it('accepts the example site and fills in defaults', () => {
    const site = parseSiteText(example);
    expect(site.site.timezone).toBe('Asia/Tokyo');
    expect(site.doors.map((d) => d.id)).toEqual(['lab-main', 'vault-door']);
    expect(site.areas.find((a) => a.id === 'vault')?.parent).toBe('lab');
    expect(site.devices.find((d) => d.id === 'lab-reader')?.heartbeatSeconds).toBe(60);
    expect(site.mqtt.baseTopic).toBe('tobira');
    expect(site.gpio.chipBase).toBe(512);
  });

  it('policy: maxReadAgeMs and unlockCommandTtlMs have defaults and ranges (0 turns the expiry off)', () => {
    const site = parseSiteText(example);
    expect(site.policy.maxReadAgeMs).toBe(3000);
    expect(site.policy.unlockCommandTtlMs).toBe(2000);
    const withPolicy = (lines: string) => example.replace('  pinLockoutSeconds: 300', `  pinLockoutSeconds: 300\n${lines}`);
    expect(parseSiteText(withPolicy('  maxReadAgeMs: 10000\n  unlockCommandTtlMs: 0')).policy).toMatchObject({ maxReadAgeMs: 10000, unlockCommandTtlMs: 0 });
    const bad = problems(withPolicy('  maxReadAgeMs: 100\n  unlockCommandTtlMs: 200'));
    expect(bad).toHaveLength(2);
    expect(bad[0]).toMatch(/^policy\.maxReadAgeMs: .*500/);
    expect(bad[1]).toMatch(/^policy\.unlockCommandTtlMs: 0 \(no expiry\) or 500 to 30000 ms/);
    expect(problems(withPolicy('  unlockCommandTtlMs: 60000'))).toEqual([expect.stringMatching(/^policy\.unlockCommandTtlMs: /)]);
    expect(problems(withPolicy('  unlockCommandTtlMs: 1500.5'))).toEqual([expect.stringMatching(/^policy\.unlockCommandTtlMs: /)]);
  });

  it('names an unknown device by path and line', () => {
    const text = example.replace('lock: vault-lock', 'lock: vault-lok');
    const line = text.split('\n').findIndex((l) => l.includes('vault-lok')) + 1;
    expect(problems(text)).toEqual([`doors[1].lock: unknown device "vault-lok" (line ${line})`]);
  });

  it('lists every problem at once, each with its path', () => {
    const text = example
      .replace('timezone: Asia/Tokyo', 'timezone: Mars/Olympus')
      .replace('area: vault', 'area: attic')
      .replace('contact: lab-contact', 'contact: lab-reader')
      .replace('unlockMs: 5000         #', 'unlockMs: fast         #')
      .replace('parent: lab ', 'parent: nowhere ');
    const found = problems(text);
    // zod problems come first; cross-references are only checked on a well-typed file.
    expect(found.some((p) => p.startsWith('site.timezone: an IANA time zone'))).toBe(true);
    expect(found.some((p) => p.startsWith('doors[0].unlockMs:'))).toBe(true);
    const fixed = problems(text.replace('timezone: Mars/Olympus', 'timezone: Asia/Tokyo').replace('unlockMs: fast', 'unlockMs: 5000'));
    expect(fixed).toEqual([
      expect.stringMatching(/^areas\[1\]\.parent: unknown area "nowhere" \(line \d+\)$/),
      expect.stringMatching(/^doors\[0\]\.contact: device "lab-reader" is a reader, not a contact \(line \d+\)$/),
      expect.stringMatching(/^doors\[1\]\.area: unknown area "attic" \(line \d+\)$/),
      // The vault lost its only door: the document safe no longer stands in a restricted area.
      expect.stringMatching(/^safes\[0\]\.area: area "vault" has no door: a safe must stand in a restricted area \(line \d+\)$/),
    ]);
  });

  it('catches duplicates, nesting cycles, shared locks and GPIO mistakes', () => {
    const text = `
site: { name: S, timezone: UTC }
areas:
  - { id: a, name: A, parent: b }
  - { id: b, name: B, parent: a }
devices:
  - { id: r, kind: reader, transport: mqtt }
  - { id: r, kind: reader, transport: mqtt }
  - { id: l, kind: lock, transport: gpio, gpio: { pin: 4 } }
  - { id: c, kind: contact, transport: gpio, gpio: { pin: 4 } }
  - { id: cam, kind: camera, transport: gpio, gpio: { pin: 5 } }
doors:
  - { id: d1, name: D1, area: a, entryReader: r, lock: l }
  - { id: d2, name: D2, area: b, lock: l }
`;
    const found = problems(text);
    expect(found).toContain('devices[4].kind: a camera cannot be wired to GPIO (use mqtt) (line 11)');
    const fixed = problems(text.replace('kind: camera, transport: gpio, gpio: { pin: 5 }', 'kind: camera, transport: mqtt'));
    expect(fixed).toEqual([
      'devices[1].id: duplicate id "r" (line 8)',
      'areas[0].parent: areas nest in a cycle through "a" (line 4)',
      'areas[1].parent: areas nest in a cycle through "b" (line 5)',
      'doors[1]: a door needs an entryReader or a keypad (line 14)',
      'doors[1].lock: lock "l" already drives door "d1" (line 14)',
      'devices[3].gpio.pin: pin 4 is already used by "l" (line 10)',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const found = problems('site:\n  name: x\n   bad: [\n');
    expect(found[0]).toMatch(/^\(file\): YAML: .* \(line \d+\)$/);
  });

  it('`tobira config check` exits 0 on a good file and 2 listing every problem on a bad one', () => {
    expect(execFileSync(process.execPath, [CLI, 'config', 'check', FIXTURE_SITE], { encoding: 'utf8' })).toMatch(/OK — 2 areas, 2 doors, 22 devices/);
    const file = join(mkdtempSync(join(tmpdir(), 'tobira-site-')), 'bad.yaml');
    writeFileSync(file, example.replace('lock: lab-lock', 'lock: lab-lok').replace('area: vault', 'area: attic'));
    const bad = spawnSync(process.execPath, [CLI, 'config', 'check', file], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/doors\[0\]\.lock: unknown device "lab-lok" \(line \d+\)/);
    expect(bad.stderr).toMatch(/doors\[1\]\.area: unknown area "attic" \(line \d+\)/);
  });
});
