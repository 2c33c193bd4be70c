// Loads and checks a site file, reporting every problem with its path and line.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { kindOf } from '../devices/kinds.js';
import { DOOR_ROLE_NAMES, DOOR_ROLES, type DeviceKind } from '../policy/vocabulary.js';
import { siteFileSchema, type SiteFile } from './schema.js';
import { checkZones } from './zones.js';
import { checkPatrols } from './patrols.js';
import { checkSafes } from './safes.js';
import { checkDoorDialLocks } from './dial-locks.js';
import { checkCameras } from './cameras.js';
import { checkAlarmSettings } from './alarms.js';
import { outboundProblems } from './outbound.js';
import { homeAssistantProblems } from './homeassistant.js';
import { checkFloorPlans, floorPlanImageProblems, resolveFloorPlanImages } from './floor-plans.js';

export interface SiteProblem {
  path: string;
  line?: number;
  message: string;
}

export class SiteFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: SiteProblem[],
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
    this.name = 'SiteFileError';
  }
}

export function formatProblem(p: SiteProblem): string {
  return `${p.path || '(file)'}: ${p.message}${p.line ? ` (line ${p.line})` : ''}`;
}

type PathPart = string | number;

export function formatPath(path: readonly PathPart[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out;
}

/**
 * Loads a site file; paths in it (floor plan pictures) become absolute, against its folder.
 * `checkFiles` (config check) also refuses pictures that cannot be served.
 */
export function loadSiteFile(file: string, opts: { checkFiles?: boolean } = {}): SiteFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SiteFileError(file, [{ path: '', message: `cannot read: ${(err as Error).message}` }]);
  }
  return parseSiteText(text, file, { baseDir: dirname(file), ...opts });
}

export function parseSiteText(text: string, file = 'site file', opts: { baseDir?: string; checkFiles?: boolean } = {}): SiteFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new SiteFileError(
      file,
      doc.errors.map((e) => ({ path: '', line: lineCounter.linePos(e.pos[0]).line, message: `YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const lineOf = (path: readonly PathPart[]): number | undefined => {
    // Walk up to the nearest node that exists (a missing key points at its parent).
    for (let n = path.length; n >= 0; n--) {
      const node = path.length === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      if (n === 0) break;
    }
    return undefined;
  };
  const parsed = siteFileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => ({
      path: formatPath(issue.path as PathPart[]),
      line: lineOf(issue.path as PathPart[]),
      message: issue.message,
    }));
    throw new SiteFileError(file, problems);
  }
  if (opts.baseDir !== undefined) resolveFloorPlanImages(parsed.data.floorPlans, opts.baseDir);
  const found = crossCheck(parsed.data);
  if (opts.checkFiles) found.push(...floorPlanImageProblems(parsed.data.floorPlans));
  const problems = found.map((p) => ({ path: formatPath(p.path), line: lineOf(p.path), message: p.message }));
  if (problems.length > 0) throw new SiteFileError(file, problems);
  return parsed.data;
}

/** Checks what zod cannot see alone: references between sections, duplicates, cycles. */
function crossCheck(site: SiteFile): { path: PathPart[]; message: string }[] {
  const problems: { path: PathPart[]; message: string }[] = [];
  const uniqueIds = (section: 'areas' | 'devices' | 'doors' | 'schedules', items: { id: string }[]) => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      if (seen.has(item.id)) problems.push({ path: [section, i, 'id'], message: `duplicate id "${item.id}"` });
      seen.add(item.id);
    });
  };
  uniqueIds('schedules', site.schedules);
  uniqueIds('areas', site.areas);
  uniqueIds('devices', site.devices);
  uniqueIds('doors', site.doors);
  problems.push(...outboundProblems(site));
  problems.push(...homeAssistantProblems(site));

  const schedules = new Set(site.schedules.map((s) => s.id));
  const areas = new Map(site.areas.map((a) => [a.id, a]));
  const devices = new Map(site.devices.map((d) => [d.id, d]));

  site.areas.forEach((area, i) => {
    if (area.schedule && !schedules.has(area.schedule)) {
      problems.push({ path: ['areas', i, 'schedule'], message: `unknown schedule "${area.schedule}"` });
    }
    if (area.parent !== undefined) {
      if (!areas.has(area.parent)) problems.push({ path: ['areas', i, 'parent'], message: `unknown area "${area.parent}"` });
      const seen = new Set([area.id]);
      for (let up = areas.get(area.parent); up; up = up.parent ? areas.get(up.parent) : undefined) {
        if (seen.has(up.id)) {
          problems.push({ path: ['areas', i, 'parent'], message: `areas nest in a cycle through "${up.id}"` });
          break;
        }
        seen.add(up.id);
      }
    }
  });

  site.areas.forEach((area, i) => {
    for (const field of ['emergencyInputs', 'sensors'] as const) {
      area[field].forEach((ref, j) => {
        if (!devices.has(ref)) problems.push({ path: ['areas', i, field, j], message: `unknown device "${ref}"` });
      });
    }
    // REX does not say who left, so hard anti-passback needs an exit reader at every door of the area.
    if (area.antiPassback === 'hard') {
      site.doors.forEach((door, d) => {
        if (door.area === area.id && !door.exitReader) {
          problems.push({ path: ['doors', d, 'exitReader'], message: `area "${area.id}" has hard anti-passback: the door needs an exit reader` });
        }
      });
    }
    const needsKeypad = area.factors.length === 2 || area.factors[0] === 'pin';
    if (needsKeypad) {
      site.doors.forEach((door, d) => {
        if (door.area === area.id && !door.keypad) {
          problems.push({ path: ['doors', d, 'keypad'], message: `area "${area.id}" requires ${area.factors.join(' + ')}: the door needs a keypad` });
        }
      });
    }
  });
  for (const field of ['primaryFailInput', 'standbyTroubleInput'] as const) {
    const ref = site.power[field];
    if (ref !== undefined && !devices.has(ref)) problems.push({ path: ['power', field], message: `unknown device "${ref}"` });
  }

  const lockOwner = new Map<string, string>();
  site.doors.forEach((door, i) => {
    if (!areas.has(door.area)) problems.push({ path: ['doors', i, 'area'], message: `unknown area "${door.area}"` });
    if (!door.entryReader && !door.keypad) {
      problems.push({ path: ['doors', i], message: 'a door needs an entryReader or a keypad' });
    }
    for (const field of DOOR_ROLE_NAMES) {
      const kinds: readonly DeviceKind[] = DOOR_ROLES[field].kinds;
      const ref = door[field];
      if (ref === undefined) continue;
      const device = devices.get(ref);
      if (!device) problems.push({ path: ['doors', i, field], message: `unknown device "${ref}"` });
      else if (!kinds.includes(device.kind)) {
        problems.push({ path: ['doors', i, field], message: `device "${ref}" is a ${device.kind}, not a ${kinds.join(' or ')}` });
      }
    }
    const owner = lockOwner.get(door.lock);
    if (owner) problems.push({ path: ['doors', i, 'lock'], message: `lock "${door.lock}" already drives door "${owner}"` });
    lockOwner.set(door.lock, door.id);
  });

  const pins = new Map<number, string>();
  site.devices.forEach((device, i) => {
    if (device.transport !== 'gpio' || !device.gpio) return;
    const other = pins.get(device.gpio.pin);
    if (other) problems.push({ path: ['devices', i, 'gpio', 'pin'], message: `pin ${device.gpio.pin} is already used by "${other}"` });
    pins.set(device.gpio.pin, device.id);
    if (kindOf(device.kind).input === 'named' && !device.input) {
      problems.push({ path: ['devices', i, 'input'], message: 'a GPIO input device needs input: (emergency, tamper, key, ...)' });
    }
  });
  problems.push(...checkZones(site));
  problems.push(...checkPatrols(site.patrols, devices));
  problems.push(...checkCameras(site));
  problems.push(...checkAlarmSettings(site));
  problems.push(...checkSafes(site));
  problems.push(...checkDoorDialLocks(site));
  problems.push(...checkFloorPlans(site));
  return problems;
}
