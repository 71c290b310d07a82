-- Bounds on the quarantine, which anyone who can publish on a node's subject can fill.
-- `fingerprint` (SHA-256 of subject, reason, sequence number and payload) makes a record
-- idempotent also when it has no ingest-stream position (records from back-fills were
-- inserted again on every back-fill); `payload_len` is the message's length, its payload kept
-- only up to a bound. Each node's count and last time are kept on its row, so reading them
-- does not count the table, and records past a node's quota are only counted.
ALTER TABLE quarantine ADD COLUMN fingerprint bytea;
ALTER TABLE quarantine ADD COLUMN payload_len integer;
CREATE UNIQUE INDEX quarantine_fingerprint ON quarantine (fingerprint);
ALTER TABLE fed_node
    ADD COLUMN quarantined      bigint      NOT NULL DEFAULT 0,
    ADD COLUMN quarantined_at   timestamptz,
    ADD COLUMN quarantine_dropped bigint    NOT NULL DEFAULT 0;
UPDATE fed_node n SET
    quarantined = (SELECT count(*) FROM quarantine q WHERE q.code = n.code),
    quarantined_at = (SELECT max(received_at) FROM quarantine q WHERE q.code = n.code);
