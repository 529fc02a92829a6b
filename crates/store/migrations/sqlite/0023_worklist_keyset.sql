-- Worklists that neither sort nor count the world (#22).
-- Pages are read by keyset over non-null, indexed ordering columns: the remediation deadline
-- as a column that is never NULL ('~' sorts after every timestamp), and one partial index for a
-- member's open findings and one for the federation's, in worklist order. The open findings'
-- counts per organisation and priority are kept by triggers, so a page's total is read, not
-- counted.
ALTER TABLE finding ADD COLUMN remediate_order TEXT NOT NULL DEFAULT '~';
UPDATE finding SET remediate_order = COALESCE(remediate_by, '~');
CREATE INDEX finding_open_member ON finding (organisation_id, priority_rank, remediate_order, id)
    WHERE resolved_at IS NULL;
CREATE INDEX finding_open_central ON finding (priority_rank, remediate_order, id)
    WHERE resolved_at IS NULL;

CREATE TABLE finding_open_count (
    organisation_id INTEGER NOT NULL,
    priority        TEXT NOT NULL,
    n               INTEGER NOT NULL,
    PRIMARY KEY (organisation_id, priority)
);
INSERT INTO finding_open_count (organisation_id, priority, n)
    SELECT organisation_id, priority, COUNT(*) FROM finding WHERE resolved_at IS NULL
    GROUP BY organisation_id, priority;

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
