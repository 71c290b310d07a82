-- Large values compressed with lz4 rather than PostgreSQL's default pglz: an events chunk
-- (up to 2,000 events) and a catalogue entry's texts are compressed on every commit, and
-- pglz spent a fifth of PostgreSQL's CPU in a catch-up. lz4 compresses several times faster
-- and decompresses faster for the readers, at a slightly lower ratio. Values already stored
-- keep their compression. A server built without lz4 (or older than PostgreSQL 14, which has
-- no per-column compression) keeps pglz: the statements run only where the server offers lz4,
-- so any other error still stops the migration. (A dump of this database restores onto a
-- server without lz4 with `pg_restore --no-toast-compression`.)
DO $$
BEGIN
    IF 'lz4' = ANY ((SELECT enumvals FROM pg_settings
                     WHERE name = 'default_toast_compression')::text[]) THEN
        EXECUTE 'ALTER TABLE fed_event_chunk ALTER COLUMN events SET COMPRESSION lz4';
        EXECUTE 'ALTER TABLE catalogue
                     ALTER COLUMN title SET COMPRESSION lz4,
                     ALTER COLUMN body SET COMPRESSION lz4,
                     ALTER COLUMN outcome SET COMPRESSION lz4,
                     ALTER COLUMN title_terms SET COMPRESSION lz4,
                     ALTER COLUMN body_terms SET COMPRESSION lz4,
                     ALTER COLUMN outcome_terms SET COMPRESSION lz4,
                     ALTER COLUMN search SET COMPRESSION lz4';
    ELSE
        RAISE NOTICE 'this server offers no lz4: large values stay compressed with pglz';
    END IF;
END
$$;
