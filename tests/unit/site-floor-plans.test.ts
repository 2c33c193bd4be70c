// The site file's floorPlans section: the example's plan, refusals of unknown doors, zones and areas
// and of coordinates off the picture, and `config check` refusing a picture that cannot be served.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { floorPlanImageProblem, FLOOR_PLAN_IMAGE_MAX_BYTES } from '../../src/site/floor-plans.js';
import { formatProblem, loadSiteFile, parseSiteText, SiteFileError } from '../../src/site/load.js';
import { CLI, FIXTURE_SITE, ROOT } from '../helpers/daemon.js';

const example = readFileSync(FIXTURE_SITE, 'utf8');
const EXAMPLE_SVG = join(ROOT, 'examples/floor-plan.svg');
// The smallest PNG there is: one transparent pixel.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

// biome-ignore lint/suspicious/noExplicitAny: the plan is edited as plain YAML data, checked by the schema when parsed
type RawPlan = any;

/** The example site with its plan changed by `edit`. */
function withPlan(edit: (plan: RawPlan) => void): string {
  const raw = parse(example);
  edit(raw.floorPlans[0]);
  return stringify(raw);
}

function problems(text: string): string[] {
  try {
    parseSiteText(text, 'site.yaml');
  } catch (err) {
    if (err instanceof SiteFileError) return err.problems.map(formatProblem);
    throw err;
  }
  return [];
}

/** Writes the site file into a folder of its own with `files` beside it (a name ending in "/" is a folder); returns the folder. */
function writeSite(text: string, files: Record<string, Buffer | string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-plan-'));
  for (const [name, data] of Object.entries(files)) {
    if (name.endsWith('/')) mkdirSync(join(dir, name));
    else writeFileSync(join(dir, name), data);
  }
  writeFileSync(join(dir, 'site.yaml'), text);
  return dir;
}

describe('site file: floorPlans', () => {
  it('the example site has a plan with both doors, the zone and both areas; rects become polygons only in the API', () => {
    const site = parseSiteText(example);
    expect(site.floorPlans).toHaveLength(1);
    const plan = site.floorPlans[0]!;
    expect(plan).toMatchObject({ id: 'ground-floor', image: 'floor-plan.svg', width: 1000, height: 600 });
    expect(plan.doors.map((d) => d.door)).toEqual(['lab-main', 'vault-door']);
    expect(plan.zones.map((z) => z.zone)).toEqual(['lab-night']);
    expect(plan.areas.map((a) => a.area)).toEqual(['lab', 'vault']);
    expect(plan.areas[1]!.rect).toEqual({ x: 20, y: 20, width: 280, height: 220 });
  });

  it('loadSiteFile makes the picture path absolute, against the site file folder', () => {
    const site = loadSiteFile(FIXTURE_SITE);
    expect(site.floorPlans[0]!.image).toBe(EXAMPLE_SVG);
    expect(floorPlanImageProblem(EXAMPLE_SVG)).toBeNull();
  });

  it('no floorPlans section: none', () => {
    const raw = parse(example);
    delete raw.floorPlans;
    expect(parseSiteText(stringify(raw)).floorPlans).toEqual([]);
  });

  it('refuses unknown doors, zones and areas, naming them with their line', () => {
    const found = problems(
      withPlan((plan) => {
        plan.doors[1].door = 'attic-door';
        plan.zones[0].zone = 'attic-night';
        plan.areas[1].area = 'attic';
      }),
    );
    expect(found).toEqual([
      expect.stringMatching(/^floorPlans\[0\]\.doors\[1\]\.door: unknown door "attic-door" \(line \d+\)$/),
      expect.stringMatching(/^floorPlans\[0\]\.zones\[0\]\.zone: unknown zone "attic-night" \(line \d+\)$/),
      expect.stringMatching(/^floorPlans\[0\]\.areas\[1\]\.area: unknown area "attic" \(line \d+\)$/),
    ]);
  });

  it('refuses a door placed twice on one plan, and two plans with one id', () => {
    const raw = parse(example);
    raw.floorPlans[0].doors.push({ door: 'lab-main', x: 10, y: 10 });
    raw.floorPlans.push({ ...raw.floorPlans[0], doors: [], zones: [], areas: [] });
    const found = problems(stringify(raw));
    expect(found).toContainEqual(expect.stringMatching(/^floorPlans\[0\]\.doors\[2\]\.door: door "lab-main" is on this plan already/));
    expect(found).toContainEqual(expect.stringMatching(/^floorPlans\[1\]\.id: duplicate id "ground-floor"/));
    expect(found).toHaveLength(2);
  });

  it('refuses coordinates off the picture', () => {
    const found = problems(
      withPlan((plan) => {
        plan.doors[0].x = 1001;
        plan.zones[0].points[2] = [680, 601];
        plan.areas[1].rect.width = 990;
      }),
    );
    expect(found).toEqual([
      expect.stringMatching(/^floorPlans\[0\]\.doors\[0\]: \(1001, 460\) is outside the plan's 1000 × 600/),
      expect.stringMatching(/^floorPlans\[0\]\.zones\[0\]\.points: \(680, 601\) is outside the plan's 1000 × 600/),
      expect.stringMatching(/^floorPlans\[0\]\.areas\[1\]\.rect: \(1010, 20\) is outside the plan's 1000 × 600/),
    ]);
  });

  it('an outline is points (three or more) or a rect, not both, not neither; the picture is an SVG, PNG or JPEG', () => {
    const found = problems(
      withPlan((plan) => {
        plan.image = 'plan.gif';
        plan.zones[0].rect = { x: 0, y: 0, width: 10, height: 10 };
        delete plan.areas[1].rect;
        plan.areas[0].points = [
          [0, 0],
          [1, 1],
        ];
        plan.doors[0].x = -1;
      }),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^floorPlans\[0\]\.image: an \.svg, \.png, \.jpg or \.jpeg file/),
        expect.stringMatching(/^floorPlans\[0\]\.zones\[0\]\.points: give either points: \[\[x, y\], \.\.\.\] or rect: \{ x, y, width, height \}/),
        expect.stringMatching(/^floorPlans\[0\]\.areas\[1\]\.points: give either points/),
        expect.stringMatching(/^floorPlans\[0\]\.areas\[0\]\.points: at least three points/),
        expect.stringMatching(/^floorPlans\[0\]\.doors\[0\]\.x: /),
      ]),
    );
    expect(found).toHaveLength(5);
  });

  it('`tobira config check` passes the example with its SVG beside it, and exits 2 when the picture is missing', () => {
    const dir = writeSite(example, { 'floor-plan.svg': readFileSync(EXAMPLE_SVG) });
    const ok = spawnSync(process.execPath, [CLI, 'config', 'check', join(dir, 'site.yaml')], { encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    const missing = spawnSync(process.execPath, [CLI, 'config', 'check', join(writeSite(example), 'site.yaml')], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/floorPlans\[0\]\.image: \/.*\/floor-plan\.svg does not exist \(line \d+\)/);
  });

  it('checking files: a PNG plan passes; a picture that is not a file, empty, too large or not what its name says is refused', () => {
    const check = (image: string, files: Record<string, Buffer | string>): string[] => {
      const dir = writeSite(
        withPlan((plan) => {
          plan.image = image;
        }),
        files,
      );
      try {
        loadSiteFile(join(dir, 'site.yaml'), { checkFiles: true });
      } catch (err) {
        if (err instanceof SiteFileError) return err.problems.map(formatProblem);
        throw err;
      }
      return [];
    };
    expect(check('plan.PNG', { 'plan.PNG': PNG })).toEqual([]);
    expect(check('plans/plan.svg', {})).toEqual([expect.stringMatching(/^floorPlans\[0\]\.image: \/.*\/plans\/plan\.svg does not exist \(line \d+\)$/)]);
    expect(check('plan.svg', { 'plan.svg/': '' })).toEqual([expect.stringMatching(/plan\.svg is not a file/)]);
    expect(check('empty.svg', { 'empty.svg': '' })).toEqual([expect.stringMatching(/empty\.svg is empty/)]);
    expect(check('big.png', { 'big.png': Buffer.concat([PNG, Buffer.alloc(FLOOR_PLAN_IMAGE_MAX_BYTES)]) })).toEqual([
      expect.stringContaining(`big.png is ${PNG.length + FLOOR_PLAN_IMAGE_MAX_BYTES} bytes: at most ${FLOOR_PLAN_IMAGE_MAX_BYTES} (5 MiB)`),
    ]);
    expect(check('plan.svg', { 'plan.svg': PNG })).toEqual([expect.stringMatching(/plan\.svg is not an SVG picture/)]);
    expect(check('plan.jpg', { 'plan.jpg': readFileSync(EXAMPLE_SVG) })).toEqual([expect.stringMatching(/plan\.jpg is not a JPEG picture/)]);
    expect(check('plan.png', { 'plan.png': '<html><script>alert(1)</script></html>' })).toEqual([expect.stringMatching(/plan\.png is not a PNG picture/)]);
    // Without checkFiles (the daemon, other commands) the picture is not looked at.
    expect(loadSiteFile(join(writeSite(example), 'site.yaml')).floorPlans).toHaveLength(1);
  });

  it('an SVG with an XML declaration, comments and a doctype before its root is an SVG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tobira-plan-'));
    const file = join(dir, 'p.svg');
    writeFileSync(
      file,
      '\uFEFF<?xml version="1.0"?>\n<!-- a comment -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg xmlns="http://www.w3.org/2000/svg"/>',
    );
    expect(floorPlanImageProblem(file)).toBeNull();
    writeFileSync(file, '<?xml version="1.0"?><html><svg/></html>');
    expect(floorPlanImageProblem(file)).toMatch(/is not an SVG picture/);
  });
});
