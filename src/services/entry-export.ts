// The entry-log export, for `tobira log export` and `GET /entries/export`: CSV for people (a
// spreadsheet, English or Japanese headers) or JSON Lines with the chain fields for auditors, who
// verify it offline against the signed checkpoint in its trailer.
import { doorEventLabels, label, reasonLabels, type Lang } from '../i18n/labels.js';
import { CheckpointStore, checkpointFields } from '../store/checkpoints.js';
import { inReadSnapshot, type Db } from '../store/db.js';
import { ENTRY_FIELDS, EntryLog, type EntryFilter, type EntryRecord } from '../store/entry-log.js';
import { CSV_BOM, csvRows } from './csv.js';

/** CSV columns: the stored field, its English and Japanese header. */
const CSV_COLUMNS: { field: keyof EntryRecord; en: string; ja: string }[] = [
  { field: 'seq', en: 'seq', ja: '通番' },
  { field: 'at', en: 'time', ja: '日時' },
  { field: 'kind', en: 'kind', ja: '種別' },
  { field: 'doorId', en: 'door', ja: '扉' },
  { field: 'areaId', en: 'area', ja: '区域' },
  { field: 'direction', en: 'direction', ja: '方向' },
  { field: 'personId', en: 'person id', ja: '利用者ID' },
  { field: 'personName', en: 'name', ja: '氏名' },
  { field: 'affiliation', en: 'affiliation', ja: '所属' },
  { field: 'purpose', en: 'purpose', ja: '目的' },
  { field: 'factors', en: 'factors', ja: '認証要素' },
  { field: 'decision', en: 'decision', ja: '判定' },
  { field: 'reason', en: 'reason', ja: '理由' },
  { field: 'deviceId', en: 'device', ja: '機器' },
  { field: 'deviceBoot', en: 'device boot', ja: '機器起動番号' },
  { field: 'deviceSeq', en: 'device seq', ja: '機器通番' },
  { field: 'linkedSeq', en: 'linked seq', ja: '関連記録通番' },
  { field: 'linkedPersonId', en: 'linked person id', ja: '関連利用者ID' },
  { field: 'detail', en: 'detail', ja: '詳細' },
  { field: 'prevHash', en: 'prev hash', ja: '前記録ハッシュ' },
  { field: 'hash', en: 'hash', ja: 'ハッシュ' },
];
const REASON_TEXT = { en: 'reason (text)', ja: '理由（説明）' };

/** One export line (JSON Lines): every chained field as stored, its encoding version, then prevHash and hash. */
export function exportRecord(r: EntryRecord): Record<string, unknown> {
  const line: Record<string, unknown> = {};
  for (const f of ENTRY_FIELDS) line[f] = r[f];
  line.chainVersion = r.chainVersion;
  line.prevHash = r.prevHash;
  line.hash = r.hash;
  return line;
}

export interface ExportOptions {
  format: 'csv' | 'jsonl';
  lang?: Lang;
  filter?: EntryFilter;
  /** PEM of the log's public key, for the JSON Lines trailer. */
  publicKey?: string | null;
}

/** CSV rows are written in batches of this many (one csv-stringify call each). */
const CSV_BATCH = 200;

/**
 * Writes an export, oldest record first, from one read snapshot (records and checkpoint agree).
 * CSV: UTF-8 with a BOM (Excel reads Japanese right), CRLF lines; a cell that would run as a formula
 * stays text (JSON Lines stays exact: it is the export an auditor verifies). JSON Lines: one record
 * per line, then `{"checkpoint": ..., "publicKey": ..., "filter": ..., "records": n}`. Returns the
 * record count.
 */
export async function writeExport(db: Db, opts: ExportOptions, write: (chunk: string) => Promise<void> | void): Promise<number> {
  const filter = Object.fromEntries(Object.entries(opts.filter ?? {}).filter(([, v]) => v !== undefined && v !== '')) as EntryFilter;
  const lang = opts.lang ?? 'en';
  const log = new EntryLog(db);
  let count = 0;
  let buffer: string[] = [];
  let size = 0;
  let rows: unknown[][] = [];
  const flush = async () => {
    if (rows.length) {
      buffer.push(csvRows(rows));
      rows = [];
    }
    if (!buffer.length) return;
    const chunk = buffer.join('');
    buffer = [];
    size = 0;
    await write(chunk);
  };
  const push = async (s: string) => {
    buffer.push(s);
    size += s.length;
    if (size >= 64 * 1024) await flush();
  };
  const pushRow = async (row: unknown[]) => {
    rows.push(row);
    if (rows.length >= CSV_BATCH) await flush();
  };
  return inReadSnapshot(db, async () => {
    const checkpoint = new CheckpointStore(db).latest();
    if (opts.format === 'csv') {
      await push(CSV_BOM);
      await pushRow([...CSV_COLUMNS.map((c) => c[lang]), REASON_TEXT[lang]]);
    }
    for (const r of log.iterate(filter, 'asc')) {
      if (opts.format === 'csv') {
        const reasonText = r.reason === null ? '' : label(r.kind === 'decision' ? reasonLabels : doorEventLabels, r.reason, lang);
        await pushRow([...CSV_COLUMNS.map((c) => r[c.field]), reasonText]);
      } else {
        await push(`${JSON.stringify(exportRecord(r))}\n`);
      }
      count++;
    }
    if (opts.format === 'jsonl') {
      const cp = checkpoint ? checkpointFields(checkpoint) : null;
      await push(`${JSON.stringify({ checkpoint: cp, publicKey: opts.publicKey ?? null, filter, records: count })}\n`);
    }
    await flush();
    return count;
  });
}
