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
