// The entry log: every decision and door event, append-only and hash-chained (SHA-256 over a
// canonical encoding), so that editing, deleting or reordering a record breaks the chain. Signed
// checkpoints (checkpoints.ts) pin the chain's head, so truncating or re-chaining it is caught too.
import * as crypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Db } from './db.js';
import { CheckpointStore, verifyCheckpointSignature, type Checkpoint, type StoredCheckpoint } from './checkpoints.js';

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

function describe(cp: Checkpoint): string {
  return `the ${cp.kind} checkpoint of ${cp.at} (${cp.count} records)`;
}

/**
 * Walks the whole log: from the genesis hash, or, when older records were pruned, from the anchor
 * named by the newest prune checkpoint. Checks every record's link and content, that the record at
 * each checkpoint's count has the checkpoint's head hash, and that no checkpoint counts more records
 * than remain (truncation). With the public key, every checkpoint's signature is checked first.
 */
export function verifyEntryLog(db: Db, publicKey?: KeyObject): VerifyResult {
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
      return fail(prune.anchorSeq, `records ${prune.anchorSeq}–${first.seq - 1} are missing: the last prune (${describe(prune)}) kept every record from ${prune.anchorSeq}`);
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
      return fail(expectSeq - 1, `${describe(pinned[ci]!)} names a head hash that is not the ${expectSeq === 1 ? 'genesis hash' : 'prune anchor\'s'}: the log was rewritten`);
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
    if (seq !== expectSeq) { structural = fail(expectSeq, `record ${expectSeq} is missing (next is ${seq})`); break; }
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
  return { ok: true, records, checkpoints: cps.length };
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
