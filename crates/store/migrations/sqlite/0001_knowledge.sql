-- The knowledge base: every source's view of every vulnerability, kept apart so that matching
-- can choose the most precise and explain disagreements.

CREATE TABLE advisory (
    vuln_id      TEXT NOT NULL,
    source       TEXT NOT NULL,   -- 'cna:<shortName>', 'adp:<shortName>', 'nvd'
    state        TEXT NOT NULL,   -- 'published' | 'rejected'
    updated      TEXT,            -- RFC 3339, UTC: the source's dateUpdated / lastModified
    content_hash TEXT NOT NULL,   -- SHA-256 of payload: re-imports of the same view change nothing
    payload      TEXT NOT NULL,   -- ward_model::Advisory as JSON
    imported_at  TEXT NOT NULL,
    PRIMARY KEY (vuln_id, source)
);

-- Which (vendor, product) each view can match; vendor '*' for wildcarded criteria.
CREATE TABLE advisory_product (
    vendor   TEXT NOT NULL,
    product  TEXT NOT NULL,
    vuln_id  TEXT NOT NULL,
    source   TEXT NOT NULL,
    PRIMARY KEY (vendor, product, vuln_id, source)
);
CREATE INDEX advisory_product_by_product ON advisory_product (product);
CREATE INDEX advisory_product_by_view ON advisory_product (vuln_id, source);

CREATE TABLE kev (
    vuln_id      TEXT PRIMARY KEY,
    date_added   TEXT,
    due_date     TEXT,
    content_hash TEXT NOT NULL,
    payload      TEXT NOT NULL   -- ward_model::KevEntry as JSON
);

CREATE TABLE epss (
    vuln_id       TEXT PRIMARY KEY,
    score         REAL NOT NULL,
    percentile    REAL NOT NULL,
    model_version TEXT,
    score_date    TEXT
);

CREATE TABLE import_run (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    summary     TEXT NOT NULL   -- JSON: counts per format and outcome
);
