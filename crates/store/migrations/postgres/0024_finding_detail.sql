-- Findings stored in two parts (#22). A finding's row keeps what is its own (asset, component,
-- deadlines) in `payload`; the rest — the vulnerability's facts and the explanation, the same for
-- every component at the same version on assets alike — is kept once in `finding_detail`, keyed
-- by a SHA-256 of its text (`finding.detail`). Rows written before this migration keep the whole
-- finding in `payload` and no `detail`; they are rewritten in two parts when next matched.
-- Details no finding refers to any more are deleted by `Store::collect_finding_details`.
CREATE TABLE finding_detail (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
ALTER TABLE finding ADD COLUMN detail TEXT;
