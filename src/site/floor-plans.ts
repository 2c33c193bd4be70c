// The site file's `floorPlans:` section: a picture of the premises (SVG, PNG or JPEG, beside the site
// file) and where the doors, zones and areas sit on it, in the picture's own coordinates. The console
// draws the doors and zones live on it. Cross-references are checked by `checkFloorPlans`, called from
// load.ts; the picture itself (there, readable, small enough, what its name says) by
// `floorPlanImageProblems`, which `tobira config check` runs: the daemon starts without it (a missing
// picture must not keep the doors from working) and the API says why the picture is not served.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

const id = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lower-case letters, digits, "-" and "_", at most 64 characters');
// As schema.ts's label (schema.ts imports this file, so it is not imported back).
const label = z.union([z.string().min(1).max(200), z.strictObject({ en: z.string().min(1).max(200), ja: z.string().min(1).max(200).optional() })]);

/** The largest picture a plan may have: it is sent whole to every console that opens the plan. */
export const FLOOR_PLAN_IMAGE_MAX_BYTES = 5 * 1024 * 1024;

/** The picture types by file name ending; the content must agree (checked by `floorPlanImageProblems`). */
export const FLOOR_PLAN_IMAGE_TYPES = {
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
} as const;
export type FloorPlanImageType = (typeof FLOOR_PLAN_IMAGE_TYPES)[keyof typeof FLOOR_PLAN_IMAGE_TYPES];

const coordinate = z.number().min(0).max(100_000);
const point = z.tuple([coordinate, coordinate]);
const rect = z.strictObject({ x: coordinate, y: coordinate, width: coordinate.positive(), height: coordinate.positive() });

/** An outline on the plan: a polygon of at least three points, or a rectangle. */
const outline = {
  points: z.array(point).min(3, 'at least three points').max(200).optional(),
  rect: rect.optional(),
};
const oneOutline = (o: { points?: unknown; rect?: unknown }, ctx: z.RefinementCtx) => {
  if ((o.points === undefined) === (o.rect === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['points'], message: 'give either points: [[x, y], ...] or rect: { x, y, width, height }' });
  }
};

export const floorPlanSchema = z.strictObject({
  id,
  name: label,
  /** The picture: a path relative to the site file's folder (loadSiteFile makes it absolute). */
  image: z
    .string()
    .min(1)
    .max(1000)
    .refine((p) => extname(p).toLowerCase() in FLOOR_PLAN_IMAGE_TYPES, 'an .svg, .png, .jpg or .jpeg file'),
  /** The picture's coordinate space (an SVG's viewBox, a PNG's pixels): every x and y below is in it. */
  width: coordinate.positive(),
  height: coordinate.positive(),
  /** Where each door stands (its marker's centre). */
  doors: z.array(z.strictObject({ door: id, x: coordinate, y: coordinate })).default([]),
  /** The zones' outlines, drawn armed, disarmed or in alarm. */
  zones: z.array(z.strictObject({ zone: id, ...outline }).superRefine(oneOutline)).default([]),
  /** The areas' outlines, drawn with their names (optional). */
  areas: z.array(z.strictObject({ area: id, ...outline }).superRefine(oneOutline)).default([]),
});
export type FloorPlan = z.infer<typeof floorPlanSchema>;

export const floorPlansSchema = z.array(floorPlanSchema).max(50).default([]);

/** An outline as a polygon: a rectangle becomes its four corners. */
export function outlinePoints(o: {
  points?: [number, number][] | undefined;
  rect?: { x: number; y: number; width: number; height: number } | undefined;
}): [number, number][] {
  if (o.points) return o.points;
  const r = o.rect ?? { x: 0, y: 0, width: 0, height: 0 };
  return [
    [r.x, r.y],
    [r.x + r.width, r.y],
    [r.x + r.width, r.y + r.height],
    [r.x, r.y + r.height],
  ];
}

type Problem = { path: (string | number)[]; message: string };

/** What zod cannot see alone: unique plan ids, the doors, zones and areas exist, and they lie on the picture. */
export function checkFloorPlans(site: { floorPlans: FloorPlan[]; doors: { id: string }[]; zones: { id: string }[]; areas: { id: string }[] }): Problem[] {
  const problems: Problem[] = [];
  const known = {
    doors: new Set(site.doors.map((d) => d.id)),
    zones: new Set(site.zones.map((z) => z.id)),
    areas: new Set(site.areas.map((a) => a.id)),
  };
  const plans = new Set<string>();
  site.floorPlans.forEach((plan, i) => {
    if (plans.has(plan.id)) problems.push({ path: ['floorPlans', i, 'id'], message: `duplicate id "${plan.id}"` });
    plans.add(plan.id);
    const outside = (x: number, y: number) => x > plan.width || y > plan.height;
    const where = `outside the plan's ${plan.width} × ${plan.height}`;

    const doors = new Set<string>();
    plan.doors.forEach((d, j) => {
      const path = ['floorPlans', i, 'doors', j];
      if (!known.doors.has(d.door)) problems.push({ path: [...path, 'door'], message: `unknown door "${d.door}"` });
      else if (doors.has(d.door)) problems.push({ path: [...path, 'door'], message: `door "${d.door}" is on this plan already` });
      doors.add(d.door);
      if (outside(d.x, d.y)) problems.push({ path, message: `(${d.x}, ${d.y}) is ${where}` });
    });

    for (const [section, field, kind] of [
      ['zones', 'zone', 'zone'],
      ['areas', 'area', 'area'],
    ] as const) {
      const seen = new Set<string>();
      plan[section].forEach((o, j) => {
        const ref = field === 'zone' ? (o as { zone: string }).zone : (o as { area: string }).area;
        const path = ['floorPlans', i, section, j];
        if (!known[section].has(ref)) problems.push({ path: [...path, field], message: `unknown ${kind} "${ref}"` });
        else if (seen.has(ref)) problems.push({ path: [...path, field], message: `${kind} "${ref}" is on this plan already` });
        seen.add(ref);
        const off = outlinePoints(o).find(([x, y]) => outside(x, y));
        if (off) problems.push({ path: [...path, o.rect ? 'rect' : 'points'], message: `(${off[0]}, ${off[1]}) is ${where}` });
      });
    }
  });
  return problems;
}

/** Makes each plan's picture path absolute, against the folder the site file is in. */
export function resolveFloorPlanImages(plans: FloorPlan[], baseDir: string): void {
  for (const plan of plans) if (!isAbsolute(plan.image)) plan.image = resolve(baseDir, plan.image);
}

export function floorPlanImageType(file: string): FloorPlanImageType {
  return FLOOR_PLAN_IMAGE_TYPES[extname(file).toLowerCase() as keyof typeof FLOOR_PLAN_IMAGE_TYPES] ?? 'image/png';
}

/** Does the start of the file look like the type its name says? */
export function imageContentMatches(type: FloorPlanImageType, head: Buffer): boolean {
  if (type === 'image/png') return head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  if (type === 'image/jpeg') return head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff;
  // An SVG: an <svg> root, perhaps after a BOM, an XML declaration, comments and a doctype.
  return /^\uFEFF?\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*|<!DOCTYPE[^>[]*(\[[\s\S]*?\])?\s*>\s*)*<svg[\s>/]/i.test(head.toString('utf8'));
}

/**
 * Why a picture cannot be served (missing, unreadable, too large, not the type its name says), or null.
 * Reads only the file's start: the API reads it whole when it serves it.
 */
export function floorPlanImageProblem(file: string): string | null {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) return `${file} is not a file`;
    size = stat.size;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file}: ${(err as Error).message}`;
  }
  if (size > FLOOR_PLAN_IMAGE_MAX_BYTES) return `${file} is ${size} bytes: at most ${FLOOR_PLAN_IMAGE_MAX_BYTES} (5 MiB)`;
  if (size === 0) return `${file} is empty`;
  const head = Buffer.alloc(Math.min(size, 4096));
  try {
    const fd = openSync(file, 'r');
    try {
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return `cannot read ${file}: ${(err as Error).message}`;
  }
  const type = floorPlanImageType(file);
  if (!imageContentMatches(type, head)) return `${file} is not ${type === 'image/svg+xml' ? 'an SVG' : type === 'image/png' ? 'a PNG' : 'a JPEG'} picture`;
  return null;
}

/** Every plan whose picture cannot be served, for `config check` (paths already absolute). */
export function floorPlanImageProblems(plans: FloorPlan[]): Problem[] {
  const problems: Problem[] = [];
  plans.forEach((plan, i) => {
    const problem = floorPlanImageProblem(plan.image);
    if (problem) problems.push({ path: ['floorPlans', i, 'image'], message: problem });
  });
  return problems;
}
