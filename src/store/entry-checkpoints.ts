// The entry log's signed checkpoints, with what signing and pruning them needs: the head as stored,
// the times of the records after the last checkpoint, writing one, and pruning behind a signed
// anchor. The audit log does the same through AuditLog.checkpoint and AuditLog.prune.
import type { KeyObject } from 'node:crypto';
import type { Db } from './db.js';
import { CheckpointStore, lateInTailOf, logHead, writeCheckpoint, type LateInTail, type StoredCheckpoint } from './checkpoints.js';
import { pruneEntryLog } from './retention.js';

export class EntryCheckpoints extends CheckpointStore {
  constructor(private readonly logDb: Db) {
    super(logDb);
  }

  /** The head as stored, not as a writer counts it: records removed behind its back show here. */
  storedHead(): { count: number; headHash: string } {
    return logHead(this.logDb);
  }

  /** The first record after a checkpoint's count later than its time promise (for the schedule check). */
  lateInTail(): LateInTail {
    return lateInTailOf(this.logDb, 'entry_log');
  }

  /** Signs the head and stores the checkpoint (writeCheckpoint). */
  write(key: KeyObject, opts: Parameters<typeof writeCheckpoint>[2]): StoredCheckpoint {
    return writeCheckpoint(this.logDb, key, opts);
  }

  /** Prunes records before `before` (ISO) behind a signed prune checkpoint; returns how many went (retention.ts). */
  prune(key: KeyObject, before: string, now: () => Date): number {
    return pruneEntryLog(this.logDb, { before, key, now });
  }
}
