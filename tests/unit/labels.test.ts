import { describe, expect, it } from 'vitest';
import {
  credentialKindLabels,
  doorEventLabels,
  eventCategoryLabels,
  eventLabels,
  label,
  reasonLabels,
  severityLabels,
  type Labels,
} from '../../src/i18n/labels.js';
import { CREDENTIAL_KINDS, DOOR_RECORD_REASONS, EVENT_CATEGORIES, EVENT_TYPE_NAMES, REASON_CODES, SEVERITIES } from '../../src/policy/vocabulary.js';

describe('labels for people', () => {
  // The types make a missing entry a compile error; this holds each entry to real words in both languages.
  it.each([
    ['event types', EVENT_TYPE_NAMES, eventLabels],
    ['reason codes', REASON_CODES, reasonLabels],
    ['door record reasons', DOOR_RECORD_REASONS, doorEventLabels],
    ['credential kinds', CREDENTIAL_KINDS, credentialKindLabels],
    ['event categories', EVENT_CATEGORIES, eventCategoryLabels],
    ['severities', SEVERITIES, severityLabels],
  ] as [string, readonly string[], Labels<string>][])('every one of the %s has an English and a Japanese label', (_, words, table) => {
    expect(words.length).toBeGreaterThan(0);
    const missing = words.filter((w) => !table[w]?.en.trim() || !table[w]?.ja.trim());
    expect(missing).toEqual([]);
    expect(Object.keys(table).sort()).toEqual([...words].sort());
  });

  it('reads codes in either language and passes unknown ones through', () => {
    expect(label(reasonLabels, 'training-lapsed', 'ja')).toBe('年次教育の期限切れ');
    expect(label(reasonLabels, 'granted', 'en')).toBe('Granted');
    expect(label(eventLabels, 'something-new', 'ja')).toBe('something-new');
    expect(label(eventLabels, 'constructor', 'en')).toBe('constructor');
  });
});
