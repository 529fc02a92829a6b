-- Opaque ids for what members own. Asset, alert, finding and channel ids were the tables'
-- sequential keys, so a member could count the federation's objects (create an asset, note
-- its id, do it again next week). New rows take the next number of a per-kind sequence put
-- through a keyed permutation (`ward_store::ids`): unique by construction, below 2^53 (exact
-- in JavaScript), and without the key they neither count nor predict. `floor` is the largest
-- key given before this migration: permuted ids stay above it, so they never meet an old one.
-- The key never leaves the database (`ward db copy` carries it, with the sequence).
CREATE TABLE opaque_id (
    kind   TEXT PRIMARY KEY,
    next   BIGINT NOT NULL,
    floor  BIGINT NOT NULL,
    key    TEXT NOT NULL
);
INSERT INTO opaque_id (kind, next, floor, key)
    SELECT 'asset', COALESCE(MAX(id), 0), COALESCE(MAX(id), 0), replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') FROM asset;
INSERT INTO opaque_id (kind, next, floor, key)
    SELECT 'alert', COALESCE(MAX(id), 0), COALESCE(MAX(id), 0), replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') FROM alert;
INSERT INTO opaque_id (kind, next, floor, key)
    SELECT 'finding', COALESCE(MAX(id), 0), COALESCE(MAX(id), 0), replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') FROM finding;
INSERT INTO opaque_id (kind, next, floor, key)
    SELECT 'channel', COALESCE(MAX(id), 0), COALESCE(MAX(id), 0), replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') FROM notification_channel;
