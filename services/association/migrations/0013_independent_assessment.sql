-- Independent assessment of OGP-Local commitments (`domain::assessment`): the monitors the
-- association enrols and the assessments they sign. Both are the association's own decisions,
-- each also an entry of its log (`association_log`), kept apart from the rebuilt projection.

CREATE TABLE monitor (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    monitor            text        NOT NULL,
    name               text        NOT NULL,
    vkey               text        NOT NULL,
    not_independent_of text[]      NOT NULL DEFAULT '{}',
    enrolled_at        timestamptz NOT NULL,
    revoked_at         timestamptz
);
-- One key per monitor at a time.
CREATE UNIQUE INDEX monitor_open ON monitor (monitor) WHERE revoked_at IS NULL;

CREATE TABLE independent_assessment (
    -- The association log's entry that records it.
    seq               int8        PRIMARY KEY,
    note_sha256       bytea       NOT NULL UNIQUE,
    monitor           text        NOT NULL,
    municipality      text        NOT NULL,
    plan_id           bytea       NOT NULL,
    commitment_id     bytea       NOT NULL,
    completion        text        NOT NULL,
    opened_government text        NOT NULL,
    assessed_on       date        NOT NULL,
    summary           text        NOT NULL,
    note              text        NOT NULL,
    recorded_at       timestamptz NOT NULL
);
CREATE INDEX independent_assessment_by_commitment
    ON independent_assessment (municipality, commitment_id, seq DESC);
