// What the people-side services share: the site file as it stands, times as stored, refusals.
import type { SiteFile } from '../site/schema.js';
import type { ServiceDeps } from './index.js';
import { ServiceError } from './errors.js';

/** The site file now: the running controller's (a reload replaces it), else the one the CLI loaded. */
export function siteOf(deps: ServiceDeps): SiteFile {
  const site = deps.site?.() ?? deps.controller?.ctx.site;
  if (!site) throw new Error('the services need the site file: give ServiceDeps.site or a controller');
  return site;
}

/** Stored times are UTC ISO strings, so they sort and compare as text. */
export const toIso = (s: string): string => new Date(s).toISOString();

/** A refused field of the request (the API's 400 "invalid body" with the field named). */
export const invalidField = (path: string, message: string): ServiceError => new ServiceError('invalid', 'invalid body', [{ path, message }]);

/** Two calls racing for one staff number or card: the database's unique index decides, as a conflict. */
export function uniqueOrConflict<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new ServiceError('conflict', `${what} is taken`);
    throw err;
  }
}
