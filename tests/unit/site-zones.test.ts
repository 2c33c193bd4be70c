// Zones in the site file: defaults, and the cross-reference checks (area, sensor kinds, outputs).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatProblem, parseSiteText, SiteFileError } from '../../src/site/load.js';
import { FIXTURE_SITE } from '../helpers/daemon.js';

const example = readFileSync(FIXTURE_SITE, 'utf8');
// The example's zones are replaced below: the camera that covers one of them covers nothing here.
const head = example.split('\nzones:')[0]!.replace(', covers: { zones: [lab-night] }', '');

function problems(zones: string): string[] {
  try {
    parseSiteText(`${head}\nzones:\n${zones}`, 'site.yaml');
  } catch (err) {
    if (err instanceof SiteFileError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

describe('zones in the site file', () => {
  it('the example site has the lab zone over the beam, arming by schedule, sounding the siren', () => {
    const zone = parseSiteText(example).zones[0];
    expect(zone).toMatchObject({ id: 'lab-night', area: 'lab', sensors: ['lab-beam'], arm: 'schedule', minActiveMs: 400, entryDelaySeconds: 0 });
    expect(zone?.outputs.intrusion).toEqual(['lab-siren']);
  });

  it('a plain list of outputs sounds for an intrusion; the defaults', () => {
    const site = parseSiteText(`${head}\nzones:\n  - { id: z, name: Z, area: lab, sensors: [lab-beam], outputs: [lab-siren] }\n`);
    expect(site.zones[0]).toMatchObject({ arm: 'manual', outputs: { intrusion: ['lab-siren'] }, minActiveMs: 400, outputSeconds: 180 });
  });

  it('refuses an unknown area, a sensor that is not a sensor, an output that is not a siren, duress outputs', () => {
    const bad = problems(
      [
        '  - { id: z, name: Z, area: attic, sensors: [lab-reader, ghost, fire-panel], outputs: { intrusion: [lab-lock] } }',
        '  - { id: z, name: Z, area: lab, sensors: [lab-beam], outputs: { duress: [lab-siren] } }',
      ].join('\n'),
    );
    expect(bad.join('\n')).toMatch(/zones\[1\]\.outputs/);
    const checks = problems('  - { id: z, name: Z, area: attic, sensors: [lab-reader, ghost, fire-panel], outputs: { intrusion: [lab-lock] } }');
    expect(checks).toEqual([
      expect.stringMatching(/^zones\[0\]\.area: unknown area "attic"/),
      expect.stringMatching(/^zones\[0\]\.sensors\[0\]: "lab-reader" is a reader/),
      expect.stringMatching(/^zones\[0\]\.sensors\[1\]: unknown device "ghost"/),
      expect.stringMatching(/^zones\[0\]\.sensors\[2\]: "fire-panel" is an input of emergency/),
      expect.stringMatching(/^zones\[0\]\.outputs\.intrusion\[0\]: "lab-lock" is a lock/),
    ]);
  });

  it('an input with a motion input is a sensor; "empty" needs anti-passback on the area', () => {
    const withPir = head!.replace('  - { id: lab-siren,', '  - { id: lab-pir, kind: input, input: motion, transport: mqtt }\n  - { id: lab-siren,');
    expect(() => parseSiteText(`${withPir}\nzones:\n  - { id: z, name: Z, area: lab, sensors: [lab-pir], arm: empty }\n`)).not.toThrow();
    expect(problems('  - { id: z, name: Z, area: vault, sensors: [lab-beam], arm: empty }')).toEqual([
      expect.stringMatching(/^zones\[0\]\.arm: "empty" needs to know who is inside/),
    ]);
    expect(problems('  - { id: z, name: Z, area: lab, sensors: [lab-beam] }\n  - { id: z, name: Y, area: lab, sensors: [lab-beam] }')).toEqual([
      expect.stringMatching(/^zones\[1\]\.id: duplicate id "z"/),
    ]);
  });
});
