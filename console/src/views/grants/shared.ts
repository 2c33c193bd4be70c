// What the managers' views share: the API's shapes they read, the names of areas and safes in the
// page's language, and a refusal from the API put in words.
import { ApiProblem, get } from '../../api.js';
import { localized, t } from '../../i18n/index.js';
import './manager.css';

export interface Grant {
  id: number;
  personId: string;
  personName: string;
  areaId: string;
  validFrom: string;
  validUntil: string | null;
  purpose: string;
  outOfHours: boolean;
  reviewBy: string | null;
  status: 'pending' | 'active' | 'revoked';
  grantedBy: string;
  grantedAt: string;
  approvedBy: string | null;
  approvedAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export type Names = { en: string; ja?: string };
export interface Place {
  id: string;
  name: Names;
  kind: 'area' | 'safe';
}

export type Notice = { kind: 'ok' | 'error'; text: string } | null;

let places: Promise<Place[]> | undefined;

/** The site's areas and safes (a grant names either), read once per page load. */
export function loadPlaces(): Promise<Place[]> {
  places ??= Promise.all([get<Page<{ id: string; name: Names }>>('/areas?limit=500'), get<{ items: { id: string; name: Names }[] }>('/safes')])
    .then(([areas, safes]) => [
      ...areas.items.map((a) => ({ id: a.id, name: a.name, kind: 'area' as const })),
      ...safes.items.map((s) => ({ id: s.id, name: s.name, kind: 'safe' as const })),
    ])
    .catch((e: unknown) => {
      places = undefined;
      throw e;
    });
  return places;
}

export function placeName(list: Place[], id: string): string {
  const p = list.find((x) => x.id === id);
  return p ? localized(p.name) : id;
}

/**
 * A refusal in words: the four-eyes ones in the page's language; otherwise the shell's words for the
 * status, with the API's own reason where it gives one (a 409 says why the state forbids it).
 */
export function refusal(e: unknown): string {
  if (e instanceof ApiProblem) {
    if (/creator cannot approve/.test(e.detail)) return t('grants.refusal.own');
    if (/no longer pending|active already|^the grant is revoked$/.test(e.detail)) return t('grants.refusal.notPending');
    const words = e.words();
    return e.status === 409 && e.detail && !words.includes(e.detail) ? `${words} (${e.detail})` : words;
  }
  return e instanceof Error ? e.message : String(e);
}

/** A date input's value (YYYY-MM-DD) as the API takes it, or undefined when empty. */
export const dateOrUndefined = (v: string): string | undefined => (v.trim() === '' ? undefined : v.trim());
