// Signed checkpoints of a log (the entry log's and the audit log's, each in its own table and under
// its own first line: `ChainLog`, hash-chain.ts): (record count, head hash, time) signed with the
// gateway's Ed25519 key. A checkpoint pins the chain: rewriting, truncating or re-chaining records before it
// no longer matches a signature the intruder cannot make. A prune checkpoint also anchors the first
// record kept after pruning (its seq and prev_hash), so the remainder verifies without what went.
//
// Version 2 (every checkpoint written since) also signs its ordinal — it is the n-th checkpoint
// ever written — and its promise: the next checkpoint follows within `nextWithin` records, and
// before the records after it span more than `nextWithinSeconds` seconds (of the records' times). Deleting checkpoints then shows
// (`scheduleBreak`): one deleted in the middle (or before the first v2) leaves a gap in the
// ordinals, and deleting the newest ones leaves more records, or later ones, after the last one kept
// than it allowed. A v1 checkpoint (written before version 2) still verifies as it was signed; as
// the last one it allows no record after it.
import { sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { Db } from './db.js';
import { CHECKPOINT_KINDS, type CheckpointKind } from '../policy/vocabulary.js';
import { AUDIT_CHAIN, chainHead, ENTRY_CHAIN, type ChainLog } from './hash-chain.js';

export type { CheckpointKind };

export interface Checkpoint {
  kind: CheckpointKind;
  /** Records in the log when signed: the seq of the head record (0 for an empty log). */
  count: number;
  /** The head record's hash (the genesis hash for an empty log). */
  headHash: string;
  /** ISO time of signing. */
  at: string;
  /** Prune checkpoints: the first record kept, and the prev_hash it links to. */
  anchorSeq?: number | null;
  anchorPrevHash?: string | null;
  /** v2: this is the n-th checkpoint of its log (1-based, v1 checkpoints counted). null/absent: a v1 checkpoint. */
  ordinal?: number | null;
  /** v2: at most this many records may follow `count` before the next checkpoint; null: no promise (v1). */
  nextWithin?: number | null;
  /** v2: the records after `count`, until the next checkpoint, span at most this many seconds (first to last `at`); null: no promise. */
  nextWithinSeconds?: number | null;
  /** Ed25519 signature over `checkpointMessage`, base64. */
  signature: string;
}

export interface StoredCheckpoint extends Checkpoint {
  id: number;
  anchorSeq: number | null;
  anchorPrevHash: string | null;
  ordinal: number | null;
  nextWithin: number | null;
  nextWithinSeconds: number | null;
}

export const CHECKPOINT_MESSAGE_VERSION = ENTRY_CHAIN.checkpointDomain;
/** The audit log's checkpoints are signed under their own first line, so one can never pass for the other. */
export const AUDIT_CHECKPOINT_MESSAGE_VERSION = AUDIT_CHAIN.checkpointDomain;

/**
 * The most records the log keeper lets follow a checkpoint before the next, for a schedule of one
 * checkpoint every `everyRecords`: twice that (the trigger runs after the decision path, so a burst
 * can overshoot it) plus 1,000 for a group-commit batch.
 */
export function nextWithinFor(everyRecords: number): number {
  return 2 * everyRecords + 1000;
}
/** The promise of a checkpoint written without one and after none (the default schedule's). */
export const DEFAULT_NEXT_WITHIN = nextWithinFor(1000);
/** The same in time, for a checkpoint every `intervalSeconds` when records were added: twice that plus a minute. */
export function nextWithinSecondsFor(intervalSeconds: number): number {
  return 2 * intervalSeconds + 60;
}
export const DEFAULT_NEXT_WITHIN_SECONDS = nextWithinSecondsFor(60);

/**
 * The exact bytes signed. Versioned: a change of layout gets a new version line, never a silent
 * change. A checkpoint with an ordinal is v2: its first line ends in -v2 and it signs the ordinal and
 * the promise too, so stripping them (to pass as v1) breaks the signature.
 */
export function checkpointMessage(cp: Omit<Checkpoint, 'signature'>, domain = CHECKPOINT_MESSAGE_VERSION): string {
  const v1 = [cp.kind, String(cp.count), cp.headHash, cp.at, cp.anchorSeq == null ? '' : String(cp.anchorSeq), cp.anchorPrevHash ?? ''];
  if (cp.ordinal == null) return [domain, ...v1].join('\n');
  const opt = (n: number | null | undefined) => (n == null ? '' : String(n));
  return [domain.replace(/-v1$/, '-v2'), ...v1, String(cp.ordinal), opt(cp.nextWithin), opt(cp.nextWithinSeconds)].join('\n');
}

export function signCheckpoint(body: Omit<Checkpoint, 'signature'>, privateKey: KeyObject, domain = CHECKPOINT_MESSAGE_VERSION): Checkpoint {
  const cp = {
    kind: body.kind,
    count: body.count,
    headHash: body.headHash,
    at: body.at,
    anchorSeq: body.anchorSeq ?? null,
    anchorPrevHash: body.anchorPrevHash ?? null,
    ordinal: body.ordinal ?? null,
    nextWithin: body.nextWithin ?? null,
    nextWithinSeconds: body.nextWithinSeconds ?? null,
  };
  return { ...cp, signature: sign(null, Buffer.from(checkpointMessage(cp, domain), 'utf8'), privateKey).toString('base64') };
}

/** True when the signature is the key's over exactly these fields. Never throws. */
export function verifyCheckpointSignature(cp: Checkpoint, publicKey: KeyObject, domain = CHECKPOINT_MESSAGE_VERSION): boolean {
  try {
    if (typeof cp.signature !== 'string' || cp.signature.length === 0) return false;
    const sig = Buffer.from(cp.signature, 'base64');
    return verify(null, Buffer.from(checkpointMessage(cp, domain), 'utf8'), publicKey, sig);
  } catch {
    return false;
  }
}

interface CheckpointRow {
  id: number;
  kind: CheckpointKind;
  count: number;
  head_hash: string;
  at: string;
  anchor_seq: number | null;
  anchor_prev_hash: string | null;
  signature: string;
  ordinal: number | null;
  next_within: number | null;
  next_within_s: number | null;
}

function fromRow(r: CheckpointRow): StoredCheckpoint {
  return {
    id: r.id,
    kind: r.kind,
    count: r.count,
    headHash: r.head_hash,
    at: r.at,
    anchorSeq: r.anchor_seq,
    anchorPrevHash: r.anchor_prev_hash,
    ordinal: r.ordinal,
    nextWithin: r.next_within,
    nextWithinSeconds: r.next_within_s,
    signature: r.signature,
  };
}

export class CheckpointStore {
  private readonly insertStmt;
  private readonly latestStmt;
  private readonly latestPruneStmt;
  private readonly allStmt;

  /** `table`: checkpoints (the entry log's) or audit_checkpoints. */
  constructor(
    private readonly db: Db,
    private readonly table: 'checkpoints' | 'audit_checkpoints' = 'checkpoints',
  ) {
    this.insertStmt =
      db.prepare(`INSERT INTO ${table} (kind, count, head_hash, at, anchor_seq, anchor_prev_hash, ordinal, next_within, next_within_s, signature)
      VALUES (@kind, @count, @headHash, @at, @anchorSeq, @anchorPrevHash, @ordinal, @nextWithin, @nextWithinSeconds, @signature)`);
    this.latestStmt = db.prepare(`SELECT * FROM ${table} ORDER BY id DESC LIMIT 1`);
    this.latestPruneStmt = db.prepare(`SELECT * FROM ${table} WHERE kind = 'prune' ORDER BY id DESC LIMIT 1`);
    this.allStmt = db.prepare(`SELECT * FROM ${table} ORDER BY id`);
  }

  insert(cp: Checkpoint): StoredCheckpoint {
    const row = {
      ...cp,
      anchorSeq: cp.anchorSeq ?? null,
      anchorPrevHash: cp.anchorPrevHash ?? null,
      ordinal: cp.ordinal ?? null,
      nextWithin: cp.nextWithin ?? null,
      nextWithinSeconds: cp.nextWithinSeconds ?? null,
    };
    const id = Number(this.insertStmt.run(row).lastInsertRowid);
    return { id, ...row };
  }

  /** The most recently written checkpoint. */
  latest(): StoredCheckpoint | undefined {
    const row = this.latestStmt.get() as CheckpointRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  latestPrune(): StoredCheckpoint | undefined {
    const row = this.latestPruneStmt.get() as CheckpointRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Every checkpoint, oldest first (in the order written). */
  all(): StoredCheckpoint[] {
    return (this.allStmt.all() as CheckpointRow[]).map(fromRow);
  }

  count(): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM ${this.table}`).get() as { n: number }).n;
  }

  /**
   * The ordinal the next checkpoint gets: one past the highest signed so far, or past every v1
   * checkpoint when none is v2 yet (a v1 checkpoint counts as one written before).
   */
  nextOrdinal(): number {
    const row = this.db.prepare(`SELECT max(ordinal) AS o, count(*) AS n FROM ${this.table}`).get() as { o: number | null; n: number };
    return (row.o ?? row.n) + 1;
  }

  /** One page, oldest first: the checkpoints with id > `afterId` (for the API). */
  page(afterId: number, limit: number): StoredCheckpoint[] {
    return (this.db.prepare(`SELECT * FROM ${this.table} WHERE id > ? ORDER BY id LIMIT ?`).all(afterId, limit) as CheckpointRow[]).map(fromRow);
  }
}

/** A break in the checkpoint schedule (the same shape as a break of the chain). */
export interface ScheduleBreak {
  seq: number;
  problem: string;
}

function describeCp(cp: Checkpoint): string {
  return `the ${cp.kind} checkpoint of ${cp.at} (${cp.count} records)`;
}

/**
 * What the signed checkpoints say must exist, against what does:
 *  - the ordinals run without a gap (a v2 checkpoint signed as the n-th has n - 1 before it);
 *  - between two checkpoints, no more records than the earlier one allowed (a later one signed
 *    after a gap does not make the unsigned stretch good: it may have been rewritten before);
 *  - after the last checkpoint, no more records than it allowed, spanning no longer than it allowed
 *    (`lateInTail`, from `lateInTailOf`); none at all after a v1 one; and a log with records has at
 *    least one checkpoint.
 * Only meaningful when the signatures are checked: unsigned, anyone can add rows. `lastSeq`: the
 * last record (0 for an empty log). Plain data in, so the worker threads and the reference verifier
 * run it on their own reads.
 */
export function scheduleBreak(cps: readonly StoredCheckpoint[], lastSeq: number, lateInTail?: LateInTail): ScheduleBreak | undefined {
  const v1 = cps.filter((cp) => cp.ordinal == null);
  const v2 = cps.filter((cp) => cp.ordinal != null).sort((a, b) => a.ordinal! - b.ordinal! || a.id - b.id);
  let expected = v1.length + 1;
  let prev: StoredCheckpoint | undefined;
  for (const cp of v2) {
    const o = cp.ordinal!;
    if (o > expected) {
      const which = o - expected === 1 ? `checkpoint #${expected} is` : `checkpoints #${expected}–#${o - 1} are`;
      const before = prev?.count ?? v1.reduce((n, c) => Math.max(n, c.count), 0);
      return {
        seq: before + 1,
        problem: `${which} missing: ${describeCp(cp)} is signed as #${o}, so ${o - 1} were written before it and ${expected - 1} remain (signed checkpoints were deleted)`,
      };
    }
    if (o < expected) return { seq: cp.count, problem: `checkpoint #${o} appears twice (${describeCp(cp)}): not as the controller writes them` };
    if (prev?.nextWithin != null && cp.count - prev.count > prev.nextWithin) {
      return {
        seq: prev.count + prev.nextWithin + 1,
        problem: `records ${prev.count + 1}–${cp.count} were signed only by #${o}, ${describeCp(cp)}, but #${prev.ordinal} allowed at most ${prev.nextWithin} before the next: checkpoints in between were deleted and the records may have been rewritten before #${o} signed them`,
      };
    }
    expected++;
    prev = cp;
  }
  const last =
    prev ?? v1.reduce<StoredCheckpoint | undefined>((a, cp) => (!a || cp.count > a.count || (cp.count === a.count && cp.id > a.id) ? cp : a), undefined);
  if (!last) {
    if (lastSeq <= 0) return undefined;
    return {
      seq: 1,
      problem: `no signed checkpoint: records 1–${lastSeq} are signed by none, but the controller signs the log from its first start — the checkpoints were deleted (and the records may have been rewritten)`,
    };
  }
  if (lastSeq <= last.count) return undefined;
  const deleted = `later checkpoints were deleted (and the records after record ${last.count} may have been rewritten)`;
  if (last.ordinal == null) {
    return {
      seq: last.count + 1,
      problem: `records ${last.count + 1}–${lastSeq} follow no signed checkpoint and the last one, ${describeCp(last)}, is in the old format (v1), which allows none after it: ${deleted}; if they were written before the upgrade, start the controller once to sign them`,
    };
  }
  if (last.nextWithin != null && lastSeq - last.count > last.nextWithin) {
    return {
      seq: last.count + last.nextWithin + 1,
      problem: `records ${last.count + 1}–${lastSeq} follow no signed checkpoint and the last one, #${last.ordinal}, ${describeCp(last)}, allowed at most ${last.nextWithin}: ${deleted}`,
    };
  }
  if (last.nextWithinSeconds != null && lateInTail) {
    const late = lateInTail(last.count, last.nextWithinSeconds);
    if (late) {
      return {
        seq: late.seq,
        problem: `record ${late.seq} (${late.at}) follows no signed checkpoint and is more than ${last.nextWithinSeconds} s after record ${late.firstSeq} (${late.firstAt}), the first after the last one, #${last.ordinal}, ${describeCp(last)}, which promised the next within that: ${deleted}`,
      };
    }
  }
  return undefined;
}

/** The first record after `afterSeq` more than `seconds` later than the first record after it. */
export type LateInTail = (afterSeq: number, seconds: number) => { seq: number; at: string; firstSeq: number; firstAt: string } | undefined;

/** `LateInTail` on a log table (times stored as UTC ISO strings, compared as text). Two indexed look-ups. */
export function lateInTailOf(db: Db, table: 'entry_log' | 'audit_log'): LateInTail {
  const first = db.prepare(`SELECT seq, at FROM ${table} WHERE seq > ? ORDER BY seq LIMIT 1`);
  const later = db.prepare(`SELECT seq, at FROM ${table} WHERE seq > ? AND +at > ? ORDER BY seq LIMIT 1`);
  return (afterSeq, seconds) => {
    const f = first.get(afterSeq) as { seq: number; at: string } | undefined;
    const t = f ? Date.parse(f.at) : NaN;
    if (!f || !Number.isFinite(t)) return undefined;
    const late = later.get(afterSeq, new Date(t + seconds * 1000).toISOString()) as { seq: number; at: string } | undefined;
    return late ? { ...late, firstSeq: f.seq, firstAt: f.at } : undefined;
  };
}

/** The head of a log (the entry log unless named) as a checkpoint counts it: (seq, hash) of the last record, or (0, genesis). */
export function logHead(db: Db, log: ChainLog = ENTRY_CHAIN): { count: number; headHash: string } {
  const head = chainHead(db, log);
  return { count: head.seq, headHash: head.hash };
}

/**
 * Signs the current head of a log (the entry log unless `log` names another) and stores the
 * checkpoint in that log's table, under that log's first line (v2: the next ordinal, and the
 * promise: given, else the latest checkpoint's, else the default schedule's where the log has one).
 * Call inside the transaction it must commit with, if any.
 */
export function writeCheckpoint(
  db: Db,
  privateKey: KeyObject,
  opts: {
    kind: CheckpointKind;
    at: string;
    anchorSeq?: number | null;
    anchorPrevHash?: string | null;
    nextWithin?: number;
    nextWithinSeconds?: number;
    /** At least this ordinal (the writer's own count, when the table has lost some). */
    minOrdinal?: number;
    log?: ChainLog;
  },
): StoredCheckpoint {
  const log = opts.log ?? ENTRY_CHAIN;
  const store = new CheckpointStore(db, log.checkpointTable);
  const head = logHead(db, log);
  const latest = store.latest();
  const cp = signCheckpoint(
    {
      kind: opts.kind,
      ...head,
      at: opts.at,
      anchorSeq: opts.anchorSeq ?? null,
      anchorPrevHash: opts.anchorPrevHash ?? null,
      ordinal: Math.max(store.nextOrdinal(), opts.minOrdinal ?? 0),
      nextWithin: opts.nextWithin ?? latest?.nextWithin ?? (log.promiseByDefault ? DEFAULT_NEXT_WITHIN : null),
      nextWithinSeconds: opts.nextWithinSeconds ?? latest?.nextWithinSeconds ?? (log.promiseByDefault ? DEFAULT_NEXT_WITHIN_SECONDS : null),
    },
    privateKey,
    log.checkpointDomain,
  );
  return store.insert(cp);
}

/** A checkpoint as published, retained, on `{base}/log/checkpoints`: the checkpoint and the PEM public key to check it. */
export interface PublishedCheckpoint {
  kind: CheckpointKind;
  count: number;
  headHash: string;
  at: string;
  anchorSeq: number | null;
  anchorPrevHash: string | null;
  ordinal: number | null;
  nextWithin: number | null;
  nextWithinSeconds: number | null;
  signature: string;
  publicKey: string;
}

/** The signed fields of a checkpoint, as published, exported and served by the API. */
export function checkpointFields(cp: Checkpoint): Omit<PublishedCheckpoint, 'publicKey'> {
  return {
    kind: cp.kind,
    count: cp.count,
    headHash: cp.headHash,
    at: cp.at,
    anchorSeq: cp.anchorSeq ?? null,
    anchorPrevHash: cp.anchorPrevHash ?? null,
    ordinal: cp.ordinal ?? null,
    nextWithin: cp.nextWithin ?? null,
    nextWithinSeconds: cp.nextWithinSeconds ?? null,
    signature: cp.signature,
  };
}

export function publishedCheckpoint(cp: Checkpoint, publicKeyPemText: string): PublishedCheckpoint {
  return { ...checkpointFields(cp), publicKey: publicKeyPemText };
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits');
export const checkpointSchema = z.object({
  kind: z.enum(CHECKPOINT_KINDS),
  count: z.number().int().min(0),
  headHash: hex64,
  at: z.string().min(1),
  anchorSeq: z.number().int().min(1).nullable().optional(),
  anchorPrevHash: hex64.nullable().optional(),
  ordinal: z.number().int().min(1).nullable().optional(),
  nextWithin: z.number().int().min(0).nullable().optional(),
  nextWithinSeconds: z.number().int().min(0).nullable().optional(),
  signature: z.string().min(1),
});

/**
 * Reads a checkpoint kept off the gateway: either as published on MQTT (the checkpoint's fields
 * and `publicKey`) or an export's last line (`{"checkpoint": {...}, "publicKey": "..."}`).
 */
export function parseCheckpointJson(text: string): { checkpoint: Checkpoint; publicKey?: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  const outer = json && typeof json === 'object' ? (json as Record<string, unknown>) : {};
  const inner = outer.checkpoint && typeof outer.checkpoint === 'object' ? outer.checkpoint : outer;
  const parsed = checkpointSchema.safeParse(inner);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`not a checkpoint: ${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
  }
  const publicKey = typeof outer.publicKey === 'string' ? outer.publicKey : undefined;
  const cp = parsed.data;
  return {
    checkpoint: {
      ...cp,
      anchorSeq: cp.anchorSeq ?? null,
      anchorPrevHash: cp.anchorPrevHash ?? null,
      ordinal: cp.ordinal ?? null,
      nextWithin: cp.nextWithin ?? null,
      nextWithinSeconds: cp.nextWithinSeconds ?? null,
    },
    ...(publicKey ? { publicKey } : {}),
  };
}
