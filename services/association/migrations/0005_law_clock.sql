-- Version 2 of the projection (the law's clock, `projection::digest`): petition rows carry the
-- deadline of the step the council owes now (`due`: moderation, the start of consideration or
-- the answer), and the one overdue rule for milestones needs whether the milestone's last
-- report is complete, whether its commitment is assessed and whether its plan is closed.
--
-- Rows written under version 1 do not decode as version 2: the projection tables are emptied
-- here and `proj_version` says which version they hold; the association rebuilds them from its
-- verified copy when it starts (`rebuild::ensure_current`), in one transaction.
TRUNCATE proj_counters, proj_weekly, proj_answer_days, proj_petition, proj_dialogue,
    proj_plan, proj_commitment, proj_milestone;

DROP INDEX proj_petition_due;
ALTER TABLE proj_petition RENAME COLUMN answer_due TO due;
CREATE INDEX proj_petition_due ON proj_petition (due) WHERE due IS NOT NULL;

ALTER TABLE proj_milestone
    ADD COLUMN plan_id       bytea   NOT NULL,
    ADD COLUMN commitment_id bytea   NOT NULL,
    ADD COLUMN complete      boolean NOT NULL;
DROP INDEX proj_milestone_open;
CREATE INDEX proj_milestone_open ON proj_milestone (due) WHERE NOT complete;
ALTER TABLE proj_commitment ADD COLUMN assessed boolean NOT NULL;
ALTER TABLE proj_plan ADD COLUMN closed boolean NOT NULL;

-- The projection version the tables hold: one row. 0 forces a rebuild.
CREATE TABLE proj_version (
    one     boolean PRIMARY KEY DEFAULT true CHECK (one),
    version int4    NOT NULL
);
INSERT INTO proj_version (version) VALUES (0);
