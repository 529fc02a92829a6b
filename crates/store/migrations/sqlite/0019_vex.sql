-- VEX statements the federation holds (#21): documents a member uploads about its own products
-- (organisation_id set), and statements the central team publishes for every member
-- (organisation_id NULL) — not affected under a condition, a mitigation or workaround, a
-- recommended deadline — with author, time, references and version. Matching applies the
-- statements of an asset's organisation and the central ones; nothing is deleted: a revoked or
-- superseded statement stays, with when and by whom.
CREATE TABLE vex_statement (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER REFERENCES organisation (id),
    origin          TEXT NOT NULL,           -- 'upload' | 'central'
    vulnerability   TEXT NOT NULL,
    status          TEXT NOT NULL,           -- ward_model::VexStatus
    statement       TEXT NOT NULL,           -- ward_model::VexStatement as JSON
    remediate_by    TEXT,                    -- a central statement's recommended deadline
    reference_urls  TEXT NOT NULL DEFAULT '[]',
    version         BIGINT NOT NULL DEFAULT 1,
    supersedes      BIGINT,                  -- the statement this version replaces
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    revoked_at      TEXT,
    revoked_by      TEXT
);
CREATE INDEX vex_statement_in_force ON vex_statement (organisation_id, revoked_at);
CREATE INDEX vex_statement_by_vulnerability ON vex_statement (vulnerability);
INSERT INTO opaque_id (kind, next, floor, key) VALUES ('statement', 0, 0, lower(hex(randomblob(32))));
