-- A plan drafted with its local forum (projection version 7): until the council adopts it,
-- nothing is reported on it, so its milestones are never overdue. The flag sits beside the
-- row, as `closed` does, for the "overdue now" query.
ALTER TABLE proj_plan ADD COLUMN draft bool NOT NULL DEFAULT false;
