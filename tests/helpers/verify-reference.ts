// The entry log's verification as it was before it was split into steps for worker threads: one
// walk, one row at a time, on one connection (commit 34d6ca8). Kept verbatim, for tests only: the
// parallel verification must give exactly its result — the same break, the same message, the same
// count — for every kind of tampering. Since checkpoints v2 it also ends, as the steps do, with the
// schedule (`scheduleBreak`: no signed checkpoint missing), after truncation and only with the key.
import type { KeyObject } from 'node:crypto';
import type { Db } from '../../src/store/db.js';
import {
  CheckpointStore,
  lateInTailOf,
  scheduleBreak,
  verifyCheckpointSignature,
  type Checkpoint,
  type StoredCheckpoint,
} from '../../src/store/checkpoints.js';
import { CANONICAL_SQL, GENESIS_HASH, entryHash, rowToRecord, type VerifyResult } from '../../src/store/entry-log.js';
import * as crypto from 'node:crypto';

const oneShot = (crypto as { hash?: (algorithm: string, data: string) => string }).hash;
const sha256Hex: (data: string) => string =
  typeof oneShot === 'function' ? (data) => oneShot('sha256', data) : (data) => crypto.createHash('sha256').update(data).digest('hex');
const RAW_COLUMNS = `seq, at, kind, door_id, area_id, direction, person_id, person_name, affiliation, purpose, factors,
  decision, reason, device_id, device_boot, device_seq, linked_seq, linked_person_id, detail, prev_hash, hash, chain_version`;
type RawRow = unknown[];
const RAW_PREV = 19;
const RAW_HASH = 20;
const NAMES = RAW_COLUMNS.split(',').map((c) => c.trim());

function slowRawHash(prevHash: string, r: RawRow): string {
  const row = Object.fromEntries(NAMES.map((n, i) => [n, r[i]]));
  const { hash: _h, prevHash: _p, ...body } = rowToRecord(row as never);
  return entryHash(prevHash, body);
}

function describe(cp: Checkpoint): string {
  return `the ${cp.kind} checkpoint of ${cp.at} (${cp.count} records)`;
}

export function referenceVerify(db: Db, publicKey?: KeyObject): VerifyResult {
  const cps = new CheckpointStore(db).all();
  let records = 0;
  const fail = (seq: number, problem: string): VerifyResult => ({ ok: false, records, checkpoints: cps.length, breakAt: { seq, problem } });

  if (publicKey) {
    for (const cp of cps) {
      if (!verifyCheckpointSignature(cp, publicKey)) {
        const seq = cp.kind === 'prune' && cp.anchorSeq != null ? cp.anchorSeq : cp.count;
        return fail(seq, `checkpoint #${cp.id}, ${describe(cp)}, has an invalid signature: forged or altered, or signed with another key`);
      }
    }
  }

  const first = db.prepare('SELECT seq, prev_hash AS prevHash FROM entry_log ORDER BY seq LIMIT 1').get() as { seq: number; prevHash: string } | undefined;
  const last = db.prepare('SELECT seq FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number } | undefined;
  let expectSeq = 1;
  let prevHash = GENESIS_HASH;
  if (first && first.seq > 1) {
    let prune: StoredCheckpoint | undefined;
    for (const cp of cps) if (cp.kind === 'prune') prune = cp;
    if (!prune) {
      return fail(1, `records 1–${first.seq - 1} are missing (the log starts at record ${first.seq}) and no prune checkpoint accounts for them`);
    }
    if (prune.anchorSeq == null || prune.anchorPrevHash == null) {
      return fail(first.seq, `${describe(prune)} names no first record: the start of the log cannot be checked`);
    }
    if (prune.anchorSeq < first.seq) {
      return fail(
        prune.anchorSeq,
        `records ${prune.anchorSeq}–${first.seq - 1} are missing: the last prune (${describe(prune)}) kept every record from ${prune.anchorSeq}`,
      );
    }
    if (prune.anchorSeq > first.seq) {
      return fail(first.seq, `record ${first.seq} should not be there: the last prune (${describe(prune)}) removed every record before ${prune.anchorSeq}`);
    }
    if (prune.anchorPrevHash !== first.prevHash) {
      return fail(first.seq, `does not link to the anchor of the last prune (${describe(prune)}): its prev_hash was changed`);
    }
    expectSeq = first.seq;
    prevHash = prune.anchorPrevHash;
  }

  // Checkpoints whose head is a record still here (or the anchor just before the first), by count.
  const pinned = cps.filter((cp) => cp.count >= expectSeq - 1).sort((a, b) => a.count - b.count || a.id - b.id);
  let ci = 0;
  let lastMatched = expectSeq - 1;
  for (; ci < pinned.length && pinned[ci]!.count === expectSeq - 1; ci++) {
    if (pinned[ci]!.headHash !== prevHash) {
      return fail(
        expectSeq - 1,
        `${describe(pinned[ci]!)} names a head hash that is not the ${expectSeq === 1 ? 'genesis hash' : "prune anchor's"}: the log was rewritten`,
      );
    }
  }

  // One row per record: [seq, hash, prev_hash + "\n" + canonical], the bytes its hash covers.
  // A record whose fast encoding does not match is a suspect, checked exactly once the walk is done
  // (the connection is busy while iterating); the first break, suspect or structural, is reported.
  const walk = db.prepare(`SELECT seq, hash, prev_hash || char(10) || ${CANONICAL_SQL} FROM entry_log ORDER BY seq`).raw(true);
  const startSeq = expectSeq;
  const suspects: number[] = [];
  let structural: VerifyResult | undefined;
  for (const r of walk.iterate() as IterableIterator<[number, string, string | null]>) {
    const seq = r[0];
    const hash = r[1];
    const preimage = r[2];
    if (seq !== expectSeq) {
      structural = fail(expectSeq, `record ${expectSeq} is missing (next is ${seq})`);
      break;
    }
    if (preimage === null || !preimage.startsWith(prevHash) || preimage.charCodeAt(64) !== 10) {
      structural = fail(seq, 'does not link to the record before it');
      break;
    }
    if (sha256Hex(preimage) !== hash) suspects.push(seq);
    for (; ci < pinned.length && pinned[ci]!.count === seq; ci++) {
      if (pinned[ci]!.headHash !== hash) {
        structural = fail(seq, `hash differs from ${describe(pinned[ci]!)}: the chain was rewritten after record ${lastMatched}`);
        break;
      }
      lastMatched = seq;
    }
    if (structural) break;
    prevHash = hash;
    expectSeq++;
    records++;
  }
  if (suspects.length) {
    const bySeq = db.prepare(`SELECT ${RAW_COLUMNS} FROM entry_log WHERE seq = ?`).raw(true);
    for (const seq of suspects) {
      const r = bySeq.get(seq) as RawRow;
      let problem: string | undefined;
      try {
        if (slowRawHash(r[RAW_PREV] as string, r) !== r[RAW_HASH]) problem = 'content does not match its hash (edited)';
      } catch {
        problem = 'factors or detail is not valid JSON (edited)';
      }
      if (problem) {
        records = seq - startSeq;
        return fail(seq, problem);
      }
    }
  }
  if (structural) return structural;

  const lastSeq = last?.seq ?? 0;
  let widest: StoredCheckpoint | undefined;
  for (const cp of cps) if (!widest || cp.count > widest.count) widest = cp;
  if (widest && widest.count > lastSeq) {
    const remain = !first ? 'none remain' : first.seq === 1 ? `only ${lastSeq} remain` : `only records ${first.seq}–${lastSeq} remain`;
    return fail(lastSeq + 1, `truncated: checkpoint of ${widest.at} covers ${widest.count} records, ${remain}`);
  }
  if (publicKey) {
    const missing = scheduleBreak(cps, lastSeq, lateInTailOf(db, 'entry_log'));
    if (missing) return fail(missing.seq, missing.problem);
  }
  return { ok: true, records, checkpoints: cps.length };
}
