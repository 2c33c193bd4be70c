// The floor under a decision: one durable SQLite commit of one entry-log row with the daemon's own
// settings (openDatabase: WAL, synchronous=FULL), and one argon2id PIN check with the daemon's cost.
import { openDatabase } from '../../src/store/db.js';
import { EntryLog } from '../../src/store/entry-log.js';
import { hashPin, verifyPin } from '../../src/store/pin.js';
import { ms } from './stats.js';
import { grantedPerson, personIdOf, rng, type DbMeta } from './datagen.js';

/**
 * `n` commits (after `warmup`), each one record appended by EntryLog.append in its own transaction,
 * on a copy of the database the daemon is about to use (so the chain stays valid for it). The row is
 * shaped like a grant the daemon writes: a random card holder at a bench door, with its grant id.
 * `gapMs` between commits, as between quiet reads: a commit after an idle pause is slower than one
 * right after another (the disk and the CPU have gone idle), and the decisions are paced that way too.
 */
export async function commitFloor(dataDir: string, meta: DbMeta, n: number, warmup: number, gapMs: number): Promise<number[]> {
  const db = openDatabase(dataDir);
  const samples: number[] = [];
  try {
    const log = new EntryLog(db);
    const random = rng(42);
    for (let i = 0; i < warmup + n; i++) {
      const j = Math.floor(random() * meta.cardHolders);
      const index = grantedPerson(meta, j);
      const input = {
        at: new Date().toISOString(),
        kind: 'decision' as const,
        doorId: 'd01',
        areaId: 'office',
        direction: 'in' as const,
        personId: personIdOf(index),
        personName: `Bench Person ${index}`,
        affiliation: 'R&D',
        purpose: 'benchmark',
        factors: ['card'],
        decision: 'granted' as const,
        reason: 'granted',
        deviceId: 'bench-commit-floor',
        deviceBoot: 1,
        deviceSeq: i + 1,
        linkedSeq: null,
        linkedPersonId: null,
        detail: { grantId: j + 1 },
      };
      const t0 = process.hrtime.bigint();
      db.transaction(() => log.append(input))();
      const t1 = process.hrtime.bigint();
      if (i >= warmup) samples.push(ms(t0, t1));
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    }
  } finally {
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  }
  return samples;
}

/** One argon2id PIN check with the daemon's parameters (src/store/pin.ts), `n` times. */
export async function pinFloor(n: number): Promise<number[]> {
  const hash = await hashPin('2580');
  await verifyPin(hash, '2580');
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await verifyPin(hash, '2580');
    samples.push(ms(t0, process.hrtime.bigint()));
  }
  return samples;
}

/** Durable appends per second: each append its own transaction (as a decision commits), and batched. */
export function appendRate(dataDir: string, single: number, batched: number): { perCommitPerSec: number; batchedPerSec: number; batchSize: number } {
  const db = openDatabase(dataDir);
  try {
    const log = new EntryLog(db);
    const input = (i: number) => ({
      at: new Date().toISOString(),
      kind: 'decision' as const,
      doorId: 'd01',
      areaId: 'office',
      direction: 'in' as const,
      personId: personIdOf(i),
      personName: `Bench Person ${i}`,
      affiliation: 'R&D',
      purpose: 'benchmark',
      factors: ['card'],
      decision: 'granted' as const,
      reason: 'granted',
      deviceId: 'bench-append-rate',
      deviceBoot: 1,
      deviceSeq: i + 1,
      detail: { grantId: 1 },
    });
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < single; i++) db.transaction(() => log.append(input(i)))();
    const perCommit = single / (ms(t0, process.hrtime.bigint()) / 1000);
    const batchSize = 1000;
    t0 = process.hrtime.bigint();
    for (let b = 0; b < batched; b += batchSize) {
      db.transaction(() => {
        for (let i = b; i < Math.min(batched, b + batchSize); i++) log.append(input(single + i));
      })();
    }
    const batchedRate = batched / (ms(t0, process.hrtime.bigint()) / 1000);
    return { perCommitPerSec: Math.round(perCommit), batchedPerSec: Math.round(batchedRate), batchSize };
  } finally {
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  }
}
