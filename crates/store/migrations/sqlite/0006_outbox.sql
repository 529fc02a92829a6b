-- Notifications: where each organisation (and the central team) wants to hear about alerts,
-- and the outbox, written in the same transaction as the alert change it reports.

CREATE TABLE notification_channel (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),  -- the central team's channels hear every member's alerts
    kind            TEXT NOT NULL CHECK (kind IN ('webhook', 'syslog')),
    target          TEXT NOT NULL,      -- URL, or udp://host:port / tcp://host:port
    secret          TEXT,               -- webhook HMAC key: needed in clear to sign, never returned by the API
    created_at      TEXT NOT NULL,
    disabled_at     TEXT
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    channel_id      INTEGER NOT NULL REFERENCES notification_channel (id),
    event           TEXT NOT NULL,
    payload         TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT,               -- a deliverer holds it until then; after a crash it is due again
    delivered_at    TEXT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);
