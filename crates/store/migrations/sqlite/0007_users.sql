-- People: users with Argon2id password hashes, browser sessions (only the SHA-256 of the
-- session secret is stored) with their CSRF token, and failed logins for throttling.
CREATE TABLE user_account (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,       -- PHC string, $argon2id$…
    role            TEXT NOT NULL CHECK (role IN ('central-admin', 'central-analyst', 'member-admin', 'member-analyst', 'read-only')),
    created_at      TEXT NOT NULL,
    disabled_at     TEXT
);

CREATE TABLE session (
    id_hash     TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES user_account (id),
    csrf_token  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

CREATE TABLE login_failure (
    key TEXT NOT NULL,                   -- 'email:…' or 'ip:…'
    at  TEXT NOT NULL
);
CREATE INDEX login_failure_by_key ON login_failure (key, at);
