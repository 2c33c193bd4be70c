// The console's views, each registered by ONE line: its hash path (`#/alarms`), the roles that see
// it (the API decides what each may do; the page follows it), its label in the nav (a key of the
// view's own dictionary) and the component. `home` names the roles that start on it; a role without
// one starts on the first view it may see.
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Key } from './i18n/index.js';
import type { Role } from './session.js';
import { AlarmsView } from './views/alarms.js';
import { AuditView } from './views/audit.js';
import { DoorsView } from './views/doors.js';
import { EntriesView } from './views/entries.js';
import { GrantsView } from './views/grants.js';
import { InsideView } from './views/inside.js';
import { LedgerView } from './views/ledger.js';
import { OverviewView } from './views/overview.js';
import { PatrolsView } from './views/patrols.js';
import { PeopleView } from './views/people.js';
import { RemindersView } from './views/reminders.js';
import { ReviewsView } from './views/reviews.js';
import { VerifyView } from './views/verify.js';
import { VisitorsView } from './views/visitors.js';
import { FloorPlanView } from './views/floor-plan.js';

export interface Route {
  path: string;
  roles: readonly Role[];
  label: Key;
  view: ComponentType;
  home?: readonly Role[];
}

export const EVERY_ROLE: readonly Role[] = ['guard', 'manager', 'auditor', 'admin'];

export const routes: readonly Route[] = [
  { path: 'overview', roles: EVERY_ROLE, label: 'overview.title', view: OverviewView },
  { path: 'entries', roles: ['auditor'], label: 'entries.title', view: EntriesView, home: ['auditor'] },
  { path: 'audit', roles: ['auditor', 'admin'], label: 'audit.title', view: AuditView },
  { path: 'verify', roles: ['auditor', 'admin'], label: 'verify.title', view: VerifyView },
  { path: 'alarms', roles: ['guard', 'manager'], label: 'alarms.title', view: AlarmsView, home: ['guard'] },
  { path: 'doors', roles: ['guard', 'manager'], label: 'doors.title', view: DoorsView },
  { path: 'inside', roles: ['guard', 'manager'], label: 'inside.title', view: InsideView },
  { path: 'patrols', roles: ['guard', 'manager'], label: 'patrols.title', view: PatrolsView },
  { path: 'visitors', roles: ['guard', 'manager'], label: 'visitors.title', view: VisitorsView },
  { path: 'floor-plan', roles: ['guard', 'manager', 'auditor'], label: 'floorPlan.title', view: FloorPlanView },
  // Managers start on the four-eyes queue and what is due: the decisions waiting for them.
  { path: 'grants', roles: ['manager', 'auditor'], label: 'grants.nav', view: GrantsView, home: ['manager'] },
  { path: 'people', roles: ['manager'], label: 'people.nav', view: PeopleView },
  { path: 'reviews', roles: ['manager'], label: 'reviews.nav', view: ReviewsView },
  { path: 'reminders', roles: ['manager'], label: 'reminders.nav', view: RemindersView },
  { path: 'ledger', roles: ['manager', 'auditor'], label: 'ledger.nav', view: LedgerView },
];

export function routesFor(role: Role): Route[] {
  return routes.filter((r) => r.roles.includes(role));
}

export function homeOf(role: Role): Route | undefined {
  const mine = routesFor(role);
  return mine.find((r) => r.home?.includes(role)) ?? mine[0];
}

/** The hash's path and its parameters: `#/entries?door=lab-door`. */
export interface Location {
  path: string;
  params: URLSearchParams;
}

export function currentLocation(): Location {
  const hash = location.hash.replace(/^#\/?/, '');
  const q = hash.indexOf('?');
  return { path: q < 0 ? hash : hash.slice(0, q), params: new URLSearchParams(q < 0 ? '' : hash.slice(q + 1)) };
}

export function hrefOf(path: string, params?: Record<string, string>): string {
  const query = params ? new URLSearchParams(params).toString() : '';
  return `#/${path}${query ? `?${query}` : ''}`;
}

export function navigate(path: string, params?: Record<string, string>): void {
  location.hash = hrefOf(path, params);
}

/** The current hash location; renders again when it changes. */
export function useLocation(): Location {
  const [loc, set] = useState(currentLocation);
  useEffect(() => {
    const update = () => set(currentLocation());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return loc;
}
