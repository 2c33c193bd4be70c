// Verifying a log's hash chain (either log: `ChainLog`, hash-chain.ts) and its signed checkpoints.
// Verification comes in steps, so that the walk over the records can be split into chunks and run
// in parallel (verify-parallel.ts runs them in worker threads, each with its own connection):
//   1. `checkSignatures`: every checkpoint's signature, in id order (the first bad one wins over all else);
//   2. `planVerify`: where the walk starts (genesis or prune anchor), the checkpoints' head hashes
//      (by direct lookup of the record at each count), truncation, and — with the key — the
//      schedule: no checkpoint missing (checkpoints.ts, `scheduleBreak`);
//   3. `verifyChunk`: the records of one seq range: contiguous, linked, hashed;
//   4. `settleVerify`: the first break in seq order, as one walk from the start would have found it.
// `verifyLog` runs them in turn on one connection.
import type { KeyObject } from 'node:crypto';
import type { Db } from './db.js';
import { CheckpointStore, lateInTailOf, scheduleBreak, verifyCheckpointSignature, type Checkpoint, type StoredCheckpoint } from './checkpoints.js';
import { canonicalSql, chainHash, GENESIS_HASH, rawColumns, rawRecord, sha256Hex, storesChainVersion, type ChainLog, type ChainRecord } from './hash-chain.js';

export interface VerifyResult {
  ok: boolean;
  /** Records verified (before the break, if there is one). */
  records: number;
  /** Checkpoints in the log. */
  checkpoints: number;
  /** The first place where the log does not hold, and exactly why. */
  breakAt?: { seq: number; problem: string };
}

export interface VerifyBreak {
  seq: number;
  problem: string;
}

function describe(cp: Checkpoint): string {
  return `the ${cp.kind} checkpoint of ${cp.at} (${cp.count} records)`;
}

/** The first checkpoint (in the order given) whose signature does not verify, as a break. */
export function checkSignatures(log: ChainLog, cps: readonly StoredCheckpoint[], publicKey: KeyObject): VerifyBreak | undefined {
  for (const cp of cps) {
    if (!verifyCheckpointSignature(cp, publicKey, log.checkpointDomain)) {
      const seq = cp.kind === 'prune' && cp.anchorSeq != null ? cp.anchorSeq : cp.count;
      return { seq, problem: `checkpoint #${cp.id}, ${describe(cp)}, has an invalid signature: forged or altered, or signed with another key` };
    }
  }
  return undefined;
}

/** What the walk needs, read in one snapshot before it (plain data: it crosses to worker threads). */
export interface VerifyPlan {
  /** Checkpoints in the log. */
  checkpoints: number;
  /** The log's first record as planned (null: empty); a prune since then moves it. */
  firstSeq: number | null;
  /** The walk starts here (1, or the prune anchor) from this hash (genesis, or the anchor's prev_hash). */
  startSeq: number;
  startHash: string;
  /** The last record (0 when the log is empty). */
  lastSeq: number;
  /** The walk covers startSeq..walkTo: to the last record, or to the checkpoint head that does not match. */
  walkTo: number;
  /** The first checkpoint whose head hash is not the hash of the record at its count: reported unless the walk breaks first. */
  headBreak?: VerifyBreak;
  /** A checkpoint counting more records than remain: reported when everything else holds. */
  truncated?: VerifyBreak;
  /** Signed checkpoints that must exist and do not (a gap in the ordinals, too long an unsigned tail): reported after truncation. */
  missing?: VerifyBreak;
}

/**
 * Step 2: the start of the walk (from the genesis hash, or, when older records were pruned, from the
 * anchor named by the newest prune checkpoint), the head hash of every checkpoint against the record
 * at its count, and truncation. A break before the walk (a gap at the start, a bad anchor) is `fail`.
 */
export function planVerify(
  db: Db,
  log: ChainLog,
  cps: readonly StoredCheckpoint[],
  opts: { schedule?: boolean } = {},
): { plan: VerifyPlan } | { fail: VerifyBreak } {
  const first = db.prepare(`SELECT seq, prev_hash AS prevHash FROM ${log.table} ORDER BY seq LIMIT 1`).get() as { seq: number; prevHash: string } | undefined;
  const last = db.prepare(`SELECT seq FROM ${log.table} ORDER BY seq DESC LIMIT 1`).get() as { seq: number } | undefined;
  let startSeq = 1;
  let startHash = GENESIS_HASH;
  if (first && first.seq > 1) {
    let prune: StoredCheckpoint | undefined;
    for (const cp of cps) if (cp.kind === 'prune') prune = cp;
    if (!prune) {
      return {
        fail: { seq: 1, problem: `records 1–${first.seq - 1} are missing (the log starts at record ${first.seq}) and no prune checkpoint accounts for them` },
      };
    }
    if (prune.anchorSeq == null || prune.anchorPrevHash == null) {
      return { fail: { seq: first.seq, problem: `${describe(prune)} names no first record: the start of the log cannot be checked` } };
    }
    if (prune.anchorSeq < first.seq) {
      return {
        fail: {
          seq: prune.anchorSeq,
          problem: `records ${prune.anchorSeq}–${first.seq - 1} are missing: the last prune (${describe(prune)}) kept every record from ${prune.anchorSeq}`,
        },
      };
    }
    if (prune.anchorSeq > first.seq) {
      return {
        fail: {
          seq: first.seq,
          problem: `record ${first.seq} should not be there: the last prune (${describe(prune)}) removed every record before ${prune.anchorSeq}`,
        },
      };
    }
    if (prune.anchorPrevHash !== first.prevHash) {
      return { fail: { seq: first.seq, problem: `does not link to the anchor of the last prune (${describe(prune)}): its prev_hash was changed` } };
    }
    startSeq = first.seq;
    startHash = prune.anchorPrevHash;
  }

  // Checkpoints whose head is a record still here (or the anchor just before the first), by count.
  const pinned = cps.filter((cp) => cp.count >= startSeq - 1).sort((a, b) => a.count - b.count || a.id - b.id);
  let ci = 0;
  for (; ci < pinned.length && pinned[ci]!.count === startSeq - 1; ci++) {
    if (pinned[ci]!.headHash !== startHash) {
      return {
        fail: {
          seq: startSeq - 1,
          problem: `${describe(pinned[ci]!)} names a head hash that is not the ${startSeq === 1 ? 'genesis hash' : "prune anchor's"}: the log was rewritten`,
        },
      };
    }
  }
  // A record numbered below the start (0 or less) is where one walk from the start would stop at once.
  if (first && first.seq < startSeq) return { fail: { seq: startSeq, problem: `record ${startSeq} is missing (next is ${first.seq})` } };

  const lastSeq = last?.seq ?? 0;
  // Each remaining head against the record at its count, in count order. A record that is missing
  // ends this: the walk stops at or before it anyway.
  let headBreak: VerifyBreak | undefined;
  let lastMatched = startSeq - 1;
  const hashAt = db.prepare(`SELECT hash FROM ${log.table} WHERE seq = ?`).pluck(true);
  for (; ci < pinned.length && pinned[ci]!.count <= lastSeq; ci++) {
    const cp = pinned[ci]!;
    const hash = hashAt.get(cp.count);
    if (hash === undefined) break;
    if (cp.headHash !== hash) {
      headBreak = { seq: cp.count, problem: `hash differs from ${describe(cp)}: the chain was rewritten after record ${lastMatched}` };
      break;
    }
    lastMatched = cp.count;
  }

  let truncated: VerifyBreak | undefined;
  let widest: StoredCheckpoint | undefined;
  for (const cp of cps) if (!widest || cp.count > widest.count) widest = cp;
  if (widest && widest.count > lastSeq) {
    const remain = !first ? 'none remain' : first.seq === 1 ? `only ${lastSeq} remain` : `only records ${first.seq}–${lastSeq} remain`;
    truncated = { seq: lastSeq + 1, problem: `truncated: checkpoint of ${widest.at} covers ${widest.count} records, ${remain}` };
  }
  // Only against signed checkpoints: without the key, anyone can add rows that pass.
  const missing = opts.schedule ? scheduleBreak(cps, lastSeq, lateInTailOf(db, log.table)) : undefined;
  return {
    plan: {
      checkpoints: cps.length,
      firstSeq: first?.seq ?? null,
      startSeq,
      startHash,
      lastSeq,
      walkTo: headBreak ? headBreak.seq : lastSeq,
      ...(headBreak ? { headBreak } : {}),
      ...(truncated ? { truncated } : {}),
      ...(missing ? { missing } : {}),
    },
  };
}

/** One chunk of the walk: the records from..to (inclusive). */
export interface ChunkTask {
  from: number;
  to: number;
  /**
   * The hash the first record must link to; null: read it from the record just before the chunk
   * (when that record is missing, the first link is not checked here: an earlier chunk reports the gap).
   */
  prevHash: string | null;
}

/** Records read per query: the connection is free between pages (for the exact re-checks). */
const WALK_PAGE = 2048;

/**
 * The fast walk reads one string per record: hash, prev_hash, "\n", canonical encoding, so that
 * `s.slice(64)` is the preimage the hash covers — when the hash is text and both hash and prev_hash
 * are 64 bytes. In JS those 128 bytes are then 128 characters exactly when the "\n" is at 128 (a
 * multi-byte character makes fewer, and the canonical encoding never holds a raw newline: JSON
 * escapes it). Any other (tampered) record reads NULL, or fails that test, and goes through the
 * same checks one column at a time.
 */
const walkSqlOf = new Map<string, { fast: string; row: string }>();
function walkSql(log: ChainLog, versioned: boolean): { fast: string; row: string } {
  const key = `${log.name}:${versioned}`;
  let sql = walkSqlOf.get(key);
  if (!sql) {
    const canonical = canonicalSql(log, versioned);
    sql = {
      fast: `SELECT CASE WHEN typeof(hash) = 'text' AND octet_length(hash) = 64 AND octet_length(prev_hash) = 64
        THEN hash || prev_hash || char(10) || ${canonical} END
        FROM ${log.table} WHERE seq >= ? AND seq < ? ORDER BY seq`,
      // [seq, hash, prev_hash + "\n" + canonical]: the bytes a record's hash covers.
      row: `SELECT seq, hash, prev_hash || char(10) || ${canonical} FROM ${log.table}`,
    };
    walkSqlOf.set(key, sql);
  }
  return sql;
}

/**
 * Step 3: walks the records from..to: each present (seq contiguous), each linking to the one
 * before (its prev_hash is that record's hash), each hashing to its hash. A record whose fast
 * encoding does not hash to its hash is a suspect, checked exactly (parse the stored JSON, encode
 * canonically) once the walk is done; the first break, suspect or structural, is returned. Reads
 * in one transaction (one snapshot) unless the caller has one open.
 */
export function verifyChunk(db: Db, log: ChainLog, task: ChunkTask): VerifyBreak | undefined {
  const own = !db.inTransaction;
  if (own) db.exec('BEGIN');
  try {
    return walkChunk(db, log, task);
  } finally {
    if (own && db.inTransaction) db.exec('COMMIT');
  }
}

function walkChunk(db: Db, log: ChainLog, task: ChunkTask): VerifyBreak | undefined {
  // The previous record's hash as read (any type: a tampered row may hold anything), compared as
  // `String.prototype.startsWith` compares it.
  let prevHash: unknown = task.prevHash;
  if (prevHash === null) {
    const before = db
      .prepare(`SELECT hash FROM ${log.table} WHERE seq = ?`)
      .raw(true)
      .get(task.from - 1) as [unknown] | undefined;
    prevHash = before ? before[0] : '';
  }
  let expectSeq = task.from;
  const suspects: number[] = [];
  let structural: VerifyBreak | undefined;

  /** One record, the exact rules: false on a break. */
  const step = (seq: number, hash: unknown, preimage: string | null): boolean => {
    if (seq !== expectSeq) {
      structural = { seq: expectSeq, problem: `record ${expectSeq} is missing (next is ${seq})` };
      return false;
    }
    if (preimage === null || !preimage.startsWith(prevHash as string) || preimage.charCodeAt(64) !== 10) {
      structural = { seq, problem: 'does not link to the record before it' };
      return false;
    }
    if (sha256Hex(preimage) !== hash) suspects.push(seq);
    prevHash = hash;
    expectSeq++;
    return true;
  };

  const versioned = storesChainVersion(db, log);
  const sql = walkSql(log, versioned);
  const page = db.prepare(sql.fast).pluck(true);
  const rowsBetween = db.prepare(`${sql.row} WHERE seq >= ? AND seq < ? ORDER BY seq`).raw(true);
  const oneRow = db.prepare(`${sql.row} WHERE seq = ?`).raw(true);
  walk: for (let lo = task.from; lo <= task.to; lo += WALK_PAGE) {
    const hi = Math.min(lo + WALK_PAGE, task.to + 1);
    const rows = page.all(lo, hi) as (string | null)[];
    if (rows.length !== hi - lo) {
      // A gap in this page: record by record with their seqs, then the record after the page's last.
      for (const r of rowsBetween.iterate(lo, hi) as IterableIterator<[number, unknown, string | null]>) {
        if (!step(r[0], r[1], r[2])) break walk;
      }
      if (expectSeq < hi) {
        const next = db.prepare(`SELECT seq FROM ${log.table} WHERE seq >= ? ORDER BY seq LIMIT 1`).pluck(true).get(expectSeq) as number | undefined;
        structural = { seq: expectSeq, problem: `record ${expectSeq} is missing (next is ${next ?? 'none'})` };
        break;
      }
      continue;
    }
    // No gap: the i-th row is record lo + i. The same rules as `step`, on the one string; string
    // slices compared with === (startsWith at an offset costs V8 a third of the hashing).
    for (let i = 0; i < rows.length; i++) {
      const s = rows[i];
      if (typeof s !== 'string' || s.charCodeAt(128) !== 10) {
        const r = oneRow.get(lo + i) as [number, unknown, string | null];
        if (!step(r[0], r[1], r[2])) break walk;
        continue;
      }
      // The preimage s.slice(64) starts with prevHash (its "\n" at 64 is the one inserted).
      const linked = typeof prevHash === 'string' && prevHash.length === 64 ? s.slice(64, 128) === prevHash : s.startsWith(prevHash as string, 64);
      if (!linked) {
        structural = { seq: lo + i, problem: 'does not link to the record before it' };
        break walk;
      }
      const digest = sha256Hex(s.slice(64));
      const hash = s.slice(0, 64);
      if (hash !== digest) suspects.push(lo + i);
      prevHash = hash;
      expectSeq = lo + i + 1;
    }
  }

  if (suspects.length) {
    // The exact check: parse the stored JSON, encode canonically in the record's version.
    const bySeq = db.prepare(`SELECT ${rawColumns(log, versioned)} FROM ${log.table} WHERE seq = ?`).raw(true);
    const prevAt = log.fields.length + 1;
    for (const seq of suspects) {
      const r = bySeq.get(seq) as unknown[];
      let record: ChainRecord;
      try {
        record = rawRecord(log, r);
      } catch {
        return { seq, problem: log.badJson };
      }
      if (chainHash(log, r[prevAt] as string, record) !== r[prevAt + 1]) {
        const v = record.chainVersion;
        if (v != null && v !== 1 && v !== 2)
          return {
            seq,
            problem: `written in chain encoding version ${JSON.stringify(v)}, which this verifier does not know (edited, or written by a newer tobira)`,
          };
        return { seq, problem: 'content does not match its hash (edited)' };
      }
    }
  }
  return structural;
}

/**
 * Step 4: the verdict from the plan and the walk's first break (of the chunks in seq order, the
 * first that broke, every chunk before it whole). A break of the walk at or before a checkpoint's
 * head wins over that head; the truncation only counts when everything else holds.
 */
export function settleVerify(plan: VerifyPlan, walkBreak: VerifyBreak | undefined): VerifyResult {
  const brk = walkBreak && (!plan.headBreak || walkBreak.seq <= plan.headBreak.seq) ? walkBreak : plan.headBreak;
  if (brk) return { ok: false, records: brk.seq - plan.startSeq, checkpoints: plan.checkpoints, breakAt: brk };
  const records = plan.lastSeq >= plan.startSeq ? plan.lastSeq - plan.startSeq + 1 : 0;
  if (plan.truncated) return { ok: false, records, checkpoints: plan.checkpoints, breakAt: plan.truncated };
  if (plan.missing) return { ok: false, records, checkpoints: plan.checkpoints, breakAt: plan.missing };
  return { ok: true, records, checkpoints: plan.checkpoints };
}

/**
 * Verifies the whole log on this connection, in this thread: every checkpoint's signature (with the
 * public key), the start (genesis or prune anchor), every record's link and content, that the
 * record at each checkpoint's count has the checkpoint's head hash, and that no checkpoint counts
 * more records than remain (truncation). Reports the first break in seq order. For small logs and
 * in-memory databases; `verifyLogFile` (verify-parallel.ts) does the same off the event loop.
 */
export function verifyLog(db: Db, log: ChainLog, publicKey?: KeyObject): VerifyResult {
  const own = !db.inTransaction;
  if (own) db.exec('BEGIN');
  try {
    const cps = new CheckpointStore(db, log.checkpointTable).all();
    const badSignature = publicKey ? checkSignatures(log, cps, publicKey) : undefined;
    if (badSignature) return { ok: false, records: 0, checkpoints: cps.length, breakAt: badSignature };
    const planned = planVerify(db, log, cps, { schedule: publicKey !== undefined });
    if ('fail' in planned) return { ok: false, records: 0, checkpoints: cps.length, breakAt: planned.fail };
    const { plan } = planned;
    const walkBreak = plan.walkTo >= plan.startSeq ? verifyChunk(db, log, { from: plan.startSeq, to: plan.walkTo, prevHash: plan.startHash }) : undefined;
    return settleVerify(plan, walkBreak);
  } finally {
    if (own && db.inTransaction) db.exec('COMMIT');
  }
}

/**
 * Checks the log against one checkpoint kept off the gateway (as published on MQTT): it must be
 * signed by the key, count no more records than remain, and match the hash of the record at its
 * count. This catches truncation even when the local checkpoints were deleted as well.
 */
export function verifyExternalCheckpoint(
  db: Db,
  log: ChainLog,
  cp: Checkpoint,
  publicKey: KeyObject,
): { ok: boolean; breakAt?: { seq: number; problem: string }; note?: string } {
  if (!verifyCheckpointSignature(cp, publicKey, log.checkpointDomain)) {
    return {
      ok: false,
      breakAt: { seq: cp.count, problem: `the external checkpoint of ${cp.at} does not verify with the public key: altered, or not this log's key` },
    };
  }
  const first = db.prepare(`SELECT seq FROM ${log.table} ORDER BY seq LIMIT 1`).get() as { seq: number } | undefined;
  const last = db.prepare(`SELECT seq FROM ${log.table} ORDER BY seq DESC LIMIT 1`).get() as { seq: number } | undefined;
  const lastSeq = last?.seq ?? 0;
  if (cp.count > lastSeq) {
    const remain = !first ? 'none remain' : first.seq === 1 ? `only ${lastSeq} remain` : `only records ${first.seq}–${lastSeq} remain`;
    return { ok: false, breakAt: { seq: lastSeq + 1, problem: `truncated: the external checkpoint of ${cp.at} covers ${cp.count} records, ${remain}` } };
  }
  // Checkpoints are never deleted (pruning keeps them): one kept off the gateway that the log no
  // longer has says the local ones were deleted from there on.
  if (cp.ordinal != null) {
    const local = db
      .prepare(`SELECT count(*) FROM ${log.checkpointTable} WHERE ordinal = ? AND signature = ?`)
      .pluck(true)
      .get(cp.ordinal, cp.signature) as number;
    if (local === 0) {
      return {
        ok: false,
        breakAt: {
          seq: cp.count,
          problem: `the external checkpoint of ${cp.at} (#${cp.ordinal}, ${cp.count} records) is not among the log's checkpoints: checkpoints were deleted`,
        },
      };
    }
  }
  if (cp.count === 0) {
    return cp.headHash === GENESIS_HASH
      ? { ok: true }
      : { ok: false, breakAt: { seq: 0, problem: `the external checkpoint of ${cp.at} counts no records but names a head hash` } };
  }
  const row = db.prepare(`SELECT hash FROM ${log.table} WHERE seq = ?`).get(cp.count) as { hash: string } | undefined;
  if (!row) {
    if (first && cp.count < first.seq)
      return { ok: true, note: `the external checkpoint of ${cp.at} covers records since pruned: only its signature was checked` };
    return { ok: false, breakAt: { seq: cp.count, problem: `record ${cp.count}, the head of the external checkpoint of ${cp.at}, is missing` } };
  }
  if (row.hash !== cp.headHash) {
    return {
      ok: false,
      breakAt: { seq: cp.count, problem: `hash differs from the external checkpoint of ${cp.at}: the log was rewritten up to record ${cp.count}` },
    };
  }
  return { ok: true };
}
