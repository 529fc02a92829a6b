-- Vulnerability alerts: why a member got one, its deadlines and its lifecycle.
ALTER TABLE alert ADD COLUMN exposure TEXT;            -- 'affected' | 'confirm-exposure' (vulnerability alerts)
ALTER TABLE alert ADD COLUMN origin TEXT;              -- 'automatic' | 'issued' (by a central analyst)
ALTER TABLE alert ADD COLUMN priority TEXT;
ALTER TABLE alert ADD COLUMN acknowledge_by TEXT;
ALTER TABLE alert ADD COLUMN remediate_by TEXT;
ALTER TABLE alert ADD COLUMN acknowledged_at TEXT;
ALTER TABLE alert ADD COLUMN resolved_at TEXT;         -- remediated, risk-accepted or not-affected
ALTER TABLE alert ADD COLUMN justification TEXT;       -- risk acceptance reason, or the VEX justification
ALTER TABLE alert ADD COLUMN accepted_until TEXT;      -- a risk acceptance's expiry
ALTER TABLE alert ADD COLUMN escalated_at TEXT;        -- a deadline was missed: the central team was told
ALTER TABLE alert ADD COLUMN note TEXT;                -- the central team's words when issuing
CREATE INDEX alert_by_state ON alert (state, acknowledge_by, remediate_by);
