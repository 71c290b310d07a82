-- The log of one municipality node. Events are append-only: triggers refuse any UPDATE or
-- DELETE, so only someone editing the file by hand can change history (and verify finds it).
CREATE TABLE log_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    municipality TEXT NOT NULL,
    verifier_key TEXT NOT NULL
);

CREATE TABLE log_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    tree_size INTEGER NOT NULL,
    frontier BLOB NOT NULL,
    last_checkpoint_size INTEGER NOT NULL,
    last_checkpoint_at INTEGER
);

INSERT INTO log_head (id, tree_size, frontier, last_checkpoint_size) VALUES (1, 0, x'', 0);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    event_id BLOB NOT NULL UNIQUE,
    stream_id BLOB NOT NULL,
    stream_version INTEGER NOT NULL,
    leaf_hash BLOB NOT NULL,
    bytes BLOB NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- Hashes of perfect subtrees at every fourth level above the leaves.
CREATE TABLE merkle_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    tree_size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
