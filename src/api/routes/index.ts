// Every route module of /api/v1, one per resource. (/metrics sits at the root: see app.ts.)
import type { Api, ApiContext } from '../context.js';
import { authRoutes } from './auth.js';
import { accountRoutes } from './accounts.js';
import { auditRoutes } from './audit.js';
import { peopleRoutes } from './people.js';
import { peopleImportRoutes } from './people-import.js';
import { grantRoutes } from './grants.js';
import { reviewRoutes } from './reviews.js';
import { ledgerRoutes } from './ledger.js';
import { visitRoutes } from './visits.js';
import { visitorBadgeRoutes } from './visitor-badges.js';
import { siteRoutes } from './site.js';
import { entryRoutes } from './entries.js';
import { streamRoutes } from './stream.js';
import { snapshotRoutes } from './snapshots.js';
import { zoneRoutes } from './zones.js';
import { safeRoutes } from './safes.js';
import { alarmRoutes } from './alarms.js';
import { patrolRoutes } from './patrols.js';
import { keyRoutes } from './keys.js';
import { dialLockRoutes } from './dial-locks.js';
import { floorPlanRoutes } from './floor-plans.js';

export async function registerRoutes(api: Api, ctx: ApiContext): Promise<void> {
  for (const routes of [
    authRoutes,
    accountRoutes,
    auditRoutes,
    peopleRoutes,
    peopleImportRoutes,
    grantRoutes,
    reviewRoutes,
    ledgerRoutes,
    visitRoutes,
    visitorBadgeRoutes,
    siteRoutes,
    entryRoutes,
    streamRoutes,
    snapshotRoutes,
    zoneRoutes,
    safeRoutes,
    alarmRoutes,
    patrolRoutes,
    keyRoutes,
    dialLockRoutes,
    floorPlanRoutes,
  ]) {
    await routes(api, ctx);
  }
}
