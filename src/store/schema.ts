// Schema migrations, applied in order; user_version records how many ran. Never edit a shipped one.
export const migrations: string[] = [
  `
  -- Access holders (kind staff) and visitors (kind visitor). number: the staff number typed on a
  -- keypad ("number#PIN") where a PIN is the first factor.
  CREATE TABLE people (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'staff' CHECK (kind IN ('staff', 'visitor')),
    number INTEGER UNIQUE,
    name TEXT NOT NULL,
    affiliation TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    roles TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'left')),
    created_at TEXT NOT NULL
  );
  -- card and bio values identify (looked up); pin values are argon2id hashes; otp values are TOTP
  -- seeds. use = duress marks a PIN that grants but raises a silent alarm.
  CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    kind TEXT NOT NULL CHECK (kind IN ('card', 'pin', 'otp', 'bio')),
    value TEXT NOT NULL,
    use TEXT NOT NULL DEFAULT 'normal' CHECK (use IN ('normal', 'duress')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'revoked')),
    last_otp_step INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (kind, value)
  );
  CREATE INDEX credentials_person ON credentials(person_id, kind);
  CREATE TABLE trainings (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    completed_at TEXT NOT NULL,
    course TEXT NOT NULL DEFAULT '',
    recorded_by TEXT NOT NULL DEFAULT '',
    recorded_at TEXT NOT NULL
  );
  CREATE INDEX trainings_person ON trainings(person_id, completed_at);
  CREATE TABLE pledges (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    signed_at TEXT NOT NULL,
    document TEXT NOT NULL DEFAULT '',
    withdrawn_at TEXT,
    recorded_by TEXT NOT NULL DEFAULT '',
    recorded_at TEXT NOT NULL
  );
  CREATE INDEX pledges_person ON pledges(person_id);
  CREATE TABLE grants (
    id INTEGER PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    area_id TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT,
    purpose TEXT NOT NULL DEFAULT '',
    out_of_hours INTEGER NOT NULL DEFAULT 0,
    review_by TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active')),
    granted_by TEXT NOT NULL DEFAULT '',
    granted_at TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT,
    revoked_at TEXT,
    revoked_by TEXT
  );
  CREATE INDEX grants_person_area ON grants(person_id, area_id);
  -- A visit: the visitor is a people row of kind visitor, carrying the visit's card.
  CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    visitor_id TEXT NOT NULL REFERENCES people(id),
    purpose TEXT NOT NULL,
    host_id TEXT NOT NULL REFERENCES people(id),
    areas TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    approved_by TEXT,
    approved_at TEXT,
    pledge_signed_at TEXT,
    checked_in_at TEXT,
    checked_out_at TEXT,
    cancelled_at TEXT,
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
  );
  CREATE INDEX visits_visitor ON visits(visitor_id);
  -- Who is inside each area with anti-passback, now.
  CREATE TABLE occupancy (
    area_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    PRIMARY KEY (area_id, person_id)
  );
  CREATE TABLE area_modes (
    area_id TEXT PRIMARY KEY,
    mode TEXT NOT NULL CHECK (mode IN ('normal', 'lockdown', 'emergency')),
    allowed_roles TEXT NOT NULL DEFAULT '[]',
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL
  );
  -- Wrong PINs in a row per person, and the lockout they earned.
  CREATE TABLE pin_failures (
    person_id TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until TEXT
  );

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
    linked_seq INTEGER,
    linked_person_id TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX entry_log_person ON entry_log(person_id, seq);
  CREATE INDEX entry_log_door ON entry_log(door_id, seq);
  CREATE INDEX entry_log_area_at ON entry_log(area_id, at);
  CREATE INDEX entry_log_at ON entry_log(at);
  -- Pruning past the retention period is the one delete allowed: it runs with a row in log_prune.
  CREATE TABLE log_prune (token INTEGER);
  CREATE TRIGGER entry_log_no_update BEFORE UPDATE ON entry_log BEGIN SELECT RAISE(ABORT, 'the entry log is append-only'); END;
  CREATE TRIGGER entry_log_no_delete BEFORE DELETE ON entry_log WHEN NOT EXISTS (SELECT 1 FROM log_prune)
    BEGIN SELECT RAISE(ABORT, 'the entry log is append-only'); END;
  -- Signed checkpoints: (count, head hash, time) signed with the gateway's Ed25519 key. A prune
  -- checkpoint also anchors the first remaining record (its seq and prev_hash).
  CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('periodic', 'shutdown', 'prune')),
    count INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    at TEXT NOT NULL,
    anchor_seq INTEGER,
    anchor_prev_hash TEXT,
    signature TEXT NOT NULL
  );

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
  `
  -- Manager accounts: unique usernames, argon2id password hashes, TOTP for those who set access rights.
  CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'guard', 'auditor')),
    password_hash TEXT NOT NULL,
    password_history TEXT NOT NULL DEFAULT '[]',
    must_change_password INTEGER NOT NULL DEFAULT 1,
    totp_secret TEXT,
    totp_pending_secret TEXT,
    last_totp_step INTEGER,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
  );
  -- Bearer sessions: only a hash of the token is kept.
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    address TEXT
  );
  CREATE INDEX sessions_account ON sessions(account_id);
  -- The audit log of admin actions: append-only, hash-chained, signed like the entry log.
  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT,
    role TEXT,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL,
    address TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX audit_log_at ON audit_log(at);
  CREATE INDEX audit_log_actor ON audit_log(actor, seq);
  CREATE TABLE audit_prune (token INTEGER);
  CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log WHEN NOT EXISTS (SELECT 1 FROM audit_prune)
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('periodic', 'shutdown', 'prune')),
    count INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    at TEXT NOT NULL,
    anchor_seq INTEGER,
    anchor_prev_hash TEXT,
    signature TEXT NOT NULL
  );
  -- Grant reviews: confirmed (kept, with a new review-by date) or ended.
  ALTER TABLE grants ADD COLUMN reviewed_at TEXT;
  ALTER TABLE grants ADD COLUMN reviewed_by TEXT;
  `,
  `
  -- Acknowledging events: the account that took note of an alarm, when, and what it noted.
  -- An alarm (severity alarm) is open until acknowledged.
  ALTER TABLE events ADD COLUMN acked_at TEXT;
  ALTER TABLE events ADD COLUMN acked_by TEXT;
  ALTER TABLE events ADD COLUMN ack_note TEXT;
  CREATE INDEX events_open ON events(severity, acked_at, id);
  `,
  `
  -- Every role signs in with TOTP; an admin may exempt an auditor who only reads (audited).
  ALTER TABLE accounts ADD COLUMN totp_exempt INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- Refresh tokens: renew a session without the password, single-use (each refresh rotates it).
  -- Only a hash is kept. family: the tokens descending from one login (a reused token ends them all);
  -- credential: a hash of the account's role and password hash when issued (a change refuses it);
  -- expires_at: the family's absolute lifetime, set at login and never extended.
  CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    session_hash TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
  );
  CREATE INDEX refresh_tokens_family ON refresh_tokens(family);
  CREATE INDEX refresh_tokens_session ON refresh_tokens(session_hash);
  CREATE INDEX refresh_tokens_account ON refresh_tokens(account_id);
  `,
  `
  -- Checkpoints v2: each signs its ordinal (the n-th checkpoint ever written) and how many records,
  -- and how many seconds of them, may follow it before the next, so a deleted checkpoint is a break
  -- (checkpoints.ts). ordinal NULL: a v1 checkpoint, signed before this migration.
  ALTER TABLE checkpoints ADD COLUMN ordinal INTEGER;
  ALTER TABLE checkpoints ADD COLUMN next_within INTEGER;
  ALTER TABLE checkpoints ADD COLUMN next_within_s INTEGER;
  ALTER TABLE audit_checkpoints ADD COLUMN ordinal INTEGER;
  ALTER TABLE audit_checkpoints ADD COLUMN next_within INTEGER;
  ALTER TABLE audit_checkpoints ADD COLUMN next_within_s INTEGER;
  `,
  `
  -- The hash chain's encoding version of each record (hash-chain.ts), which its hash also covers:
  -- NULL for a record written before versions (v1), 2 for every record written since.
  ALTER TABLE entry_log ADD COLUMN chain_version INTEGER;
  ALTER TABLE audit_log ADD COLUMN chain_version INTEGER;
  `,
  `
  -- Alarms (an event whose type the registry marks alarm): who cleared it, when, why and with what
  -- note; how far it escalated; its response time (raised to acknowledged) and time to clear, in ms.
  -- alarm_history: every step of its lifecycle (raised, acknowledged, escalated, cleared), in order.
  ALTER TABLE events ADD COLUMN cleared_at TEXT;
  ALTER TABLE events ADD COLUMN cleared_by TEXT;
  ALTER TABLE events ADD COLUMN clear_cause TEXT CHECK (clear_cause IN ('intrusion', 'false-alarm', 'test', 'fault', 'other'));
  ALTER TABLE events ADD COLUMN clear_note TEXT;
  ALTER TABLE events ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE events ADD COLUMN response_ms INTEGER;
  ALTER TABLE events ADD COLUMN clear_ms INTEGER;
  CREATE TABLE alarm_history (
    id INTEGER PRIMARY KEY,
    alarm_id INTEGER NOT NULL REFERENCES events(id),
    at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('raised', 'acknowledged', 'escalated', 'cleared')),
    by TEXT,
    note TEXT,
    cause TEXT,
    level INTEGER
  );
  CREATE INDEX alarm_history_alarm ON alarm_history(alarm_id, id);
  `,
  `
  -- Camera evidence: each picture taken for an alarm (event_id) or a denied entry (entry_seq), kept
  -- as a file under <data>/snapshots/ named by file; sha256 is also in the entry log's evidence
  -- record (evidence_seq), so the chain covers it and a swapped file is caught.
  CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    camera TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    file TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    event_id INTEGER,
    entry_seq INTEGER,
    evidence_seq INTEGER
  );
  CREATE INDEX snapshots_event ON snapshots(event_id);
  CREATE INDEX snapshots_entry ON snapshots(entry_seq);
  CREATE INDEX snapshots_taken ON snapshots(taken_at);
  `,
  `
  -- Messages waiting to leave the box (webhooks): written in the turn the alarm or event was raised,
  -- deleted once delivered or past the webhook's keepHours, so a receiver that is down misses nothing.
  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT
  );
  CREATE INDEX outbox_target ON outbox(target, id);
  `,
  `
  -- Keys and master keys (the inventory, ledgers of issue 12): id is the tag stamped on the key;
  -- opens: JSON [{kind: area|safe, id}] of what it opens (lent only to access holders of all of it).
  -- key_loans: each loan, with its due-back time and return; a master key's carries its reason.
  -- overdue_at: when the overdue event was raised (once per loan).
  CREATE TABLE keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    master INTEGER NOT NULL DEFAULT 0,
    opens TEXT NOT NULL,
    location TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL
  );
  CREATE TABLE key_loans (
    id INTEGER PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES keys(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    lent_at TEXT NOT NULL,
    lent_by TEXT NOT NULL,
    due_back_at TEXT NOT NULL,
    reason TEXT CHECK (reason IN ('disaster', 'emergency')),
    note TEXT NOT NULL DEFAULT '',
    returned_at TEXT,
    returned_by TEXT,
    overdue_at TEXT
  );
  -- A key is out to one person at a time.
  CREATE UNIQUE INDEX key_loans_out ON key_loans(key_id) WHERE returned_at IS NULL;
  CREATE INDEX key_loans_key ON key_loans(key_id, id);
  CREATE INDEX key_loans_due ON key_loans(due_back_at) WHERE returned_at IS NULL;
  `,
  `
  -- Dial locks (a safe's three-wheel dial): what the site file said about each when last seen
  -- (dial_lock_state: a change there makes the rotation due), when its code changed (dial_rotations:
  -- who, why; never the code), what made a rotation due at once since (dial_due_triggers: a site
  -- change, a holder losing access, a leak report with its note) and who knows the code
  -- (dial_code_holders: removed_at set when a holder is taken off or loses access).
  CREATE TABLE dial_lock_state (
    lock_id TEXT PRIMARY KEY,
    area TEXT NOT NULL,
    location TEXT NOT NULL,
    custodian TEXT NOT NULL,
    delegates TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    reminded_until TEXT
  );
  CREATE TABLE dial_rotations (
    id INTEGER PRIMARY KEY,
    lock_id TEXT NOT NULL,
    rotated_at TEXT NOT NULL,
    by TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_at TEXT NOT NULL
  );
  CREATE INDEX dial_rotations_lock ON dial_rotations(lock_id, rotated_at);
  CREATE TABLE dial_due_triggers (
    id INTEGER PRIMARY KEY,
    lock_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TEXT NOT NULL,
    person_id TEXT,
    note TEXT,
    reported_by TEXT
  );
  CREATE INDEX dial_due_triggers_lock ON dial_due_triggers(lock_id, at);
  CREATE TABLE dial_code_holders (
    id INTEGER PRIMARY KEY,
    lock_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    added_at TEXT NOT NULL,
    added_by TEXT NOT NULL,
    removed_at TEXT,
    removed_reason TEXT
  );
  CREATE UNIQUE INDEX dial_code_holders_current ON dial_code_holders(lock_id, person_id) WHERE removed_at IS NULL;
  `,
  `
  -- The visitor's badge handed back at the desk (services/visits.ts): a badge issued again clears it.
  ALTER TABLE visits ADD COLUMN badge_returned_at TEXT;
  `,
  // The console's language, remembered per account (null: follow the browser).
  `ALTER TABLE accounts ADD COLUMN language TEXT CHECK (language IN ('en', 'ja'));`,
  `
  -- One index fewer for every decision to write (an SD card wears by the pages written): a time range
  -- with no area is found through (area_id, at) too, one range per area (entry-log.ts, planQuery).
  DROP INDEX IF EXISTS entry_log_at;
  `,
  `
  -- device_sequence holds every device's mark as of entry-log record through_seq; a mark moved since
  -- is carried by the records after it (sequence.ts): most decisions no longer rewrite the table.
  CREATE TABLE device_sequence_through (through_seq INTEGER NOT NULL);
  INSERT INTO device_sequence_through SELECT coalesce(max(seq), 0) FROM entry_log;
  `,
];
