// Home Assistant's documented MQTT discovery schema for the components tobira announces, written
// as zod from Home Assistant's documentation (home-assistant.io/integrations/lock.mqtt,
// binary_sensor.mqtt, alarm_control_panel.mqtt, event.mqtt: the "Configuration Variables" of each):
// every documented key with its type, the required ones required, and no key the documentation does
// not list.
import { expect } from 'vitest';
import { z } from 'zod';
import type { DiscoveryMessage } from '../../src/controller/homeassistant.js';

// --- Home Assistant's documented keys, common to every MQTT entity --------------------------------
const template = z.string().min(1);
const availabilityEntry = z.strictObject({
  topic: z.string().min(1), // required
  payload_available: z.string().optional(),
  payload_not_available: z.string().optional(),
  value_template: template.optional(),
});
const device = z
  .strictObject({
    configuration_url: z.string().optional(),
    connections: z.array(z.tuple([z.string(), z.string()])).optional(),
    hw_version: z.string().optional(),
    identifiers: z.union([z.string(), z.array(z.string())]).optional(),
    manufacturer: z.string().optional(),
    model: z.string().optional(),
    model_id: z.string().optional(),
    name: z.string().optional(),
    serial_number: z.string().optional(),
    suggested_area: z.string().optional(),
    sw_version: z.string().optional(),
    via_device: z.string().optional(),
  })
  // "At least one of identifiers or connections must be present to identify the device."
  .refine((d) => d.identifiers !== undefined || d.connections !== undefined, 'identifiers or connections');
const entity = {
  availability: z.array(availabilityEntry).optional(),
  availability_mode: z.enum(['all', 'any', 'latest']).optional(),
  availability_template: template.optional(),
  availability_topic: z.string().optional(),
  default_entity_id: z.string().optional(),
  device: device.optional(),
  enabled_by_default: z.boolean().optional(),
  encoding: z.string().optional(),
  entity_category: z.enum(['config', 'diagnostic']).optional(),
  entity_picture: z.string().optional(),
  icon: z.string().optional(),
  json_attributes_template: template.optional(),
  json_attributes_topic: z.string().optional(),
  name: z.string().nullable().optional(),
  object_id: z.string().optional(),
  payload_available: z.string().optional(),
  payload_not_available: z.string().optional(),
  platform: z.string().optional(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  unique_id: z.string().optional(),
  value_template: template.optional(),
};
/** availability and availability_topic "must not be used together"; device "only works when unique_id is set". */
const entityRules = <T extends z.ZodType<Record<string, unknown>>>(schema: T) =>
  schema
    .refine((c) => !(c.availability !== undefined && c.availability_topic !== undefined), 'availability and availability_topic together')
    .refine((c) => c.device === undefined || c.unique_id !== undefined, 'device without unique_id');

// --- MQTT Lock -----------------------------------------------------------------------------------
export const lockSchema = entityRules(
  z.strictObject({
    ...entity,
    code_format: z.string().optional(),
    command_template: template.optional(),
    command_topic: z.string().min(1), // required
    optimistic: z.boolean().optional(),
    payload_lock: z.string().optional(),
    payload_open: z.string().optional(),
    payload_reset: z.string().optional(),
    payload_unlock: z.string().optional(),
    retain: z.boolean().optional(),
    state_jammed: z.string().optional(),
    state_locked: z.string().optional(),
    state_locking: z.string().optional(),
    state_open: z.string().optional(),
    state_opening: z.string().optional(),
    state_topic: z.string().optional(),
    state_unlocked: z.string().optional(),
    state_unlocking: z.string().optional(),
  }),
);

// --- MQTT Binary sensor --------------------------------------------------------------------------
const binarySensorDeviceClasses = [
  'battery',
  'battery_charging',
  'carbon_monoxide',
  'cold',
  'connectivity',
  'door',
  'garage_door',
  'gas',
  'heat',
  'light',
  'lock',
  'moisture',
  'motion',
  'moving',
  'occupancy',
  'opening',
  'plug',
  'power',
  'presence',
  'problem',
  'running',
  'safety',
  'smoke',
  'sound',
  'tamper',
  'update',
  'vibration',
  'window',
] as const;
export const binarySensorSchema = entityRules(
  z.strictObject({
    ...entity,
    device_class: z.enum(binarySensorDeviceClasses).nullable().optional(),
    expire_after: z.number().int().positive().optional(),
    force_update: z.boolean().optional(),
    off_delay: z.number().int().positive().optional(),
    payload_off: z.string().optional(),
    payload_on: z.string().optional(),
    state_topic: z.string().min(1), // required
  }),
);

// --- MQTT Alarm control panel --------------------------------------------------------------------
const alarmFeatures = z.enum(['arm_home', 'arm_away', 'arm_night', 'arm_vacation', 'arm_custom_bypass', 'trigger']);
export const alarmPanelSchema = entityRules(
  z.strictObject({
    ...entity,
    code: z.string().optional(),
    code_arm_required: z.boolean().optional(),
    code_disarm_required: z.boolean().optional(),
    code_trigger_required: z.boolean().optional(),
    command_template: template.optional(),
    command_topic: z.string().min(1), // required
    payload_arm_away: z.string().optional(),
    payload_arm_custom_bypass: z.string().optional(),
    payload_arm_home: z.string().optional(),
    payload_arm_night: z.string().optional(),
    payload_arm_vacation: z.string().optional(),
    payload_disarm: z.string().optional(),
    payload_trigger: z.string().optional(),
    retain: z.boolean().optional(),
    state_topic: z.string().min(1), // required
    supported_features: z.array(alarmFeatures).optional(),
  }),
);
/** The states the panel accepts ("in lower case"). */
export const alarmPanelStates = z.enum([
  'disarmed',
  'armed_home',
  'armed_away',
  'armed_night',
  'armed_vacation',
  'armed_custom_bypass',
  'pending',
  'triggered',
  'arming',
  'disarming',
]);

// --- MQTT Event ----------------------------------------------------------------------------------
export const eventSchema = entityRules(
  z.strictObject({
    ...entity,
    device_class: z.enum(['button', 'doorbell', 'motion']).nullable().optional(),
    event_types: z.array(z.string().min(1)).min(1), // required
    state_topic: z.string().min(1), // required
  }),
);
/** "The JSON payload should contain the event_type element", one of the configured event_types; other keys become attributes. */
export const eventPayload = (types: readonly string[]) => z.looseObject({ event_type: z.enum(types as [string, ...string[]]) });

/** `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`, ids of letters, digits, `_` and `-`. */
const discoveryTopic = /^([A-Za-z0-9_/-]+)\/(lock|binary_sensor|alarm_control_panel|event)\/(?:([A-Za-z0-9_-]+)\/)?([A-Za-z0-9_-]+)\/config$/;
const componentSchemas = { lock: lockSchema, binary_sensor: binarySensorSchema, alarm_control_panel: alarmPanelSchema, event: eventSchema } as const;

export function checkAgainstHomeAssistant(messages: DiscoveryMessage[]): void {
  for (const m of messages) {
    const match = discoveryTopic.exec(m.topic);
    expect(match, m.topic).not.toBeNull();
    const component = match![2] as keyof typeof componentSchemas;
    const parsed = componentSchemas[component].safeParse(m.config);
    expect(parsed.error?.issues, `${m.topic}`).toBeUndefined();
  }
}
