// Dial locks for managers and auditors: each lock's rotation state, recording a rotation, reporting a
// leak, and the ledger of code holders. The code itself is never stored or accepted: any body that
// carries one (a field named for it, or a 3×2-digit pattern in free text) is refused. Each change and
// its audit record commit in one transaction; the controller then re-arms its reminders.
import { codeHolderDecision, type DialLock, dialLocksOf, dueOf } from '../controller/dial-locks.js';
import { type DialDueReason, findDialCode, MAX_BODY_DEPTH, nestsDeeperThan } from '../policy/dial-rotation.js';
import type { Lang } from '../i18n/labels.js';
import type { CodeHolderRecord } from '../store/dial-locks.js';
import { type Actor, assertMayApprove } from './actor.js';
import { recordChange } from './audit.js';
import { invalidField, siteOf } from './common.js';
import { csvFile } from './csv.js';
import { namesOf, type Names } from './doors.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import type { Reminder } from './reminders.js';

export interface DialLockView {
  id: string;
  /** What the dial locks; `safe` or `door` names it (the lock's own id either way). */
  kind: 'safe' | 'door';
  safe?: string;
  door?: string;
  name: Names;
  area: string;
  location: string;
  custodian: string;
  delegates: string[];
  rotationMonths: number;
  remindDays: number[];
  lastRotatedAt: string | null;
  lastRotatedBy: string | null;
  dueAt: string;
  dueReasons: DialDueReason[];
  overdue: boolean;
  holders: number;
}

export interface CodeHolderView {
  personId: string;
  name: string | null;
  addedAt: string;
  addedBy: string;
}

const DAY_MS = 86_400_000;

/** Refuses a body (or CLI options) that carries a dial code, naming where. */
export function refuseDialCode(body: unknown): void {
  if (nestsDeeperThan(body, MAX_BODY_DEPTH)) {
    throw new ServiceError('invalid', `the body nests more than ${MAX_BODY_DEPTH} levels deep: it cannot be looked through for a dial code`);
  }
  const at = findDialCode(body);
  if (at) {
    throw new ServiceError('invalid', 'a dial code is never stored or accepted: record that the code changed, not the code', [
      { path: at, message: 'looks like a dial code (a code field, or three two-digit numbers): leave the code out' },
    ]);
  }
}

/** Whose access holders may know a lock's code, as a refusal names them. */
function holdersOf(lock: DialLock): string {
  return lock.kind === 'safe' ? `safe "${lock.id}"` : `area "${lock.holders.area}" (door "${lock.id}")`;
}

/** The controller re-checks a person's code holdings (after a grant is revoked, a status changes). */
export function accessChanged(deps: ServiceDeps, personId: string): void {
  deps.controller?.ctx.bus.emit('access.changed', { personId });
}

export class DialLockService {
  constructor(private readonly deps: ServiceDeps) {}

  list(): DialLockView[] {
    return this.locks().map((l) => this.view(l));
  }

  get(id: string): DialLockView {
    return this.view(this.lock(id));
  }

  /** Records that the code changed (`dial-lock.rotate`): when, by whom, why; never the code. */
  rotate(actor: Actor, id: string, body: { rotatedAt: string; by: string; reason: string }): DialLockView {
    refuseDialCode(body);
    assertMayApprove(actor);
    const lock = this.lock(id);
    const rotatedAt = new Date(body.rotatedAt);
    if (Number.isNaN(rotatedAt.getTime())) throw invalidField('rotatedAt', 'not a time');
    const now = this.deps.now();
    if (rotatedAt.getTime() > now.getTime() + 60_000) throw invalidField('rotatedAt', 'is in the future');
    const last = this.deps.store.dialLocks.lastRotation(lock.id);
    if (last && rotatedAt.toISOString() <= last.rotatedAt) throw invalidField('rotatedAt', `is not after the last rotation (${last.rotatedAt})`);
    const { store } = this.deps;
    store.transaction(() => {
      const r = store.dialLocks.addRotation({
        lockId: lock.id,
        rotatedAt: rotatedAt.toISOString(),
        by: body.by,
        reason: body.reason,
        recordedAt: now.toISOString(),
      });
      recordChange(store, actor, 'dial-lock.rotate', `dial-lock:${lock.id}`, { rotationId: r.id, rotatedAt: r.rotatedAt, by: body.by, reason: body.reason });
    });
    this.deps.controller?.dialLocks.changed();
    return this.view(lock);
  }

  /** Someone reports the code may have leaked (`dial-lock.leak-report`): the rotation is due at once. */
  reportLeak(actor: Actor, id: string, body: { note: string }): DialLockView {
    refuseDialCode(body);
    assertMayApprove(actor);
    const lock = this.lock(id);
    const { store } = this.deps;
    const at = this.deps.now().toISOString();
    store.transaction(() => {
      const t = store.dialLocks.addTrigger({ lockId: lock.id, reason: 'leak-reported', at, personId: null, note: body.note, reportedBy: actor.username });
      recordChange(store, actor, 'dial-lock.leak-report', `dial-lock:${lock.id}`, { triggerId: t.id, note: body.note });
    });
    this.deps.controller?.dialLocks.changed();
    return this.view(lock);
  }

  holders(id: string): CodeHolderView[] {
    const lock = this.lock(id);
    return this.deps.store.dialLocks.holders(lock.id).map((h) => this.holderView(h));
  }

  /** The code holders' ledger for an actor to take away (`dial-lock.holders-export`): data, or CSV text. */
  exportHolders(actor: Actor, id: string, format: 'json' | 'csv', lang: Lang): { holders: CodeHolderView[]; csv?: string } {
    const holders = this.holders(id);
    recordChange(this.deps.store, actor, 'dial-lock.holders-export', `dial-lock:${id}`, { format, lang, holders: holders.length });
    if (format === 'json') return { holders };
    const header = lang === 'ja' ? ['ダイヤル錠', '人員ID', '氏名', '登録日時', '登録者'] : ['dial lock', 'person id', 'name', 'added at', 'added by'];
    return {
      holders,
      csv: csvFile(
        header,
        holders.map((h) => [id, h.personId, h.name ?? '', h.addedAt, h.addedBy]),
      ),
    };
  }

  /** Adds a code holder (`dial-lock.holder-add`): only an access holder of the safe or door, else refused with the reason. */
  addHolder(actor: Actor, id: string, body: { personId: string }): CodeHolderView {
    refuseDialCode(body);
    assertMayApprove(actor);
    const lock = this.lock(id);
    const { store } = this.deps;
    const now = this.deps.now();
    const decision = codeHolderDecision(store, siteOf(this.deps), lock, body.personId, now);
    if (!decision.ok) {
      if (!store.people.person(body.personId)) throw invalidField('personId', 'no such person');
      throw new ServiceError('conflict', `not an access holder of ${holdersOf(lock)} (${decision.reason}): only its access holders may know the code`, [
        { path: 'personId', message: decision.reason },
      ]);
    }
    if (store.dialLocks.holders(lock.id).some((h) => h.personId === body.personId)) throw new ServiceError('conflict', 'already a code holder');
    const added = store.transaction(() => {
      const h = store.dialLocks.addHolder(lock.id, body.personId, now.toISOString(), actor.username);
      recordChange(store, actor, 'dial-lock.holder-add', `dial-lock:${lock.id}`, { personId: body.personId, grantId: decision.grantId });
      return h;
    });
    return this.holderView(added);
  }

  /**
   * Takes a holder off (`dial-lock.holder-remove`). They still know the code, so the rotation is due at
   * once, as when a holder loses access.
   */
  removeHolder(actor: Actor, id: string, personId: string): DialLockView {
    assertMayApprove(actor);
    const lock = this.lock(id);
    const { store } = this.deps;
    const at = this.deps.now().toISOString();
    store.transaction(() => {
      if (!store.dialLocks.removeHolder(lock.id, personId, at, 'removed')) throw notFound('code holder');
      store.dialLocks.addTrigger({ lockId: lock.id, reason: 'holder-lost-access', at, personId, note: 'removed', reportedBy: actor.username });
      recordChange(store, actor, 'dial-lock.holder-remove', `dial-lock:${lock.id}`, { personId });
    });
    this.deps.controller?.dialLocks.changed();
    return this.view(lock);
  }

  /** The reminder source: every lock due within its earliest reminder, or overdue. */
  reminders(now: Date): Reminder[] {
    return this.locks().flatMap((l) => {
      const v = this.view(l, now);
      const ahead = Math.max(0, ...l.policy.remindDays) * DAY_MS;
      if (Date.parse(v.dueAt) - ahead > now.getTime()) return [];
      return [
        {
          kind: 'dial-rotation',
          subject: `dial-lock:${l.id}`,
          name: v.name,
          dueAt: v.dueAt,
          overdue: v.overdue,
          reasons: v.dueReasons,
        },
      ];
    });
  }

  private locks(): DialLock[] {
    return dialLocksOf(siteOf(this.deps));
  }

  private lock(id: string): DialLock {
    const lock = this.locks().find((l) => l.id === id);
    if (!lock) throw notFound('dial lock');
    return lock;
  }

  private view(lock: DialLock, now = this.deps.now()): DialLockView {
    const { store } = this.deps;
    const due = dueOf(store, lock, now);
    const last = store.dialLocks.lastRotation(lock.id);
    return {
      id: lock.id,
      kind: lock.kind,
      ...(lock.kind === 'safe' ? { safe: lock.id } : { door: lock.id }),
      name: namesOf(lock.name, lock.id),
      area: lock.facts.area,
      location: lock.facts.location,
      custodian: lock.facts.custodian,
      delegates: [...lock.facts.delegates],
      rotationMonths: lock.policy.rotationMonths,
      remindDays: [...lock.policy.remindDays],
      lastRotatedAt: last?.rotatedAt ?? null,
      lastRotatedBy: last?.by ?? null,
      dueAt: new Date(due.dueAt).toISOString(),
      dueReasons: due.dueReasons,
      overdue: due.dueAt <= now.getTime(),
      holders: store.dialLocks.holders(lock.id).length,
    };
  }

  private holderView(h: CodeHolderRecord): CodeHolderView {
    return { personId: h.personId, name: this.deps.store.people.person(h.personId)?.name ?? null, addedAt: h.addedAt, addedBy: h.addedBy };
  }
}
