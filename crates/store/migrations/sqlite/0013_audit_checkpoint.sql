-- Signed checkpoints of the audit chain: the head (seq, hash) signed with an Ed25519 key kept
-- outside the database (`ward serve --audit-key`, `ward audit checkpoint --key`). Whoever can
-- write the database can recompute every hash, but not sign: `ward audit verify --key` finds
-- an entry that no longer hashes to what a checkpoint signed.
CREATE TABLE audit_checkpoint (
    seq        BIGINT PRIMARY KEY,
    hash       TEXT NOT NULL,
    signed_at  TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    signature  TEXT NOT NULL
);
