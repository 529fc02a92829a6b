-- Inventory history stored compactly and kept by policy. A version's components were kept as
-- plain JSON forever (a 12.9 MB CSV became 61 MB, every upload again). New versions are
-- written as `deflate` (base64 of raw DEFLATE of the same JSON); versions older than the
-- policy's `inventory_versions` newest lose their components (`pruned`) but keep the row —
-- who uploaded what, when, its SHA-256 and its component count stay in the history.
ALTER TABLE inventory_version ADD COLUMN payload_encoding TEXT NOT NULL DEFAULT 'json'
    CHECK (payload_encoding IN ('json', 'deflate', 'pruned'));
