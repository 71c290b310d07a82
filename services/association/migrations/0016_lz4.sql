-- Large values compressed with lz4 rather than PostgreSQL's default pglz: an events chunk
-- (up to 2,000 events) and a catalogue entry's texts are compressed on every commit, and
-- pglz spent a fifth of PostgreSQL's CPU in a catch-up. lz4 compresses several times faster
-- and decompresses faster for the readers, at a slightly lower ratio. Values already stored
-- keep their compression; a server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE fed_event_chunk ALTER COLUMN events SET COMPRESSION lz4;
    ALTER TABLE catalogue ALTER COLUMN title SET COMPRESSION lz4,
                          ALTER COLUMN body SET COMPRESSION lz4,
                          ALTER COLUMN outcome SET COMPRESSION lz4,
                          ALTER COLUMN title_terms SET COMPRESSION lz4,
                          ALTER COLUMN body_terms SET COMPRESSION lz4,
                          ALTER COLUMN outcome_terms SET COMPRESSION lz4,
                          ALTER COLUMN search SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not supported by this server: large values stay compressed with pglz';
END
$$;
