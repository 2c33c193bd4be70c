import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventLabels, label, reasonLabels } from '../../src/i18n/labels.js';
import { ROOT } from '../helpers/daemon.js';

describe('labels for people', () => {
  it('every event type the controller raises has an English and a Japanese label', () => {
    // The controller raises most events; the API raises some of its own (remote unlocks, refused logins).
    const types = new Set<string>();
    for (const dir of ['src/controller', 'src/api', 'src/api/routes'].map((d) => join(ROOT, d))) {
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
        for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/type: '([a-z][a-z-]+)'/g)) types.add(m[1]!);
      }
    }
    types.delete('entry'); // the publisher's tag for entry-log records, not an event type
    types.delete('http'); // the OpenAPI security scheme's type, not an event
    // Built from parts: mqtt-{what}-refused, {alarm}-cleared, area-{mode}.
    for (const t of ['mqtt-login-refused', 'mqtt-publish-refused', 'mqtt-subscribe-refused', 'door-forced-cleared', 'door-held-open-cleared', 'area-normal', 'area-locked-down', 'area-emergency-release']) types.add(t);
    expect(types.size).toBeGreaterThan(25);
    const missing = [...types].filter((t) => !eventLabels[t]?.en || !eventLabels[t]?.ja);
    expect(missing).toEqual([]);
  });

  it('reads codes in either language and passes unknown ones through', () => {
    expect(label(reasonLabels, 'training-lapsed', 'ja')).toBe('年次教育の期限切れ');
    expect(label(reasonLabels, 'granted', 'en')).toBe('Granted');
    expect(label(eventLabels, 'something-new', 'ja')).toBe('something-new');
  });
});
