-- New findings are named in blocks (`ward_store::ids`): one asset's findings written together
-- take ids that follow each other, after a block number put through a keyed permutation, so
-- the indexes holding a finding's id (its own, the worklists') take each write in a few places
-- rather than one random page per finding. SQLite's 0027 also gives the table a rowid in write
-- order; PostgreSQL's heap is in write order already.
INSERT INTO opaque_id (kind, next, floor, key) VALUES ('finding-block', 0, 0, replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
