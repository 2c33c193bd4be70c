// Tampering as an intruder with the database file would do it (shared by the fault suite and the
// verification tests).
import type { Db } from '../../src/store/db.js';
import { GENESIS_HASH, entryHash, rowToRecord } from '../../src/store/entry-log.js';

type Row = Record<string, unknown> & { seq: number };

/** Recomputes prev_hash and hash from `fromSeq` to the end: an intruder who knows the algorithm but not the signing key. */
export function rechain(db: Db, fromSeq: number): void {
  const rows = db.prepare('SELECT * FROM entry_log WHERE seq >= ? ORDER BY seq').all(fromSeq) as Row[];
  const before = db.prepare('SELECT hash FROM entry_log WHERE seq < ? ORDER BY seq DESC LIMIT 1').get(fromSeq) as { hash: string } | undefined;
  let prev = before?.hash ?? GENESIS_HASH;
  const update = db.prepare('UPDATE entry_log SET prev_hash = ?, hash = ? WHERE seq = ?');
  for (const r of rows) {
    const { hash: _h, prevHash: _p, ...body } = rowToRecord(r as never);
    const hash = entryHash(prev, body);
    update.run(prev, hash, r.seq);
    prev = hash;
  }
}
