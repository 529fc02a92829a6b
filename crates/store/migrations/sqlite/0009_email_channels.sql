-- E-mail channels: the target is one address; the relay is the server's (`ward serve --smtp`).
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt (ids kept, so the
-- outbox's references stay true; foreign keys are checked at commit).
PRAGMA defer_foreign_keys = ON;

CREATE TABLE notification_channel_new (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisation (id),  -- the central team's channels hear every member's alerts
    kind            TEXT NOT NULL CHECK (kind IN ('webhook', 'syslog', 'email')),
    target          TEXT NOT NULL,      -- URL, udp://host:port / tcp://host:port, or an e-mail address
    secret          TEXT,               -- webhook HMAC key: needed in clear to sign, never returned by the API
    created_at      TEXT NOT NULL,
    disabled_at     TEXT
);
INSERT INTO notification_channel_new (id, organisation_id, kind, target, secret, created_at, disabled_at)
    SELECT id, organisation_id, kind, target, secret, created_at, disabled_at FROM notification_channel;
DROP TABLE notification_channel;
ALTER TABLE notification_channel_new RENAME TO notification_channel;
CREATE INDEX outbox_channel ON outbox (channel_id, delivered_at);
