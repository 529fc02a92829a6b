-- Incidents (#20): a possible-compromise alert has its own lifecycle (open → triaged → confirmed
-- → contained → closed, or false-positive), deadlines from the policy's [incidents] windows, and
-- what ties it to vulnerabilities: the rule's or indicator's tags (JSON list), the CVEs the thing
-- sighted exploits (JSON list), and, when one of them is still open at the member, why the
-- severity was raised (`link`, in words).
ALTER TABLE alert ADD COLUMN tags TEXT;
ALTER TABLE alert ADD COLUMN vulnerabilities TEXT;
ALTER TABLE alert ADD COLUMN link TEXT;
-- When an incident was confirmed as a compromise (kept when it is contained and closed).
ALTER TABLE alert ADD COLUMN confirmed_at TEXT;
-- Possible-compromise alerts before incidents: acknowledged is triaged, remediated is closed.
UPDATE alert SET state = 'triaged' WHERE kind = 'possible-compromise' AND state = 'acknowledged';
UPDATE alert SET state = 'closed', resolution = 'closed'
    WHERE kind = 'possible-compromise' AND state = 'remediated';
