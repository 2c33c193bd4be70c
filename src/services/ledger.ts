// The register of access holders the standard asks for (管理台帳): every staff member with an
// unrevoked grant, each grant's area (English and Japanese names from the site file), when it was
// set, its validity, purpose and approval, and the person's training and pledge standing. As data,
// or as CSV for a spreadsheet (one row per grant; Japanese headers and words for lang=ja). Personal
// data leaving the controller: each export is in the audit log.
import type { Lang } from '../i18n/labels.js';
import type { GrantStatus } from '../policy/vocabulary.js';
import { labelText } from '../site/schema.js';
import type { Person } from '../store/people.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { siteOf } from './common.js';
import { csvFile } from './csv.js';
import type { ServiceDeps } from './index.js';
import type { PeopleService, PledgeStanding, TrainingStanding } from './people.js';

export interface LedgerGrant {
  id: number;
  area: { id: string; en: string; ja: string; inSite: boolean };
  grantedAt: string;
  grantedBy: string;
  validFrom: string;
  validUntil: string | null;
  purpose: string;
  outOfHours: boolean;
  reviewBy: string | null;
  approval: { status: GrantStatus; approvedBy: string | null; approvedAt: string | null };
}

export interface Holder {
  personId: string;
  number: number | null;
  name: string;
  title: string;
  affiliation: string;
  status: Person['status'];
  training: TrainingStanding;
  pledge: PledgeStanding;
  grants: LedgerGrant[];
}

export interface Ledger {
  generatedAt: string;
  site: string;
  trainingValidityMonths: number;
  holders: Holder[];
}

const words = {
  current: { en: 'current', ja: '有効' },
  lapsed: { en: 'lapsed', ja: '期限切れ' },
  none: { en: 'none', ja: '未受講' },
  'on-file': { en: 'on file', ja: '提出済' },
  noPledge: { en: 'none', ja: '未提出' },
  pending: { en: 'pending approval', ja: '承認待ち' },
  active: { en: 'in force', ja: '有効' },
  yes: { en: 'yes', ja: '可' },
  no: { en: 'no', ja: '不可' },
  personStatus: {
    active: { en: 'active', ja: '在籍' },
    suspended: { en: 'suspended', ja: '停止中' },
    left: { en: 'left', ja: '退職・離任' },
  },
} as const;

/** One CSV column: its headers and how a (holder, grant) row fills it. */
const columns: { en: string; ja: string; cell: (h: Holder, g: LedgerGrant, lang: Lang) => unknown }[] = [
  { en: 'name', ja: '氏名', cell: (h) => h.name },
  { en: 'title', ja: '役職', cell: (h) => h.title },
  { en: 'affiliation', ja: '所属', cell: (h) => h.affiliation },
  { en: 'staff number', ja: '職員番号', cell: (h) => h.number },
  { en: 'person status', ja: '在籍状況', cell: (h, _g, lang) => words.personStatus[h.status][lang] },
  { en: 'area id', ja: '区域ID', cell: (_h, g) => g.area.id },
  { en: 'area', ja: '区域', cell: (_h, g, lang) => g.area[lang] },
  { en: 'granted at', ja: '権限設定日', cell: (_h, g) => g.grantedAt },
  { en: 'granted by', ja: '権限設定者', cell: (_h, g) => g.grantedBy },
  { en: 'valid from', ja: '有効開始', cell: (_h, g) => g.validFrom },
  { en: 'valid until', ja: '有効期限', cell: (_h, g) => g.validUntil ?? '' },
  { en: 'purpose', ja: '目的', cell: (_h, g) => g.purpose },
  { en: 'out of hours', ja: '時間外入室', cell: (_h, g, lang) => (g.outOfHours ? words.yes : words.no)[lang] },
  { en: 'review by', ja: '見直し期限', cell: (_h, g) => g.reviewBy ?? '' },
  { en: 'approval', ja: '承認状況', cell: (_h, g, lang) => words[g.approval.status][lang] },
  { en: 'approved by', ja: '承認者', cell: (_h, g) => g.approval.approvedBy ?? '' },
  { en: 'approved at', ja: '承認日時', cell: (_h, g) => g.approval.approvedAt ?? '' },
  { en: 'training', ja: '教育受講状況', cell: (h, _g, lang) => words[h.training.status][lang] },
  { en: 'last training', ja: '最終受講日', cell: (h) => h.training.lastAt ?? '' },
  { en: 'training lapses', ja: '教育有効期限', cell: (h) => h.training.lapsesAt ?? '' },
  { en: 'pledge', ja: '誓約書', cell: (h, _g, lang) => (h.pledge.status === 'on-file' ? words['on-file'] : words.noPledge)[lang] },
  { en: 'pledge signed', ja: '誓約日', cell: (h) => h.pledge.signedAt ?? '' },
];

export function ledgerCsv(ledger: Ledger, lang: Lang): string {
  const rows = ledger.holders.flatMap((h) => h.grants.map((g) => columns.map((c) => c.cell(h, g, lang))));
  return csvFile(
    columns.map((c) => c[lang]),
    rows,
  );
}

export class LedgerService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly people: PeopleService,
  ) {}

  /** The register as it stands now. */
  build(): Ledger {
    const site = siteOf(this.deps);
    const now = this.deps.now();
    const { store } = this.deps;
    const areas = new Map(site.areas.map((a) => [a.id, a]));
    const holders = store.grants
      .accessHolders((id) => store.people.person(id))
      .map(
        ({ person, grants }): Holder => ({
          personId: person.id,
          number: person.number,
          name: person.name,
          title: person.title,
          affiliation: person.affiliation,
          status: person.status,
          ...this.people.standingOf(person.id, now),
          grants: grants.map((g) => {
            const area = areas.get(g.areaId);
            return {
              id: g.id,
              area: {
                id: g.areaId,
                en: area ? labelText(area.name, 'en') : g.areaId,
                ja: area ? labelText(area.name, 'ja') : g.areaId,
                inSite: area !== undefined,
              },
              grantedAt: g.grantedAt,
              grantedBy: g.grantedBy,
              validFrom: g.validFrom,
              validUntil: g.validUntil,
              purpose: g.purpose,
              outOfHours: g.outOfHours,
              reviewBy: g.reviewBy,
              approval: { status: g.status === 'pending' ? 'pending' : 'active', approvedBy: g.approvedBy, approvedAt: g.approvedAt },
            };
          }),
        }),
      );
    return { generatedAt: now.toISOString(), site: labelText(site.site.name, 'en'), trainingValidityMonths: site.policy.trainingValidityMonths, holders };
  }

  /** The register for an actor to take away (`ledger.export`): as data, or as a CSV file's text. */
  export(actor: Actor, format: 'json', lang: Lang): { ledger: Ledger };
  export(actor: Actor, format: 'csv', lang: Lang): { ledger: Ledger; csv: string };
  export(actor: Actor, format: 'json' | 'csv', lang: Lang): { ledger: Ledger; csv?: string };
  export(actor: Actor, format: 'json' | 'csv', lang: Lang): { ledger: Ledger; csv?: string } {
    const ledger = this.build();
    recordChange(this.deps.store, actor, 'ledger.export', 'ledger', { format, lang, holders: ledger.holders.length });
    return format === 'csv' ? { ledger, csv: ledgerCsv(ledger, lang) } : { ledger };
  }
}
