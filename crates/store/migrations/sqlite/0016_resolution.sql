-- A resolution is a fact with a cause. An alert that closes records how it ended —
-- `inventory` (an upload no longer has the vulnerable component), `statement` (the member
-- said it is remediated), `not-affected`, `risk-accepted`, or `withdrawn` (the knowledge
-- changed: no source now calls the member's components affected) — and, in words, why
-- (which upload; which source changed what, before and after). Only `inventory` and
-- `statement` are remediations. Findings say why they were resolved the same way.
ALTER TABLE alert ADD COLUMN resolution TEXT;
ALTER TABLE alert ADD COLUMN resolution_reason TEXT;
ALTER TABLE finding ADD COLUMN resolution TEXT;         -- 'inventory' | 'knowledge'
ALTER TABLE finding ADD COLUMN resolution_reason TEXT;
-- Alerts closed before: the state says all but how a remediation came about.
UPDATE alert SET resolution = state WHERE state IN ('not-affected', 'risk-accepted');
