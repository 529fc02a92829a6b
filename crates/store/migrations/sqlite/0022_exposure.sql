-- Outside-in exposure (#23). Each member's declared footprint — IP blocks, AS numbers, domain
-- names — proposed by the member and approved by the central team (or set by it), every step
-- audited; a claim two members hold is refused (a block inside another member's is a
-- delegation: the longest prefix wins). What internet scanners saw (`observation`), attributed
-- to a member by its approved footprint or left unattributed for the central team; an observed
-- service's asset; and the declared assets observations contradict (declared small or
-- controlled, seen answering from the internet).
CREATE TABLE footprint (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    kind            TEXT NOT NULL CHECK (kind IN ('range', 'asn', 'domain')),
    value           TEXT NOT NULL,           -- canonical: 203.0.113.0/24, AS64500, trust.example
    state           TEXT NOT NULL CHECK (state IN ('proposed', 'approved', 'rejected', 'withdrawn')),
    proposed_by     TEXT NOT NULL,
    proposed_at     TEXT NOT NULL,
    decided_by      TEXT,
    decided_at      TEXT,
    reason          TEXT
);
CREATE UNIQUE INDEX footprint_one_holder ON footprint (kind, value) WHERE state IN ('proposed', 'approved');
CREATE INDEX footprint_by_organisation ON footprint (organisation_id, state);
INSERT INTO opaque_id (kind, next, floor, key) VALUES ('footprint', 0, 0, lower(hex(randomblob(32))));

-- A member's authorisation for the central team to probe its declared ranges (NULL: none).
ALTER TABLE organisation ADD COLUMN probe_consent_at TEXT;
ALTER TABLE organisation ADD COLUMN probe_consent_by TEXT;

CREATE TABLE observation (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER REFERENCES organisation (id),   -- NULL: unattributed
    asset_id        INTEGER REFERENCES asset (id),
    address         TEXT NOT NULL,           -- '' when the report names only a host
    port            INTEGER NOT NULL,        -- 0 when it names none
    hostname        TEXT NOT NULL,           -- '' when none
    asn             INTEGER,
    vendor          TEXT,
    product         TEXT,
    version         TEXT,
    cpe             TEXT,
    tag             TEXT,
    detail          TEXT,
    source          TEXT NOT NULL,
    attributed_by   TEXT,                    -- the claim that held it
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    UNIQUE (address, port, hostname, source)
);
CREATE INDEX observation_by_organisation ON observation (organisation_id, last_seen);

CREATE TABLE exposure_contradiction (
    asset_id        INTEGER PRIMARY KEY REFERENCES asset (id),
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    declared        TEXT NOT NULL,           -- the exposure the member declared
    evidence        TEXT NOT NULL,           -- what was seen, where and when
    flagged_at      TEXT NOT NULL
);
