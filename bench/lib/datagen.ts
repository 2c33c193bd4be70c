// Generates the benchmark's databases straight into SQLite (better-sqlite3), with the daemon's own
// schema (openDatabase runs the migrations): people, card credentials, trainings and pledges (the
// policy asks for both), grants, a few card + PIN holders, and optionally an entry log with a correct
// hash chain. Each is cached under bench/results/tmp/db/ by size and schema, so reruns are fast.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase, DATABASE_FILE, type Db } from '../../src/store/db.js';
import { migrations } from '../../src/store/schema.js';
import { entryHash, GENESIS_HASH } from '../../src/store/entry-log.js';
import { CHAIN_VERSION } from '../../src/store/hash-chain.js';
import { hashPin } from '../../src/store/pin.js';
import { CARD_AREA, GRANT_AREAS, PIN_AREA } from './site.js';
import { prng as rng } from '../../tests/helpers/prng.js';

/** Bump when the generated data changes shape: every cached database is rebuilt. */
const GENERATOR_VERSION = 5;
const DAY_MS = 86_400_000;
/** Every card + PIN holder's PIN (each row has its own salted hash: (kind, value) is unique). */
export const BENCH_PIN = '2580';
/** Doors that generated log rows name (the full burst site). */
const LOG_CARD_DOORS = 64;
const LOG_PIN_DOORS = 2;

export interface DbSpec {
  credentials: number;
  grants: number;
  logRows: number;
  pinHolders: number;
}

export interface PinHolder {
  index: number;
  personId: string;
  card: string;
}

export interface DbMeta {
  key: string;
  spec: DbSpec;
  builtAt: string;
  buildSeconds: number;
  bytes: number;
  /** People perm(0 … cardHolders-1) hold an office (card-only) grant. */
  cardHolders: number;
  stride: number;
  pinHolders: PinHolder[];
  log: { rows: number; firstAt: string; lastAt: string } | null;
}

export interface CachedDb {
  dir: string;
  file: string;
  meta: DbMeta;
}

/** A person's id: UUID-shaped and in random order, as randomUUID() ids are. */
export function personIdOf(i: number): string {
  const h = createHash('md5').update(`bench-person-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A person's card: 8 hex digits (a 4-byte UID), distinct for every person (an odd multiplier is a bijection mod 2³²). */
export function cardOf(i: number): string {
  return (Math.imul(i + 1, 0x9e3779b1) >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

function strideFor(n: number): number {
  let s = 1_000_003;
  while (gcd(s, n) !== 1) s += 2;
  return s % n || 1;
}

/** The j-th granted person (a permutation of 0 … n-1, so grants spread over the whole table). */
export function grantedPerson(meta: Pick<DbMeta, 'stride' | 'spec'>, j: number): number {
  return Number((BigInt(j) * BigInt(meta.stride) + 7n) % BigInt(meta.spec.credentials));
}

/** A deterministic PRNG (mulberry32), the fault suite's. */
export { rng };

/** The data's part of a cache key: the same people, grants and log whatever the schema. */
function dataKey(spec: DbSpec): string {
  return `c${spec.credentials}-g${spec.grants}-p${spec.pinHolders}-l${spec.logRows}-v${GENERATOR_VERSION}`;
}

function cacheKey(spec: DbSpec): string {
  const schema = createHash('sha256').update(migrations.join('\n')).digest('hex').slice(0, 8);
  return `${dataKey(spec)}-m${migrations.length}-${schema}`;
}

function readMeta(dir: string): DbMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as DbMeta;
    // Training was generated as a month old: past ten months it would lapse during a run.
    if (Date.now() - Date.parse(meta.builtAt) > 300 * DAY_MS) return undefined;
    if (!existsSync(join(dir, DATABASE_FILE))) return undefined;
    return meta;
  } catch {
    return undefined;
  }
}

/** The cached database for a spec, generated first if needed. */
export async function ensureDb(root: string, spec: DbSpec, say: (line: string) => void): Promise<CachedDb> {
  const key = cacheKey(spec);
  const dir = join(root, key);
  const cached = readMeta(dir);
  if (cached) return { dir, file: join(dir, DATABASE_FILE), meta: cached };

  const started = Date.now();
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  let meta: DbMeta;
  // The same data cached under an older schema (a migration was added since): migrate a copy, as
  // the daemon would at its first start, rather than generating it all again.
  const older = readdirSync(root)
    .filter((d) => d.startsWith(`${dataKey(spec)}-m`) && d !== key && !d.includes('.building'))
    .map((d) => ({ d, meta: readMeta(join(root, d)) }))
    .filter((x) => x.meta && x.meta.spec.logRows === spec.logRows && x.meta.spec.credentials === spec.credentials)
    .sort((a, b) => Date.parse(b.meta!.builtAt) - Date.parse(a.meta!.builtAt))[0];
  if (older) {
    say(`  migrating ${older.d} to the current schema…`);
    copyFileSync(join(root, older.d, DATABASE_FILE), join(building, DATABASE_FILE));
    const db = openDatabase(building);
    finish(db);
    db.close();
    meta = { ...older.meta!, key };
    meta.bytes = statSync(join(building, DATABASE_FILE)).size;
    meta.buildSeconds = Number(((Date.now() - started) / 1000).toFixed(1));
    writeFileSync(join(building, 'meta.json'), JSON.stringify(meta, null, 2));
    rmSync(dir, { recursive: true, force: true });
    renameSync(building, dir);
    rmSync(join(root, older.d), { recursive: true, force: true });
    return { dir, file: join(dir, DATABASE_FILE), meta };
  }
  if (spec.logRows > 0) {
    // The same people and grants as the database without a log, then the log on top.
    const base = await ensureDb(root, { ...spec, logRows: 0 }, say);
    say(`  copying ${base.meta.key} to add ${spec.logRows.toLocaleString('en')} entry-log rows…`);
    copyFileSync(base.file, join(building, DATABASE_FILE));
    const db = openDatabase(building);
    try {
      bulkMode(db);
      const log = generateLog(db, base.meta, spec.logRows, say);
      meta = { ...base.meta, key, spec, log, builtAt: new Date().toISOString(), buildSeconds: 0, bytes: 0 };
      finish(db);
    } finally {
      db.close();
    }
  } else {
    say(`  generating ${spec.credentials.toLocaleString('en')} people and credentials, ${spec.grants.toLocaleString('en')} grants…`);
    const db = openDatabase(building);
    try {
      bulkMode(db);
      meta = await generatePeople(db, key, spec, say);
      finish(db);
    } finally {
      db.close();
    }
  }
  meta.buildSeconds = Number(((Date.now() - started) / 1000).toFixed(1));
  meta.bytes = statSync(join(building, DATABASE_FILE)).size;
  writeFileSync(join(building, 'meta.json'), JSON.stringify(meta, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
  say(`  built ${key} in ${meta.buildSeconds} s (${(meta.bytes / 2 ** 20).toFixed(0)} MB)`);
  return { dir, file: join(dir, DATABASE_FILE), meta };
}

/** A working copy of a cached database in `dir` (the daemon writes to it). */
export function copyDb(db: CachedDb, dir: string): void {
  mkdirSync(dir, { recursive: true });
  copyFileSync(db.file, join(dir, DATABASE_FILE));
}

export function copyDir(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}

/** Generation only: no journal, no fsync, a big page cache. The daemon reopens with its own settings. */
function bulkMode(db: Db): void {
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1048576');
  db.pragma('temp_store = MEMORY');
}

function finish(db: Db): void {
  db.pragma('journal_mode = WAL');
  db.pragma('wal_checkpoint(TRUNCATE)');
}

/** Drops a table's own (non-automatic) indexes for a bulk insert; returns the SQL to recreate them exactly. */
function dropIndexes(db: Db, table: string): string[] {
  const rows = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL").all(table) as {
    name: string;
    sql: string;
  }[];
  for (const r of rows) db.exec(`DROP INDEX "${r.name}"`);
  return rows.map((r) => r.sql);
}

async function generatePeople(db: Db, key: string, spec: DbSpec, say: (line: string) => void): Promise<DbMeta> {
  const n = spec.credentials;
  const now = Date.now();
  const createdAt = new Date(now - 400 * DAY_MS).toISOString();
  const trainedAt = new Date(now - 30 * DAY_MS).toISOString();
  const pledgedAt = new Date(now - 60 * DAY_MS).toISOString();
  const validFrom = new Date(now - 90 * DAY_MS).toISOString();
  const affiliations = ['R&D', 'Production', 'Quality', 'Sales', 'Finance', 'IT', 'Facilities', 'Legal'];
  const meta: DbMeta = {
    key,
    spec,
    builtAt: new Date(now).toISOString(),
    buildSeconds: 0,
    bytes: 0,
    cardHolders: Math.min(Math.max(spec.grants - spec.pinHolders, 0), n),
    stride: strideFor(n),
    pinHolders: [],
    log: null,
  };
  if (spec.pinHolders > meta.cardHolders) throw new Error('pin holders must be card holders too');

  const recreate = ['credentials', 'trainings', 'pledges', 'grants'].flatMap((t) => dropIndexes(db, t));
  const person = db.prepare(
    "INSERT INTO people (id, kind, number, name, affiliation, title, roles, status, created_at) VALUES (?, 'staff', ?, ?, ?, '', '[]', 'active', ?)",
  );
  const credential = db.prepare("INSERT INTO credentials (person_id, kind, value, use, status, created_at) VALUES (?, ?, ?, 'normal', 'active', ?)");
  const training = db.prepare(
    "INSERT INTO trainings (person_id, completed_at, course, recorded_by, recorded_at) VALUES (?, ?, 'annual security training', 'bench', ?)",
  );
  const pledge = db.prepare(
    "INSERT INTO pledges (person_id, signed_at, document, recorded_by, recorded_at) VALUES (?, ?, 'confidentiality pledge v1', 'bench', ?)",
  );
  const grant = db.prepare(`INSERT INTO grants (person_id, area_id, valid_from, valid_until, purpose, out_of_hours, review_by, status, granted_by, granted_at)
    VALUES (?, ?, ?, NULL, 'benchmark', 1, NULL, 'active', 'bench', ?)`);

  const BATCH = 50_000;
  for (let start = 0; start < n; start += BATCH) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + BATCH); i++) {
        const id = personIdOf(i);
        person.run(id, i + 1, `Bench Person ${i}`, affiliations[i % affiliations.length]!, createdAt);
        credential.run(id, 'card', cardOf(i), createdAt);
        training.run(id, trainedAt, trainedAt);
        pledge.run(id, pledgedAt, pledgedAt);
      }
    })();
    if (n >= 500_000 && (start / BATCH) % 10 === 9) say(`    people ${(start + BATCH).toLocaleString('en')} / ${n.toLocaleString('en')}`);
  }

  // Grants: the j-th goes to person perm(j mod n), in area GRANT_AREAS[j / n] (office first): with
  // fewer people than grants, each person holds one grant per area rather than duplicates.
  const cardGrants = spec.grants - spec.pinHolders;
  if (cardGrants > n * GRANT_AREAS.length) throw new Error(`${cardGrants} grants do not fit ${n} people × ${GRANT_AREAS.length} areas`);
  for (let start = 0; start < cardGrants; start += BATCH) {
    db.transaction(() => {
      for (let j = start; j < Math.min(cardGrants, start + BATCH); j++) {
        grant.run(personIdOf(grantedPerson(meta, j % n)), GRANT_AREAS[Math.floor(j / n)]!, validFrom, validFrom);
      }
    })();
  }
  // Card + PIN holders: the first office card holders also hold a lab grant and a PIN.
  const hashes: string[] = [];
  for (let k = 0; k < spec.pinHolders; k++) hashes.push(await hashPin(BENCH_PIN));
  db.transaction(() => {
    for (let k = 0; k < spec.pinHolders; k++) {
      const index = grantedPerson(meta, k);
      const id = personIdOf(index);
      credential.run(id, 'pin', hashes[k]!, createdAt);
      grant.run(id, PIN_AREA, validFrom, validFrom);
      meta.pinHolders.push({ index, personId: id, card: cardOf(index) });
    }
  })();
  say('    indexes…');
  for (const sql of recreate) db.exec(sql);
  return meta;
}

/**
 * Appends `rows` entry-log records after the current head, chained exactly as EntryLog.append does
 * (entryHash over the canonical encoding, in the current version; factors and detail stored as canonical JSON), over the last
 * year up to a few minutes ago: decisions at the bench site's doors by its card holders, 2% denials.
 */
function generateLog(db: Db, meta: DbMeta, rows: number, say: (line: string) => void): DbMeta['log'] {
  const head = db.prepare('SELECT seq, hash FROM entry_log ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  const recreate = dropIndexes(db, 'entry_log');
  const insert = db.prepare(`INSERT INTO entry_log (seq, at, kind, door_id, area_id, direction, person_id, person_name, affiliation, purpose,
    factors, decision, reason, device_id, device_boot, device_seq, linked_seq, linked_person_id, detail, chain_version, prev_hash, hash)
    VALUES (?, ?, 'decision', ?, ?, 'in', ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, NULL, NULL, ?, ${CHAIN_VERSION}, ?, ?)`);
  const affiliations = ['R&D', 'Production', 'Quality', 'Sales', 'Finance', 'IT', 'Facilities', 'Legal'];
  const end = Date.now() - 10 * 60_000;
  const start = end - 365 * DAY_MS;
  const random = rng(meta.spec.credentials ^ rows);
  const deviceSeq = new Map<string, number>();
  const cardFactors = ['card'];
  const pinFactors = ['card', 'pin'];
  const BATCH = 100_000;
  let firstAt = '';
  let lastAt = '';
  const t0 = Date.now();
  for (let b = 0; b < rows; b += BATCH) {
    db.transaction(() => {
      for (let k = b; k < Math.min(rows, b + BATCH); k++) {
        const at = new Date(start + Math.floor(((end - start) * k) / rows)).toISOString();
        if (k === 0) firstAt = at;
        lastAt = at;
        seq++;
        const r = random();
        let doorId: string;
        let areaId: string;
        let factors: string[];
        let j: number;
        let index: number;
        if (r < 0.03 && meta.pinHolders.length > 0) {
          const holder = meta.pinHolders[Math.floor(random() * meta.pinHolders.length)]!;
          index = holder.index;
          j = -1;
          doorId = `p${String(1 + Math.floor(random() * LOG_PIN_DOORS)).padStart(2, '0')}`;
          areaId = PIN_AREA;
          factors = pinFactors;
        } else {
          j = Math.floor(random() * meta.cardHolders);
          index = grantedPerson(meta, j);
          doorId = `d${String(1 + Math.floor(random() * LOG_CARD_DOORS)).padStart(2, '0')}`;
          areaId = CARD_AREA;
          factors = cardFactors;
        }
        const denied = random() < 0.02;
        const deviceId = `${doorId}-reader`;
        const dseq = (deviceSeq.get(deviceId) ?? 0) + 1;
        deviceSeq.set(deviceId, dseq);
        const unknown = denied && random() < 0.5;
        const personId = unknown ? null : personIdOf(index);
        const detail: Record<string, unknown> | null = unknown
          ? { credential: { kind: 'card', value: 'DEADBEEF' } }
          : !denied && j >= 0
            ? { grantId: j + 1 }
            : null;
        const base = {
          seq,
          at,
          kind: 'decision' as const,
          doorId,
          areaId,
          direction: 'in' as const,
          personId,
          personName: unknown ? null : `Bench Person ${index}`,
          affiliation: unknown ? null : affiliations[index % affiliations.length]!,
          purpose: denied ? null : 'benchmark',
          factors: unknown ? ['card'] : factors,
          decision: denied ? ('denied' as const) : ('granted' as const),
          reason: denied ? (unknown ? 'unknown-credential' : 'no-grant') : 'granted',
          deviceId,
          deviceBoot: 1,
          deviceSeq: dseq,
          linkedSeq: null,
          linkedPersonId: null,
          detail,
          chainVersion: CHAIN_VERSION,
        };
        const hash = entryHash(prevHash, base);
        // Canonical JSON as append() stores it: arrays as they are, objects with sorted keys (these have one key per level).
        insert.run(
          seq,
          at,
          doorId,
          areaId,
          base.personId,
          base.personName,
          base.affiliation,
          base.purpose,
          JSON.stringify(base.factors),
          base.decision,
          base.reason,
          deviceId,
          dseq,
          detail ? JSON.stringify(detail) : null,
          prevHash,
          hash,
        );
        prevHash = hash;
      }
    })();
    if ((b / BATCH) % 10 === 9) {
      const done = b + BATCH;
      const rate = done / ((Date.now() - t0) / 1000);
      say(`    log rows ${done.toLocaleString('en')} / ${rows.toLocaleString('en')} (${Math.round(rate).toLocaleString('en')}/s)`);
    }
  }
  say('    entry-log indexes…');
  for (const sql of recreate) db.exec(sql);
  // As a gateway that stopped cleanly leaves it: every reader's mark in device_sequence, complete
  // through the newest record (else the daemon's first start reads the whole log for the marks).
  db.transaction(() => {
    const mark = db.prepare(
      'INSERT INTO device_sequence (device_id, boot, seq) VALUES (?, 1, ?) ON CONFLICT(device_id) DO UPDATE SET boot = excluded.boot, seq = excluded.seq',
    );
    for (const [deviceId, dseq] of deviceSeq) mark.run(deviceId, dseq);
    db.prepare('UPDATE device_sequence_through SET through_seq = ?').run(seq);
  })();
  return { rows, firstAt, lastAt };
}
