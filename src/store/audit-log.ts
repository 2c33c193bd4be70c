// The audit log: every admin action (and every login, failure and lockout), append-only,
// hash-chained, signed, pruned and verified by the same code as the entry log (hash-chain.ts), so a
// changed, removed or reordered record is detected.
import type { KeyObject } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import { writeCheckpoint, type CheckpointKind, type StoredCheckpoint } from './checkpoints.js';
import { AUDIT_CHAIN, CHAIN_VERSION, chainHash, chainHead, sortKeys } from './hash-chain.js';
import { verifyLog, type VerifyResult } from './hash-chain-verify.js';
import { runReadPlan, type QueryPool, type ReadPlan, type ReadResult } from './query-pool.js';
import { pruneLog } from './retention.js';

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
  /** The encoding its hash covers (hash-chain.ts): 1 for records written before versions, 2 since. */
  chainVersion: number;
  prevHash: string;
  hash: string;
}

/** The hash of a record linked to `prevHash`, in the record's version (`chainVersion`; absent: v1). */
export function auditHash(prevHash: string, r: Omit<AuditRecord, 'prevHash' | 'hash' | 'chainVersion'> & { chainVersion?: number | null }): string {
  return chainHash(AUDIT_CHAIN, prevHash, r);
}

interface Row {
  seq: number;
  at: string;
  actor: string | null;
  role: string | null;
  action: string;
  target: string | null;
  outcome: string;
  address: string | null;
  detail: string | null;
  chain_version: number | null;
  prev_hash: string;
  hash: string;
}

const toRecord = (r: Row): AuditRecord => ({
  seq: r.seq,
  at: r.at,
  actor: r.actor,
  role: r.role,
  action: r.action,
  target: r.target,
  outcome: r.outcome,
  address: r.address,
  detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
  chainVersion: r.chain_version ?? 1,
  prevHash: r.prev_hash,
  hash: r.hash,
});

export interface AuditQuery {
  actor?: string;
  action?: string;
  from?: string;
  to?: string;
  before?: number;
  /** Oldest first from the record after this seq (an export's walk), instead of newest first. */
  after?: number;
  limit?: number;
}

export interface AuditPage {
  records: AuditRecord[];
  nextBefore: number | null;
}

/** The read of one page, newest first (run with `runReadPlan` on any connection, then `auditPageOf` its rows). */
export function auditPagePlan(q: AuditQuery = {}): { plan: ReadPlan; limit: number } {
  const where: string[] = [];
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
  const params: Record<string, unknown> = { limit };
  if (q.actor) {
    where.push('actor = @actor');
    params.actor = q.actor;
  }
  if (q.action) {
    where.push('action = @action');
    params.action = q.action;
  }
  if (q.from) {
    where.push('at >= @from');
    params.from = q.from;
  }
  if (q.to) {
    where.push('at < @to');
    params.to = q.to;
  }
  if (q.before) {
    where.push('seq < @before');
    params.before = q.before;
  }
  if (q.after !== undefined) {
    where.push('seq > @after');
    params.after = q.after;
  }
  const order = q.after !== undefined ? 'ASC' : 'DESC';
  const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${order} LIMIT @limit`;
  return { plan: { rows: { sql, params } }, limit };
}

/** The page of the rows `auditPagePlan`'s plan read (`nextBefore`: the last record's seq when the page is full, either order). */
export function auditPageOf({ rows }: ReadResult, limit: number): AuditPage {
  const records = (rows as Row[]).map(toRecord);
  return { records, nextBefore: records.length === limit ? records.at(-1)!.seq : null };
}

export class AuditLog {
  /** Prepared at the first append: a read-only copy of a log from before chain_version has no column to name. */
  private insert?: Statement;
  /** Called after each append (the log keeper counts records towards the next checkpoint). */
  onAppend?: () => void;
  /** Told of each record appended (syslog), inside the append's transaction: see `listen`. */
  private readonly listeners = new Set<(record: AuditRecord) => void>();
  constructor(private readonly db: Db) {}

  /** Appends one record; call inside the transaction of the change it records. Reads the head from disk, so concurrent writers cannot fork the chain. */
  append(input: AuditInput): AuditRecord {
    const head = chainHead(this.db, AUDIT_CHAIN);
    const body = {
      ...input,
      seq: head.seq + 1,
      detail: input.detail ? (sortKeys(input.detail) as Record<string, unknown>) : null,
      chainVersion: CHAIN_VERSION,
    };
    const hash = auditHash(head.hash, body);
    this.insert ??= this.db.prepare(`INSERT INTO audit_log (seq, at, actor, role, action, target, outcome, address, detail, chain_version, prev_hash, hash)
      VALUES (@seq, @at, @actor, @role, @action, @target, @outcome, @address, @detail, @chainVersion, @prevHash, @hash)`);
    // detail stored exactly as the chain encodes it (sorted keys): the verifier hashes the text as is.
    this.insert.run({ ...body, detail: body.detail ? JSON.stringify(body.detail) : null, prevHash: head.hash, hash });
    this.onAppend?.();
    const record = { ...body, prevHash: head.hash, hash };
    for (const fn of this.listeners) fn(record);
    return record;
  }

  /**
   * Calls `fn` with each record appended, synchronously, before its transaction commits (a listener
   * that sends it elsewhere waits for the turn to end); returns the unsubscribe. `fn` must not throw.
   */
  listen(fn: (record: AuditRecord) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get count(): number {
    return chainHead(this.db, AUDIT_CHAIN).seq;
  }

  /** Newest first, paged by seq. */
  query(q: AuditQuery = {}): AuditPage {
    const { plan, limit } = auditPagePlan(q);
    return auditPageOf(runReadPlan(this.db, plan), limit);
  }

  /** `query` read by the pool: on a worker's connection, off this thread, when it has workers. */
  async queryOn(reads: QueryPool, q: AuditQuery = {}): Promise<AuditPage> {
    const { plan, limit } = auditPagePlan(q);
    return auditPageOf(await reads.read(plan), limit);
  }

  /**
   * Signs the head (count, hash, time) with the gateway's key: v2, with the next ordinal and the most
   * records that may follow before the next checkpoint (given, else the latest checkpoint's; none
   * when neither says: then only the ordinals are checked).
   */
  checkpoint(
    key: KeyObject,
    kind: CheckpointKind,
    at: string,
    anchor?: { seq: number; prevHash: string },
    promise?: { nextWithin: number; nextWithinSeconds: number },
  ): StoredCheckpoint {
    return writeCheckpoint(this.db, key, {
      kind,
      at,
      anchorSeq: anchor?.seq ?? null,
      anchorPrevHash: anchor?.prevHash ?? null,
      ...(promise ?? {}),
      log: AUDIT_CHAIN,
    });
  }

  /** Removes records older than `before`, keeping the newest, behind a signed prune anchor (retention.ts). Returns how many went. */
  prune(key: KeyObject, before: string, at: string): number {
    return pruneLog(this.db, AUDIT_CHAIN, { before, key, now: () => new Date(at) });
  }
}

export type AuditVerifyResult = VerifyResult;

/**
 * Verifies the audit log on this connection as the entry log is verified (hash-chain-verify.ts):
 * checkpoint signatures, the start (genesis or prune anchor), every record, checkpoint heads,
 * truncation and, with the key, no checkpoint missing.
 */
export function verifyAuditLog(db: Db, publicKey?: KeyObject): AuditVerifyResult {
  return verifyLog(db, AUDIT_CHAIN, publicKey);
}
