-- Findings kept in the order they were written (#22). `finding.id` was the table's rowid, and
-- ids are opaque (0014: a keyed permutation), so each new finding landed on a random page of
-- the table: at 200 members × 5,000 components (1.6 M findings, a table of a gigabyte) a full
-- re-match wrote about one page of the table per finding, and re-matching one asset rewrote
-- pages all over the file. The table now has SQLite's own rowid, which grows as rows are
-- added, so one asset's findings, written together, sit together; `id` stays the finding's
-- name, unique, looked up through its own small index. Existing rows are copied in asset
-- order. Nothing refers to a finding's rowid, and `ward db copy` does not see it (it is no
-- column): PostgreSQL's heap is in write order already.
--
-- New findings are also named in blocks (`ward_store::ids`): one asset's findings written
-- together take ids that follow each other, after a block number put through a keyed
-- permutation, so the indexes holding a finding's id (its own, the worklists') take each
-- write in a few places rather than on one random page per finding.
INSERT INTO opaque_id (kind, next, floor, key) VALUES ('finding-block', 0, 0, lower(hex(randomblob(32))));
CREATE TABLE finding_in_write_order (
    id                INTEGER NOT NULL UNIQUE,
    organisation_id   INTEGER NOT NULL REFERENCES organisation (id),
    asset_id          INTEGER NOT NULL REFERENCES asset (id),
    vuln_id           TEXT NOT NULL,
    component         TEXT NOT NULL,           -- the component's name and version (or purl)
    priority          TEXT NOT NULL,
    payload           TEXT NOT NULL,           -- the finding's own part (0024)
    first_seen        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    resolved_at       TEXT,                    -- set when an upload no longer has it
    priority_rank     INTEGER NOT NULL DEFAULT 3,
    remediate_by      TEXT,
    resolution        TEXT,                    -- 'inventory' | 'knowledge'
    resolution_reason TEXT,
    remediate_order   TEXT NOT NULL DEFAULT '~',
    detail            TEXT,
    UNIQUE (asset_id, vuln_id, component)
);
INSERT INTO finding_in_write_order (id, organisation_id, asset_id, vuln_id, component, priority,
        payload, first_seen, updated_at, resolved_at, priority_rank, remediate_by, resolution,
        resolution_reason, remediate_order, detail)
    SELECT id, organisation_id, asset_id, vuln_id, component, priority,
        payload, first_seen, updated_at, resolved_at, priority_rank, remediate_by, resolution,
        resolution_reason, remediate_order, detail
    FROM finding ORDER BY asset_id, vuln_id, component;
-- Its indexes and triggers go with it, and are made again below as they were.
DROP TABLE finding;
ALTER TABLE finding_in_write_order RENAME TO finding;

CREATE INDEX finding_worklist ON finding (organisation_id, resolved_at, priority_rank, remediate_by);
CREATE INDEX finding_by_vulnerability ON finding (vuln_id, organisation_id, resolved_at);
CREATE INDEX finding_open_member ON finding (organisation_id, priority_rank, remediate_order, id)
    WHERE resolved_at IS NULL;
CREATE INDEX finding_open_central ON finding (priority_rank, remediate_order, id)
    WHERE resolved_at IS NULL;

CREATE TRIGGER finding_open_count_insert AFTER INSERT ON finding
WHEN NEW.resolved_at IS NULL
BEGIN
    INSERT INTO finding_open_count (organisation_id, priority, n)
        VALUES (NEW.organisation_id, NEW.priority, 1)
        ON CONFLICT (organisation_id, priority) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER finding_open_count_update AFTER UPDATE OF resolved_at, priority, organisation_id ON finding
BEGIN
    UPDATE finding_open_count SET n = n - 1
        WHERE OLD.resolved_at IS NULL
          AND organisation_id = OLD.organisation_id AND priority = OLD.priority;
    INSERT INTO finding_open_count (organisation_id, priority, n)
        SELECT NEW.organisation_id, NEW.priority, 1 WHERE NEW.resolved_at IS NULL
        ON CONFLICT (organisation_id, priority) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER finding_open_count_delete AFTER DELETE ON finding
WHEN OLD.resolved_at IS NULL
BEGIN
    UPDATE finding_open_count SET n = n - 1
        WHERE organisation_id = OLD.organisation_id AND priority = OLD.priority;
END;
