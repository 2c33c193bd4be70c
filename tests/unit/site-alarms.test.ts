// The site file's alarms: section: defaults, and escalation outputs that must be known sirens.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSiteText, SiteFileError } from '../../src/site/load.js';

const example = readFileSync(new URL('../../examples/site.yaml', import.meta.url), 'utf8');
const withoutAlarms = example.slice(0, example.indexOf('\nalarms:'));

describe('site file alarms:', () => {
  it('defaults when absent: 120 s, repeated as often, no outputs, 5 denials in 5 minutes', () => {
    expect(parseSiteText(withoutAlarms).alarms).toEqual({ escalateAfterSeconds: 120, escalationOutputs: [], repeatedDenials: { count: 5, withinMinutes: 5 } });
  });

  it('refuses an unknown device and a device that is not a siren as escalation outputs', () => {
    const text = `${withoutAlarms}\nalarms:\n  escalationOutputs: [nowhere, lab-lock]\n`;
    try {
      parseSiteText(text);
      expect.unreachable('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(SiteFileError);
      const messages = (err as SiteFileError).problems.map((p) => `${p.path}: ${p.message}`);
      expect(messages).toEqual([
        'alarms.escalationOutputs[0]: unknown device "nowhere"',
        'alarms.escalationOutputs[1]: device "lab-lock" is a lock, not an output (siren)',
      ]);
    }
  });
});
