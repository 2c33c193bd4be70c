// People by the hundred: a CSV file as Japanese HR systems export it (UTF-8 with or without a BOM,
// or Shift_JIS), one row per person or per person and area, brought in through the same services
// as one-at-a-time enrolment (people, credentials, grants, training, pledges): the same rules, each
// part in the audit log, grants pending under four-eyes.
//
// A dry run by default: every row is checked against the database and the rows before it in the
// file, and the report says what would be added, changed, left as it is, and refused (line and
// reason); nothing is written. With `apply`, each row commits on its own, all of its parts or none:
// a refused row never stops the others, and a row never half-enrols a person. (All-or-nothing for
// the whole file would make one typo in row 300 refuse 299 good people; the report names the
// refused lines, and a corrected file imported again leaves what is in already unchanged.)
// Docs: docs/people-import.md.
import { createHash } from 'node:crypto';
import { type CsvError, parse } from 'csv-parse/sync';
import { localParts } from '../policy/schedule.js';
import type { PersonStatus } from '../policy/vocabulary.js';
import { normaliseCard } from '../store/credentials.js';
import type { Person, PersonChanges } from '../store/people.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { siteOf } from './common.js';
import type { CredentialService } from './credentials.js';
import { ServiceError } from './errors.js';
import type { GrantService } from './grants.js';
import type { ServiceDeps } from './index.js';
import type { PeopleService } from './people.js';

// ---------------------------------------------------------------------------------------------
// Columns

export type ImportField =
  | 'staffNumber'
  | 'name'
  | 'kana'
  | 'affiliation'
  | 'title'
  | 'kind'
  | 'status'
  | 'card'
  | 'area'
  | 'validFrom'
  | 'validUntil'
  | 'purpose'
  | 'outOfHours'
  | 'trainingDate'
  | 'pledgeDate';

/**
 * The columns, by the header names accepted (English and Japanese; compared after NFKC, without
 * case, spaces, underscores, hyphens, brackets or dots). The first name is the one the docs use.
 */
export const IMPORT_COLUMNS: readonly { field: ImportField; names: readonly string[] }[] = [
  { field: 'staffNumber', names: ['staff_number', 'number', 'employee_number', 'employee_id', '社員番号', '従業員番号', '職員番号', '社員NO', '社員コード'] },
  { field: 'name', names: ['name', 'full_name', '氏名', '名前', '漢字氏名'] },
  { field: 'kana', names: ['kana', 'furigana', 'フリガナ', 'ふりがな', 'カナ', '氏名カナ', 'カナ氏名'] },
  { field: 'affiliation', names: ['affiliation', 'department', '所属', '部署', '所属部署', '所属名'] },
  { field: 'title', names: ['title', '役職'] },
  { field: 'kind', names: ['kind', '区分', '種別', '社員区分', '雇用区分'] },
  { field: 'status', names: ['status', '状態', 'ステータス', '在籍区分', '在籍状況'] },
  { field: 'card', names: ['card', 'card_number', 'IDm', 'カード番号', 'カード', 'カードNO', '社員証番号'] },
  { field: 'area', names: ['area', 'areas', '区域', '入室区域', 'エリア', '権限区域'] },
  { field: 'validFrom', names: ['valid_from', '有効開始日', '開始日', '有効期間開始'] },
  { field: 'validUntil', names: ['valid_until', '有効期限', '終了日', '有効期間終了'] },
  { field: 'purpose', names: ['purpose', '目的', '入室目的', '利用目的'] },
  { field: 'outOfHours', names: ['out_of_hours', '時間外', '時間外入室'] },
  { field: 'trainingDate', names: ['training_date', 'trained_on', '研修日', '研修受講日', '教育受講日'] },
  { field: 'pledgeDate', names: ['pledge_date', 'pledge_signed_on', '誓約日', '誓約書提出日', '誓約書日付'] },
];

const headerKey = (s: string) =>
  s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s_\-()[\]（）・.]/g, '');
const FIELD_BY_HEADER = new Map<string, ImportField>(IMPORT_COLUMNS.flatMap((c) => c.names.map((n) => [headerKey(n), c.field] as const)));

/** Kinds an HR system may name: all are staff to tobira; a visitor comes by a visit. */
const STAFF_KINDS = new Set(
  ['staff', 'employee', 'contractor', 'temporary', '社員', '職員', '従業員', '正社員', '契約社員', '派遣社員', '嘱託', 'パート', 'アルバイト', '役員'].map(
    headerKey,
  ),
);
const VISITOR_KINDS = new Set(['visitor', 'guest', '来訪者', '訪問者', 'ゲスト'].map(headerKey));
const STATUS_WORDS = new Map<string, PersonStatus>([
  ...['active', '在籍', '在職', '有効', '在籍中'].map((w) => [headerKey(w), 'active' as const] as const),
  ...['suspended', '休職', '停止', '休職中', '利用停止'].map((w) => [headerKey(w), 'suspended' as const] as const),
  ...['left', '退職', '退職済', '退職済み', '退社'].map((w) => [headerKey(w), 'left' as const] as const),
]);
const YES = new Set(['yes', 'y', 'true', '1', 'はい', '可', '有', 'あり', '○', '〇', '◯'].map(headerKey));
const NO = new Set(['no', 'n', 'false', '0', 'いいえ', '不可', '無', 'なし', '×', '-'].map(headerKey));

/** A file larger than this many rows is split by the sender (the API answers within one request). */
export const MAX_IMPORT_ROWS = 10_000;

// ---------------------------------------------------------------------------------------------
// Encodings

export type ImportEncoding = 'utf-8' | 'shift_jis';

/** The encoding a caller names: utf-8 (utf8) or Shift_JIS (sjis, shift-jis, cp932, windows-31j, ms932). */
export function importEncoding(name: string | undefined): ImportEncoding {
  if (name === undefined || name === '') return 'utf-8';
  const key = name.toLowerCase().replace(/[\s_-]/g, '');
  if (key === 'utf8') return 'utf-8';
  if (['sjis', 'shiftjis', 'cp932', 'windows31j', 'ms932', 'mskanji'].includes(key)) return 'shift_jis';
  throw new ServiceError('invalid', `encoding "${name}": give utf-8 or sjis (Shift_JIS)`, [{ path: 'encoding', message: 'utf-8 or sjis' }]);
}

/** The file's text: a UTF-8 BOM decides for UTF-8 whatever was named; bytes that are not the encoding are refused. */
export function decodeImport(bytes: Uint8Array, encoding: ImportEncoding): { text: string; encoding: ImportEncoding; bom: boolean } {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const used: ImportEncoding = bom ? 'utf-8' : encoding;
  try {
    // The decoder drops the BOM; fatal: a wrong encoding is an error, never mojibake stored as names.
    return { text: new TextDecoder(used, { fatal: true }).decode(bytes), encoding: used, bom };
  } catch {
    throw fileError(
      used === 'utf-8'
        ? 'the file is not UTF-8: a Shift_JIS export from an HR system? Import it with --encoding sjis (API: encoding=sjis)'
        : 'the file is not Shift_JIS: give its encoding (UTF-8 is the default)',
    );
  }
}

const fileError = (message: string, details?: { path: string; message: string }[]) =>
  new ServiceError('invalid', `malformed file: ${message}`, details ?? [{ path: 'file', message }]);

// ---------------------------------------------------------------------------------------------
// Parsing

/** One row as read: the cells of the known columns (trimmed; absent columns undefined). */
export interface ImportRow {
  /** The line of the file the row starts on (the header is line 1). */
  line: number;
  cells: Partial<Record<ImportField, string>>;
  /** Set when the row has a different number of cells than the header. */
  fieldCount?: number;
}

export interface ParsedImport {
  columns: ImportField[];
  /** Headers no column is known by (kept out; listed in the report). */
  ignored: string[];
  headerCount: number;
  rows: ImportRow[];
}

/** Reads the CSV text: the header row names the columns; a file csv-parse cannot read is refused whole. */
export function parseImport(text: string): ParsedImport {
  let records: { record: string[]; info: { bytes: number } }[];
  try {
    records = parse(text, { info: true, relax_column_count: true, skip_empty_lines: true, trim: true, bom: true }) as unknown as typeof records;
  } catch (e) {
    const err = e as CsvError & { lines?: number };
    throw fileError(`${err.message}`, [{ path: err.lines ? `line ${err.lines}` : 'file', message: err.code ?? err.message }]);
  }
  const head = records.shift();
  if (!head) throw fileError('the file is empty: the first line names the columns (docs/people-import.md)');
  const columns: (ImportField | undefined)[] = [];
  const ignored: string[] = [];
  const seen = new Map<ImportField, string>();
  for (const name of head.record) {
    const field = FIELD_BY_HEADER.get(headerKey(name));
    if (field && seen.has(field)) throw fileError(`the columns "${seen.get(field)}" and "${name}" are the same column (${field})`);
    if (field) seen.set(field, name);
    else if (name !== '') ignored.push(name);
    columns.push(field);
  }
  for (const needed of ['staffNumber', 'name'] as const) {
    if (!seen.has(needed)) {
      const names = IMPORT_COLUMNS.find((c) => c.field === needed)!.names;
      throw fileError(`no ${names[0]} column (${names.slice(0, 3).join(', ')}, ...): the first line must name the columns (docs/people-import.md)`);
    }
  }
  if (records.length > MAX_IMPORT_ROWS) throw fileError(`${records.length} rows: at most ${MAX_IMPORT_ROWS} in one file; split it`);
  // The line a row starts on, from the UTF-8 offset where the one before it ended (csv-parse's own
  // line count takes a CRLF inside a quoted cell for two lines). Empty lines and blanks are skipped.
  const bytes = Buffer.from(text, 'utf8');
  let at = head.info.bytes;
  let line = 1 + countNewlines(bytes, 0, at);
  const rows = records.map(({ record, info }) => {
    let start = at;
    while (start < info.bytes && (bytes[start] === 0x0a || bytes[start] === 0x0d || bytes[start] === 0x20 || bytes[start] === 0x09)) start++;
    const startLine = line + countNewlines(bytes, at, start);
    line = startLine + countNewlines(bytes, start, info.bytes);
    at = info.bytes;
    const cells: ImportRow['cells'] = {};
    columns.forEach((field, i) => {
      if (field && record[i] !== undefined) cells[field] = record[i];
    });
    return { line: startLine, cells, ...(record.length !== head.record.length ? { fieldCount: record.length } : {}) };
  });
  return { columns: [...seen.keys()], ignored, headerCount: head.record.length, rows };
}

function countNewlines(bytes: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a, from); i >= 0 && i < to; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// The report

export type RowOutcome = 'add' | 'change' | 'unchanged' | 'refused';

export interface ImportLine {
  line: number;
  staffNumber: number | null;
  name: string;
  outcome: RowOutcome;
  /** What is (dry run: would be) done, in words: "person added", "card 04A1B2 enrolled", ... */
  changes: string[];
  /** Why the row is refused (nothing of it is done). */
  reasons: string[];
  /** Worth knowing, not a refusal: a grant pending approval, a column not kept. */
  notes: string[];
  /** The person, once known (an existing one, or added by the import). */
  personId?: string;
}

export interface ImportReport {
  dryRun: boolean;
  encoding: ImportEncoding;
  bom: boolean;
  /** SHA-256 of the file as received (the audit record names it). */
  sha256: string;
  columns: ImportField[];
  ignoredColumns: string[];
  rows: number;
  added: number;
  changed: number;
  unchanged: number;
  refused: number;
  /** Grants created (or to be) pending a second person's approval (the site's api.fourEyes). */
  pendingGrants: number;
  lines: ImportLine[];
}

export interface ImportOptions {
  encoding?: ImportEncoding;
  /** Do it; otherwise a dry run that writes nothing. */
  apply?: boolean;
  /** Told after each row (a progress line). */
  onProgress?: (done: number, total: number) => void;
}

// ---------------------------------------------------------------------------------------------
// Values

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** A calendar date as HR systems write it: 2026-04-01, 2026/4/1, 2026年4月1日, 20260401. */
export function parseDate(value: string): { y: number; m: number; d: number } | undefined {
  const v = value.normalize('NFKC').trim();
  const m = /^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$/.exec(v) ?? /^(\d{4})(\d{2})(\d{2})$/.exec(v);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return undefined;
  return { y, m: mo, d };
}

const ymd = (p: { y: number; m: number; d: number }) => `${p.y}-${String(p.m).padStart(2, '0')}-${String(p.d).padStart(2, '0')}`;

function nextDay(p: { y: number; m: number; d: number }): { y: number; m: number; d: number } {
  const t = new Date(Date.UTC(p.y, p.m - 1, p.d + 1));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

/** The instant local midnight starts the day in the time zone (twice over: a DST change moves the offset). */
function localMidnight(p: { y: number; m: number; d: number }, timeZone: string): Date {
  const wall = Date.UTC(p.y, p.m - 1, p.d);
  let at = wall;
  for (let i = 0; i < 2; i++) {
    const { days, minutes } = localParts(new Date(at), timeZone);
    at -= days * 86_400_000 + minutes * 60_000 - wall;
  }
  return new Date(at);
}

// ---------------------------------------------------------------------------------------------
// The service

/** What one row comes to: the person's part, then the rest, each as the service call that does it. */
interface RowPlan {
  person:
    | { add: { name: string; affiliation: string; title: string; number: number; status: PersonStatus } }
    | { update: PersonChanges; id: string }
    | { id: string };
  card?: string;
  grants: { areaId: string; purpose: string; validFrom?: string; validUntil?: string; outOfHours: boolean }[];
  training?: string;
  pledge?: string;
}

/** What earlier rows of a dry run would have made (an applied row is in the database instead). */
type PersonState = Pick<Person, 'name' | 'affiliation' | 'title' | 'status'> & { id?: string };
interface DryState {
  people: Map<number, PersonState>;
  cards: Map<string, number>;
  grants: Set<string>;
  trainings: Set<string>;
  pledges: Set<string>;
}

const TRAINING_COURSE = 'annual security training';
const PLEDGE_DOCUMENT = 'confidentiality pledge';

export class PeopleImportService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly people: PeopleService,
    private readonly credentials: CredentialService,
    private readonly grants: GrantService,
  ) {}

  private get store() {
    return this.deps.store;
  }

  /**
   * Checks (dry run) or imports (`apply`) a CSV file of people. A malformed file (not the named
   * encoding, no header, unreadable CSV) is refused whole with ServiceError 'invalid'; a bad row is
   * refused alone and named in the report. Applied, every part is audited by its own service, each
   * row by `people.import-row` (its line and what it did) and the file by `people.import`.
   */
  async run(actor: Actor, file: Uint8Array, opts: ImportOptions = {}): Promise<ImportReport> {
    const apply = opts.apply === true;
    const sha256 = createHash('sha256').update(file).digest('hex');
    const { text, encoding, bom } = decodeImport(file, opts.encoding ?? 'utf-8');
    const parsed = parseImport(text);
    const dry: DryState = { people: new Map(), cards: new Map(), grants: new Set(), trainings: new Set(), pledges: new Set() };
    const pendingWord = this.grants.needsApproval();
    const report: ImportReport = {
      dryRun: !apply,
      encoding,
      bom,
      sha256,
      columns: parsed.columns,
      ignoredColumns: parsed.ignored,
      rows: parsed.rows.length,
      added: 0,
      changed: 0,
      unchanged: 0,
      refused: 0,
      pendingGrants: 0,
      lines: [],
    };
    let index = 0;
    for (const row of parsed.rows) {
      const line = this.check(row, parsed, apply ? undefined : dry);
      if (line.view.outcome !== 'refused' && line.plan) {
        if (apply) {
          try {
            line.view.personId = this.applyRow(actor, row.line, sha256, line.plan, line.view);
          } catch (e) {
            if (!(e instanceof ServiceError)) throw e;
            // Checked a moment ago, refused now (someone else's change meanwhile): the row is refused, the rest go on.
            line.view.outcome = 'refused';
            line.view.reasons.push(refusalText(e));
          }
        } else {
          this.remember(dry, line.plan, row);
        }
      }
      const view = line.view;
      if (view.outcome !== 'refused' && line.plan) report.pendingGrants += pendingWord ? line.plan.grants.length : 0;
      if (view.outcome === 'add') report.added++;
      else if (view.outcome === 'change') report.changed++;
      else if (view.outcome === 'unchanged') report.unchanged++;
      else report.refused++;
      report.lines.push(view);
      index++;
      opts.onProgress?.(index, parsed.rows.length);
      // Let doors decide between rows: the daemon's event loop runs the door flow too.
      if (index % 25 === 0) await new Promise((r) => setImmediate(r));
    }
    if (apply) {
      this.store.transaction(() =>
        recordChange(this.store, actor, 'people.import', null, {
          sha256,
          encoding,
          rows: report.rows,
          added: report.added,
          changed: report.changed,
          unchanged: report.unchanged,
          refused: report.refused,
          pendingGrants: report.pendingGrants,
          refusedLines: report.lines.filter((l) => l.outcome === 'refused').map((l) => ({ line: l.line, reasons: l.reasons })),
        }),
      );
    }
    return report;
  }

  /** Checks one row against the database (and, in a dry run, the rows before it); nothing is written. */
  private check(row: ImportRow, parsed: ParsedImport, dry: DryState | undefined): { view: ImportLine; plan?: RowPlan } {
    const c = row.cells;
    const reasons: string[] = [];
    const changes: string[] = [];
    const notes: string[] = [];
    const numberText = (c.staffNumber ?? '').normalize('NFKC');
    const number = /^\d{1,9}$/.test(numberText) && Number(numberText) >= 1 ? Number(numberText) : null;
    const view: ImportLine = { line: row.line, staffNumber: number, name: c.name ?? '', outcome: 'refused', changes, reasons, notes };
    const refuse = (reason: string) => {
      reasons.push(reason);
      return { view };
    };
    if (row.fieldCount !== undefined) return refuse(`${row.fieldCount} cells where the header has ${parsed.headerCount}`);
    if (!numberText) return refuse('no staff number: it is how a row finds its person again');
    if (number === null) return refuse(`staff number "${c.staffNumber}" is not a number from 1 to 999999999`);
    const name = c.name ?? '';
    if (name.length > 200) reasons.push('name: more than 200 characters');
    for (const f of ['affiliation', 'title', 'purpose'] as const) if ((c[f]?.length ?? 0) > 200) reasons.push(`${f}: more than 200 characters`);

    // Who: an earlier row of this dry run, else the database.
    const stored = this.store.people.personByNumber(number);
    const earlier = dry?.people.get(number);
    const before = earlier ?? stored;
    const kindKey = headerKey(c.kind ?? '');
    if (kindKey && VISITOR_KINDS.has(kindKey)) reasons.push(`kind "${c.kind}": a visitor is let in by a visit, not imported`);
    else if (kindKey && !STAFF_KINDS.has(kindKey)) reasons.push(`kind "${c.kind}" unknown (staff, 社員, 契約社員, 派遣社員, ...)`);
    if (stored && stored.kind !== 'staff') reasons.push(`staff number ${number} belongs to a visitor`);
    let status: PersonStatus | undefined;
    if (c.status) {
      status = STATUS_WORDS.get(headerKey(c.status));
      if (!status) reasons.push(`status "${c.status}" unknown (active/在籍, suspended/休職, left/退職)`);
    }

    let person: RowPlan['person'];
    const affiliation = c.affiliation ?? '';
    const title = c.title ?? '';
    if (!before) {
      if (!name) reasons.push('no name for a new person');
      if (status === 'left') reasons.push('a new person who has left: nothing to import');
      person = { add: { name, affiliation, title, number, status: status ?? 'active' } };
      changes.push(`person added${status === 'suspended' ? ' (suspended)' : ''}`);
    } else {
      const update: PersonChanges = {};
      if (name && name !== before.name) update.name = name;
      if (affiliation && affiliation !== before.affiliation) update.affiliation = affiliation;
      if (title && title !== before.title) update.title = title;
      if (status && status !== before.status) update.status = status;
      for (const [k, v] of Object.entries(update)) changes.push(`${k}: ${before[k as keyof typeof before] || '(none)'} → ${v}`);
      if (update.status === 'left') changes.push('every grant revoked (has left)');
      const id = stored?.id ?? earlier?.id ?? '';
      person = Object.keys(update).length ? { update, id } : { id };
      if (stored) view.personId = stored.id;
    }
    const willBe = status ?? before?.status ?? 'active';
    const personId = stored?.id;

    // The card.
    let card: string | undefined;
    if (c.card) {
      const value = c.card.normalize('NFKC');
      if (!/[0-9A-Za-z]/.test(value)) reasons.push(`card "${c.card}": a card number needs at least one letter or digit`);
      else {
        const found = this.store.credentials.find('card', value);
        const claimed = dry?.cards.get(normaliseCard(value));
        if (found && found.personId !== personId) reasons.push(`card ${normaliseCard(value)} is enrolled for someone else (credential ${found.id})`);
        else if (claimed !== undefined && claimed !== number)
          reasons.push(`card ${normaliseCard(value)} is given to staff number ${claimed} on an earlier line`);
        else if (found) {
          if (found.status !== 'active') notes.push(`card ${normaliseCard(value)} is ${found.status}: left as it is`);
        } else if (claimed === undefined) {
          if (willBe === 'left') reasons.push('a card for a person who has left');
          card = value;
          changes.push(`card ${normaliseCard(value)} enrolled`);
        }
      }
    }

    // The grants: one per area named, sharing the row's window and purpose.
    const site = siteOf(this.deps);
    const zone = site.site.timezone;
    const grants: RowPlan['grants'] = [];
    const areas = (c.area ?? '')
      .split(/[;；、,，|]/)
      .map((a) => a.trim())
      .filter(Boolean);
    const time = (value: string | undefined, field: string, endOfDay: boolean): string | undefined | null => {
      if (!value) return undefined;
      if (ISO_TIME.test(value)) return new Date(value).toISOString();
      const date = parseDate(value);
      if (!date) {
        reasons.push(`${field} "${value}" is not a date (2026-04-01, 2026/4/1, 2026年4月1日)`);
        return null;
      }
      // A date is the site's local day; valid until a date means through the end of that day.
      const start = localMidnight(date, zone);
      return (endOfDay ? localMidnight(nextDay(date), zone) : start).toISOString();
    };
    if (areas.length) {
      const known = new Set([...site.areas, ...site.safes].map((a) => a.id));
      const validFrom = time(c.validFrom, 'valid_from', false);
      const validUntil = time(c.validUntil, 'valid_until', true);
      const purpose = (c.purpose ?? '').trim();
      const out = c.outOfHours ? headerKey(c.outOfHours) : '';
      let outOfHours = false;
      if (out && YES.has(out)) outOfHours = true;
      else if (out && !NO.has(out)) reasons.push(`out_of_hours "${c.outOfHours}": yes or no (はい/いいえ, ○/×)`);
      if (!purpose) reasons.push('a grant needs its need-to-know purpose (purpose/目的)');
      if (willBe === 'left') reasons.push('grants for a person who has left');
      const now = this.deps.now().toISOString();
      if (validUntil && validFrom && validUntil <= validFrom) reasons.push('valid_until is not after valid_from');
      else if (validUntil && validUntil <= now) reasons.push(`valid_until ${c.validUntil} is in the past`);
      for (const areaId of areas) {
        if (!known.has(areaId)) {
          reasons.push(`no area or safe "${areaId}" in the site file (${[...known].join(', ')})`);
          continue;
        }
        const held =
          (personId !== undefined &&
            this.grants
              .list({ personId, areaId, limit: 1000, offset: 0 })
              .items.some((g) => g.status !== 'revoked' && (g.validUntil === null || g.validUntil > now))) ||
          dry?.grants.has(`${number}|${areaId}`);
        if (held) {
          notes.push(`grant ${areaId} held already`);
          continue;
        }
        grants.push({ areaId, purpose, outOfHours, ...(validFrom ? { validFrom } : {}), ...(validUntil ? { validUntil } : {}) });
        changes.push(`grant ${areaId}${this.grants.needsApproval() ? ' (pending approval: four-eyes)' : ''}`);
      }
    }

    // Training and pledge: a date already on record is left as it is.
    const nowIso = this.deps.now().toISOString();
    const recordDate = (value: string | undefined, field: string, kind: 'trainings' | 'pledges'): string | undefined => {
      if (!value) return undefined;
      const date = parseDate(value);
      if (!date) {
        reasons.push(`${field} "${value}" is not a date (2026-04-01, 2026/4/1, 2026年4月1日)`);
        return undefined;
      }
      const at = new Date(ymd(date)).toISOString();
      if (at > nowIso) {
        reasons.push(`${field} ${ymd(date)} is in the future`);
        return undefined;
      }
      const onRecord =
        (personId !== undefined &&
          (kind === 'trainings'
            ? this.store.trainings.listOf(personId, { limit: 1000, offset: 0 }).items.some((t) => t.completedAt === at)
            : this.store.pledges.listOf(personId, { limit: 1000, offset: 0 }).items.some((p) => p.signedAt === at && p.withdrawnAt === null))) ||
        dry?.[kind].has(`${number}|${at}`);
      if (onRecord) return undefined;
      changes.push(`${kind === 'trainings' ? 'training' : 'pledge'} ${ymd(date)}`);
      return at;
    };
    const training = recordDate(c.trainingDate, 'training_date', 'trainings');
    const pledge = recordDate(c.pledgeDate, 'pledge_date', 'pledges');

    if (reasons.length) {
      view.changes = [];
      return { view };
    }
    view.outcome = 'add' in person ? 'add' : changes.length ? 'change' : 'unchanged';
    return { view, plan: { person, card, grants, training, pledge } };
  }

  /** A dry run's memory of a row that would be done, for the rows after it. */
  private remember(dry: DryState, plan: RowPlan, row: ImportRow): void {
    const number = Number((row.cells.staffNumber ?? '').normalize('NFKC'));
    const p = plan.person;
    const prior = dry.people.get(number) ?? this.store.people.personByNumber(number);
    if ('add' in p) dry.people.set(number, { name: p.add.name, affiliation: p.add.affiliation, title: p.add.title, status: p.add.status });
    else if ('update' in p && prior) {
      const next: PersonState = { name: prior.name, affiliation: prior.affiliation, title: prior.title, status: prior.status, ...p.update };
      dry.people.set(number, next);
    }
    if (plan.card) dry.cards.set(normaliseCard(plan.card), number);
    for (const g of plan.grants) dry.grants.add(`${number}|${g.areaId}`);
    if (plan.training) dry.trainings.add(`${number}|${plan.training}`);
    if (plan.pledge) dry.pledges.add(`${number}|${plan.pledge}`);
  }

  /** Does one row in one transaction, through the services (each part audited); returns the person's id. */
  private applyRow(actor: Actor, line: number, sha256: string, plan: RowPlan, view: ImportLine): string {
    return this.store.transaction(() => {
      const p = plan.person;
      let id: string;
      if ('add' in p) {
        id = this.people.enrol(actor, { name: p.add.name, affiliation: p.add.affiliation, title: p.add.title, number: p.add.number }).id;
        if (p.add.status !== 'active') this.people.update(actor, id, { status: p.add.status });
      } else {
        // An earlier row of this file may have added the person: find them by number now.
        id = p.id || this.store.people.personByNumber(view.staffNumber!)!.id;
        if ('update' in p) this.people.update(actor, id, p.update);
      }
      if (plan.card) this.credentials.enrol(actor, id, { kind: 'card', value: plan.card });
      for (const g of plan.grants) this.grants.create(actor, { personId: id, ...g });
      if (plan.training) this.people.recordTraining(actor, id, { completedAt: plan.training, course: TRAINING_COURSE });
      if (plan.pledge) this.people.recordPledge(actor, id, { signedAt: plan.pledge, document: PLEDGE_DOCUMENT });
      recordChange(this.store, actor, 'people.import-row', `person:${id}`, { sha256, line, outcome: view.outcome, changes: view.changes });
      return id;
    });
  }
}

/** A service's refusal as a row's reason: its message, and the field it names. */
function refusalText(e: ServiceError): string {
  const d = e.details?.[0];
  return d ? `${d.path}: ${d.message}` : e.message;
}
