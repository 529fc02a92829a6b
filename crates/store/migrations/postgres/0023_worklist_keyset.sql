-- Worklists that neither sort nor count the world (#22).
-- Pages are read by keyset over non-null, indexed ordering columns: the remediation deadline
-- as a column that is never NULL ('~' sorts after every timestamp), and one partial index for a
-- member's open findings and one for the federation's, in worklist order. The open findings'
-- counts per organisation and priority are kept by a trigger, so a page's total is read, not
-- counted.
ALTER TABLE finding ADD COLUMN remediate_order TEXT COLLATE "C" NOT NULL DEFAULT '~';
UPDATE finding SET remediate_order = COALESCE(remediate_by, '~');
CREATE INDEX finding_open_member ON finding (organisation_id, priority_rank, remediate_order, id)
    WHERE resolved_at IS NULL;
CREATE INDEX finding_open_central ON finding (priority_rank, remediate_order, id)
    WHERE resolved_at IS NULL;

CREATE TABLE finding_open_count (
    organisation_id BIGINT NOT NULL,
    priority        TEXT NOT NULL,
    n               BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, priority)
);
INSERT INTO finding_open_count (organisation_id, priority, n)
    SELECT organisation_id, priority, COUNT(*) FROM finding WHERE resolved_at IS NULL
    GROUP BY organisation_id, priority;

CREATE FUNCTION finding_open_count_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        IF OLD.resolved_at IS NULL THEN
            UPDATE finding_open_count SET n = n - 1
                WHERE organisation_id = OLD.organisation_id AND priority = OLD.priority;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        IF NEW.resolved_at IS NULL THEN
            INSERT INTO finding_open_count (organisation_id, priority, n)
                VALUES (NEW.organisation_id, NEW.priority, 1)
                ON CONFLICT (organisation_id, priority) DO UPDATE SET n = finding_open_count.n + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER finding_open_count_keep
    AFTER INSERT OR DELETE OR UPDATE OF resolved_at, priority, organisation_id ON finding
    FOR EACH ROW EXECUTE FUNCTION finding_open_count_keep();
