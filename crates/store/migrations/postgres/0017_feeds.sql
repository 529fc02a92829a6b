-- Feed sync (`ward feeds sync`, `ward serve --feeds`): each configured source's state, so that
-- a restart resumes where the last complete step left off.
CREATE TABLE feed_state (
    name            TEXT COLLATE "C" PRIMARY KEY,
    kind            TEXT COLLATE "C" NOT NULL,
    cursor          TEXT COLLATE "C",
    etag            TEXT COLLATE "C",
    last_modified   TEXT COLLATE "C",
    last_run_at     TEXT COLLATE "C",
    last_success_at TEXT COLLATE "C",
    last_change_at  TEXT COLLATE "C",
    last_error_at   TEXT COLLATE "C",
    last_error      TEXT COLLATE "C",
    last_summary    TEXT COLLATE "C",
    failures        BIGINT NOT NULL DEFAULT 0,
    behind_since    TEXT COLLATE "C"
);
-- EPSS history: a CVE's score on the days it first appeared or moved by a point or more.
CREATE TABLE epss_history (
    vuln_id    TEXT COLLATE "C" NOT NULL,
    score_date TEXT COLLATE "C" NOT NULL,
    score      DOUBLE PRECISION NOT NULL,
    percentile DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (vuln_id, score_date)
);
