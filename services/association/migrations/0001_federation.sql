-- The association's federation state: enrolment, each node's verified position, its verified
-- log (bytes and the tree levels proofs need), accepted and cosigned checkpoints, forks and
-- quarantine. Municipality codes are KATOTTG text (19 characters).

-- Every key a municipality was ever enrolled with; a revoked key keeps its row.
CREATE TABLE enrolment (
    code        text        NOT NULL,
    vkey        text        NOT NULL,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    PRIMARY KEY (code, vkey)
);

-- One row per node ever enrolled: where its verified prefix ends.
CREATE TABLE fed_node (
    code            text        PRIMARY KEY,
    verified_size   bigint      NOT NULL DEFAULT 0,
    -- The Merkle frontier of the verified prefix (event-store-core's Frontier bytes).
    frontier        bytea       NOT NULL DEFAULT ''::bytea,
    checkpoint_size bigint      NOT NULL DEFAULT 0,
    checkpoint_root bytea,
    verified_at     timestamptz,
    -- The highest sequence number ever received, for lag.
    received_seq    bigint      NOT NULL DEFAULT 0
);

-- Verified events, several per row: `events` is each event's u32 little-endian length then its
-- stored bytes, for first_seq ..= last_seq. Rows of one node never overlap.
CREATE TABLE fed_event_chunk (
    code      text   NOT NULL,
    first_seq bigint NOT NULL,
    last_seq  bigint NOT NULL,
    events    bytea  NOT NULL,
    PRIMARY KEY (code, first_seq)
);
CREATE INDEX fed_event_chunk_last ON fed_event_chunk (code, last_seq);

-- Tree node hashes at stored levels 4, 8, ... (leaf hashes are recomputed from the bytes).
CREATE TABLE fed_tree_node (
    code  text     NOT NULL,
    level smallint NOT NULL,
    idx   bigint   NOT NULL,
    hash  bytea    NOT NULL,
    PRIMARY KEY (code, level, idx)
);

-- Every accepted checkpoint, as the node signed it and with the association's cosignature.
CREATE TABLE fed_checkpoint (
    code          text        NOT NULL,
    size          bigint      NOT NULL,
    root          bytea       NOT NULL,
    note          text        NOT NULL,
    cosigned_note text        NOT NULL,
    accepted_at   timestamptz NOT NULL,
    PRIMARY KEY (code, size)
);

-- A second root for a size already accepted.
CREATE TABLE fed_fork (
    code          text        NOT NULL,
    size          bigint      NOT NULL,
    accepted_root bytea       NOT NULL,
    other_root    bytea       NOT NULL,
    other_note    text        NOT NULL,
    detected_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, size, other_root)
);

-- Messages that failed verification. `stream_seq` (the ingest stream's sequence number) makes
-- a record idempotent when the ingest re-reads after a restart.
CREATE TABLE quarantine (
    id          bigserial   PRIMARY KEY,
    code        text        NOT NULL,
    subject     text        NOT NULL,
    seq         bigint,
    reason      text        NOT NULL,
    detail      text        NOT NULL,
    payload     bytea       NOT NULL,
    stream_seq  bigint      UNIQUE,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX quarantine_code ON quarantine (code, id);

-- Where the ingest resumes: no message before this stream sequence is only in memory.
CREATE TABLE ingest_position (
    id         smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    stream_seq bigint   NOT NULL
);
INSERT INTO ingest_position (stream_seq) VALUES (1);

-- Verified history is append-only.
CREATE FUNCTION fed_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'verified history is append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER fed_event_chunk_append_only BEFORE UPDATE OR DELETE ON fed_event_chunk
    FOR EACH ROW EXECUTE FUNCTION fed_refuse_change();
CREATE TRIGGER fed_checkpoint_append_only BEFORE UPDATE OR DELETE ON fed_checkpoint
    FOR EACH ROW EXECUTE FUNCTION fed_refuse_change();
