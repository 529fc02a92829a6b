-- Members' assets, every inventory uploaded for them (history kept), and the findings the
-- current inventory has against the knowledge base.

CREATE TABLE asset (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    name            TEXT NOT NULL,
    exposure        TEXT CHECK (exposure IN ('small', 'controlled', 'open')),
    criticality     TEXT CHECK (criticality IN ('low', 'medium', 'high', 'very-high')),
    tags            TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (organisation_id, name)
);

CREATE TABLE inventory_version (
    id           INTEGER PRIMARY KEY,
    asset_id     INTEGER NOT NULL REFERENCES asset (id),
    version      INTEGER NOT NULL,
    format       TEXT NOT NULL,
    file_name    TEXT NOT NULL,
    components   INTEGER NOT NULL,
    content_hash TEXT NOT NULL,              -- SHA-256 of the uploaded bytes
    payload      TEXT NOT NULL,              -- the components read, as JSON
    uploaded_at  TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    UNIQUE (asset_id, version)
);

CREATE TABLE finding (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    asset_id        INTEGER NOT NULL REFERENCES asset (id),
    vuln_id         TEXT NOT NULL,
    component       TEXT NOT NULL,           -- the component's name and version (or purl)
    priority        TEXT NOT NULL,
    payload         TEXT NOT NULL,           -- ward_model::Finding as JSON
    first_seen      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    resolved_at     TEXT,                    -- set when an upload no longer has it
    UNIQUE (asset_id, vuln_id, component)
);
CREATE INDEX finding_by_organisation ON finding (organisation_id, resolved_at);
