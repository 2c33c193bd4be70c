// The entry log: every decision and door event, append-only and hash-chained (SHA-256 over a
// canonical, versioned encoding: hash-chain.ts), so that editing, deleting or reordering a record
// breaks the chain. Signed checkpoints (checkpoints.ts) pin the chain's head, so truncating or
// re-chaining it is caught too; hash-chain-verify.ts checks both.
import type { KeyObject } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import type { Checkpoint } from './checkpoints.js';
import { CHAIN_VERSION, canonicalJson, canonicalRecord, canonicalSql, chainHead, chainHash, ENTRY_CHAIN, GENESIS_HASH } from './hash-chain.js';
import { verifyExternalCheckpoint as verifyExternal, verifyLog, type VerifyResult } from './hash-chain-verify.js';
import { runReadPlan, type QueryPool, type ReadPlan, type ReadResult, type ReadStep } from './query-pool.js';

export { GENESIS_HASH };
export type { VerifyBreak, VerifyResult } from './hash-chain-verify.js';

export interface EntryInput {
  at: string;
  /**
   * decision: someone asked to pass; door: what a door did (forced, held, REX, emergency release);
   * mode: an area's mode changed; evidence: a camera's picture (its SHA-256) for a denial or an alarm.
   */
  kind: 'decision' | 'door' | 'mode' | 'evidence';
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
  /** The encoding its hash covers (hash-chain.ts): 1 for records written before versions, 2 since. */
  chainVersion: number;
  prevHash: string;
  hash: string;
}

/** A record's chained content: what its hash covers besides prev_hash (chainVersion absent: v1). */
export type EntryBody = Omit<EntryRecord, 'hash' | 'prevHash' | 'chainVersion'> & { chainVersion?: number | null };

/**
 * The chained fields, in chain order, from seq (what an export line must carry besides prevHash and
 * hash; an export line carries chainVersion too, absent in exports made before versions: v1).
 */
export const ENTRY_FIELDS = ENTRY_CHAIN.fields.map((f) => f.key) as readonly Exclude<keyof EntryBody, 'chainVersion'>[];

/** Canonical encoding (hash-chain.ts): a JSON array of the fields in fixed order, in the record's version. */
export function canonicalEntry(record: EntryBody): string {
  return canonicalRecord(ENTRY_CHAIN, record) ?? '';
}

/** The hash of a record linked to `prevHash`, in the record's version (`chainVersion`; absent: v1). */
export function entryHash(prevHash: string, record: EntryBody): string {
  return chainHash(ENTRY_CHAIN, prevHash, record);
}

interface Row {
  seq: number;
  at: string;
  kind: string;
  door_id: string | null;
  area_id: string | null;
  direction: string | null;
  person_id: string | null;
  person_name: string | null;
  affiliation: string | null;
  purpose: string | null;
  factors: string | null;
  decision: string | null;
  reason: string | null;
  device_id: string | null;
  device_boot: number | null;
  device_seq: number | null;
  linked_seq: number | null;
  linked_person_id: string | null;
  detail: string | null;
  chain_version: number | null;
  prev_hash: string;
  hash: string;
}

export function rowToRecord(r: Row): EntryRecord {
  return {
    seq: r.seq,
    at: r.at,
    kind: r.kind as EntryRecord['kind'],
    doorId: r.door_id,
    areaId: r.area_id,
    direction: r.direction as EntryRecord['direction'],
    personId: r.person_id,
    personName: r.person_name,
    affiliation: r.affiliation,
    purpose: r.purpose,
    factors: r.factors ? (JSON.parse(r.factors) as string[]) : null,
    decision: r.decision as EntryRecord['decision'],
    reason: r.reason,
    deviceId: r.device_id,
    deviceBoot: r.device_boot,
    deviceSeq: r.device_seq,
    linkedSeq: r.linked_seq,
    linkedPersonId: r.linked_person_id,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
    chainVersion: r.chain_version ?? 1,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * The canonical encoding built by SQLite from the stored columns (hash-chain.ts, `canonicalSql`):
 * `append` stores factors and detail already canonical, so the verifier hashes rows without a JS
 * object per record.
 */
export const CANONICAL_SQL = canonicalSql(ENTRY_CHAIN);

/** The fast-path canonical encoding of one stored record, as the verifier builds it (for tests and diagnostics). */
export function storedCanonical(db: Db, seq: number): string | undefined {
  return db.prepare(`SELECT ${CANONICAL_SQL} FROM entry_log WHERE seq = ?`).pluck(true).get(seq) as string | undefined;
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
  /** The most records a page walks without an index to pick them (default SCAN_WINDOW; for tests). */
  scanWindow?: number;
}

export interface EntryPage {
  /** Newest first. */
  records: EntryRecord[];
  /**
   * The cursor for the next (older) page; null on the last page. A page walked without an index
   * (SCAN_WINDOW) may hold fewer records than asked, none even, and still have one.
   */
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
 * first stops after a page). A time range is first turned into the seq range it spans, from the
 * (area_id, at) index alone (for all areas, one range per area; `span`: its row's lo and hi join
 * the parameters), and the rows are then read by seq within it: no sort of the whole range for every
 * page, and with a person or a door their index is searched within that seq range too (not walked
 * from the newest record down to the range). Times are still checked row by row, so a clock that
 * stepped back never lets a record outside the range through. Plain data, no connection: the API's
 * pages run it in a query worker (query-pool.ts), exports and the CLI on their own connection.
 */
function planQuery(filter: EntryFilter & { before?: number }): {
  where: string;
  params: Record<string, unknown>;
  span?: ReadStep;
  driver: 'person' | 'door' | 'time' | 'area' | 'seq';
} {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  const from = filter.from ? isoBound(filter.from, 'from') : undefined;
  const to = filter.to ? isoBound(filter.to, 'to') : undefined;
  const timed = from !== undefined || to !== undefined;
  const driver = filter.personId ? 'person' : filter.doorId ? 'door' : timed ? 'time' : filter.areaId ? 'area' : 'seq';
  if (filter.personId) {
    where.push('person_id = @personId');
    params.personId = filter.personId;
  }
  if (filter.doorId) {
    where.push(`${driver === 'door' ? '' : '+'}door_id = @doorId`);
    params.doorId = filter.doorId;
  }
  if (filter.areaId) {
    where.push('+area_id = @areaId');
    params.areaId = filter.areaId;
  }
  if (from) {
    where.push('+at >= @from');
    params.from = from;
  }
  if (to) {
    where.push('+at < @to');
    params.to = to;
  }
  if (filter.decision) {
    where.push('decision = @decision');
    params.decision = filter.decision;
  }
  if (filter.reason) {
    where.push('reason = @reason');
    params.reason = filter.reason;
  }
  if (filter.before !== undefined) {
    where.push('seq < @before');
    params.before = filter.before;
  }
  let span: ReadStep | undefined;
  if (timed) {
    const terms: string[] = [];
    if (from) terms.push('at >= @from');
    if (to) terms.push('at < @to');
    const spanParams = { ...(filter.areaId ? { areaId: filter.areaId } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) };
    span = {
      sql: filter.areaId
        ? `SELECT min(seq) AS lo, max(seq) AS hi FROM entry_log WHERE area_id = @areaId AND ${terms.join(' AND ')}`
        : // No index on the time alone: each area's range in (area_id, at), the areas found by skipping
          // through that index (a few seeks), and the records with no area.
          `WITH RECURSIVE areas(id) AS (
            SELECT min(area_id) FROM entry_log
            UNION ALL SELECT (SELECT min(area_id) FROM entry_log WHERE area_id > areas.id) FROM areas WHERE areas.id IS NOT NULL)
          SELECT min(seq) AS lo, max(seq) AS hi FROM (
            SELECT seq FROM areas CROSS JOIN entry_log ON entry_log.area_id = areas.id WHERE ${terms.join(' AND ')}
            UNION ALL SELECT seq FROM entry_log WHERE area_id IS NULL AND ${terms.join(' AND ')})`,
      params: spanParams,
    };
    where.push('seq BETWEEN @lo AND @hi');
  }
  return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', params, span, driver };
}

/**
 * The most records one page walks by seq when no index picks its rows (an area, a decision or a
 * reason without a person or a door; the log has no index on decision or reason): a page that
 * finds fewer than it asked within them ends there, and its `nextBefore` is where the next page
 * walks on. A reason no record has so costs each page a bounded walk (15-25 ms on the benchmark's
 * machine, shared) instead of the whole log (2.5-8 s there over 10 million records), and the reader
 * pages on as far as it wants.
 */
export const SCAN_WINDOW = 100_000;

/**
 * The read of one page (newest first, one record more than the page to tell whether more follow):
 * run it with `runReadPlan` on any connection to the database, then `entryPageOf` its rows. Throws
 * RangeError on a bad limit, cursor or time.
 */
export function entryPagePlan(q: EntryQuery = {}): { plan: ReadPlan; limit: number } {
  const limit = q.limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new RangeError(`limit: ${limit} is not a whole number from 1 to ${MAX_PAGE}`);
  if (q.before !== undefined && !Number.isInteger(q.before)) throw new RangeError(`before: ${q.before} is not a record number`);
  const { where, params, span, driver } = planQuery(q);
  const page = (terms: string, bounds?: ReadStep): ReadPlan => ({
    bounds,
    rows: { sql: `SELECT * FROM entry_log ${terms} ORDER BY seq DESC LIMIT @limit`, params: { ...params, limit: limit + 1 } },
  });
  const walked = (driver === 'seq' || driver === 'area' || driver === 'time') && (q.areaId || q.decision || q.reason);
  if (!walked) return { plan: page(where, span), limit };
  // The window: `floor` (the lowest seq this page walks) and `bottom` (the lowest there is) join
  // the bounds row, so the page knows whether it stopped short (SCAN_WINDOW).
  const windowParams = { before: q.before ?? null, scanWindow: q.scanWindow ?? SCAN_WINDOW };
  const bounds: ReadStep = span
    ? {
        sql: `SELECT lo, hi, lo AS bottom, min(coalesce(@before, hi + 1), hi + 1) - @scanWindow AS floor FROM (${span.sql})`,
        params: { ...span.params, ...windowParams },
      }
    : {
        sql:
          'SELECT bottom, min(coalesce(@before, top), top) - @scanWindow AS floor ' +
          'FROM (SELECT (SELECT min(seq) FROM entry_log) AS bottom, (SELECT max(seq) FROM entry_log) + 1 AS top)',
        params: windowParams,
      };
  return { plan: page(`${where} AND seq >= @floor`, bounds), limit };
}

/** The page of what `entryPagePlan`'s plan read. */
export function entryPageOf({ rows, bounds }: ReadResult, limit: number): EntryPage {
  const page = rows as Row[];
  const more = page.length > limit;
  if (more) page.pop();
  if (more) return { records: page.map(rowToRecord), nextBefore: page[page.length - 1]!.seq };
  // A walk that stopped at its window, with records below it: the next page walks on from there.
  const floor = bounds?.floor;
  const stoppedShort = typeof floor === 'number' && typeof bounds?.bottom === 'number' && floor > bounds.bottom;
  return { records: page.map(rowToRecord), nextBefore: stoppedShort ? floor : null };
}

export class EntryLog {
  private head: { seq: number; hash: string };
  /** Prepared at the first append: a read-only copy of a log from before chain_version has no column to name. */
  private insert?: Statement;
  private readonly bySeq;

  /** The last record's time (ms; null when the log is empty): no record is logged before it. */
  private lastAt: number | null;
  /** Records appended with a time before the previous record's, logged at the previous record's time instead. */
  clampedAts = 0;

  constructor(private readonly db: Db) {
    this.head = chainHead(db, ENTRY_CHAIN);
    this.bySeq = db.prepare('SELECT * FROM entry_log WHERE seq = ?');
    this.lastAt = this.readLastAt();
  }

  private readLastAt(): number | null {
    const at = this.db.prepare('SELECT at FROM entry_log ORDER BY seq DESC LIMIT 1').pluck().get() as string | undefined;
    const ms = at === undefined ? NaN : Date.parse(at);
    return Number.isNaN(ms) ? null : ms;
  }

  /** The last record's time in ms (null: none yet): the controller's clock never reads earlier. */
  get lastAtMs(): number | null {
    return this.lastAt;
  }

  /**
   * Appends one record. Call inside a transaction with whatever else must commit with it; the
   * in-memory head only advances once the caller's transaction commits (see `committed`).
   */
  append(input: EntryInput): EntryRecord {
    // The log's times never go backwards: a record decided a moment before one committed ahead of it
    // (or on a clock set back) takes the previous record's time.
    const inputMs = Date.parse(input.at);
    const behind = this.lastAt !== null && inputMs < this.lastAt;
    if (behind) this.clampedAts++;
    const at = behind ? new Date(this.lastAt!).toISOString() : input.at;
    const base = {
      seq: this.head.seq + 1,
      at,
      kind: input.kind,
      doorId: input.doorId ?? null,
      areaId: input.areaId ?? null,
      direction: input.direction ?? null,
      personId: input.personId ?? null,
      personName: input.personName ?? null,
      affiliation: input.affiliation ?? null,
      purpose: input.purpose ?? null,
      factors: input.factors ?? null,
      decision: input.decision ?? null,
      reason: input.reason ?? null,
      deviceId: input.deviceId ?? null,
      deviceBoot: input.deviceBoot ?? null,
      deviceSeq: input.deviceSeq ?? null,
      linkedSeq: input.linkedSeq ?? null,
      linkedPersonId: input.linkedPersonId ?? null,
      detail: input.detail ?? null,
      chainVersion: CHAIN_VERSION,
    };
    const prevHash = this.head.hash;
    const hash = entryHash(prevHash, base);
    this.insert ??= this.db.prepare(`INSERT INTO entry_log (seq, at, kind, door_id, area_id, direction, person_id, person_name,
      affiliation, purpose, factors, decision, reason, device_id, device_boot, device_seq, linked_seq, linked_person_id,
      detail, chain_version, prev_hash, hash)
      VALUES (@seq, @at, @kind, @doorId, @areaId, @direction, @personId, @personName, @affiliation, @purpose, @factors,
      @decision, @reason, @deviceId, @deviceBoot, @deviceSeq, @linkedSeq, @linkedPersonId, @detail, @chainVersion, @prevHash, @hash)`);
    this.insert.run({
      ...base,
      // Stored exactly as the chain encodes them (sorted keys): the verifier hashes the text as is.
      factors: base.factors ? canonicalJson(base.factors) : null,
      detail: base.detail ? canonicalJson(base.detail) : null,
      prevHash,
      hash,
    });
    this.head = { seq: base.seq, hash };
    if (!behind && !Number.isNaN(inputMs)) this.lastAt = inputMs;
    return { ...base, prevHash, hash };
  }

  /** Re-reads the head after a rolled-back transaction, so the chain continues from what is on disk. */
  resync(): void {
    this.head = chainHead(this.db, ENTRY_CHAIN);
    this.lastAt = this.readLastAt();
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
    if (filter.doorId) {
      where.push('door_id = @doorId');
      params.doorId = filter.doorId;
    }
    if (filter.personId) {
      where.push('person_id = @personId');
      params.personId = filter.personId;
    }
    if (filter.decision) {
      where.push('decision = @decision');
      params.decision = filter.decision;
    }
    const sql = `SELECT * FROM entry_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as Row[]).map(rowToRecord);
  }

  /**
   * One page of records matching the filter, newest first (by seq). Pass the returned `nextBefore`
   * as `before` for the next page. Throws RangeError on a bad limit or time.
   */
  query(q: EntryQuery = {}): EntryPage {
    const { plan, limit } = entryPagePlan(q);
    return entryPageOf(runReadPlan(this.db, plan), limit);
  }

  /** `query` read by the pool: on a worker's connection, off this thread, when it has workers. */
  async queryOn(reads: QueryPool, q: EntryQuery = {}): Promise<EntryPage> {
    const { plan, limit } = entryPagePlan(q);
    return entryPageOf(await reads.read(plan), limit);
  }

  /**
   * Every record matching the filter, one at a time (for export): oldest first unless asked
   * otherwise. The connection is busy until the iteration ends or is abandoned (`return()`).
   */
  *iterate(filter: EntryFilter = {}, order: 'asc' | 'desc' = 'asc'): Generator<EntryRecord, void, undefined> {
    const { where, params, span } = planQuery(filter);
    let bounds: Record<string, unknown> = {};
    if (span) {
      bounds = this.db.prepare(span.sql).get(span.params) as { lo: number | null; hi: number | null };
      if (bounds.lo === null || bounds.hi === null) return;
    }
    const stmt = this.db.prepare(`SELECT * FROM entry_log ${where} ORDER BY seq ${order === 'asc' ? 'ASC' : 'DESC'}`);
    for (const row of stmt.iterate({ ...params, ...bounds }) as IterableIterator<Row>) yield rowToRecord(row);
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

/**
 * Verifies the whole entry log on this connection, in this thread (hash-chain-verify.ts): checkpoint
 * signatures, the start, every record, checkpoint heads, truncation and, with the key, no checkpoint
 * missing. `verifyEntryLogFile` (verify-parallel.ts) does the same off the event loop.
 */
export function verifyEntryLog(db: Db, publicKey?: KeyObject): VerifyResult {
  return verifyLog(db, ENTRY_CHAIN, publicKey);
}

/**
 * Checks the entry log against one checkpoint kept off the gateway (as published on MQTT): signed
 * by the key, counting no more records than remain, matching the hash of the record at its count.
 */
export function verifyExternalCheckpoint(
  db: Db,
  cp: Checkpoint,
  publicKey: KeyObject,
): { ok: boolean; breakAt?: { seq: number; problem: string }; note?: string } {
  return verifyExternal(db, ENTRY_CHAIN, cp, publicKey);
}
