-- E-mail channels: the target is one address; the relay is the server's (`ward serve --smtp`).
ALTER TABLE notification_channel DROP CONSTRAINT notification_channel_kind_check;
ALTER TABLE notification_channel ADD CONSTRAINT notification_channel_kind_check
    CHECK (kind IN ('webhook', 'syslog', 'email'));
CREATE INDEX outbox_channel ON outbox (channel_id, delivered_at);
