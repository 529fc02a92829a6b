-- A resolution is a fact with a cause. An alert that closes records how it ended —
-- `inventory` (an upload no longer has the vulnerable component), `statement` (the member
-- said it is remediated), `not-affected`, `risk-accepted`, or `withdrawn` (the knowledge
-- changed: no source now calls the member's components affected) — and, in words, why
-- (which upload; which source changed what, before and after). Only `inventory` and
-- `statement` are remediations. Findings say why they were resolved the same way.
ALTER TABLE alert ADD COLUMN resolution TEXT;
ALTER TABLE alert ADD COLUMN resolution_reason TEXT;
-- How severe (CVSS v3/v4 words from the newest CVSS version's highest score), so that an
-- issued alert and its notifications say it.
ALTER TABLE alert ADD COLUMN severity TEXT;
-- A member's answer to a confirm-exposure alert ("we run version 12.5.0.0").
ALTER TABLE alert ADD COLUMN answer TEXT;
ALTER TABLE finding ADD COLUMN resolution TEXT;         -- 'inventory' | 'knowledge'
ALTER TABLE finding ADD COLUMN resolution_reason TEXT;
-- Alerts closed before: the state says all but how a remediation came about.
UPDATE alert SET resolution = state WHERE state IN ('not-affected', 'risk-accepted');
