// Signed checkpoints of the entry log: (record count, head hash, time) signed with the gateway's
// Ed25519 key. A checkpoint pins the chain: rewriting, truncating or re-chaining records before it
// no longer matches a signature the intruder cannot make. A prune checkpoint also anchors the first
// record kept after pruning (its seq and prev_hash), so the remainder verifies without what went.
import { sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { Db } from './db.js';

export type CheckpointKind = 'periodic' | 'shutdown' | 'prune';

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
  /** Ed25519 signature over `checkpointMessage`, base64. */
  signature: string;
}

export interface StoredCheckpoint extends Checkpoint {
  id: number;
  anchorSeq: number | null;
  anchorPrevHash: string | null;
}

export const CHECKPOINT_MESSAGE_VERSION = 'tobira-checkpoint-v1';
/** The audit log's checkpoints are signed under their own first line, so one can never pass for the other. */
export const AUDIT_CHECKPOINT_MESSAGE_VERSION = 'tobira-audit-checkpoint-v1';

/** The exact bytes signed. Versioned: a change of layout gets a new version line, never a silent change. */
export function checkpointMessage(cp: Omit<Checkpoint, 'signature'>, domain = CHECKPOINT_MESSAGE_VERSION): string {
  return [
    domain, cp.kind, String(cp.count), cp.headHash, cp.at,
    cp.anchorSeq == null ? '' : String(cp.anchorSeq), cp.anchorPrevHash ?? '',
  ].join('\n');
}

export function signCheckpoint(body: Omit<Checkpoint, 'signature'>, privateKey: KeyObject, domain = CHECKPOINT_MESSAGE_VERSION): Checkpoint {
  const cp = {
    kind: body.kind, count: body.count, headHash: body.headHash, at: body.at,
    anchorSeq: body.anchorSeq ?? null, anchorPrevHash: body.anchorPrevHash ?? null,
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
  id: number; kind: CheckpointKind; count: number; head_hash: string; at: string;
  anchor_seq: number | null; anchor_prev_hash: string | null; signature: string;
}

function fromRow(r: CheckpointRow): StoredCheckpoint {
  return {
    id: r.id, kind: r.kind, count: r.count, headHash: r.head_hash, at: r.at,
    anchorSeq: r.anchor_seq, anchorPrevHash: r.anchor_prev_hash, signature: r.signature,
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
    this.insertStmt = db.prepare(`INSERT INTO ${table} (kind, count, head_hash, at, anchor_seq, anchor_prev_hash, signature)
      VALUES (@kind, @count, @headHash, @at, @anchorSeq, @anchorPrevHash, @signature)`);
    this.latestStmt = db.prepare(`SELECT * FROM ${table} ORDER BY id DESC LIMIT 1`);
    this.latestPruneStmt = db.prepare(`SELECT * FROM ${table} WHERE kind = 'prune' ORDER BY id DESC LIMIT 1`);
    this.allStmt = db.prepare(`SELECT * FROM ${table} ORDER BY id`);
  }

  insert(cp: Checkpoint): StoredCheckpoint {
    const row = { ...cp, anchorSeq: cp.anchorSeq ?? null, anchorPrevHash: cp.anchorPrevHash ?? null };
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
}

const EMPTY_HEAD_HASH = '0'.repeat(64);

/** The head of the entry log as stored: (seq, hash) of the last record, or (0, genesis). */
export function logHead(db: Db): { count: number; headHash: string } {
  const row = db.prepare('SELECT seq, hash FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
  return row ? { count: row.seq, headHash: row.hash } : { count: 0, headHash: EMPTY_HEAD_HASH };
}

/** Signs the log's current head and stores the checkpoint. Call inside the transaction it must commit with, if any. */
export function writeCheckpoint(
  db: Db,
  privateKey: KeyObject,
  opts: { kind: CheckpointKind; at: string; anchorSeq?: number | null; anchorPrevHash?: string | null },
): StoredCheckpoint {
  const head = logHead(db);
  const cp = signCheckpoint({ kind: opts.kind, ...head, at: opts.at, anchorSeq: opts.anchorSeq ?? null, anchorPrevHash: opts.anchorPrevHash ?? null }, privateKey);
  return new CheckpointStore(db).insert(cp);
}

/** A checkpoint as published, retained, on `{base}/log/checkpoints`: the checkpoint and the PEM public key to check it. */
export interface PublishedCheckpoint {
  kind: CheckpointKind;
  count: number;
  headHash: string;
  at: string;
  anchorSeq: number | null;
  anchorPrevHash: string | null;
  signature: string;
  publicKey: string;
}

export function publishedCheckpoint(cp: Checkpoint, publicKeyPemText: string): PublishedCheckpoint {
  return {
    kind: cp.kind, count: cp.count, headHash: cp.headHash, at: cp.at,
    anchorSeq: cp.anchorSeq ?? null, anchorPrevHash: cp.anchorPrevHash ?? null, signature: cp.signature, publicKey: publicKeyPemText,
  };
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits');
export const checkpointSchema = z.object({
  kind: z.enum(['periodic', 'shutdown', 'prune']),
  count: z.number().int().min(0),
  headHash: hex64,
  at: z.string().min(1),
  anchorSeq: z.number().int().min(1).nullable().optional(),
  anchorPrevHash: hex64.nullable().optional(),
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
    checkpoint: { ...cp, anchorSeq: cp.anchorSeq ?? null, anchorPrevHash: cp.anchorPrevHash ?? null },
    ...(publicKey ? { publicKey } : {}),
  };
}
