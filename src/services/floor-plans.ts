// Floor plans for the console: each plan with where its doors, zones and areas sit, and its picture.
// The picture is read from disk when asked for (a reload or a new file shows at once) and checked on
// the way out as `config check` checks it, so a file swapped for something else is not served.
import { readFileSync } from 'node:fs';
import { floorPlanImageProblem, floorPlanImageType, outlinePoints, type FloorPlan, type FloorPlanImageType } from '../site/floor-plans.js';
import type { SiteFile } from '../site/schema.js';
import { siteOf } from './common.js';
import { namesOf, type Names } from './doors.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';

export interface FloorPlanView {
  id: string;
  name: Names;
  width: number;
  height: number;
  image: {
    /** Where the API serves it. */
    url: string;
    contentType: FloorPlanImageType;
    /** Why it cannot be served now (missing, unreadable, too large, not the type its name says), or null. */
    problem: string | null;
  };
  doors: { door: string; name: Names; x: number; y: number }[];
  /** Outlines as polygons (a rectangle in the site file comes as its four corners). */
  zones: { zone: string; name: Names; points: [number, number][] }[];
  areas: { area: string; name: Names; points: [number, number][] }[];
}

export class FloorPlanService {
  constructor(private readonly deps: ServiceDeps) {}

  list(): FloorPlanView[] {
    const site = siteOf(this.deps);
    return site.floorPlans.map((plan) => this.view(site, plan));
  }

  get(planId: string): FloorPlanView {
    const site = siteOf(this.deps);
    return this.view(site, this.plan(site, planId));
  }

  /** The plan's picture as it is on disk, with its type. */
  image(planId: string): { contentType: FloorPlanImageType; data: Buffer } {
    const plan = this.plan(siteOf(this.deps), planId);
    const problem = floorPlanImageProblem(plan.image);
    if (problem) throw new ServiceError('not-found', `the picture of floor plan "${plan.id}" cannot be served: ${this.hidePath(plan, problem)}`);
    return { contentType: floorPlanImageType(plan.image), data: readFileSync(plan.image) };
  }

  private plan(site: SiteFile, planId: string): FloorPlan {
    const plan = site.floorPlans.find((p) => p.id === planId);
    if (!plan) throw notFound(`floor plan "${planId}"`);
    return plan;
  }

  /** The gateway's folders are nobody's business on the network: the file is named as the site file names it. */
  private hidePath(plan: FloorPlan, problem: string): string {
    const name = plan.image.split(/[\\/]/).pop() ?? 'the file';
    return problem.split(plan.image).join(name);
  }

  private view(site: SiteFile, plan: FloorPlan): FloorPlanView {
    const doors = new Map(site.doors.map((d) => [d.id, d]));
    const zones = new Map(site.zones.map((z) => [z.id, z]));
    const areas = new Map(site.areas.map((a) => [a.id, a]));
    const problem = floorPlanImageProblem(plan.image);
    return {
      id: plan.id,
      name: namesOf(plan.name, plan.id),
      width: plan.width,
      height: plan.height,
      image: {
        url: `/api/v1/floor-plans/${encodeURIComponent(plan.id)}/image`,
        contentType: floorPlanImageType(plan.image),
        problem: problem ? this.hidePath(plan, problem) : null,
      },
      doors: plan.doors.map((d) => ({ door: d.door, name: namesOf(doors.get(d.door)?.name, d.door), x: d.x, y: d.y })),
      zones: plan.zones.map((z) => ({ zone: z.zone, name: namesOf(zones.get(z.zone)?.name, z.zone), points: outlinePoints(z) })),
      areas: plan.areas.map((a) => ({ area: a.area, name: namesOf(areas.get(a.area)?.name, a.area), points: outlinePoints(a) })),
    };
  }
}
