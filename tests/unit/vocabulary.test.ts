import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  ACCOUNT_ROLES,
  ALARM_STATES,
  CLEAR_CAUSES,
  ACCOUNT_STATUSES,
  AREA_MODES,
  CONSOLE_LANGUAGES,
  CHECKPOINT_KINDS,
  MASTER_KEY_REASONS,
  CREDENTIAL_KINDS,
  CREDENTIAL_STATUSES,
  CREDENTIAL_USES,
  directionOf,
  DOOR_ROLE_NAMES,
  DOOR_ROLES,
  GRANT_STATUSES,
  PERSON_KINDS,
  PERSON_STATUSES,
} from '../../src/policy/vocabulary.js';
import { DEVICE_KIND_DEFINITIONS, GPIO_KINDS, inputOf } from '../../src/devices/kinds.js';
import { migrations } from '../../src/store/schema.js';

/** Every `column IN ('a', 'b')` CHECK of every table in a database migrated from nothing. */
function checksOf(db: Database.Database): Map<string, string[]> {
  const checks = new Map<string, string[]>();
  const tables = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL").all() as { name: string; sql: string }[];
  for (const { name, sql } of tables) {
    for (const m of sql.matchAll(/CHECK\s*\(\s*(\w+)\s+IN\s*\(([^)]*)\)\s*\)/gi)) {
      const words = [...m[2]!.matchAll(/'([^']*)'/g)].map((w) => w[1]!);
      checks.set(`${name}.${m[1]}`, words);
    }
  }
  return checks;
}

describe('the store speaks the shared vocabulary', () => {
  it('each SQL CHECK of a fresh database lists exactly its registry', () => {
    const db = new Database(':memory:');
    for (const m of migrations) db.exec(m);
    const expected: Record<string, readonly string[]> = {
      'people.kind': PERSON_KINDS,
      'people.status': PERSON_STATUSES,
      'credentials.kind': CREDENTIAL_KINDS,
      'credentials.use': CREDENTIAL_USES,
      'credentials.status': CREDENTIAL_STATUSES,
      'grants.status': GRANT_STATUSES,
      'area_modes.mode': AREA_MODES,
      'checkpoints.kind': CHECKPOINT_KINDS,
      'audit_checkpoints.kind': CHECKPOINT_KINDS,
      'accounts.role': ACCOUNT_ROLES,
      'accounts.status': ACCOUNT_STATUSES,
      'accounts.language': CONSOLE_LANGUAGES,
      'events.clear_cause': CLEAR_CAUSES,
      'alarm_history.state': ALARM_STATES,
      'key_loans.reason': MASTER_KEY_REASONS,
    };
    const found = checksOf(db);
    db.close();
    // Same columns both ways: a new CHECK needs its registry here, a registry its CHECK.
    expect([...found.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [column, words] of found) expect({ column, words: [...words].sort() }).toEqual({ column, words: [...expected[column]!].sort() });
  });
});

describe('the device-kind table', () => {
  it('a GPIO kind is one pin: a relay output with commands, or a contact input, never both or neither', () => {
    for (const kind of GPIO_KINDS) {
      const { input, commands } = DEVICE_KIND_DEFINITIONS[kind];
      expect({ kind, pin: input !== null ? 'input' : commands.length > 0 ? 'output' : 'none', both: input !== null && commands.length > 0 }).toEqual({
        kind,
        pin: expect.stringMatching(/^(input|output)$/),
        both: false,
      });
    }
    expect([...GPIO_KINDS].sort()).toEqual(['beam', 'contact', 'input', 'ir-sensor', 'lock', 'rex', 'siren']);
  });

  it('every kind a reading door role takes reads credentials; every other role takes kinds that read none', () => {
    for (const role of DOOR_ROLE_NAMES) {
      for (const kind of DOOR_ROLES[role].kinds) {
        expect({ role, kind, reads: DEVICE_KIND_DEFINITIONS[kind].reads.length > 0 }).toEqual({ role, kind, reads: directionOf(role) !== undefined });
      }
    }
  });

  it("names the input a device reports: its kind's, or the one its site-file entry names", () => {
    expect(inputOf({ kind: 'ir-sensor' })).toBe('motion');
    expect(inputOf({ kind: 'input', input: 'emergency' })).toBe('emergency');
    expect(inputOf({ kind: 'input' })).toBeUndefined();
    expect(inputOf({ kind: 'lock', input: 'key' })).toBeUndefined();
  });
});
