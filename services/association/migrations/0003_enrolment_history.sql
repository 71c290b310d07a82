-- Each enrolment of a key is a row of its own. Re-enrolling a revoked key used to overwrite
-- the row's window (revoked_at cleared, enrolled_at moved to now), after which auditors
-- checked honest old checkpoints against a window that no longer covered them. Now it adds a
-- window; at most one window per key is open at a time.
ALTER TABLE enrolment DROP CONSTRAINT enrolment_pkey;
ALTER TABLE enrolment ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE UNIQUE INDEX enrolment_open ON enrolment (code, vkey) WHERE revoked_at IS NULL;
