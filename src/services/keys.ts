// Keys and master keys (the standard's key ledger): the inventory, and each loan. A key is lent only
// to an access holder of everything it opens (an area, or a safe), refused with the reason
// (src/policy/safe-holders.ts); a master key is lent only for a disaster or an emergency, and its loan raises
// `master-key-used`. Loans past their due-back time are reminders (and an event, raised by the
// controller's sweep). Managers change the inventory, guards record loans and returns, auditors read;
// every change and every export is in the audit log.
import type { DenyReason } from '../policy/access-rules.js';
import { safeGrantScope, safeHolderDecision, type SafeScope } from '../policy/safe-holders.js';
import type { MasterKeyReason } from '../policy/vocabulary.js';
import { keyOpensKindLabels, type Lang, label, masterKeyReasonLabels, reasonLabels } from '../i18n/labels.js';
import type { KeyLoan, KeyOpens, KeyRecord } from '../store/keys.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { invalidField, siteOf, toIso } from './common.js';
import { csvFile } from './csv.js';
import { notFound, ServiceError } from './errors.js';
import type { ServiceDeps } from './index.js';
import type { Reminder } from './reminders.js';

export interface NewKey {
  id: string;
  name: string;
  master?: boolean;
  opens: KeyOpens[];
  location?: string;
  note?: string;
}

export interface NewLoan {
  personId: string;
  dueBackAt: string;
  reason?: MasterKeyReason;
  note?: string;
}

export interface LoanView extends KeyLoan {
  personName: string | null;
  overdue: boolean;
}

export interface KeyView extends KeyRecord {
  /** The loan it is out on; null when it is in its cabinet. */
  loan: LoanView | null;
  /** Its last loans, newest first (the current one included). */
  loans: LoanView[];
}

/** Why a person may not borrow a key: the door's reason for what they may not enter. */
export interface LoanRefusal {
  opens: KeyOpens;
  reason: DenyReason;
}

/** A loan past its due-back time, as a reminder. */
export interface OverdueLoan {
  keyId: string;
  keyName: string;
  master: boolean;
  loanId: number;
  personId: string;
  personName: string | null;
  dueBackAt: string;
}

const columns: { en: string; ja: string; cell: (k: KeyView, l: LoanView | null, lang: Lang) => unknown }[] = [
  { en: 'key', ja: '鍵番号', cell: (k) => k.id },
  { en: 'name', ja: '鍵名称', cell: (k) => k.name },
  { en: 'master key', ja: 'マスターキー', cell: (k, _l, lang) => (k.master ? { en: 'yes', ja: '該当' } : { en: 'no', ja: '非該当' })[lang] },
  {
    en: 'opens',
    ja: '対象',
    cell: (k, _l, lang) => k.opens.map((o) => `${label(keyOpensKindLabels, o.kind, lang)}:${o.id}`).join(' '),
  },
  { en: 'location', ja: '保管場所', cell: (k) => k.location },
  { en: 'borrower id', ja: '借用者ID', cell: (_k, l) => l?.personId ?? '' },
  { en: 'borrower', ja: '借用者', cell: (_k, l) => l?.personName ?? '' },
  { en: 'lent at', ja: '貸出日時', cell: (_k, l) => l?.lentAt ?? '' },
  { en: 'lent by', ja: '貸出記録者', cell: (_k, l) => l?.lentBy ?? '' },
  { en: 'due back', ja: '返却期限', cell: (_k, l) => l?.dueBackAt ?? '' },
  { en: 'reason', ja: '使用理由', cell: (_k, l, lang) => label(masterKeyReasonLabels, l?.reason ?? null, lang) },
  { en: 'note', ja: '備考', cell: (_k, l) => l?.note ?? '' },
  { en: 'returned at', ja: '返却日時', cell: (_k, l) => l?.returnedAt ?? '' },
  { en: 'returned by', ja: '返却記録者', cell: (_k, l) => l?.returnedBy ?? '' },
  { en: 'overdue', ja: '期限超過', cell: (_k, l, lang) => (l?.overdue ? { en: 'yes', ja: '超過' } : { en: '', ja: '' })[lang] },
];

/** The inventory as CSV: one row per loan, and one for a key never lent. */
export function keysCsv(keys: KeyView[], lang: Lang): string {
  const rows = keys.flatMap((k) => (k.loans.length ? k.loans : [null]).map((l) => columns.map((c) => c.cell(k, l, lang))));
  return csvFile(
    columns.map((c) => c[lang]),
    rows,
  );
}

export class KeyService {
  constructor(private readonly deps: ServiceDeps) {}

  private get store() {
    return this.deps.store;
  }

  /** The inventory, each key with its loan and last loans. */
  list(): KeyView[] {
    return this.store.keys.list().map((k) => this.view(k));
  }

  get(id: string): KeyView {
    const key = this.store.keys.get(id);
    if (!key) throw notFound(`key "${id}"`);
    return this.view(key);
  }

  /** The inventory for an actor to take away (`keys.export`): as data, or as a CSV file's text. */
  export(actor: Actor, format: 'json' | 'csv', lang: Lang): { keys: KeyView[]; csv?: string } {
    const keys = this.list();
    recordChange(this.store, actor, 'keys.export', 'keys', { format, lang, keys: keys.length });
    return format === 'csv' ? { keys, csv: keysCsv(keys, lang) } : { keys };
  }

  add(actor: Actor, k: NewKey): KeyView {
    const id = k.id.trim();
    if (!id) throw invalidField('id', 'give the tag stamped on the key');
    if (!k.opens.length) throw invalidField('opens', 'name what the key opens: an area or a safe');
    for (const [i, o] of k.opens.entries()) this.target(o, `opens.${i}`);
    const master = k.master ?? false;
    return this.store.transaction(() => {
      if (this.store.keys.get(id)) throw new ServiceError('conflict', `key "${id}" is already in the inventory`);
      const key = this.store.keys.add({
        id,
        name: k.name.trim(),
        master,
        opens: k.opens,
        location: k.location?.trim() ?? '',
        note: k.note?.trim() ?? '',
        addedAt: this.deps.now().toISOString(),
        addedBy: actor.username,
      });
      recordChange(this.store, actor, 'key.add', `key:${id}`, { name: key.name, master, opens: key.opens });
      return this.view(key);
    });
  }

  /**
   * Lends a key: refused when it is out, when the person may not enter what it opens (with the
   * reason), or when a master key's loan gives no reason (disaster or emergency).
   */
  lend(actor: Actor, keyId: string, l: NewLoan): KeyView {
    const now = this.deps.now();
    const dueBackAt = toIso(l.dueBackAt);
    if (dueBackAt <= now.toISOString()) throw invalidField('dueBackAt', 'must be in the future');
    const { key, loan } = this.store.transaction(() => {
      const key = this.store.keys.get(keyId);
      if (!key) throw notFound(`key "${keyId}"`);
      if (key.master && !l.reason) throw invalidField('reason', 'a master key is lent only with a reason: disaster or emergency');
      if (!key.master && l.reason) throw invalidField('reason', 'only a master key is lent with a reason');
      const person = this.store.people.person(l.personId);
      if (!person) throw invalidField('personId', 'no such person');
      const out = this.store.keys.outstanding(key.id);
      if (out) throw new ServiceError('conflict', `key "${key.id}" is out (loan ${out.id}, due back ${out.dueBackAt}): record its return first`);
      const refusal = this.refusal(person.id, key, now);
      if (refusal) {
        const target = `${refusal.opens.kind} "${refusal.opens.id}"`;
        throw new ServiceError('conflict', `${person.name} is not an access holder of ${target}: ${refusal.reason} (${reasonLabels[refusal.reason].en})`, [
          { path: 'personId', message: refusal.reason },
        ]);
      }
      const loan = this.store.keys.lend({
        keyId: key.id,
        personId: person.id,
        lentAt: now.toISOString(),
        lentBy: actor.username,
        dueBackAt,
        reason: l.reason ?? null,
        note: l.note?.trim() ?? '',
      });
      recordChange(this.store, actor, 'key.lend', `key:${key.id}`, {
        loan: loan.id,
        personId: person.id,
        personName: person.name,
        dueBackAt,
        ...(key.master ? { master: true, reason: loan.reason } : {}),
      });
      return { key, loan };
    });
    if (key.master) {
      // After the commit: the event reports a loan that is on record.
      this.deps.controller?.ctx.alarms.raise({
        category: 'alarm',
        type: 'master-key-used',
        severity: 'warning',
        source: key.id,
        detail: { loan: loan.id, personId: loan.personId, reason: loan.reason, lentBy: loan.lentBy, dueBackAt: loan.dueBackAt },
      });
    }
    return this.view(key);
  }

  /** Records a key's return; refused when it is not out. */
  recordReturn(actor: Actor, keyId: string, note?: string): KeyView {
    return this.store.transaction(() => {
      const key = this.store.keys.get(keyId);
      if (!key) throw notFound(`key "${keyId}"`);
      const loan = this.store.keys.outstanding(key.id);
      if (!loan) throw new ServiceError('conflict', `key "${key.id}" is not out`);
      const at = this.deps.now().toISOString();
      this.store.keys.markReturned(loan.id, at, actor.username);
      recordChange(this.store, actor, 'key.return', `key:${key.id}`, {
        loan: loan.id,
        personId: loan.personId,
        late: at > loan.dueBackAt,
        ...(note?.trim() ? { note: note.trim() } : {}),
      });
      return this.view(key);
    });
  }

  /** Loans past their due-back time at `now`, soonest due first (the reminders' source). */
  overdueLoans(now: Date): OverdueLoan[] {
    return this.store.keys.overdue(now.toISOString()).map((l) => {
      const key = this.store.keys.get(l.keyId)!;
      return {
        keyId: key.id,
        keyName: key.name,
        master: key.master,
        loanId: l.id,
        personId: l.personId,
        personName: this.store.people.person(l.personId)?.name ?? null,
        dueBackAt: l.dueBackAt,
      };
    });
  }

  /** Overdue loans as reminders (the reminder registry's `key-loan` source), soonest due first. */
  reminders(now: Date): Reminder[] {
    return this.overdueLoans(now).map((l) => ({
      kind: 'key-loan',
      subject: `key:${l.keyId}`,
      dueAt: l.dueBackAt,
      overdue: true,
      reasons: l.master ? ['overdue', 'master-key'] : ['overdue'],
      detail: { loan: l.loanId, keyName: l.keyName, personId: l.personId, personName: l.personName },
    }));
  }

  /** The first thing the key opens whose access the person does not hold now, with the reason. */
  private refusal(personId: string, key: KeyRecord, now: Date): LoanRefusal | null {
    const site = siteOf(this.deps);
    const person = this.store.people.person(personId);
    for (const opens of key.opens) {
      const scope = this.target(opens, 'opens');
      const standing = this.store.people.standing(personId);
      const d = safeHolderDecision(personId, scope, {
        now,
        trainingValidityMonths: site.policy.trainingValidityMonths,
        people: person ? [{ id: person.id, kind: person.kind, status: person.status, ...standing }] : [],
        grants: this.store.people.grants(personId, safeGrantScope(scope)),
      });
      if (!d.ok) return { opens, reason: d.reason };
    }
    return null;
  }

  /**
   * Whose grants make holders of a key's target. A safe says so itself; an area is held by its own
   * grants, which is the safe rule with the area as its own scope (one rule for both: safe-holders.ts).
   */
  private target(o: KeyOpens, path: string): SafeScope {
    const site = siteOf(this.deps);
    if (o.kind === 'area') {
      if (!site.areas.some((a) => a.id === o.id)) throw invalidField(path, `no area "${o.id}" in the site file`);
      return { id: o.id, area: o.id, holders: 'area' };
    }
    const safe = site.safes.find((s) => s.id === o.id);
    if (!safe) throw invalidField(path, `no safe "${o.id}" in the site file`);
    return safe;
  }

  private view(key: KeyRecord): KeyView {
    const now = this.deps.now().toISOString();
    const loans = this.store.keys.loans(key.id, 20).map((l) => ({
      ...l,
      personName: this.store.people.person(l.personId)?.name ?? null,
      overdue: l.returnedAt === null ? l.dueBackAt <= now : l.returnedAt > l.dueBackAt,
    }));
    return { ...key, loan: loans.find((l) => l.returnedAt === null) ?? null, loans };
  }
}
