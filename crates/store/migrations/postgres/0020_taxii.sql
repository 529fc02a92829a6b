-- TAXII 2.1 collections the central team fills (#20): STIX 2.1 objects (indicators, Sigma rules as
-- indicators with pattern_type "sigma", …) that members pull. `readers` is '*' (every member) or
-- a JSON list of organisation slugs; central roles read every collection. An object is kept per
-- (collection, id, version); `date_added` is strictly increasing within a collection, so that
-- `added_after` pages neither skip nor repeat, and `seq` orders them.
CREATE TABLE taxii_collection (
    id          TEXT COLLATE "C" PRIMARY KEY,
    title       TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C",
    readers     TEXT COLLATE "C" NOT NULL DEFAULT '*',
    created_at  TEXT COLLATE "C" NOT NULL,
    created_by  TEXT COLLATE "C" NOT NULL
);
CREATE TABLE taxii_object (
    seq           BIGINT PRIMARY KEY,
    collection_id TEXT COLLATE "C" NOT NULL REFERENCES taxii_collection (id),
    stix_id       TEXT COLLATE "C" NOT NULL,
    version       TEXT COLLATE "C" NOT NULL,
    type          TEXT COLLATE "C" NOT NULL,
    date_added    TEXT COLLATE "C" NOT NULL,
    payload       TEXT COLLATE "C" NOT NULL,
    UNIQUE (collection_id, stix_id, version)
);
CREATE INDEX taxii_object_added ON taxii_object (collection_id, seq);
