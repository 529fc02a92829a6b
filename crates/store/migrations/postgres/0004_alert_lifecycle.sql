-- Vulnerability alerts: why a member got one, its deadlines and its lifecycle.
ALTER TABLE alert ADD COLUMN exposure TEXT COLLATE "C";            -- 'affected' | 'confirm-exposure' (vulnerability alerts)
ALTER TABLE alert ADD COLUMN origin TEXT COLLATE "C";              -- 'automatic' | 'issued' (by a central analyst)
ALTER TABLE alert ADD COLUMN priority TEXT COLLATE "C";
ALTER TABLE alert ADD COLUMN acknowledge_by TEXT COLLATE "C";
ALTER TABLE alert ADD COLUMN remediate_by TEXT COLLATE "C";
ALTER TABLE alert ADD COLUMN acknowledged_at TEXT COLLATE "C";
ALTER TABLE alert ADD COLUMN resolved_at TEXT COLLATE "C";         -- remediated, risk-accepted or not-affected
ALTER TABLE alert ADD COLUMN justification TEXT COLLATE "C";       -- risk acceptance reason, or the VEX justification
ALTER TABLE alert ADD COLUMN accepted_until TEXT COLLATE "C";      -- a risk acceptance's expiry
ALTER TABLE alert ADD COLUMN escalated_at TEXT COLLATE "C";        -- a deadline was missed: the central team was told
ALTER TABLE alert ADD COLUMN note TEXT COLLATE "C";                -- the central team's words when issuing
CREATE INDEX alert_by_state ON alert (state, acknowledge_by, remediate_by);
