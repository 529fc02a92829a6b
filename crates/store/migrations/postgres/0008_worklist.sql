-- The worklist is ordered by priority and remediation deadline: keep both as columns, indexed
-- per organisation, instead of reading them out of each finding's JSON.
ALTER TABLE finding ADD COLUMN priority_rank BIGINT NOT NULL DEFAULT 3;
ALTER TABLE finding ADD COLUMN remediate_by TEXT COLLATE "C";
UPDATE finding SET
    priority_rank = CASE priority WHEN 'immediate' THEN 0 WHEN 'out-of-cycle' THEN 1 WHEN 'scheduled' THEN 2 ELSE 3 END,
    remediate_by = payload::jsonb #>> '{deadlines,remediate_by}';
CREATE INDEX finding_worklist ON finding (organisation_id, resolved_at, priority_rank, remediate_by);
