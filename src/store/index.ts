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
    close() {
      if (db.open) {
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
      }
    },
  };
}

export type { Db };
