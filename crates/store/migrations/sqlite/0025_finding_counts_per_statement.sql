-- PostgreSQL's 0025 keeps the open findings' counts once per statement (its row triggers
-- updated the same counter rows thousands of times in one transaction). SQLite has no
-- statement triggers, and its row triggers (0023) update a row in place: nothing changes here.
SELECT 1;
