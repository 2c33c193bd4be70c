// The audit log for its readers (auditors, admins): query it and verify it.
import { createPublicKey } from 'node:crypto';
import { Readable } from 'node:stream';
import { type Lang, label } from '../i18n/labels.js';
import type { AuditInput, AuditPage, AuditQuery, AuditRecord } from '../store/audit-log.js';
import { ReadUnavailableError } from '../store/query-pool.js';
import { ServiceError } from './errors.js';
import { loadLogKey, publicKeyPem } from '../store/log-key.js';
import type { Actor } from './actor.js';
import { recordChange } from './audit.js';
import { CSV_BOM, csvRows } from './csv.js';
import type { ServiceDeps } from './index.js';
import { running } from './running.js';

export type AuditFilter = Pick<AuditQuery, 'actor' | 'action' | 'from' | 'to'>;

/** Records per page of an export's walk: each page one indexed read on a query worker. */
const EXPORT_PAGE = 1000;

// The words a Japanese auditor reads in the CSV; codes not listed stay as they are.
const roleWords: Record<string, { en: string; ja: string }> = {
  admin: { en: 'admin', ja: '管理者' },
  manager: { en: 'manager', ja: '責任者' },
  guard: { en: 'guard', ja: '警備員' },
  auditor: { en: 'auditor', ja: '監査者' },
  'local-operator': { en: 'local operator', ja: 'ローカル操作者' },
};
const outcomeWords: Record<string, { en: string; ja: string }> = {
  ok: { en: 'done', ja: '完了' },
  invalid: { en: 'invalid input', ja: '入力不備' },
  unauthenticated: { en: 'not signed in', ja: '未ログイン' },
  denied: { en: 'refused (role)', ja: '拒否（権限なし）' },
  refused: { en: 'refused', ja: '拒否' },
  'not-found': { en: 'not found', ja: '対象なし' },
  conflict: { en: 'conflict', ja: '競合' },
  'rate-limited': { en: 'too many attempts', ja: '試行回数超過' },
  failed: { en: 'failed', ja: '失敗' },
  error: { en: 'error', ja: 'エラー' },
};

const auditColumns: { en: string; ja: string; cell: (r: AuditRecord, lang: Lang) => unknown }[] = [
  { en: 'seq', ja: '連番', cell: (r) => r.seq },
  { en: 'at', ja: '日時', cell: (r) => r.at },
  { en: 'account', ja: 'アカウント', cell: (r) => r.actor },
  { en: 'role', ja: '役割', cell: (r, lang) => label(roleWords, r.role, lang) },
  { en: 'action', ja: '操作', cell: (r) => r.action },
  { en: 'target', ja: '対象', cell: (r) => r.target },
  { en: 'outcome', ja: '結果', cell: (r, lang) => label(outcomeWords, r.outcome, lang) },
  { en: 'address', ja: '接続元', cell: (r) => r.address },
  { en: 'detail', ja: '詳細', cell: (r) => r.detail },
  { en: 'chain version', ja: 'チェーン版', cell: (r) => r.chainVersion },
  { en: 'previous hash', ja: '直前ハッシュ', cell: (r) => r.prevHash },
  { en: 'hash', ja: 'ハッシュ', cell: (r) => r.hash },
];

export class AuditLogService {
  constructor(private readonly deps: ServiceDeps) {}

  /**
   * Records an attempt the services did not record themselves: a refusal, invalid input, a failure
   * (the API's edge; `at` is now).
   */
  recordAttempt(entry: Omit<AuditInput, 'at'>): void {
    this.deps.store.audit.append({ at: new Date().toISOString(), ...entry });
  }

  /** Newest first, paged by seq; read on a query worker's connection, off the controller's thread. */
  async query(q: AuditQuery): Promise<AuditPage> {
    const { audit, reads } = this.deps.store;
    try {
      return await audit.queryOn(reads, q);
    } catch (err) {
      if (err instanceof ReadUnavailableError) throw new ServiceError('unavailable', `the audit log cannot be read now (${err.message}); try again`);
      throw err;
    }
  }

  /**
   * The records the filter matches, oldest first, as CSV (BOM, CRLF, headers and words in English or
   * Japanese) or JSON Lines (each record whole, hashes included, so the chain can be followed).
   * Recorded as `audit.export` before the first byte; read page by page on the query workers, so a
   * long export never holds the controller's connection.
   */
  export(actor: Actor, r: { format: 'csv' | 'jsonl'; lang: Lang; filter: AuditFilter }): Readable {
    const { store } = this.deps;
    const given = Object.fromEntries(Object.entries(r.filter).filter(([, v]) => v !== undefined));
    store.transaction(() => recordChange(store, actor, 'audit.export', 'audit-log', { format: r.format, lang: r.lang, filter: given }));
    const pages = this.pages(r.filter);
    async function* lines(): AsyncGenerator<string> {
      if (r.format === 'csv') yield CSV_BOM + csvRows([auditColumns.map((c) => c[r.lang])]);
      for await (const records of pages) {
        yield r.format === 'csv'
          ? csvRows(records.map((rec) => auditColumns.map((c) => c.cell(rec, r.lang))))
          : records.map((rec) => `${JSON.stringify(rec)}\n`).join('');
      }
    }
    return Readable.from(lines(), { objectMode: false });
  }

  private async *pages(filter: AuditFilter): AsyncGenerator<AuditRecord[]> {
    let after = 0;
    for (;;) {
      const { records, nextBefore } = await this.query({ ...filter, after, limit: EXPORT_PAGE });
      if (records.length) yield records;
      if (nextBefore === null) return;
      after = nextBefore;
    }
  }

  /** Walks the hash chain and checks the signed checkpoints with the gateway's public key. */
  verify() {
    const key = loadLogKey(running(this.deps).dataDir);
    const result = this.deps.store.verifyAuditLog(key ? createPublicKey(key) : undefined);
    return { ...result, publicKey: key ? publicKeyPem(key) : null };
  }
}
