-- The association's signed national statements (`projection::statement`): "at these positions
-- the projection digest is D", signed with its witness key. Every statement is kept; one per
-- set of positions (the digest at given positions is always the same).
CREATE TABLE statement (
    id             bigserial   PRIMARY KEY,
    made_at        timestamptz NOT NULL,
    projection     int4        NOT NULL,
    digest         bytea       NOT NULL,
    positions_hash bytea       NOT NULL UNIQUE,
    -- The positions, postcard of Vec<(code, size, root)>, by code.
    positions      bytea       NOT NULL,
    note           text        NOT NULL
);
