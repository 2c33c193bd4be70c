// Schema migrations, applied in order; user_version records how many ran. Never edit a shipped one.
export const migrations: string[] = [
  `
  CREATE TABLE people (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    affiliation TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'left')),
    created_at TEXT NOT NULL
  );
  CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    kind TEXT NOT NULL CHECK (kind IN ('card', 'pin', 'otp', 'bio')),
    value TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
    created_at TEXT NOT NULL,
    UNIQUE (kind, value)
  );
  CREATE INDEX credentials_person ON credentials(person_id);
  CREATE TABLE grants (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    area_id TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT,
    purpose TEXT NOT NULL DEFAULT '',
    granted_by TEXT NOT NULL DEFAULT '',
    granted_at TEXT NOT NULL,
    revoked_at TEXT
  );
  CREATE INDEX grants_person_area ON grants(person_id, area_id);

  -- The entry log: append-only, each record hash-chained to the one before.
  CREATE TABLE entry_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    door_id TEXT,
    area_id TEXT,
    direction TEXT,
    person_id TEXT,
    person_name TEXT,
    affiliation TEXT,
    purpose TEXT,
    factors TEXT,
    decision TEXT,
    reason TEXT,
    device_id TEXT,
    device_boot INTEGER,
    device_seq INTEGER,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX entry_log_person ON entry_log(person_id, seq);
  CREATE INDEX entry_log_door ON entry_log(door_id, seq);
  CREATE TRIGGER entry_log_no_update BEFORE UPDATE ON entry_log BEGIN SELECT RAISE(ABORT, 'the entry log is append-only'); END;
  CREATE TRIGGER entry_log_no_delete BEFORE DELETE ON entry_log BEGIN SELECT RAISE(ABORT, 'the entry log is append-only'); END;

  -- Highest (boot, seq) seen per device, so a redelivered or replayed event is never decided twice.
  CREATE TABLE device_sequence (
    device_id TEXT PRIMARY KEY,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL
  );

  -- Events raised by the controller (alarms, faults, security), for guards and the API.
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    category TEXT NOT NULL,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    source TEXT,
    detail TEXT
  );
  CREATE INDEX events_type ON events(type, id);
  `,
];
