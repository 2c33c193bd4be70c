// One hash chain for both logs, the entry log and the audit log: what a record's hash covers, the
// genesis, the head, and the hash of the next record. Verification (hash-chain-verify.ts) and the
// signed checkpoints (checkpoints.ts) take the same description of a log (`ChainLog`), so both logs
// are chained, pinned, pruned and checked by one piece of code.
//
// A record's hash is SHA-256 of its prev_hash, a newline and its canonical encoding: a JSON array of
// its chained fields in fixed order, objects with sorted keys. The encoding is versioned, and the
// version is inside the hashed bytes:
//   v1  (version absent: chain_version NULL) [seq, at, ...fields]      every record written before versions
//   v2  (chain_version 2)                    [2, seq, at, ...fields]   the same fields, the version first
// New records are v2. Today's fields did not need a new layout, but v1 carries no version in its
// bytes, so naming it in them is itself a new layout: calling that "explicit v1" would give one
// version two byte forms. A later field (a site id, a snapshot's hash) becomes v3, appended after
// the v2 fields, and v1 and v2 records keep verifying as they were written. No two versions give the
// same bytes: a v1 array's second element is `at` (text, never null), a versioned array's is the seq
// (a number), and versioned arrays differ in their first element. Changing a record's chain_version
// changes the bytes its hash is checked against, so it is caught like any other edit.
import * as crypto from 'node:crypto';
import type { Db } from './db.js';

/** The prev_hash of a log's first record, and the head of an empty log. */
export const GENESIS_HASH = '0'.repeat(64);

/** The encoding version new records are written in. */
export const CHAIN_VERSION = 2;

/** One chained field: its key in the record, its column, and whether the column holds JSON. */
export interface ChainField {
  readonly key: string;
  readonly column: string;
  readonly json?: boolean;
}

/** What the chain code needs to know of a log: where it is stored and which fields its hash covers. */
export interface ChainLog {
  readonly name: 'entry' | 'audit';
  /** For messages: "entry log", "audit log". */
  readonly label: string;
  readonly table: 'entry_log' | 'audit_log';
  readonly checkpointTable: 'checkpoints' | 'audit_checkpoints';
  /** A row in it lets the delete trigger through: pruning is the one delete a log allows. */
  readonly pruneTable: 'log_prune' | 'audit_prune';
  /** The first line its checkpoints sign under, so one log's checkpoint never passes for the other's. */
  readonly checkpointDomain: string;
  /** A checkpoint written with no promise and after none promises the default schedule (else none). */
  readonly promiseByDefault: boolean;
  /** The chained fields in chain order, from seq. Never reorder: append a field only with a new version. */
  readonly fields: readonly ChainField[];
  /** The break when a JSON column does not parse. */
  readonly badJson: string;
}

const field = (key: string, column: string, json = false): ChainField => (json ? { key, column, json } : { key, column });

export const ENTRY_CHAIN: ChainLog = {
  name: 'entry',
  label: 'entry log',
  table: 'entry_log',
  checkpointTable: 'checkpoints',
  pruneTable: 'log_prune',
  checkpointDomain: 'tobira-checkpoint-v1',
  promiseByDefault: true,
  fields: [
    field('seq', 'seq'),
    field('at', 'at'),
    field('kind', 'kind'),
    field('doorId', 'door_id'),
    field('areaId', 'area_id'),
    field('direction', 'direction'),
    field('personId', 'person_id'),
    field('personName', 'person_name'),
    field('affiliation', 'affiliation'),
    field('purpose', 'purpose'),
    field('factors', 'factors', true),
    field('decision', 'decision'),
    field('reason', 'reason'),
    field('deviceId', 'device_id'),
    field('deviceBoot', 'device_boot'),
    field('deviceSeq', 'device_seq'),
    field('linkedSeq', 'linked_seq'),
    field('linkedPersonId', 'linked_person_id'),
    field('detail', 'detail', true),
  ],
  badJson: 'factors or detail is not valid JSON (edited)',
};

export const AUDIT_CHAIN: ChainLog = {
  name: 'audit',
  label: 'audit log',
  table: 'audit_log',
  checkpointTable: 'audit_checkpoints',
  pruneTable: 'audit_prune',
  checkpointDomain: 'tobira-audit-checkpoint-v1',
  promiseByDefault: false,
  fields: [
    field('seq', 'seq'),
    field('at', 'at'),
    field('actor', 'actor'),
    field('role', 'role'),
    field('action', 'action'),
    field('target', 'target'),
    field('outcome', 'outcome'),
    field('address', 'address'),
    field('detail', 'detail', true),
  ],
  badJson: 'detail is not valid JSON (edited)',
};

/** The logs by name (verification tasks cross to worker threads as plain data, naming their log). */
export const CHAIN_LOGS = { entry: ENTRY_CHAIN, audit: AUDIT_CHAIN } as const;

/** A record as the chain sees it: its chained fields, and its encoding version (absent or null: v1). */
export type ChainRecord = { readonly chainVersion?: number | null } & Record<string, unknown>;

export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** A JSON value as the chain encodes it (objects with sorted keys): how JSON columns are stored. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/**
 * The canonical encoding of a record in its version (`chainVersion`; absent or null: v1), or
 * undefined for a version this code does not know.
 */
export function canonicalRecord(log: ChainLog, record: ChainRecord): string | undefined {
  const version = record.chainVersion ?? 1;
  if (version !== 1 && version !== 2) return undefined;
  const out: unknown[] = version === 1 ? [] : [version];
  for (const f of log.fields) out.push(sortKeys(record[f.key]));
  return JSON.stringify(out);
}

// crypto.hash (Node ≥ 20.12) is a one-shot SHA-256, about twice as fast as createHash per record;
// both hash the same bytes.
const oneShot = (crypto as { hash?: (algorithm: string, data: string) => string }).hash;
export const sha256Hex: (data: string) => string =
  typeof oneShot === 'function' ? (data) => oneShot('sha256', data) : (data) => crypto.createHash('sha256').update(data).digest('hex');

/**
 * A record's hash, linked to the one before. A version this code does not know hashes to the empty
 * string, which no stored hash equals: such a record is a break wherever it is checked.
 */
export function chainHash(log: ChainLog, prevHash: string, record: ChainRecord): string {
  const canonical = canonicalRecord(log, record);
  return canonical === undefined ? '' : sha256Hex(`${prevHash}\n${canonical}`);
}

/**
 * The canonical encoding built by SQLite from the stored columns, without a JS object per record:
 * json_array quotes text and writes numbers as the JS encoder does, and the logs store their JSON
 * columns already canonical (sorted keys), so json() passes them through. A row whose text is not
 * canonical (or not JSON), or whose version this code does not know (''), gets a different string;
 * the verifier then falls back to `canonicalRecord` of the parsed row, so this is only ever a fast
 * path: equal bytes, or a slow exact check.
 */
export function canonicalSql(log: ChainLog, versioned = true): string {
  const columns = log.fields.map((f) => (f.json ? `CASE WHEN json_valid(${f.column}) THEN json(${f.column}) END` : f.column)).join(', ');
  if (!versioned) return `json_array(${columns})`;
  // The current version first: one comparison for most rows.
  return `CASE chain_version WHEN 2 THEN json_array(2, ${columns}) ELSE CASE WHEN chain_version IS NULL THEN json_array(${columns}) ELSE '' END END`;
}

/** The stored columns the chain covers, then chain_version, prev_hash and hash: the layout of a raw row. */
export function rawColumns(log: ChainLog, versioned = true): string {
  return [...log.fields.map((f) => f.column), versioned ? 'chain_version' : 'NULL', 'prev_hash', 'hash'].join(', ');
}

/**
 * Whether the log's table stores chain_version. A database written before versions and opened
 * read-only (an auditor's copy, `tobira log verify` on it) is not migrated: it has no such column,
 * and every record in it is v1.
 */
export function storesChainVersion(db: Db, log: ChainLog): boolean {
  return db.prepare("SELECT count(*) FROM pragma_table_info(?) WHERE name = 'chain_version'").pluck(true).get(log.table) === 1;
}

/**
 * The record of a raw row (`rawColumns` order), as the exact check hashes it: JSON columns parsed
 * (an empty or null one is null). Throws on a JSON column that does not parse.
 */
export function rawRecord(log: ChainLog, row: readonly unknown[]): ChainRecord {
  const record: Record<string, unknown> = {};
  log.fields.forEach((f, i) => {
    const v = row[i];
    record[f.key] = f.json ? (v ? JSON.parse(v as string) : null) : v;
  });
  record.chainVersion = row[log.fields.length] as number | null;
  return record;
}

/** The head of a log as stored: the seq and hash of its last record, or (0, genesis) when it has none. */
export function chainHead(db: Db, log: ChainLog): { seq: number; hash: string } {
  const row = db.prepare(`SELECT seq, hash FROM ${log.table} ORDER BY seq DESC LIMIT 1`).get() as { seq: number; hash: string } | undefined;
  return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
}
