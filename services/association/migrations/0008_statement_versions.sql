-- A statement is of one projection version: after an upgrade rebuilds the projection at the
-- same positions, the new version states again (its digest differs) instead of finding the
-- older version's statement in the way.
ALTER TABLE statement DROP CONSTRAINT statement_positions_hash_key;
ALTER TABLE statement ADD CONSTRAINT statement_version_positions UNIQUE (projection, positions_hash);
