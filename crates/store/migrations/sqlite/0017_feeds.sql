-- Feed sync (`ward feeds sync`, `ward serve --feeds`): each configured source's state, so that
-- a restart resumes where the last complete step left off.
CREATE TABLE feed_state (
    name            TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    cursor          TEXT,            -- the source's own resume point, JSON
    etag            TEXT,            -- conditional GET: the last response's validators
    last_modified   TEXT,
    last_run_at     TEXT,
    last_success_at TEXT,
    last_change_at  TEXT,            -- the last sync that imported something
    last_error_at   TEXT,
    last_error      TEXT,
    last_summary    TEXT,            -- JSON: what the last successful sync did
    failures        INTEGER NOT NULL DEFAULT 0,  -- consecutive failed syncs
    behind_since    TEXT             -- it fell behind and the central team was told; cleared by a success
);
-- EPSS history: a CVE's score on the days it first appeared or moved by a point or more, so that
-- a jump (0.049 -> 0.749 in a week) can be seen.
CREATE TABLE epss_history (
    vuln_id    TEXT NOT NULL,
    score_date TEXT NOT NULL,
    score      REAL NOT NULL,
    percentile REAL NOT NULL,
    PRIMARY KEY (vuln_id, score_date)
);
