// The site file's `homeassistant:` section: Home Assistant MQTT discovery, read-only. The entities
// tobira announces (doors as locks, contacts, zones, alarms) and the login Home Assistant uses are
// in src/controller/homeassistant.ts and src/devices/homeassistant.ts.
import { z } from 'zod';

const topicLevels = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/;

export const homeAssistantSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** Home Assistant's discovery prefix (its MQTT integration's setting; `homeassistant` unless changed there). */
    discoveryPrefix: z.string().regex(topicLevels, 'topic levels without wildcards').default('homeassistant'),
    /** The node id in discovery topics and unique ids: tells two controllers on one broker apart. */
    nodeId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "-" and "_" (a single topic level)')
      .default('tobira'),
  })
  .prefault({});
export type HomeAssistantSettings = z.infer<typeof homeAssistantSchema>;

/** The discovery prefix and tobira's base topic must not nest: each login's topics would leak into the other's. */
export function homeAssistantProblems(site: {
  mqtt: { baseTopic: string };
  homeassistant: HomeAssistantSettings;
}): { path: (string | number)[]; message: string }[] {
  const { discoveryPrefix } = site.homeassistant;
  const base = site.mqtt.baseTopic;
  const nests = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
  if (nests(discoveryPrefix, base) || nests(base, discoveryPrefix))
    return [{ path: ['homeassistant', 'discoveryPrefix'], message: `must not be, contain or lie under the base topic "${base}"` }];
  return [];
}
