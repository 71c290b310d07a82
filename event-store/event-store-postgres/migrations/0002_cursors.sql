-- Named positions of the log's readers (e.g. the relay's last sequence acknowledged by
-- JetStream), kept with the log so they survive restarts.
CREATE TABLE cursors (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
