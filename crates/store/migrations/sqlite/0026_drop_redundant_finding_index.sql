-- (organisation_id, resolved_at) is the first two columns of finding_worklist (0008): every
-- statement that could use it can use that one. One index fewer to keep on each finding
-- written (seven before).
DROP INDEX IF EXISTS finding_by_organisation;
