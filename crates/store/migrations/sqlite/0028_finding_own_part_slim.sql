-- A finding's row keeps only what it cannot share (#22). Its component (name, version, CPE,
-- purl: ~150 bytes of JSON), the same on every finding of that component, goes to
-- `finding_detail` beside the shared details, keyed by the SHA-256 of its text
-- (`component_detail`); its deadlines, which `payload` spelt a second time beside the
-- `remediate_by` column, are read from the columns (`acknowledge_by` is new), and its asset's
-- name from the asset. At 200 members × 5,000 components (1.67 M findings) `payload` fell from
-- ~330 bytes to `{}`. Rows written before keep all three in `payload` and no
-- `component_detail`; they are read as they are and rewritten slim when next matched.
ALTER TABLE finding ADD COLUMN component_detail TEXT;
ALTER TABLE finding ADD COLUMN acknowledge_by TEXT;

-- The assets' products (what a knowledge change looks up) kept in their key's order, without a
-- rowid: the table and the index its key made held the same rows twice (107 MB of 1 M rows at
-- 200 members × 5,000 components).
CREATE TABLE asset_product_by_key (
    asset_id INTEGER NOT NULL REFERENCES asset (id),
    vendor   TEXT NOT NULL,   -- '' when the component names no vendor
    product  TEXT NOT NULL,
    PRIMARY KEY (asset_id, vendor, product)
) WITHOUT ROWID;
INSERT INTO asset_product_by_key (asset_id, vendor, product)
    SELECT asset_id, vendor, product FROM asset_product;
DROP TABLE asset_product;
ALTER TABLE asset_product_by_key RENAME TO asset_product;
CREATE INDEX asset_product_by_product ON asset_product (product);
