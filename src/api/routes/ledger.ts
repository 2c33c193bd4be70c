// The register of access holders the standard asks for: every staff member with an unrevoked grant,
// each grant's area (English and Japanese names from the site file), when it was set, its validity,
// purpose and approval, and the person's training and pledge standing. JSON, or CSV for a spreadsheet
// (UTF-8 with BOM so Excel reads Japanese; lang=ja for Japanese headers and words).
import { z } from 'zod';
import type { Lang } from '../../i18n/labels.js';
import { labelText } from '../../site/schema.js';
import { csvFile } from '../../services/csv.js';
import { Registers } from '../../store/registers.js';
import { audit, type Api, type ApiContext } from '../context.js';
import { errorResponses } from '../schemas.js';
import { pledgeStandingSchema, standingOf, trainingStandingSchema } from './people.js';

const ledgerGrantSchema = z.object({
  id: z.number().int(),
  area: z.object({ id: z.string(), en: z.string(), ja: z.string(), inSite: z.boolean() }),
  grantedAt: z.string(),
  grantedBy: z.string(),
  validFrom: z.string(),
  validUntil: z.string().nullable(),
  purpose: z.string(),
  outOfHours: z.boolean(),
  reviewBy: z.string().nullable(),
  approval: z.object({ status: z.enum(['pending', 'active']), approvedBy: z.string().nullable(), approvedAt: z.string().nullable() }),
});

const holderSchema = z.object({
  personId: z.string(),
  number: z.number().int().nullable(),
  name: z.string(),
  title: z.string(),
  affiliation: z.string(),
  status: z.enum(['active', 'suspended', 'left']),
  training: trainingStandingSchema,
  pledge: pledgeStandingSchema,
  grants: z.array(ledgerGrantSchema),
});

const ledgerSchema = z.object({
  generatedAt: z.string(),
  site: z.string(),
  trainingValidityMonths: z.number().int(),
  holders: z.array(holderSchema),
});

type Ledger = z.infer<typeof ledgerSchema>;
type Holder = z.infer<typeof holderSchema>;
type LedgerGrant = z.infer<typeof ledgerGrantSchema>;

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
  return csvFile(columns.map((c) => c[lang]), rows);
}

export async function ledgerRoutes(api: Api, ctx: ApiContext): Promise<void> {
  const registers = new Registers(ctx.store.db);

  function build(): Ledger {
    const { site } = ctx.controller.ctx;
    const now = ctx.controller.ctx.now();
    const areas = new Map(site.areas.map((a) => [a.id, a]));
    const holders = registers.accessHolders().map(({ person, grants }): Holder => ({
      personId: person.id, number: person.number, name: person.name, title: person.title, affiliation: person.affiliation, status: person.status,
      ...standingOf(ctx, person.id, now),
      grants: grants.map((g) => {
        const area = areas.get(g.areaId);
        return {
          id: g.id,
          area: { id: g.areaId, en: area ? labelText(area.name, 'en') : g.areaId, ja: area ? labelText(area.name, 'ja') : g.areaId, inSite: area !== undefined },
          grantedAt: g.grantedAt, grantedBy: g.grantedBy, validFrom: g.validFrom, validUntil: g.validUntil, purpose: g.purpose, outOfHours: g.outOfHours,
          reviewBy: g.reviewBy, approval: { status: g.status === 'pending' ? 'pending' : 'active', approvedBy: g.approvedBy, approvedAt: g.approvedAt },
        };
      }),
    }));
    return { generatedAt: now.toISOString(), site: labelText(site.site.name, 'en'), trainingValidityMonths: site.policy.trainingValidityMonths, holders };
  }

  api.get('/ledger', {
    config: { roles: ['auditor', 'manager'] },
    schema: {
      tags: ['ledger'],
      summary: 'The register of access holders (管理台帳): JSON, or CSV (UTF-8 with BOM, one row per grant; lang=ja for Japanese headers)',
      querystring: z.object({ format: z.enum(['json', 'csv']).default('json'), lang: z.enum(['en', 'ja']).default('en') }),
      response: { 200: ledgerSchema.describe('JSON; with format=csv the body is text/csv'), ...errorResponses },
    },
  }, async (req, reply) => {
    const ledger = build();
    // Personal data leaving the controller: each export is recorded.
    audit(ctx, req, 'ledger', { format: req.query.format, lang: req.query.lang, holders: ledger.holders.length }, 'ledger.export');
    if (req.query.format === 'json') return ledger;
    const stamp = ledger.generatedAt.slice(0, 10);
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="access-holders-${stamp}.csv"`)
      // A string with a non-JSON content type goes out as is (the JSON serializer does not run).
      .send(ledgerCsv(ledger, req.query.lang) as never);
  });
}
