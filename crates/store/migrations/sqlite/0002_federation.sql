-- The federation: member organisations and the central team, their API tokens, what members
-- report (sightings), alerts, and the tamper-evident audit log.

CREATE TABLE organisation (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,   -- short stable name used in URLs and on the command line
    name       TEXT NOT NULL,
    central    INTEGER NOT NULL DEFAULT 0 CHECK (central IN (0, 1)),
    created_at TEXT NOT NULL
);
-- One central team.
CREATE UNIQUE INDEX organisation_one_central ON organisation (central) WHERE central = 1;

-- Opaque bearer tokens: only their SHA-256 is stored; shown once when created.
CREATE TABLE api_token (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('central-admin', 'central-analyst', 'member-admin', 'member-analyst', 'read-only')),
    token_hash      TEXT NOT NULL UNIQUE,
    prefix          TEXT NOT NULL,          -- the first characters, to tell tokens apart in lists
    created_at      TEXT NOT NULL,
    revoked_at      TEXT,
    last_used_at    TEXT
);

-- What a member's hunt found: STIX sightings, never raw log lines.
CREATE TABLE sighting (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    stix_id         TEXT NOT NULL,          -- the reporter's deterministic id: re-reports are idempotent
    sighting_of     TEXT NOT NULL,          -- the indicator (or Sigma rule stand-in) id
    title           TEXT NOT NULL,
    level           TEXT,
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    payload         TEXT NOT NULL,          -- the STIX sighting object as received
    reported_at     TEXT NOT NULL,
    UNIQUE (organisation_id, stix_id)
);
CREATE INDEX sighting_by_subject ON sighting (organisation_id, sighting_of);

-- One alert per (organisation, kind, subject): a vulnerability, or a possible compromise
-- (the subject is what was sighted).
CREATE TABLE alert (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    kind            TEXT NOT NULL CHECK (kind IN ('vulnerability', 'possible-compromise')),
    subject         TEXT NOT NULL,
    title           TEXT NOT NULL,
    level           TEXT,
    state           TEXT NOT NULL,
    evidence        INTEGER NOT NULL DEFAULT 0,   -- sightings (or findings) behind it
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (organisation_id, kind, subject)
);

-- Append-only, hash-chained: each entry's hash covers the previous entry's hash and its own
-- content, so a changed or deleted entry breaks the chain (`ward audit verify`).
CREATE TABLE audit_log (
    seq             INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    organisation_id INTEGER,
    action          TEXT NOT NULL,
    target          TEXT NOT NULL,
    before          TEXT,
    after           TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
);
-- The head of the chain. Updating it first takes the write lock, so concurrent changes append
-- one after the other and never fork the chain.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
