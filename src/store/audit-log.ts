// The audit log: every admin action (and every login, failure and lockout), append-only,
// hash-chained and signed like the entry log, so a changed, removed or reordered record is detected.
import { createHash, type KeyObject } from 'node:crypto';
import type { Db } from './db.js';
import {
  AUDIT_CHECKPOINT_MESSAGE_VERSION, CheckpointStore, lateInTailOf, scheduleBreak, signCheckpoint, verifyCheckpointSignature, type CheckpointKind, type StoredCheckpoint,
} from './checkpoints.js';

export const AUDIT_GENESIS_HASH = '0'.repeat(64);

export interface AuditInput {
  at: string;
  /** Username, or null for an anonymous caller (a failed login names the username tried in detail). */
  actor: string | null;
  role: string | null;
  /** What was done, e.g. "grant.create", "auth.login". */
  action: string;
  /** What it was done to, e.g. "grant:12". */
  target: string | null;
  /** "ok", or the refusal: "denied", "invalid", "conflict", "not-found", "error"... */
  outcome: string;
  address: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditRecord extends AuditInput {
  seq: number;
  prevHash: string;
  hash: string;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** Canonical encoding: the fields in fixed order; never change it (every hash depends on it). */
export function auditHash(prevHash: string, r: Omit<AuditRecord, 'prevHash' | 'hash'>): string {
  const body = JSON.stringify([r.seq, r.at, r.actor, r.role, r.action, r.target, r.outcome, r.address, sortKeys(r.detail)]);
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

interface Row {
  seq: number; at: string; actor: string | null; role: string | null; action: string; target: string | null;
  outcome: string; address: string | null; detail: string | null; prev_hash: string; hash: string;
}

const toRecord = (r: Row): AuditRecord => ({
  seq: r.seq, at: r.at, actor: r.actor, role: r.role, action: r.action, target: r.target, outcome: r.outcome,
  address: r.address, detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null, prevHash: r.prev_hash, hash: r.hash,
});

export interface AuditQuery {
  actor?: string;
  action?: string;
  from?: string;
  to?: string;
  before?: number;
  limit?: number;
}

export class AuditLog {
  private readonly insert;
  /** Called after each append (the log keeper counts records towards the next checkpoint). */
  onAppend?: () => void;
  constructor(private readonly db: Db) {
    this.insert = db.prepare(`INSERT INTO audit_log (seq, at, actor, role, action, target, outcome, address, detail, prev_hash, hash)
      VALUES (@seq, @at, @actor, @role, @action, @target, @outcome, @address, @detail, @prevHash, @hash)`);
  }

  private head(): { seq: number; hash: string } {
    const row = this.db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: AUDIT_GENESIS_HASH };
  }

  /** Appends one record; call inside the transaction of the change it records. Reads the head from disk, so concurrent writers cannot fork the chain. */
  append(input: AuditInput): AuditRecord {
    const head = this.head();
    const body = { ...input, seq: head.seq + 1, detail: input.detail ? (sortKeys(input.detail) as Record<string, unknown>) : null };
    const hash = auditHash(head.hash, body);
    this.insert.run({ ...body, detail: body.detail ? JSON.stringify(body.detail) : null, prevHash: head.hash, hash });
    this.onAppend?.();
    return { ...body, prevHash: head.hash, hash };
  }

  get count(): number {
    return this.head().seq;
  }

  /** Newest first, paged by seq. */
  query(q: AuditQuery = {}): { records: AuditRecord[]; nextBefore: number | null } {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: Math.min(Math.max(q.limit ?? 50, 1), 1000) };
    if (q.actor) { where.push('actor = @actor'); params.actor = q.actor; }
    if (q.action) { where.push('action = @action'); params.action = q.action; }
    if (q.from) { where.push('at >= @from'); params.from = q.from; }
    if (q.to) { where.push('at < @to'); params.to = q.to; }
    if (q.before) { where.push('seq < @before'); params.before = q.before; }
    const rows = this.db.prepare(`SELECT * FROM audit_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT @limit`).all(params) as Row[];
    const records = rows.map(toRecord);
    return { records, nextBefore: records.length === params.limit ? records.at(-1)!.seq : null };
  }

  /**
   * Signs the head (count, hash, time) with the gateway's key: v2, with the next ordinal and the most
   * records that may follow before the next checkpoint (given, else the latest checkpoint's; none
   * when neither says: then only the ordinals are checked).
   */
  checkpoint(
    key: KeyObject, kind: CheckpointKind, at: string, anchor?: { seq: number; prevHash: string },
    promise?: { nextWithin: number; nextWithinSeconds: number },
  ): StoredCheckpoint {
    const head = this.head();
    const store = new CheckpointStore(this.db, 'audit_checkpoints');
    const latest = store.latest();
    const cp = signCheckpoint(
      {
        kind, count: head.seq, headHash: head.hash, at, anchorSeq: anchor?.seq ?? null, anchorPrevHash: anchor?.prevHash ?? null,
        ordinal: store.nextOrdinal(), nextWithin: promise?.nextWithin ?? latest?.nextWithin ?? null,
        nextWithinSeconds: promise?.nextWithinSeconds ?? latest?.nextWithinSeconds ?? null,
      },
      key, AUDIT_CHECKPOINT_MESSAGE_VERSION,
    );
    return store.insert(cp);
  }

  /** Removes records older than `before`, keeping the newest, behind a signed prune anchor. Returns how many went. */
  prune(key: KeyObject, before: string, at: string): number {
    return this.db.transaction(() => {
      const last = this.db.prepare('SELECT max(seq) AS seq FROM audit_log WHERE at < ? AND seq < (SELECT max(seq) FROM audit_log)').get(before) as { seq: number | null };
      if (!last.seq) return 0;
      const first = this.db.prepare('SELECT seq, prev_hash AS prevHash FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1').get(last.seq) as { seq: number; prevHash: string };
      this.db.prepare('INSERT INTO audit_prune (token) VALUES (1)').run();
      const removed = this.db.prepare('DELETE FROM audit_log WHERE seq <= ?').run(last.seq).changes;
      this.db.prepare('DELETE FROM audit_prune').run();
      this.checkpoint(key, 'prune', at, first);
      return removed;
    })();
  }
}

export interface AuditVerifyResult {
  ok: boolean;
  records: number;
  checkpoints: number;
  breakAt?: { seq: number; problem: string };
}

/** Walks the audit chain, from a signed prune anchor if older records were pruned, and checks every checkpoint. */
export function verifyAuditLog(db: Db, publicKey?: KeyObject): AuditVerifyResult {
  const checkpoints = new CheckpointStore(db, 'audit_checkpoints').all();
  const bad = (seq: number, problem: string, records: number): AuditVerifyResult => ({ ok: false, records, checkpoints: checkpoints.length, breakAt: { seq, problem } });
  if (publicKey) {
    for (const cp of checkpoints) {
      if (!verifyCheckpointSignature(cp, publicKey, AUDIT_CHECKPOINT_MESSAGE_VERSION)) return bad(cp.count, `checkpoint of ${cp.at} has an invalid signature`, 0);
    }
  }
  const firstRow = db.prepare('SELECT seq, prev_hash AS prevHash FROM audit_log ORDER BY seq LIMIT 1').get() as { seq: number; prevHash: string } | undefined;
  let prevHash = AUDIT_GENESIS_HASH;
  let expect = 1;
  if (firstRow && firstRow.seq > 1) {
    const anchor = [...checkpoints].reverse().find((c) => c.kind === 'prune' && c.anchorSeq === firstRow.seq);
    if (!anchor || anchor.anchorPrevHash !== firstRow.prevHash) return bad(firstRow.seq, `records before ${firstRow.seq} are missing and no signed prune checkpoint accounts for them`, 0);
    prevHash = firstRow.prevHash;
    expect = firstRow.seq;
  }
  const hashAt = new Map(checkpoints.map((c) => [c.count, c.headHash] as const));
  let records = 0;
  for (const row of db.prepare('SELECT * FROM audit_log ORDER BY seq').iterate() as IterableIterator<Row>) {
    const r = toRecord(row);
    if (r.seq !== expect) return bad(expect, `record ${expect} is missing (next is ${r.seq})`, records);
    if (r.prevHash !== prevHash) return bad(r.seq, 'does not link to the record before it', records);
    const { prevHash: _p, hash, ...body } = r;
    if (auditHash(prevHash, body) !== hash) return bad(r.seq, 'content does not match its hash (edited)', records);
    const pinned = hashAt.get(r.seq);
    if (pinned !== undefined && pinned !== hash) return bad(r.seq, 'differs from the signed checkpoint', records);
    prevHash = hash;
    expect++;
    records++;
  }
  const latest = checkpoints.at(-1);
  if (latest && latest.count > expect - 1) {
    return bad(expect, `truncated: the checkpoint of ${latest.at} covers ${latest.count} records, only ${expect - 1} remain`, records);
  }
  // With the key: no signed checkpoint deleted (the same rule as the entry log's).
  const missing = publicKey ? scheduleBreak(checkpoints, expect - 1, lateInTailOf(db, 'audit_log')) : undefined;
  if (missing) return bad(missing.seq, missing.problem, records);
  return { ok: true, records, checkpoints: checkpoints.length };
}
