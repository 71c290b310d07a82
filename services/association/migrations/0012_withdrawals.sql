-- Action plan amendments and withdrawals (projection version 5): a withdrawn commitment or
-- milestone is never overdue. The flags sit beside the rows, as `assessed` and `complete` do,
-- for the "overdue now" query.

ALTER TABLE proj_commitment ADD COLUMN withdrawn bool NOT NULL DEFAULT false;
ALTER TABLE proj_milestone ADD COLUMN withdrawn bool NOT NULL DEFAULT false;
