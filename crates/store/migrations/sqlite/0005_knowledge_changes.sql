-- Continuous matching: imports log which vulnerabilities changed; the server re-matches only
-- the assets whose products (or findings) those touch, then moves its cursor.
CREATE TABLE knowledge_change (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    vuln_id TEXT NOT NULL
);
CREATE TABLE matching_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO matching_cursor (id, seq) VALUES (1, 0);

-- The product and package keys each asset's current inventory is looked up by.
CREATE TABLE asset_product (
    asset_id INTEGER NOT NULL REFERENCES asset (id),
    vendor   TEXT NOT NULL,   -- '' when the component names no vendor
    product  TEXT NOT NULL,
    PRIMARY KEY (asset_id, vendor, product)
);
CREATE INDEX asset_product_by_product ON asset_product (product);
