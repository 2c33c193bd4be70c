// The store: everything the controller keeps in SQLite, opened together.
import { openDatabase, type Db } from './db.js';
import { EntryLog } from './entry-log.js';
import { EventStore } from './events.js';
import { PeopleStore } from './people.js';
import { SequenceStore } from './sequence.js';
import { VisitStore } from './visits.js';
import { AreaStore } from './areas.js';
import { AuditLog } from './audit-log.js';

export interface Store {
  db: Db;
  people: PeopleStore;
  visits: VisitStore;
  areas: AreaStore;
  audit: AuditLog;
  entryLog: EntryLog;
  events: EventStore;
  sequences: SequenceStore;
  /**
   * Runs `fn` in one transaction: everything it writes commits together or not at all (a change
   * and its audit record). Nested calls join the outer transaction (as a savepoint).
   */
  transaction<T>(fn: () => T): T;
  /** Throws if the database cannot be read (the health check). */
  ping(): void;
  close(): void;
}

export function openStore(dataDir: string): Store {
  const db = openDatabase(dataDir);
  return {
    db,
    people: new PeopleStore(db),
    visits: new VisitStore(db),
    areas: new AreaStore(db),
    audit: new AuditLog(db),
    entryLog: new EntryLog(db),
    events: new EventStore(db),
    sequences: new SequenceStore(db),
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    ping() {
      db.prepare('SELECT 1').get();
    },
    close() {
      if (db.open) {
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
      }
    },
  };
}

export type { Db };
