-- The association's own log (projection::association_log): its decisions (enrolments,
-- revocations, recommendations, statements) as entries of a Merkle log, each written in the
-- transaction of the decision it records, with the tree's frontier after it and the checkpoint
-- of that size signed with the association's witness key.
CREATE TABLE association_log (
    seq        bigint      PRIMARY KEY CHECK (seq >= 1),
    at_micros  int8        NOT NULL,
    bytes      bytea       NOT NULL,
    frontier   bytea       NOT NULL,
    checkpoint text        NOT NULL
);
