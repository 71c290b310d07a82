-- The log of one municipality node in PostgreSQL. Events are append-only: triggers refuse any
-- UPDATE, DELETE or TRUNCATE, so history changes only by someone lifting them by hand.
CREATE TABLE log_meta (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    municipality TEXT NOT NULL,
    verifier_key TEXT NOT NULL
);

CREATE TABLE log_head (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    tree_size BIGINT NOT NULL,
    frontier BYTEA NOT NULL,
    last_checkpoint_size BIGINT NOT NULL,
    last_checkpoint_at BIGINT
);

INSERT INTO log_head (id, tree_size, frontier, last_checkpoint_size) VALUES (1, 0, '\x', 0);

CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    event_id BYTEA NOT NULL UNIQUE,
    stream_id BYTEA NOT NULL,
    stream_version BIGINT NOT NULL,
    leaf_hash BYTEA NOT NULL,
    bytes BYTEA NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END;
$$;

CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- Hashes of perfect subtrees at every fourth level above the leaves.
CREATE TABLE merkle_nodes (
    level SMALLINT NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    tree_size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
