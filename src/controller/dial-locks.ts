// Dial locks: every safe with a `dial` lock and every door with a `dialLock`. Runs
// `policy/dial-rotation.ts` for each: at start and at each reload the site file's facts are compared
// with the snapshot last seen (installed, moved, a new custodian or delegate makes the rotation due at
// once); a code holder who is no longer an access holder of the safe or of the door's area (grant ended
// or revoked, training lapsed, left) is taken off the ledger and the rotation is due at once, checked
// on `access.changed` and on an hourly sweep. Reminders ahead of the due date and the daily overdue
// alarm are raised as events (`reminder`, `rotation-overdue`), so they reach the live stream and MQTT
// `{base}/events/reminder`. The code itself is never seen here.
import {
  DEFAULT_REMIND_DAYS,
  DEFAULT_ROTATION_MONTHS,
  type DialLockFacts,
  type DialLockHistory,
  type RotationDue,
  type RotationPolicy,
  remindersBetween,
  rotationDue,
  siteChangeReasons,
} from '../policy/dial-rotation.js';
import { type SafeHolderDecision, type SafeHolderFacts, type SafeScope, safeGrantScope, safeHolderDecision } from '../policy/safe-holders.js';
import type { Label, SiteFile } from '../site/schema.js';
import type { SafeConfig } from '../site/safes.js';
import type { Store } from '../store/index.js';
import type { Context, Extension } from './context.js';

export interface DialLock {
  /** The safe's or the door's id. */
  id: string;
  /** What the dial locks: a safe, or a restricted-area door. */
  kind: 'safe' | 'door';
  /** Whose access holders may know the code: the safe's (its own or its area's), or the door's area's. */
  holders: SafeScope;
  name: Label;
  facts: DialLockFacts;
  policy: RotationPolicy;
}

const SWEEP_MS = 3_600_000;

type DialLockSettings = Pick<SafeConfig, 'custodian' | 'delegates' | 'location' | 'rotationMonths' | 'remindDays'>;

function factsAndPolicy(area: string, lock: DialLockSettings, site: SiteFile): Pick<DialLock, 'facts' | 'policy'> {
  return {
    facts: {
      area,
      location: lock.location ?? '',
      custodian: lock.custodian === undefined ? '' : String(lock.custodian),
      delegates: lock.delegates.map(String),
    },
    policy: {
      rotationMonths: lock.rotationMonths ?? DEFAULT_ROTATION_MONTHS,
      remindDays: lock.remindDays ?? DEFAULT_REMIND_DAYS,
      timeZone: site.site.timezone,
    },
  };
}

/**
 * The dial locks of a site: every safe with a dial, then every door with a `dialLock`; each takes the
 * safe's or the door's id (the site checks keep the two apart).
 */
export function dialLocksOf(site: SiteFile): DialLock[] {
  const safes = site.safes
    .filter((s) => s.locks.includes('dial'))
    .map(
      (safe): DialLock => ({
        id: safe.id,
        kind: 'safe',
        holders: { id: safe.id, area: safe.area, holders: safe.holders },
        name: safe.name,
        ...factsAndPolicy(safe.area, safe, site),
      }),
    );
  // A door's code is for the people who may pass it: the access holders of its area.
  const doors = site.doors.flatMap((door): DialLock[] =>
    door.dialLock
      ? [
          {
            id: door.id,
            kind: 'door',
            holders: { id: door.id, area: door.area, holders: 'area' },
            name: door.name,
            ...factsAndPolicy(door.area, door.dialLock, site),
          },
        ]
      : [],
  );
  return [...safes, ...doors];
}

/** The lock's history as the policy reads it. */
export function historyOf(store: Store, lockId: string, firstSeenAt: string): DialLockHistory {
  const last = store.dialLocks.lastRotation(lockId);
  return {
    lastRotatedAt: last ? Date.parse(last.rotatedAt) : null,
    firstSeenAt: Date.parse(firstSeenAt),
    triggers: store.dialLocks.triggers(lockId, last?.rotatedAt ?? null).map((t) => ({ reason: t.reason, at: Date.parse(t.at) })),
  };
}

export function dueOf(store: Store, lock: DialLock, now: Date): RotationDue {
  const firstSeenAt = store.dialLocks.state(lock.id)?.firstSeenAt ?? now.toISOString();
  return rotationDue(historyOf(store, lock.id, firstSeenAt), lock.policy, now.getTime());
}

/** Whether a person holds access to what the lock closes now (the one rule: policy/safe-holders.ts). */
export function codeHolderDecision(store: Store, site: SiteFile, lock: DialLock, personId: string, now: Date): SafeHolderDecision {
  const person = store.people.person(personId);
  const standing = person ? store.people.standing(personId) : null;
  const facts: SafeHolderFacts = {
    now,
    trainingValidityMonths: site.policy.trainingValidityMonths,
    people: person && standing ? [{ id: person.id, kind: person.kind, status: person.status, ...standing }] : [],
    grants: person ? store.grants.inForce(personId, safeGrantScope(lock.holders)) : [],
  };
  return safeHolderDecision(personId, lock.holders, facts);
}

/**
 * Brings the snapshot of each lock in line with the site file: a change (or a first sighting) is a
 * trigger that makes the rotation due now. Returns the triggers recorded.
 */
export function syncWithSite(store: Store, site: SiteFile, now: Date): { lockId: string; reason: string }[] {
  const at = now.toISOString();
  const out: { lockId: string; reason: string }[] = [];
  store.transaction(() => {
    for (const lock of dialLocksOf(site)) {
      const seen = store.dialLocks.state(lock.id);
      const reasons = siteChangeReasons(seen ?? null, lock.facts);
      for (const reason of reasons) {
        store.dialLocks.addTrigger({ lockId: lock.id, reason, at, personId: null, note: null, reportedBy: 'site-file' });
        out.push({ lockId: lock.id, reason });
      }
      if (reasons.length > 0 || !seen)
        store.dialLocks.saveState({ lockId: lock.id, ...lock.facts, delegates: [...lock.facts.delegates], firstSeenAt: seen?.firstSeenAt ?? at });
    }
  });
  return out;
}

/**
 * Takes off the ledger every code holder (of one person, or everyone's) who no longer holds access to
 * what the lock closes, each with a `holder-lost-access` trigger. Returns who was taken off.
 */
export function sweepCodeHolders(store: Store, site: SiteFile, now: Date, personId?: string): { lockId: string; personId: string; reason: string }[] {
  const at = now.toISOString();
  const locks = new Map(dialLocksOf(site).map((l) => [l.id, l]));
  const out: { lockId: string; personId: string; reason: string }[] = [];
  store.transaction(() => {
    for (const h of store.dialLocks.holders()) {
      if (personId !== undefined && h.personId !== personId) continue;
      const lock = locks.get(h.lockId);
      // A lock gone from the site file keeps its ledger: it may come back, and the people still know the code.
      if (!lock) continue;
      const decision = codeHolderDecision(store, site, lock, h.personId, now);
      if (decision.ok) continue;
      store.dialLocks.removeHolder(h.lockId, h.personId, at, decision.reason);
      store.dialLocks.addTrigger({ lockId: h.lockId, reason: 'holder-lost-access', at, personId: h.personId, note: decision.reason, reportedBy: 'controller' });
      out.push({ lockId: h.lockId, personId: h.personId, reason: decision.reason });
    }
  });
  return out;
}

export class DialLocks implements Extension {
  readonly name = 'dial-locks';
  private timer?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  private off?: () => void;

  constructor(private readonly ctx: Context) {}

  start(): void {
    this.off = this.ctx.bus.on('access.changed', ({ personId }) => this.holderCheck(personId), this.name);
    this.refresh();
    this.sweeper = setInterval(() => this.holderCheck(), SWEEP_MS);
    this.sweeper.unref();
  }

  stop(): void {
    this.off?.();
    clearTimeout(this.timer);
    clearInterval(this.sweeper);
  }

  reload(_site: SiteFile): void {
    this.refresh();
  }

  /** Something changed a lock's due date (a rotation, a leak report, a holder's loss): deliver and re-arm. */
  changed(): void {
    this.deliver();
  }

  locks(): DialLock[] {
    return dialLocksOf(this.ctx.site);
  }

  private refresh(): void {
    const { store, site } = this.ctx;
    try {
      syncWithSite(store, site, this.ctx.now());
      sweepCodeHolders(store, site, this.ctx.now());
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: 'dial-locks', during: 'site sync' });
    }
    this.deliver();
  }

  private holderCheck(personId?: string): void {
    try {
      const removed = sweepCodeHolders(this.ctx.store, this.ctx.site, this.ctx.now(), personId);
      if (removed.length > 0) this.deliver();
    } catch (err) {
      this.ctx.storageFaults.report(err, { source: 'dial-locks', during: 'holder sweep' });
    }
  }

  /** Raises every reminder due since the last delivery, for each lock, and arms one timer for the next. */
  private deliver(): void {
    clearTimeout(this.timer);
    const { store } = this.ctx;
    const now = this.ctx.now();
    let next = Number.POSITIVE_INFINITY;
    for (const lock of this.locks()) {
      const state = store.dialLocks.state(lock.id);
      if (!state) continue;
      const due = dueOf(store, lock, now);
      // A restart does not repeat what was delivered; a first delivery starts a day back (today's alarm).
      const from = state.remindedUntil ? Date.parse(state.remindedUntil) : Math.min(now.getTime() - 86_400_000, due.dueAt - 1);
      const after = Math.max(from, now.getTime() - 86_400_000);
      const moments = remindersBetween(due, lock.policy, after, now.getTime()).slice(-1);
      // A new trigger on a lock already overdue (a leak report, a holder's loss) is told at once too.
      const fresh = historyOf(store, lock.id, state.firstSeenAt).triggers.some((t) => t.at > after && t.at <= now.getTime());
      if (fresh && moments.length === 0) moments.push({ kind: 'overdue', at: now.getTime(), day: Math.floor((now.getTime() - due.dueAt) / 86_400_000) });
      for (const r of moments) {
        const detail = {
          lock: lock.id,
          dueAt: new Date(due.dueAt).toISOString(),
          dueReasons: due.dueReasons,
          ...(r.kind === 'reminder' ? { daysBefore: r.daysBefore } : { day: r.day }),
        };
        if (r.kind === 'reminder')
          this.ctx.alarms.raise({ category: 'reminder', type: 'reminder', severity: 'info', source: lock.id, detail: { kind: 'dial-rotation', ...detail } });
        else this.ctx.alarms.raise({ category: 'reminder', type: 'rotation-overdue', severity: 'alarm', source: lock.id, detail });
      }
      try {
        store.dialLocks.setRemindedUntil(lock.id, now.toISOString());
      } catch (err) {
        this.ctx.storageFaults.report(err, { source: lock.id, during: 'reminders' });
      }
      const ahead = remindersBetween(due, lock.policy, now.getTime(), now.getTime() + 32 * 86_400_000)[0];
      if (ahead) next = Math.min(next, ahead.at);
    }
    if (Number.isFinite(next)) {
      // setTimeout holds at most ~24.8 days; a longer wait re-arms on the way.
      this.timer = setTimeout(() => this.deliver(), Math.min(Math.max(0, next - now.getTime()) + 1, 2 ** 31 - 1));
      this.timer.unref();
    }
  }
}
