// Cameras in the site file: an HTTP camera's snapshot URL (`http:`; its login lives in the secrets
// file, never here) and what a camera covers (`covers: { doors, zones }`), checked against the rest.
import { z } from 'zod';
import type { SiteFile } from './schema.js';

type PathPart = string | number;

export const httpCameraSchema = z.strictObject({
  /** The camera's snapshot URL (http or https), without a login in it. */
  url: z
    .url({ protocol: /^https?$/ })
    .refine((u) => !new URL(u).username && !new URL(u).password, 'no login in the URL: put it in the secrets file (cameras.<id>)'),
  auth: z.enum(['none', 'basic', 'digest']).default('digest'),
  /** The whole exchange (challenge and picture) ends within this; then the camera is at fault. */
  timeoutMs: z.number().int().min(200).max(10_000).default(3000),
});

/** What a camera sees: a denied entry at one of these doors, an alarm at one, or in one of these zones, takes its picture. */
export const coversSchema = z.strictObject({
  doors: z.array(z.string()).default([]),
  zones: z.array(z.string()).default([]),
  /** Safes (docs/safes.md): their alarms take this camera's picture. */
  safes: z.array(z.string()).default([]),
});
export type Covers = z.infer<typeof coversSchema>;

/** Cross-references of cameras: covers name known doors and zones, only cameras cover, `http` only on HTTP cameras. */
export function checkCameras(site: SiteFile): { path: PathPart[]; message: string }[] {
  const problems: { path: PathPart[]; message: string }[] = [];
  const doors = new Set(site.doors.map((d) => d.id));
  const zones = new Set(site.zones.map((z) => z.id));
  const safes = new Set(site.safes.map((s) => s.id));
  site.devices.forEach((device, i) => {
    if (device.transport === 'http') {
      if (device.kind !== 'camera')
        problems.push({ path: ['devices', i, 'transport'], message: `a ${device.kind} cannot be reached over http (cameras only)` });
      if (!device.http) problems.push({ path: ['devices', i, 'http'], message: 'an http camera needs http: { url }' });
    } else if (device.http) {
      problems.push({ path: ['devices', i, 'http'], message: `http settings on a ${device.transport} device` });
    }
    if (!device.covers) return;
    if (device.kind !== 'camera') problems.push({ path: ['devices', i, 'covers'], message: `a ${device.kind} covers nothing (cameras only)` });
    device.covers.doors.forEach((ref, j) => {
      if (!doors.has(ref)) problems.push({ path: ['devices', i, 'covers', 'doors', j], message: `unknown door "${ref}"` });
    });
    device.covers.zones.forEach((ref, j) => {
      if (!zones.has(ref)) problems.push({ path: ['devices', i, 'covers', 'zones', j], message: `unknown zone "${ref}"` });
    });
    device.covers.safes.forEach((ref, j) => {
      if (!safes.has(ref)) problems.push({ path: ['devices', i, 'covers', 'safes', j], message: `unknown safe "${ref}"` });
    });
  });
  return problems;
}

/** The cameras covering a door, a zone, or any door of an area, by device id. */
export interface CameraCoverage {
  doors: Map<string, string[]>;
  zones: Map<string, string[]>;
  areas: Map<string, string[]>;
  safes: Map<string, string[]>;
}

export function cameraCoverage(site: SiteFile): CameraCoverage {
  const out: CameraCoverage = { doors: new Map(), zones: new Map(), areas: new Map(), safes: new Map() };
  const add = (m: Map<string, string[]>, key: string, camera: string) => {
    const list = m.get(key) ?? [];
    if (!list.includes(camera)) list.push(camera);
    m.set(key, list);
  };
  const areaOf = new Map(site.doors.map((d) => [d.id, d.area]));
  for (const device of site.devices) {
    if (device.kind !== 'camera' || !device.covers) continue;
    for (const door of device.covers.doors) {
      add(out.doors, door, device.id);
      const area = areaOf.get(door);
      if (area) add(out.areas, area, device.id);
    }
    for (const zone of device.covers.zones) add(out.zones, zone, device.id);
    for (const safe of device.covers.safes) add(out.safes, safe, device.id);
  }
  return out;
}
