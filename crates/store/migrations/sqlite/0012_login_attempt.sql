-- A login attempt is reserved (recorded as a failure) before its password is checked, and a
-- success takes its reservation back by this id. Keys are now 'pair:<email> <address>',
-- 'email:<email>' and 'ip:<address>'.
ALTER TABLE login_failure ADD COLUMN attempt TEXT;
CREATE INDEX login_failure_by_attempt ON login_failure (attempt);
