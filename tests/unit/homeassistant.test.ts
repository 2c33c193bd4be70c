// Home Assistant discovery (issue 11): the configs tobira publishes, checked against Home Assistant's
// documented MQTT discovery schema for each component (tests/helpers/homeassistant-schema.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alarmEvent, contactState, discoveryConfigs, HA_ALARM_TYPES, lockState, zoneState } from '../../src/controller/homeassistant.js';
import type { DoorView } from '../../src/policy/door.js';
import { parseSiteText, type SiteFileError, formatProblem } from '../../src/site/load.js';
import { labelText } from '../../src/site/schema.js';
import {
  alarmPanelSchema,
  alarmPanelStates,
  binarySensorSchema,
  checkAgainstHomeAssistant,
  eventPayload,
  eventSchema,
  lockSchema,
} from '../helpers/homeassistant-schema.js';

// --- tobira's side -------------------------------------------------------------------------------
const example = readFileSync(new URL('../../examples/site.yaml', import.meta.url), 'utf8');
const withHomeAssistant = (lines = '  enabled: true') => parseSiteText(`${example}\nhomeassistant:\n${lines}\n`);

describe('Home Assistant discovery payloads', () => {
  const site = withHomeAssistant();
  const messages = discoveryConfigs(site, ['lab-beam'], 'not-a-code-anyone-knows');

  it('match the documented schema of each component, under the discovery prefix and node id', () => {
    checkAgainstHomeAssistant(messages);
    const byComponent = (c: string) => messages.filter((m) => m.topic.startsWith(`homeassistant/${c}/tobira/`));
    expect(byComponent('lock')).toHaveLength(site.doors.length);
    expect(byComponent('binary_sensor')).toHaveLength(site.doors.filter((d) => d.contact).length);
    expect(byComponent('alarm_control_panel')).toHaveLength(1);
    expect(byComponent('event')).toHaveLength(1);
    const ids = messages.map((m) => m.config.unique_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('the schemas catch what Home Assistant would refuse (they are not vacuous)', () => {
    const lock = messages.find((m) => m.topic.includes('/lock/'))!.config;
    const { command_topic: _, ...withoutCommand } = lock;
    expect(lockSchema.safeParse(withoutCommand).success).toBe(false);
    expect(lockSchema.safeParse({ ...lock, state_stuck: 'STUCK' }).success).toBe(false);
    const sensor = messages.find((m) => m.topic.includes('/binary_sensor/'))!.config;
    expect(binarySensorSchema.safeParse({ ...sensor, device_class: 'doors' }).success).toBe(false);
    const panel = messages.find((m) => m.topic.includes('/alarm_control_panel/'))!.config;
    expect(alarmPanelSchema.safeParse({ ...panel, supported_features: ['arm_everything'] }).success).toBe(false);
    const event = messages.find((m) => m.topic.includes('/event/'))!.config;
    expect(eventSchema.safeParse({ ...event, event_types: [] }).success).toBe(false);
    expect(eventSchema.safeParse({ ...event, availability_topic: 'x' }).success).toBe(false);
  });

  it('are read-only: no arm features, a code no one has, a lock code pattern nothing matches', () => {
    const panel = messages.find((m) => m.topic.includes('/alarm_control_panel/'))!.config;
    expect(panel).toMatchObject({ supported_features: [], code: 'not-a-code-anyone-knows', code_disarm_required: true });
    const lock = messages.find((m) => m.topic.includes('/lock/'))!.config;
    const never = new RegExp(lock.code_format as string);
    for (const code of ['', '0000', '1234', 'unlock', 'a'.repeat(64)]) expect(never.test(code)).toBe(false);
    // The command topics lie apart from every device topic: nothing that opens a door listens there.
    for (const m of messages) if (m.config.command_topic) expect(m.config.command_topic).toMatch(/^tobira\/ha\/refused\//);
  });

  it('are unavailable with the controller: its status topic and last will', () => {
    for (const m of messages)
      expect(m.config.availability).toEqual([{ topic: 'tobira/controller/status', value_template: expect.stringContaining('value_json.online') }]);
  });

  it('carry ids, not names: no door label appears in them', () => {
    const text = JSON.stringify(messages);
    for (const door of site.doors) {
      const en = labelText(door.name, 'en');
      const ja = labelText(door.name, 'ja');
      if (en !== door.id) expect(text).not.toContain(en);
      if (ja !== door.id) expect(text).not.toContain(ja);
    }
  });

  it('follow the configured prefix and node id', () => {
    const other = withHomeAssistant('  enabled: true\n  discoveryPrefix: ha/discovery\n  nodeId: building-b');
    const msgs = discoveryConfigs(other, [], 'x');
    checkAgainstHomeAssistant(msgs);
    for (const m of msgs) expect(m.topic).toMatch(/^ha\/discovery\/[a-z_]+\/building-b\/[^/]+\/config$/);
    expect(msgs.every((m) => String(m.config.unique_id).startsWith('building-b_'))).toBe(true);
  });
});

describe('Home Assistant states', () => {
  const view = (v: Partial<DoorView>): DoorView => ({
    lock: 'locked',
    open: false,
    unlockedBy: null,
    openedSinceUnlock: false,
    alarm: null,
    emergency: false,
    ...v,
  });

  it('a lock is LOCKED, UNLOCKED, JAMMED on a lock fault, unknown before it answered', () => {
    expect(lockState(view({ lock: 'locked' }), false)).toBe('LOCKED');
    expect(lockState(view({ lock: 'unlocked' }), false)).toBe('UNLOCKED');
    expect(lockState(view({ lock: 'locked' }), true)).toBe('JAMMED');
    expect(lockState(view({ lock: 'unknown' }), false)).toBe('None');
  });

  it('a contact is ON when open (device class door), OFF when closed, unknown before it reported', () => {
    expect(contactState(view({ open: true }))).toBe('ON');
    expect(contactState(view({ open: false }))).toBe('OFF');
    expect(contactState(view({ open: null }))).toBe('None');
  });

  it("a zone's phase is one of the panel's documented states", () => {
    expect(zoneState('disarmed')).toBe('disarmed');
    expect(zoneState('armed')).toBe('armed_away');
    expect(zoneState('tripped')).toBe('triggered');
    for (const p of ['disarmed', 'armed', 'entry-delay', 'tripped'] as const) expect(alarmPanelStates.safeParse(zoneState(p)).success).toBe(true);
  });

  it('an alarm is an event of a declared type, with no detail and no source that is not a site id', () => {
    const site = withHomeAssistant();
    const door = site.doors[0]!.id;
    const forced = alarmEvent(site, {
      id: 7,
      at: '2026-12-03T01:00:00.000Z',
      category: 'alarm',
      type: 'door-forced',
      severity: 'alarm',
      source: door,
      detail: { person: 'Hanako Yamada' },
    });
    expect(eventPayload(HA_ALARM_TYPES).safeParse(forced).success).toBe(true);
    expect(forced).toEqual({ event_type: 'door-forced', alarm_id: 7, at: '2026-12-03T01:00:00.000Z', source: door });
    // An account's name as the source of a security alarm stays home.
    const locked = alarmEvent(site, {
      id: 8,
      at: '2026-12-03T01:00:00.000Z',
      category: 'security',
      type: 'account-locked',
      severity: 'alarm',
      source: 'hanako',
      detail: null,
    });
    expect(locked).not.toHaveProperty('source');
    expect(HA_ALARM_TYPES).toContain('intrusion');
    expect(HA_ALARM_TYPES).not.toContain('door-forced-cleared');
    expect(HA_ALARM_TYPES).toContain('patrol-missed');
  });
});

describe('the site file', () => {
  it('is off by default, with the documented default prefix', () => {
    const site = parseSiteText(example);
    expect(site.homeassistant).toEqual({ enabled: false, discoveryPrefix: 'homeassistant', nodeId: 'tobira' });
  });

  it('refuses a discovery prefix that nests with the base topic', () => {
    for (const prefix of ['tobira', 'tobira/ha']) {
      try {
        withHomeAssistant(`  enabled: true\n  discoveryPrefix: ${prefix}`);
        expect.unreachable();
      } catch (err) {
        expect((err as SiteFileError).problems.map(formatProblem)).toEqual([
          expect.stringMatching(/^homeassistant\.discoveryPrefix: must not be, contain or lie under the base topic "tobira"/),
        ]);
      }
    }
  });
});
