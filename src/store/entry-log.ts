// The entry log: every decision and door event, append-only and hash-chained (SHA-256 over a
// canonical encoding), so that editing, deleting or reordering a record breaks the chain. Signed
// checkpoints (checkpoints.ts) pin the chain's head, so truncating or re-chaining it is caught too.
import * as crypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Db } from './db.js';
import { CheckpointStore, lateInTailOf, scheduleBreak, verifyCheckpointSignature, type Checkpoint, type StoredCheckpoint } from './checkpoints.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface EntryInput {
  at: string;
  /** decision: someone asked to pass; door: what a door did (forced, held, REX, emergency release); mode: an area's mode changed. */
  kind: 'decision' | 'door' | 'mode';
  doorId?: string | null;
  areaId?: string | null;
  direction?: 'in' | 'out' | null;
  personId?: string | null;
  personName?: string | null;
  affiliation?: string | null;
  purpose?: string | null;
  factors?: string[] | null;
  decision?: 'granted' | 'denied' | null;
  reason?: string | null;
  deviceId?: string | null;
  deviceBoot?: number | null;
  deviceSeq?: number | null;
  /** The other record of a pair: the escort of a visitor, the second person of a two-person entry. */
  linkedSeq?: number | null;
  linkedPersonId?: string | null;
  detail?: Record<string, unknown> | null;
}

export interface EntryRecord extends Required<{ [K in keyof EntryInput]-?: Exclude<EntryInput[K], undefined> }> {
  seq: number;
  prevHash: string;
  hash: string;
}

/** The fields in chain order. Changing this order changes every hash: never do it. */
const FIELDS = [
  'seq', 'at', 'kind', 'doorId', 'areaId', 'direction', 'personId', 'personName', 'affiliation', 'purpose',
  'factors', 'decision', 'reason', 'deviceId', 'deviceBoot', 'deviceSeq', 'linkedSeq', 'linkedPersonId', 'detail',
] as const;

/** The chained fields, in chain order (what an export line must carry besides prevHash and hash). */
export const ENTRY_FIELDS: readonly (typeof FIELDS)[number][] = FIELDS;

/** Canonical encoding: a JSON array of the fields in fixed order, nested objects with sorted keys. */
export function canonicalEntry(record: Omit<EntryRecord, 'hash' | 'prevHash'>): string {
  return JSON.stringify(FIELDS.map((f) => sortKeys(record[f])));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/** A JSON value as the chain encodes it: objects with sorted keys. What `append` stores for factors and detail. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

// crypto.hash (Node ≥ 20.12) is a one-shot SHA-256, about twice as fast as createHash per record;
// both hash the same bytes.
const oneShot = (crypto as { hash?: (algorithm: string, data: string) => string }).hash;
const sha256Hex: (data: string) => string = typeof oneShot === 'function'
  ? (data) => oneShot('sha256', data)
  : (data) => crypto.createHash('sha256').update(data).digest('hex');

export function entryHash(prevHash: string, record: Omit<EntryRecord, 'hash' | 'prevHash'>): string {
  return sha256Hex(prevHash + '\n' + canonicalEntry(record));
}

interface Row {
  seq: number; at: string; kind: string; door_id: string | null; area_id: string | null; direction: string | null;
  person_id: string | null; person_name: string | null; affiliation: string | null; purpose: string | null;
  factors: string | null; decision: string | null; reason: string | null; device_id: string | null;
  device_boot: number | null; device_seq: number | null; linked_seq: number | null; linked_person_id: string | null;
  detail: string | null; prev_hash: string; hash: string;
}

export function rowToRecord(r: Row): EntryRecord {
  return {
    seq: r.seq, at: r.at, kind: r.kind as EntryRecord['kind'], doorId: r.door_id, areaId: r.area_id,
    direction: r.direction as EntryRecord['direction'], personId: r.person_id, personName: r.person_name,
    affiliation: r.affiliation, purpose: r.purpose, factors: r.factors ? (JSON.parse(r.factors) as string[]) : null,
    decision: r.decision as EntryRecord['decision'], reason: r.reason, deviceId: r.device_id,
    deviceBoot: r.device_boot, deviceSeq: r.device_seq, linkedSeq: r.linked_seq, linkedPersonId: r.linked_person_id,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
    prevHash: r.prev_hash, hash: r.hash,
  };
}

/** The stored columns in chain order, then prev_hash and hash: the layout of a raw row. */
const RAW_COLUMNS = `seq, at, kind, door_id, area_id, direction, person_id, person_name, affiliation, purpose, factors,
  decision, reason, device_id, device_boot, device_seq, linked_seq, linked_person_id, detail, prev_hash, hash`;
type RawRow = unknown[];
const RAW_PREV = 19;
const RAW_HASH = 20;

/**
 * The canonical encoding built by SQLite from the stored columns, without a JS object per record:
 * json_array quotes text and writes numbers as the JS encoder does, and `append` stores factors and
 * detail already canonical (sorted keys), so json() passes them through. A row whose text is not
 * canonical (or not JSON) gets a different string; the verifier then falls back to `canonicalEntry`
 * of the parsed record, so this is only ever a fast path: equal bytes, or a slow exact check.
 */
export const CANONICAL_SQL = `json_array(seq, at, kind, door_id, area_id, direction, person_id, person_name, affiliation,
  purpose, CASE WHEN json_valid(factors) THEN json(factors) END, decision, reason, device_id, device_boot, device_seq,
  linked_seq, linked_person_id, CASE WHEN json_valid(detail) THEN json(detail) END)`;

/** The fast-path canonical encoding of one stored record, as the verifier builds it (for tests and diagnostics). */
export function storedCanonical(db: Db, seq: number): string | undefined {
  return db.prepare(`SELECT ${CANONICAL_SQL} FROM entry_log WHERE seq = ?`).pluck(true).get(seq) as string | undefined;
}

function rawToRecord(r: RawRow): EntryRecord {
  return rowToRecord({
    seq: r[0], at: r[1], kind: r[2], door_id: r[3], area_id: r[4], direction: r[5], person_id: r[6], person_name: r[7],
    affiliation: r[8], purpose: r[9], factors: r[10], decision: r[11], reason: r[12], device_id: r[13], device_boot: r[14],
    device_seq: r[15], linked_seq: r[16], linked_person_id: r[17], detail: r[18], prev_hash: r[19], hash: r[20],
  } as Row);
}

/** The slow, exact hash of a raw row: parse the stored JSON, encode canonically. Throws on unparsable JSON. */
function slowRawHash(prevHash: string, r: RawRow): string {
  const { hash: _h, prevHash: _p, ...body } = rawToRecord(r);
  return entryHash(prevHash, body);
}

/** What to select from the log. Every field is optional; all given must match. */
export interface EntryFilter {
  areaId?: string;
  doorId?: string;
  personId?: string;
  decision?: string;
  reason?: string;
  /** ISO time (any offset): records at or after it. */
  from?: string;
  /** ISO time (any offset): records before it. */
  to?: string;
}

export interface EntryQuery extends EntryFilter {
  /** Page cursor: only records with seq below it (the previous page's `nextBefore`). */
  before?: number;
  /** Page size: default 50, at most 1000. */
  limit?: number;
}

export interface EntryPage {
  /** Newest first. */
  records: EntryRecord[];
  /** The cursor for the next (older) page; null on the last page. */
  nextBefore: number | null;
}

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 1000;

/** An ISO time normalised to the stored form (UTC, milliseconds, "Z"), so string comparison orders it. */
function isoBound(value: string, what: string): string {
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new RangeError(`${what}: "${value}" is not an ISO date or time`);
  return new Date(t).toISOString();
}

/**
 * The WHERE clause of a filter. One index drives each query; the other terms are written with
 * unary `+` so SQLite does not pick their index instead: person (person_id, seq) and door
 * (door_id, seq) give seq order directly; an area alone walks the primary key backwards (newest
 * first stops after a page). A time range (with or without an area) is first turned into the seq
 * range it spans, from the (area_id, at) or (at) index alone, and the rows are then read by seq
 * within it: no sort of the whole range for every page. Times are still checked row by row, so a
 * clock that stepped back never lets a record outside the range through.
 */
function planQuery(db: Db, filter: EntryFilter & { before?: number }): { sql: string; params: Record<string, unknown> } | null {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const from = filter.from ? isoBound(filter.from, 'from') : undefined;
  const to = filter.to ? isoBound(filter.to, 'to') : undefined;
  const timed = from !== undefined || to !== undefined;
  const driver = filter.personId ? 'person' : filter.doorId ? 'door' : timed ? 'time' : filter.areaId ? 'area' : 'seq';
  if (filter.personId) { where.push('person_id = @personId'); params.personId = filter.personId; }
  if (filter.doorId) { where.push(`${driver === 'door' ? '' : '+'}door_id = @doorId`); params.doorId = filter.doorId; }
  if (filter.areaId) { where.push('+area_id = @areaId'); params.areaId = filter.areaId; }
  if (from) { where.push('+at >= @from'); params.from = from; }
  if (to) { where.push('+at < @to'); params.to = to; }
  if (filter.decision) { where.push('decision = @decision'); params.decision = filter.decision; }
  if (filter.reason) { where.push('reason = @reason'); params.reason = filter.reason; }
  if (filter.before !== undefined) { where.push('seq < @before'); params.before = filter.before; }
  if (driver === 'time') {
    const span: string[] = [];
    if (filter.areaId) span.push('area_id = @areaId');
    if (from) span.push('at >= @from');
    if (to) span.push('at < @to');
    const spanParams = { ...(filter.areaId ? { areaId: filter.areaId } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) };
    const bounds = db.prepare(`SELECT min(seq) AS lo, max(seq) AS hi FROM entry_log WHERE ${span.join(' AND ')}`).get(spanParams) as { lo: number | null; hi: number | null };
    if (bounds.lo === null || bounds.hi === null) return null;
    where.push('seq BETWEEN @lo AND @hi');
    params.lo = bounds.lo;
    params.hi = bounds.hi;
  }
  return { sql: where.length ? 'WHERE ' + where.join(' AND ') : '', params };
}

export class EntryLog {
  private head: { seq: number; hash: string };
  private readonly insert;
  private readonly bySeq;

  constructor(private readonly db: Db) {
    const last = db.prepare('SELECT seq, hash FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    this.head = last ?? { seq: 0, hash: GENESIS_HASH };
    this.insert = db.prepare(`INSERT INTO entry_log (seq, at, kind, door_id, area_id, direction, person_id, person_name,
      affiliation, purpose, factors, decision, reason, device_id, device_boot, device_seq, linked_seq, linked_person_id,
      detail, prev_hash, hash)
      VALUES (@seq, @at, @kind, @doorId, @areaId, @direction, @personId, @personName, @affiliation, @purpose, @factors,
      @decision, @reason, @deviceId, @deviceBoot, @deviceSeq, @linkedSeq, @linkedPersonId, @detail, @prevHash, @hash)`);
    this.bySeq = db.prepare('SELECT * FROM entry_log WHERE seq = ?');
  }

  /**
   * Appends one record. Call inside a transaction with whatever else must commit with it; the
   * in-memory head only advances once the caller's transaction commits (see `committed`).
   */
  append(input: EntryInput): EntryRecord {
    const base = {
      seq: this.head.seq + 1, at: input.at, kind: input.kind, doorId: input.doorId ?? null, areaId: input.areaId ?? null,
      direction: input.direction ?? null, personId: input.personId ?? null, personName: input.personName ?? null,
      affiliation: input.affiliation ?? null, purpose: input.purpose ?? null, factors: input.factors ?? null,
      decision: input.decision ?? null, reason: input.reason ?? null, deviceId: input.deviceId ?? null,
      deviceBoot: input.deviceBoot ?? null, deviceSeq: input.deviceSeq ?? null, linkedSeq: input.linkedSeq ?? null,
      linkedPersonId: input.linkedPersonId ?? null, detail: input.detail ?? null,
    };
    const prevHash = this.head.hash;
    const hash = entryHash(prevHash, base);
    this.insert.run({
      ...base,
      // Stored exactly as the chain encodes them (sorted keys): the verifier hashes the text as is.
      factors: base.factors ? canonicalJson(base.factors) : null,
      detail: base.detail ? canonicalJson(base.detail) : null,
      prevHash,
      hash,
    });
    this.head = { seq: base.seq, hash };
    return { ...base, prevHash, hash };
  }

  /** Re-reads the head after a rolled-back transaction, so the chain continues from what is on disk. */
  resync(): void {
    const last = this.db.prepare('SELECT seq, hash FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    this.head = last ?? { seq: 0, hash: GENESIS_HASH };
  }

  get count(): number {
    return this.head.seq;
  }

  /** The seq the next append will get: lets a pair of linked records name each other. */
  get nextSeq(): number {
    return this.head.seq + 1;
  }

  get(seq: number): EntryRecord | undefined {
    const row = this.bySeq.get(seq) as Row | undefined;
    return row ? rowToRecord(row) : undefined;
  }

  /** Newest first. */
  recent(limit = 50, filter: { doorId?: string; personId?: string; decision?: string } = {}): EntryRecord[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit };
    if (filter.doorId) { where.push('door_id = @doorId'); params.doorId = filter.doorId; }
    if (filter.personId) { where.push('person_id = @personId'); params.personId = filter.personId; }
    if (filter.decision) { where.push('decision = @decision'); params.decision = filter.decision; }
    const sql = `SELECT * FROM entry_log ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as Row[]).map(rowToRecord);
  }

  /**
   * One page of records matching the filter, newest first (by seq). Pass the returned `nextBefore`
   * as `before` for the next page. Throws RangeError on a bad limit or time.
   */
  query(q: EntryQuery = {}): EntryPage {
    const limit = q.limit ?? DEFAULT_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new RangeError(`limit: ${limit} is not a whole number from 1 to ${MAX_PAGE}`);
    if (q.before !== undefined && !Number.isInteger(q.before)) throw new RangeError(`before: ${q.before} is not a record number`);
    const plan = planQuery(this.db, q);
    if (!plan) return { records: [], nextBefore: null };
    const { sql, params } = plan;
    const rows = this.db.prepare(`SELECT * FROM entry_log ${sql} ORDER BY seq DESC LIMIT @limit`).all({ ...params, limit: limit + 1 }) as Row[];
    const more = rows.length > limit;
    if (more) rows.pop();
    return { records: rows.map(rowToRecord), nextBefore: more ? rows[rows.length - 1]!.seq : null };
  }

  /**
   * Every record matching the filter, one at a time (for export): oldest first unless asked
   * otherwise. The connection is busy until the iteration ends or is abandoned (`return()`).
   */
  *iterate(filter: EntryFilter = {}, order: 'asc' | 'desc' = 'asc'): Generator<EntryRecord, void, undefined> {
    const plan = planQuery(this.db, filter);
    if (!plan) return;
    const { sql, params } = plan;
    const stmt = this.db.prepare(`SELECT * FROM entry_log ${sql} ORDER BY seq ${order === 'asc' ? 'ASC' : 'DESC'}`);
    for (const row of stmt.iterate(params) as IterableIterator<Row>) yield rowToRecord(row);
  }

  /** Records after `seq`, oldest first, at most `limit`: what a resuming stream missed. */
  after(seq: number, limit: number): EntryRecord[] {
    return (this.db.prepare('SELECT * FROM entry_log WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as Row[]).map(rowToRecord);
  }

  /** How many records `after` would return, counting no further than `cap` (a bounded scan). */
  countAfter(seq: number, cap: number): number {
    return this.db.prepare('SELECT count(*) FROM (SELECT 1 FROM entry_log WHERE seq > ? LIMIT ?)').pluck(true).get(seq, cap) as number;
  }

  /** The first seq the log still holds (null when empty): above 1 once retention pruned. */
  firstStoredSeq(): number | null {
    return this.db.prepare('SELECT min(seq) FROM entry_log').pluck(true).get() as number | null;
  }

  /** The last seq committed to disk (0 when none). */
  lastStoredSeq(): number {
    return this.db.prepare('SELECT coalesce(max(seq), 0) FROM entry_log').pluck(true).get() as number;
  }

  /** Records the log holds now (after pruning, fewer than the head's seq): from the primary key, no scan. */
  rows(): number {
    const r = this.db.prepare('SELECT min(seq) AS lo, max(seq) AS hi FROM entry_log').get() as { lo: number | null; hi: number | null };
    return r.lo === null || r.hi === null ? 0 : r.hi - r.lo + 1;
  }
}

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

// Verification comes in steps, so that the walk over the records can be split into chunks and run
// in parallel (verify-parallel.ts runs them in worker threads, each with its own connection):
//   1. `checkSignatures`: every checkpoint's signature, in id order (the first bad one wins over all else);
//   2. `planVerify`: where the walk starts (genesis or prune anchor), the checkpoints' head hashes
//      (by direct lookup of the record at each count), truncation, and — with the key — the
//      schedule: no checkpoint missing (checkpoints.ts, `scheduleBreak`);
//   3. `verifyChunk`: the records of one seq range: contiguous, linked, hashed;
//   4. `settleVerify`: the first break in seq order, as one walk from the start would have found it.
// `verifyEntryLog` runs them in turn on one connection.

/** The first checkpoint (in the order given) whose signature does not verify, as a break. */
export function checkSignatures(cps: readonly StoredCheckpoint[], publicKey: KeyObject): VerifyBreak | undefined {
  for (const cp of cps) {
    if (!verifyCheckpointSignature(cp, publicKey)) {
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
export function planVerify(db: Db, cps: readonly StoredCheckpoint[], opts: { schedule?: boolean } = {}): { plan: VerifyPlan } | { fail: VerifyBreak } {
  const first = db.prepare('SELECT seq, prev_hash AS prevHash FROM entry_log ORDER BY seq LIMIT 1').get() as { seq: number; prevHash: string } | undefined;
  const last = db.prepare('SELECT seq FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number } | undefined;
  let startSeq = 1;
  let startHash = GENESIS_HASH;
  if (first && first.seq > 1) {
    let prune: StoredCheckpoint | undefined;
    for (const cp of cps) if (cp.kind === 'prune') prune = cp;
    if (!prune) {
      return { fail: { seq: 1, problem: `records 1–${first.seq - 1} are missing (the log starts at record ${first.seq}) and no prune checkpoint accounts for them` } };
    }
    if (prune.anchorSeq == null || prune.anchorPrevHash == null) {
      return { fail: { seq: first.seq, problem: `${describe(prune)} names no first record: the start of the log cannot be checked` } };
    }
    if (prune.anchorSeq < first.seq) {
      return { fail: { seq: prune.anchorSeq, problem: `records ${prune.anchorSeq}–${first.seq - 1} are missing: the last prune (${describe(prune)}) kept every record from ${prune.anchorSeq}` } };
    }
    if (prune.anchorSeq > first.seq) {
      return { fail: { seq: first.seq, problem: `record ${first.seq} should not be there: the last prune (${describe(prune)}) removed every record before ${prune.anchorSeq}` } };
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
      return { fail: { seq: startSeq - 1, problem: `${describe(pinned[ci]!)} names a head hash that is not the ${startSeq === 1 ? 'genesis hash' : 'prune anchor\'s'}: the log was rewritten` } };
    }
  }
  // A record numbered below the start (0 or less) is where one walk from the start would stop at once.
  if (first && first.seq < startSeq) return { fail: { seq: startSeq, problem: `record ${startSeq} is missing (next is ${first.seq})` } };

  const lastSeq = last?.seq ?? 0;
  // Each remaining head against the record at its count, in count order. A record that is missing
  // ends this: the walk stops at or before it anyway.
  let headBreak: VerifyBreak | undefined;
  let lastMatched = startSeq - 1;
  const hashAt = db.prepare('SELECT hash FROM entry_log WHERE seq = ?').pluck(true);
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
  const missing = opts.schedule ? scheduleBreak(cps, lastSeq, lateInTailOf(db, 'entry_log')) : undefined;
  return {
    plan: {
      checkpoints: cps.length, firstSeq: first?.seq ?? null, startSeq, startHash, lastSeq, walkTo: headBreak ? headBreak.seq : lastSeq,
      ...(headBreak ? { headBreak } : {}), ...(truncated ? { truncated } : {}), ...(missing ? { missing } : {}),
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
const FAST_WALK_SQL = `SELECT CASE WHEN typeof(hash) = 'text' AND octet_length(hash) = 64 AND octet_length(prev_hash) = 64
  THEN hash || prev_hash || char(10) || ${CANONICAL_SQL} END
  FROM entry_log WHERE seq >= ? AND seq < ? ORDER BY seq`;
/** [seq, hash, prev_hash + "\n" + canonical]: the bytes a record's hash covers. */
const ROW_WALK_SQL = `SELECT seq, hash, prev_hash || char(10) || ${CANONICAL_SQL} FROM entry_log`;

/**
 * Step 3: walks the records from..to: each present (seq contiguous), each linking to the one
 * before (its prev_hash is that record's hash), each hashing to its hash. A record whose fast
 * encoding does not hash to its hash is a suspect, checked exactly (parse the stored JSON, encode
 * canonically) once the walk is done; the first break, suspect or structural, is returned. Reads
 * in one transaction (one snapshot) unless the caller has one open.
 */
export function verifyChunk(db: Db, task: ChunkTask): VerifyBreak | undefined {
  const own = !db.inTransaction;
  if (own) db.exec('BEGIN');
  try {
    return walkChunk(db, task);
  } finally {
    if (own && db.inTransaction) db.exec('COMMIT');
  }
}

function walkChunk(db: Db, task: ChunkTask): VerifyBreak | undefined {
  // The previous record's hash as read (any type: a tampered row may hold anything), compared as
  // `String.prototype.startsWith` compares it.
  let prevHash: unknown = task.prevHash;
  if (prevHash === null) {
    const before = db.prepare('SELECT hash FROM entry_log WHERE seq = ?').raw(true).get(task.from - 1) as [unknown] | undefined;
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

  const page = db.prepare(FAST_WALK_SQL).pluck(true);
  const rowsBetween = db.prepare(`${ROW_WALK_SQL} WHERE seq >= ? AND seq < ? ORDER BY seq`).raw(true);
  const oneRow = db.prepare(`${ROW_WALK_SQL} WHERE seq = ?`).raw(true);
  walk: for (let lo = task.from; lo <= task.to; lo += WALK_PAGE) {
    const hi = Math.min(lo + WALK_PAGE, task.to + 1);
    const rows = page.all(lo, hi) as (string | null)[];
    if (rows.length !== hi - lo) {
      // A gap in this page: record by record with their seqs, then the record after the page's last.
      for (const r of rowsBetween.iterate(lo, hi) as IterableIterator<[number, unknown, string | null]>) {
        if (!step(r[0], r[1], r[2])) break walk;
      }
      if (expectSeq < hi) {
        const next = db.prepare('SELECT seq FROM entry_log WHERE seq >= ? ORDER BY seq LIMIT 1').pluck(true).get(expectSeq) as number | undefined;
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
    const bySeq = db.prepare(`SELECT ${RAW_COLUMNS} FROM entry_log WHERE seq = ?`).raw(true);
    for (const seq of suspects) {
      const r = bySeq.get(seq) as RawRow;
      try {
        if (slowRawHash(r[RAW_PREV] as string, r) !== r[RAW_HASH]) return { seq, problem: 'content does not match its hash (edited)' };
      } catch {
        return { seq, problem: 'factors or detail is not valid JSON (edited)' };
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
 * in-memory databases; `verifyEntryLogFile` (verify-parallel.ts) does the same off the event loop.
 */
export function verifyEntryLog(db: Db, publicKey?: KeyObject): VerifyResult {
  const own = !db.inTransaction;
  if (own) db.exec('BEGIN');
  try {
    const cps = new CheckpointStore(db).all();
    const badSignature = publicKey ? checkSignatures(cps, publicKey) : undefined;
    if (badSignature) return { ok: false, records: 0, checkpoints: cps.length, breakAt: badSignature };
    const planned = planVerify(db, cps, { schedule: publicKey !== undefined });
    if ('fail' in planned) return { ok: false, records: 0, checkpoints: cps.length, breakAt: planned.fail };
    const { plan } = planned;
    const walkBreak = plan.walkTo >= plan.startSeq ? verifyChunk(db, { from: plan.startSeq, to: plan.walkTo, prevHash: plan.startHash }) : undefined;
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
export function verifyExternalCheckpoint(db: Db, cp: Checkpoint, publicKey: KeyObject): { ok: boolean; breakAt?: { seq: number; problem: string }; note?: string } {
  if (!verifyCheckpointSignature(cp, publicKey)) {
    return { ok: false, breakAt: { seq: cp.count, problem: `the external checkpoint of ${cp.at} does not verify with the public key: altered, or not this log's key` } };
  }
  const first = db.prepare('SELECT seq FROM entry_log ORDER BY seq LIMIT 1').get() as { seq: number } | undefined;
  const last = db.prepare('SELECT seq FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number } | undefined;
  const lastSeq = last?.seq ?? 0;
  if (cp.count > lastSeq) {
    const remain = !first ? 'none remain' : first.seq === 1 ? `only ${lastSeq} remain` : `only records ${first.seq}–${lastSeq} remain`;
    return { ok: false, breakAt: { seq: lastSeq + 1, problem: `truncated: the external checkpoint of ${cp.at} covers ${cp.count} records, ${remain}` } };
  }
  // Checkpoints are never deleted (pruning keeps them): one kept off the gateway that the log no
  // longer has says the local ones were deleted from there on.
  if (cp.ordinal != null) {
    const local = db.prepare('SELECT count(*) FROM checkpoints WHERE ordinal = ? AND signature = ?').pluck(true).get(cp.ordinal, cp.signature) as number;
    if (local === 0) {
      return { ok: false, breakAt: { seq: cp.count, problem: `the external checkpoint of ${cp.at} (#${cp.ordinal}, ${cp.count} records) is not among the log's checkpoints: checkpoints were deleted` } };
    }
  }
  if (cp.count === 0) {
    return cp.headHash === GENESIS_HASH ? { ok: true } : { ok: false, breakAt: { seq: 0, problem: `the external checkpoint of ${cp.at} counts no records but names a head hash` } };
  }
  const row = db.prepare('SELECT hash FROM entry_log WHERE seq = ?').get(cp.count) as { hash: string } | undefined;
  if (!row) {
    if (first && cp.count < first.seq) return { ok: true, note: `the external checkpoint of ${cp.at} covers records since pruned: only its signature was checked` };
    return { ok: false, breakAt: { seq: cp.count, problem: `record ${cp.count}, the head of the external checkpoint of ${cp.at}, is missing` } };
  }
  if (row.hash !== cp.headHash) {
    return { ok: false, breakAt: { seq: cp.count, problem: `hash differs from the external checkpoint of ${cp.at}: the log was rewritten up to record ${cp.count}` } };
  }
  return { ok: true };
}
