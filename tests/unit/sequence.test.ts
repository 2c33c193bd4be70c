// Device sequence marks: a replayed (boot, seq) is refused after a restart too, though most decisions
// leave the mark to their own entry-log record instead of rewriting device_sequence.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../../src/store/db.js';
import { EntryLog } from '../../src/store/entry-log.js';
import { SequenceStore, START_REWRITE_AFTER, THROUGH_EVERY } from '../../src/store/sequence.js';

function fresh() {
  const dir = mkdtempSync(join(tmpdir(), 'tobira-seq-'));
  const db = openDatabase(dir);
  return { dir, db, log: new EntryLog(db), seqs: new SequenceStore(db) };
}

/** A read decided and logged as the door flow does: its record, then the mark, in one transaction. */
function decide(db: Db, log: EntryLog, seqs: SequenceStore, device: string, boot: number, seq: number): boolean {
  if (!seqs.accept(device, boot, seq)) return false;
  db.transaction(() => {
    log.append({ at: new Date().toISOString(), kind: 'decision', decision: 'granted', deviceId: device, deviceBoot: boot, deviceSeq: seq });
    seqs.persist(device);
  })();
  return true;
}

const rows = (db: Db) => db.prepare('SELECT device_id, boot, seq FROM device_sequence ORDER BY device_id').all();

describe('device sequence marks', () => {
  it("leaves a decided read's mark to its record, and refuses it again after a crash", () => {
    const { dir, db, log, seqs } = fresh();
    for (let i = 1; i <= 40; i++) expect(decide(db, log, seqs, `r${i % 3}`, 7, i)).toBe(true);
    // Not one device_sequence row written: each record carried its mark.
    expect(rows(db)).toEqual([]);
    // A crash: no persistAll. The next start reads the marks back from the records.
    db.close();
    const db2 = openDatabase(dir);
    const again = new SequenceStore(db2);
    for (let i = 1; i <= 40; i++) expect(again.accept(`r${i % 3}`, 7, i)).toBe(false);
    // r2 read 2, 5, ... 38 last: an earlier one is refused, the next taken.
    expect(again.accept('r2', 7, 35)).toBe(false);
    expect(again.accept('r2', 7, 39)).toBe(true);
    expect(again.accept('r0', 8, 1)).toBe(true);
    db2.close();
  });

  it('writes the row when the record does not carry the mark: a door event, or a later read already accepted', () => {
    const { db, log, seqs } = fresh();
    // A door event (forced, REX): its record names the device but not its (boot, seq).
    expect(seqs.accept('c1', 3, 10)).toBe(true);
    db.transaction(() => {
      log.append({ at: new Date().toISOString(), kind: 'door', deviceId: 'c1', reason: 'forced' });
      seqs.persist('c1');
    })();
    // Read 5 accepted, then read 6 accepted before read 5's decision commits: the mark is 6, the record 5.
    expect(seqs.accept('r1', 1, 5)).toBe(true);
    expect(seqs.accept('r1', 1, 6)).toBe(true);
    db.transaction(() => {
      log.append({ at: new Date().toISOString(), kind: 'decision', deviceId: 'r1', deviceBoot: 1, deviceSeq: 5 });
      seqs.persist('r1');
    })();
    expect(rows(db)).toEqual([
      { device_id: 'c1', boot: 3, seq: 10 },
      { device_id: 'r1', boot: 1, seq: 6 },
    ]);
    const again = new SequenceStore(db);
    expect(again.accept('c1', 3, 10)).toBe(false);
    expect(again.accept('r1', 1, 6)).toBe(false);
    expect(again.accept('r1', 1, 7)).toBe(true);
    db.close();
  });

  it('writes the table whole every so many skips, so a start reads only the records since', () => {
    const { db, log, seqs } = fresh();
    const through = () => db.prepare('SELECT through_seq FROM device_sequence_through').pluck().get() as number;
    expect(through()).toBe(0);
    for (let i = 1; i <= THROUGH_EVERY; i++) decide(db, log, seqs, 'r1', 1, i);
    expect(rows(db)).toEqual([]);
    decide(db, log, seqs, 'r1', 1, THROUGH_EVERY + 1);
    expect(rows(db)).toEqual([{ device_id: 'r1', boot: 1, seq: THROUGH_EVERY + 1 }]);
    expect(through()).toBe(THROUGH_EVERY + 1);
    // A clean stop writes it whole too.
    for (let i = 2; i <= 5; i++) decide(db, log, seqs, 'r1', 1, THROUGH_EVERY + i);
    seqs.persistAll();
    expect(rows(db)).toEqual([{ device_id: 'r1', boot: 1, seq: THROUGH_EVERY + 5 }]);
    expect(through()).toBe(THROUGH_EVERY + 5);
    db.close();
  });

  it('a log far past the mark (written by other means) is read grouped, and the table written whole at once', () => {
    const { dir, db, log } = fresh();
    const through = () => db.prepare('SELECT through_seq FROM device_sequence_through').pluck().get() as number;
    // Records no SequenceStore saw: three readers, a reboot of r1 half way, a door event without a mark.
    const n = START_REWRITE_AFTER * 3;
    db.transaction(() => {
      for (let i = 1; i <= n; i++) {
        const device = `r${i % 3}`;
        const boot = device === 'r1' && i > n / 2 ? 2 : 1;
        log.append({ at: new Date().toISOString(), kind: 'decision', decision: 'granted', deviceId: device, deviceBoot: boot, deviceSeq: i });
      }
      log.append({ at: new Date().toISOString(), kind: 'door', deviceId: 'c1', reason: 'forced' });
    })();
    expect(through()).toBe(0);
    // Read-only (as `tobira log verify` opens it): the marks are read, nothing is written.
    const ro = openDatabase(dir, { readonly: true });
    expect(new SequenceStore(ro).accept('r0', 1, n)).toBe(false);
    ro.close();
    expect(through()).toBe(0);
    const seqs = new SequenceStore(db);
    // Written whole at once: the next start reads nothing after the mark.
    expect(through()).toBe(n + 1);
    expect(rows(db)).toEqual([
      { device_id: 'r0', boot: 1, seq: n },
      { device_id: 'r1', boot: 2, seq: n - 2 },
      { device_id: 'r2', boot: 1, seq: n - 1 },
    ]);
    expect(seqs.accept('r1', 1, n + 100)).toBe(false);
    expect(seqs.accept('r1', 2, n - 2)).toBe(false);
    expect(seqs.accept('r1', 2, n + 1)).toBe(true);
    db.close();
  });

  it('a rolled-back decision leaves no mark behind on disk', () => {
    const { dir, db, log, seqs } = fresh();
    decide(db, log, seqs, 'r1', 1, 1);
    expect(seqs.accept('r1', 1, 2)).toBe(true);
    expect(() =>
      db.transaction(() => {
        log.append({ at: new Date().toISOString(), kind: 'decision', deviceId: 'r1', deviceBoot: 1, deviceSeq: 2 });
        seqs.persist('r1');
        throw new Error('the commit failed');
      })(),
    ).toThrow('the commit failed');
    log.resync();
    db.close();
    // After a restart the read that was never decided is decided when it comes again.
    const db2 = openDatabase(dir);
    const again = new SequenceStore(db2);
    expect(again.accept('r1', 1, 1)).toBe(false);
    expect(again.accept('r1', 1, 2)).toBe(true);
    db2.close();
  });
});
