// Safes in the site file: defaults, double locking, and the cross-reference checks (a restricted
// area, sensors of the right kinds, ids apart from the areas').
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatProblem, parseSiteText, SiteFileError } from '../../src/site/load.js';
import { FIXTURE_SITE } from '../helpers/daemon.js';

const example = readFileSync(FIXTURE_SITE, 'utf8');
// The example's own safes are replaced below; the test's devices are added beside the siren.
const head = example
  .split('\nsafes:')[0]!
  .replace(
    '  - { id: lab-siren,',
    [
      '  - { id: t-contact, kind: contact, transport: mqtt }',
      '  - { id: t-dial, kind: input, input: dial, transport: mqtt }',
      '  - { id: t-key, kind: input, input: key, transport: mqtt }',
      '  - { id: t-pir, kind: input, input: motion, transport: mqtt }',
      '  - { id: lab-siren,',
    ].join('\n'),
  );
const safe = '  - { id: s1, name: { en: Safe, ja: 金庫 }, area: vault, locks: [dial, key], sensors: { contact: t-contact, dial: t-dial, key: t-key }';

function problems(safes: string, text = head): string[] {
  try {
    parseSiteText(`${text}\nsafes:\n${safes}\n`, 'site.yaml');
  } catch (err) {
    if (err instanceof SiteFileError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

describe('safes in the site file', () => {
  it('a dial-and-key safe in the vault, with its defaults', () => {
    const site = parseSiteText(`${head}\nsafes:\n${safe}, approach: t-pir, custodian: 1001, delegates: [1002] }\n`);
    expect(site.safes[0]).toMatchObject({
      id: 's1',
      area: 'vault',
      holders: 'safe',
      locks: ['dial', 'key'],
      custodian: 1001,
      delegates: [1002],
      authWindowSeconds: 60,
      heldOpenMs: 300_000,
    });
    expect(parseSiteText(head).safes).toEqual([]);
  });

  it('refuses one lock, the same lock twice, a dial without its switch, a card lock without a reader', () => {
    expect(problems('  - { id: s1, name: S, area: vault, locks: [dial], sensors: { contact: t-contact, dial: t-dial } }')).toEqual([
      expect.stringMatching(/^safes\[0\]\.locks: two lock methods/),
    ]);
    expect(problems('  - { id: s1, name: S, area: vault, locks: [key, key], sensors: { contact: t-contact, key: t-key } }')).toEqual([
      expect.stringMatching(/^safes\[0\]\.locks: two different lock methods/),
    ]);
    expect(problems('  - { id: s1, name: S, area: vault, locks: [dial, card], sensors: { contact: t-contact } }')).toEqual([
      expect.stringMatching(/^safes\[0\]\.sensors\.dial: a dial lock needs its dial switch/),
      expect.stringMatching(/^safes\[0\]\.reader: a card lock needs the safe's reader/),
    ]);
  });

  it('refuses an area without a door (not restricted), an unknown area, devices of the wrong kind, shared switches', () => {
    const unguarded = head.replace('\ndevices:', '\n  - { id: hall, name: Hall }\n\ndevices:');
    expect(problems(`${safe.replace('area: vault', 'area: hall')} }`, unguarded)).toEqual([
      expect.stringMatching(/^safes\[0\]\.area: area "hall" has no door: a safe must stand in a restricted area/),
    ]);
    expect(problems(`${safe.replace('area: vault', 'area: attic')} }`)).toEqual([expect.stringMatching(/^safes\[0\]\.area: unknown area "attic"/)]);
    expect(
      problems('  - { id: s1, name: S, area: vault, locks: [dial, key], sensors: { contact: t-dial, dial: t-key, key: ghost }, approach: lab-lock }'),
    ).toEqual([
      expect.stringMatching(/^safes\[0\]\.sensors\.contact: "t-dial" is an input of dial: contact takes a contact/),
      expect.stringMatching(/^safes\[0\]\.sensors\.dial: "t-key" is an input of key: dial takes an input of dial/),
      expect.stringMatching(/^safes\[0\]\.sensors\.key: unknown device "ghost"/),
      expect.stringMatching(/^safes\[0\]\.approach: "lab-lock" is a lock/),
    ]);
    expect(problems(`${safe} }\n${safe.replace('id: s1', 'id: s2')} }`)).toEqual([
      expect.stringMatching(/^safes\[1\]\.sensors\.contact: "t-contact" already reports safe "s1"/),
      expect.stringMatching(/^safes\[1\]\.sensors\.dial: "t-dial" already reports safe "s1"/),
      expect.stringMatching(/^safes\[1\]\.sensors\.key: "t-key" already reports safe "s1"/),
    ]);
    expect(problems(`${safe.replace('id: s1', 'id: vault')} }`)).toEqual([expect.stringMatching(/^safes\[0\]\.id: "vault" is already an area's id/)]);
  });
});
