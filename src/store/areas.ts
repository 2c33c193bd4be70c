// Area state that outlives a restart: each area's mode, and who is inside (anti-passback).
import type { Db } from './db.js';
import type { AreaMode } from '../policy/vocabulary.js';

export type { AreaMode };

export interface AreaModeState {
  mode: AreaMode;
  allowedRoles: string[];
  changedAt: string | null;
  changedBy: string | null;
}

export class AreaStore {
  private readonly q;
  constructor(db: Db) {
    this.q = {
      mode: db.prepare('SELECT mode, allowed_roles AS allowedRoles, changed_at AS changedAt, changed_by AS changedBy FROM area_modes WHERE area_id = ?'),
      setMode: db.prepare(`INSERT INTO area_modes (area_id, mode, allowed_roles, changed_at, changed_by) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(area_id) DO UPDATE SET mode = excluded.mode, allowed_roles = excluded.allowed_roles, changed_at = excluded.changed_at, changed_by = excluded.changed_by`),
      inside: db.prepare('SELECT 1 FROM occupancy WHERE area_id = ? AND person_id = ?'),
      enter: db.prepare('INSERT OR REPLACE INTO occupancy (area_id, person_id, entered_at) VALUES (?, ?, ?)'),
      leave: db.prepare('DELETE FROM occupancy WHERE area_id = ? AND person_id = ?'),
      occupants: db.prepare('SELECT person_id AS personId, entered_at AS enteredAt FROM occupancy WHERE area_id = ? ORDER BY entered_at'),
    };
  }

  mode(areaId: string): AreaModeState {
    const row = this.q.mode.get(areaId) as { mode: AreaMode; allowedRoles: string; changedAt: string; changedBy: string } | undefined;
    if (!row) return { mode: 'normal', allowedRoles: [], changedAt: null, changedBy: null };
    return { ...row, allowedRoles: JSON.parse(row.allowedRoles) as string[] };
  }

  setMode(areaId: string, mode: AreaMode, allowedRoles: string[], by: string, at: string): void {
    this.q.setMode.run(areaId, mode, JSON.stringify(allowedRoles), at, by);
  }

  isInside(areaId: string, personId: string): boolean {
    return this.q.inside.get(areaId, personId) !== undefined;
  }

  enter(areaId: string, personId: string, at: string): void {
    this.q.enter.run(areaId, personId, at);
  }

  leave(areaId: string, personId: string): void {
    this.q.leave.run(areaId, personId);
  }

  occupants(areaId: string): { personId: string; enteredAt: string }[] {
    return this.q.occupants.all(areaId) as { personId: string; enteredAt: string }[];
  }
}
