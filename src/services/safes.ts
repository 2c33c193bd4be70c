// Safes for managers, guards and auditors: each safe with its state now and its last openings and
// closings from the entry log. Reading only: a safe is opened with its locks, never by the API.
import type { Controller } from '../controller/controller.js';
import type { SafeView as SafeState } from '../controller/safes.js';
import type { SafeConfig } from '../site/safes.js';
import type { EntryRecord } from '../store/entry-log.js';
import { namesOf, type Names } from './doors.js';
import { notFound } from './errors.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';

export interface SafeOpening {
  seq: number;
  at: string;
  reason: string;
  personId: string | null;
  personName: string | null;
  affiliation: string | null;
  purpose: string | null;
  detail: Record<string, unknown> | null;
}

export interface SafeView extends SafeState {
  name: Names;
  holders: SafeConfig['holders'];
  location: string | null;
  custodian: number | null;
  delegates: number[];
  authWindowSeconds: number;
  heldOpenMs: number;
}

export interface SafeDetail extends SafeView {
  /** The safe's latest entry-log records (openings, unauthorised openings, closings), newest first. */
  lastOpenings: SafeOpening[];
}

const LAST_OPENINGS = 20;

export class SafeService {
  constructor(private readonly deps: ServiceDeps) {}

  private get controller(): Controller {
    return running(this.deps);
  }

  list(): SafeView[] {
    return this.controller.ctx.site.safes.map((s) => this.view(s));
  }

  get(safeId: string): SafeDetail {
    const safe = this.controller.ctx.site.safes.find((s) => s.id === safeId);
    if (!safe) throw notFound('safe');
    // A safe's records carry its id as their doorId (controller/safes.ts).
    const records = this.deps.store.entryLog.recent(LAST_OPENINGS, { doorId: safe.id });
    return { ...this.view(safe), lastOpenings: records.map(opening) };
  }

  private view(s: SafeConfig): SafeView {
    const state = this.controller.safes.get(s.id);
    if (!state) throw notFound('safe');
    return {
      ...state,
      name: namesOf(s.name, s.id),
      holders: s.holders,
      location: s.location ?? null,
      custodian: s.custodian ?? null,
      delegates: s.delegates,
      authWindowSeconds: s.authWindowSeconds,
      heldOpenMs: s.heldOpenMs,
    };
  }
}

function opening(r: EntryRecord): SafeOpening {
  return {
    seq: r.seq,
    at: r.at,
    reason: r.reason ?? '',
    personId: r.personId,
    personName: r.personName,
    affiliation: r.affiliation,
    purpose: r.purpose,
    detail: r.detail,
  };
}
