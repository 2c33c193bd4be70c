// The entry log: every decision and door event, append-only and hash-chained (SHA-256 over a
// canonical encoding), so that editing, deleting or reordering a record breaks the chain.
import { createHash } from 'node:crypto';
import type { Db } from './db.js';

export const GENESIS_HASH = '0'.repeat(64);

export interface EntryInput {
  at: string;
  kind: 'decision' | 'door';
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
  'factors', 'decision', 'reason', 'deviceId', 'deviceBoot', 'deviceSeq', 'detail',
] as const;

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

export function entryHash(prevHash: string, record: Omit<EntryRecord, 'hash' | 'prevHash'>): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalEntry(record)).digest('hex');
}

interface Row {
  seq: number; at: string; kind: string; door_id: string | null; area_id: string | null; direction: string | null;
  person_id: string | null; person_name: string | null; affiliation: string | null; purpose: string | null;
  factors: string | null; decision: string | null; reason: string | null; device_id: string | null;
  device_boot: number | null; device_seq: number | null; detail: string | null; prev_hash: string; hash: string;
}

export function rowToRecord(r: Row): EntryRecord {
  return {
    seq: r.seq, at: r.at, kind: r.kind as EntryRecord['kind'], doorId: r.door_id, areaId: r.area_id,
    direction: r.direction as EntryRecord['direction'], personId: r.person_id, personName: r.person_name,
    affiliation: r.affiliation, purpose: r.purpose, factors: r.factors ? (JSON.parse(r.factors) as string[]) : null,
    decision: r.decision as EntryRecord['decision'], reason: r.reason, deviceId: r.device_id,
    deviceBoot: r.device_boot, deviceSeq: r.device_seq, detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
    prevHash: r.prev_hash, hash: r.hash,
  };
}

export class EntryLog {
  private head: { seq: number; hash: string };
  private readonly insert;
  private readonly bySeq;

  constructor(private readonly db: Db) {
    const last = db.prepare('SELECT seq, hash FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
    this.head = last ?? { seq: 0, hash: GENESIS_HASH };
    this.insert = db.prepare(`INSERT INTO entry_log (seq, at, kind, door_id, area_id, direction, person_id, person_name,
      affiliation, purpose, factors, decision, reason, device_id, device_boot, device_seq, detail, prev_hash, hash)
      VALUES (@seq, @at, @kind, @doorId, @areaId, @direction, @personId, @personName, @affiliation, @purpose, @factors,
      @decision, @reason, @deviceId, @deviceBoot, @deviceSeq, @detail, @prevHash, @hash)`);
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
      deviceBoot: input.deviceBoot ?? null, deviceSeq: input.deviceSeq ?? null, detail: input.detail ?? null,
    };
    const prevHash = this.head.hash;
    const hash = entryHash(prevHash, base);
    this.insert.run({
      ...base,
      factors: base.factors ? JSON.stringify(base.factors) : null,
      detail: base.detail ? JSON.stringify(base.detail) : null,
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
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** The first record whose chain does not hold, and why. */
  breakAt?: { seq: number; problem: string };
}

/** Walks the whole chain from the start. */
export function verifyEntryLog(db: Db): VerifyResult {
  let prevHash = GENESIS_HASH;
  let expectSeq = 1;
  let records = 0;
  for (const row of db.prepare('SELECT * FROM entry_log ORDER BY seq').iterate() as IterableIterator<Row>) {
    const rec = rowToRecord(row);
    if (rec.seq !== expectSeq) return { ok: false, records, breakAt: { seq: expectSeq, problem: `record ${expectSeq} is missing (next is ${rec.seq})` } };
    if (rec.prevHash !== prevHash) return { ok: false, records, breakAt: { seq: rec.seq, problem: 'does not link to the record before it' } };
    const { hash, prevHash: _p, ...body } = rec;
    if (entryHash(prevHash, body) !== hash) return { ok: false, records, breakAt: { seq: rec.seq, problem: 'content does not match its hash (edited)' } };
    prevHash = hash;
    expectSeq++;
    records++;
  }
  return { ok: true, records };
}
