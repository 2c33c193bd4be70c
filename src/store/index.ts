// The store: everything the controller keeps in SQLite, opened together.
import { openDatabase, type Db } from './db.js';
import { EntryLog } from './entry-log.js';
import { EventStore } from './events.js';
import { AlarmStore } from './alarms.js';
import { PeopleStore } from './people.js';
import { CredentialRepository } from './credentials.js';
import { GrantRepository } from './grants.js';
import { PledgeRepository, TrainingRepository } from './training.js';
import { SequenceStore } from './sequence.js';
import { VisitStore } from './visits.js';
import { AreaStore } from './areas.js';
import { AccountStore } from './accounts.js';
import { AuditLog, verifyAuditLog, type AuditVerifyResult } from './audit-log.js';
import { CheckpointStore } from './checkpoints.js';
import { GroupCommit, type GroupCommitOptions } from './group-commit.js';
import { EntryCheckpoints } from './entry-checkpoints.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { QueryPool } from './query-pool.js';
import { SnapshotStore } from './snapshots.js';
import { Outbox } from './outbox.js';
import { KeyStore } from './keys.js';
import { DialLockStore } from './dial-locks.js';
import type { KeyObject } from 'node:crypto';
import { writeBackupInWorker, type BackupOptions, type BackupResult } from './backup.js';

export interface Store {
  people: PeopleStore;
  credentials: CredentialRepository;
  grants: GrantRepository;
  trainings: TrainingRepository;
  pledges: PledgeRepository;
  visits: VisitStore;
  areas: AreaStore;
  audit: AuditLog;
  entryLog: EntryLog;
  /** The entry log's signed checkpoints, and signing and pruning it. */
  checkpoints: EntryCheckpoints;
  /** The audit log's signed checkpoints (it signs and prunes itself: AuditLog). */
  auditCheckpoints: CheckpointStore;
  events: EventStore;
  /** Alarms: events of alarm types, with their lifecycle and history. */
  alarms: AlarmStore;
  sequences: SequenceStore;
  /** Camera evidence: the pictures' rows (files under <data>/snapshots/). */
  snapshots: SnapshotStore;
  /** Messages waiting for a receiver outside the box (webhooks). */
  outbox: Outbox;
  /** Keys and master keys, and their loans. */
  keys: KeyStore;
  /** Dial locks: rotation records, due triggers, code holders (never a code). */
  dialLocks: DialLockStore;
  /** The API's reads of the logs, on worker threads' read-only connections (started at the first read; closed with the store). */
  reads: QueryPool;
  /** A checkpointer of this database's WAL, off the event loop (not started). */
  walCheckpointer(): WalCheckpointer;
  /**
   * Runs `fn` in one transaction: everything it writes commits together or not at all (a change
   * and its audit record). Nested calls join the outer transaction (as a savepoint).
   */
  transaction<T>(fn: () => T): T;
  /** Walks the audit log's hash chain and checks its signed checkpoints. */
  verifyAuditLog(publicKey?: KeyObject): AuditVerifyResult;
  /**
   * The accounts, opened with the secrets key beside the database: seeds still in clear are sealed
   * now, and a key that does not open them throws (SecretKeyError).
   */
  openAccounts(): AccountStore;
  /**
   * Group commit for the access flow's decisions on this connection: `onRollback` re-reads what a
   * failed transaction left (the entry log's head).
   */
  groupCommit(onRollback: () => void, opts?: GroupCommitOptions): GroupCommit;
  /** Throws if the database cannot be read (the health check). */
  ping(): void;
  /** An encrypted backup of this database (an online copy) and the files beside it, written in a worker thread (backup.ts). */
  backup(opts: Omit<BackupOptions, 'database' | 'onProgress'>, signal?: AbortSignal): Promise<BackupResult>;
  close(): void;
}

export function openStore(dataDir: string): Store {
  return storeOn(openDatabase(dataDir));
}

/** The store over a connection already open (tools that prepare a database before the daemon runs). */
export function storeOn(db: Db): Store {
  const records = {
    credentials: new CredentialRepository(db),
    grants: new GrantRepository(db),
    trainings: new TrainingRepository(db),
    pledges: new PledgeRepository(db),
  };
  const reads = new QueryPool(db);
  return {
    people: new PeopleStore(db, records),
    ...records,
    visits: new VisitStore(db),
    areas: new AreaStore(db),
    audit: new AuditLog(db),
    entryLog: new EntryLog(db),
    checkpoints: new EntryCheckpoints(db),
    auditCheckpoints: new CheckpointStore(db, 'audit_checkpoints'),
    events: new EventStore(db),
    alarms: new AlarmStore(db),
    sequences: new SequenceStore(db),
    snapshots: new SnapshotStore(db),
    outbox: new Outbox(db),
    keys: new KeyStore(db),
    dialLocks: new DialLockStore(db),
    reads,
    walCheckpointer: () => new WalCheckpointer(db),
    // IMMEDIATE: the write lock is asked for at BEGIN, where SQLite waits for it (busy_timeout). A
    // deferred transaction that reads first asks for it only at its first write, and is then refused
    // at once if the WAL checkpointer holds it for a moment ("database is locked"), whatever the timeout.
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    verifyAuditLog: (publicKey) => verifyAuditLog(db, publicKey),
    openAccounts: () => AccountStore.open(db),
    groupCommit: (onRollback, opts) => new GroupCommit(db, onRollback, opts),
    ping() {
      db.prepare('SELECT 1').get();
    },
    backup: (opts, signal) => writeBackupInWorker({ ...opts, database: db.name }, signal),
    close() {
      // The workers' connections close as they stop (better-sqlite3 closes a thread's databases).
      void reads.close();
      if (db.open) {
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
      }
    },
  };
}

export type { Db };
