// The audit log's export (GET /api/v1/audit/export): every record the filter matches, oldest first,
// across pages; CSV a spreadsheet opens (BOM, CRLF, Japanese headers and words for lang=ja) and JSON
// Lines whose hashes chain; readers only; the export recorded in the audit log itself.
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type TestApi } from '../helpers/api.js';

const V1 = '/api/v1';

describe('audit log export', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi();
    // More than two of the export's 1,000-record pages, from two accounts, one refusal among them.
    const { store } = api.controller.ctx;
    store.transaction(() => {
      for (let i = 0; i < 2_300; i++) {
        store.audit.append({
          at: new Date(Date.parse('2026-11-01T00:00:00Z') + i * 1000).toISOString(),
          actor: i % 2 ? 'export-a' : 'export-b',
          role: 'manager',
          action: i === 7 ? 'grant.create' : 'person.update',
          target: `person:p-${i}`,
          outcome: i === 7 ? 'conflict' : 'ok',
          address: '127.0.0.1',
          detail: i === 7 ? { note: '=HYPERLINK("x")', 名前: '山田' } : null,
        });
      }
    });
  });
  afterAll(async () => api?.close());

  it('JSON Lines: every record, oldest first across pages, each linked to the one before', async () => {
    const total = (api.db().prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
    const res = await api.call('auditor', 'GET', `${V1}/audit/export?format=jsonl`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/jsonl/);
    expect(res.headers['content-disposition']).toMatch(/^attachment; filename="tobira-audit-.*\.jsonl"$/);
    const records = res.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; prevHash: string; hash: string });
    // The export's own record is written before the first byte, so it is the last one out.
    expect(records.length).toBe(total + 1);
    expect(records.at(-1)).toMatchObject({
      action: 'audit.export',
      actor: 'test-auditor',
      target: 'audit-log',
      detail: { format: 'jsonl', lang: 'en', filter: {} },
    });
    for (let i = 1; i < records.length; i++) {
      expect(records[i]!.seq).toBe(records[i - 1]!.seq + 1);
      expect(records[i]!.prevHash).toBe(records[i - 1]!.hash);
    }
  });

  it('CSV in Japanese: BOM, CRLF, Japanese headers and words, a formula kept as text; filters as GET /audit', async () => {
    const res = await api.call('admin', 'GET', `${V1}/audit/export?format=csv&lang=ja&actor=export-a&action=grant.create`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.body.startsWith('\ufeff')).toBe(true);
    expect(res.body).toContain('\r\n');
    const rows = parse(res.body, { bom: true }) as string[][];
    expect(rows[0]).toEqual(['連番', '日時', 'アカウント', '役割', '操作', '対象', '結果', '接続元', '詳細', 'チェーン版', '直前ハッシュ', 'ハッシュ']);
    expect(rows).toHaveLength(2);
    const [seq, at, actor, role, action, target, outcome, address, detail] = rows[1]!;
    expect(Number(seq)).toBeGreaterThan(0);
    expect([at, actor, role, action, target, outcome, address]).toEqual([
      '2026-11-01T00:00:07.000Z',
      'export-a',
      '責任者',
      'grant.create',
      'person:p-7',
      '競合',
      '127.0.0.1',
    ]);
    expect(JSON.parse(detail!)).toEqual({ note: '=HYPERLINK("x")', 名前: '山田' });
  });

  it('CSV in English with a time range: only the records inside it, oldest first', async () => {
    const from = '2026-11-01T00:10:00.000Z';
    const to = '2026-11-01T00:20:00.000Z';
    const res = await api.call('auditor', 'GET', `${V1}/audit/export?format=csv&from=${from}&to=${to}`);
    expect(res.statusCode, res.body).toBe(200);
    const rows = parse(res.body, { bom: true }) as string[][];
    expect(rows[0]!.slice(0, 4)).toEqual(['seq', 'at', 'account', 'role']);
    const ats = rows.slice(1).map((r) => r[1]!);
    expect(ats).toHaveLength(600);
    expect(ats[0]).toBe(from);
    expect(ats.at(-1)).toBe('2026-11-01T00:19:59.000Z');
    expect([...ats].sort()).toEqual(ats);
    expect(rows[1]![6]).toBe('done');
  });

  it('readers only; a bad format is a 400 naming the field', async () => {
    for (const role of ['guard', 'manager'] as const) {
      const res = await api.call(role, 'GET', `${V1}/audit/export?format=csv`);
      expect(res.statusCode, `${role}: ${res.body}`).toBe(403);
    }
    expect((await api.call(null, 'GET', `${V1}/audit/export?format=csv`)).statusCode).toBe(401);
    const bad = await api.call('auditor', 'GET', `${V1}/audit/export?format=xml`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details[0].path).toBe('format');
  });
});
