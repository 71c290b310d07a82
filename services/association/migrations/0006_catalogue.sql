-- The practice catalogue (`projection::catalogue`): one entry per petition, dialogue and OGP
-- commitment, from the verified logs' public content. Written in the ingest's commit
-- transaction beside the projection and rebuilt with it; not part of the projection digest.
--
-- Search: the texts' stems (`projection::search`, a Ukrainian stemmer in Rust) are stored
-- beside them and PostgreSQL indexes them as `simple` words, titles weighted above texts.
CREATE TABLE catalogue (
    municipality  text     NOT NULL,
    tool          smallint NOT NULL,
    id            bytea    NOT NULL,
    public        boolean  NOT NULL,
    title         text     NOT NULL DEFAULT '',
    body          text     NOT NULL DEFAULT '',
    outcome       text     NOT NULL DEFAULT '',
    category      text     NOT NULL DEFAULT '',
    status        text     NOT NULL DEFAULT '',
    decision      text     NOT NULL DEFAULT '',
    completion    text     NOT NULL DEFAULT '',
    lead          text     NOT NULL DEFAULT '',
    ogp_values    text[]   NOT NULL DEFAULT '{}',
    -- Microseconds since the epoch: the event that created the entry, the latest that changed
    -- it, and that event's sequence number in the hromada's log.
    started_at    int8     NOT NULL,
    updated_at    int8     NOT NULL,
    seq           int8     NOT NULL,
    title_terms   text     NOT NULL DEFAULT '',
    body_terms    text     NOT NULL DEFAULT '',
    outcome_terms text     NOT NULL DEFAULT '',
    search        tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', title_terms), 'A') ||
        setweight(to_tsvector('simple', body_terms), 'B') ||
        setweight(to_tsvector('simple', outcome_terms), 'C')
    ) STORED,
    PRIMARY KEY (municipality, tool, id)
);
CREATE INDEX catalogue_search ON catalogue USING gin (search) WHERE public;
CREATE INDEX catalogue_recent ON catalogue (started_at DESC, municipality, tool, id) WHERE public;

-- The association's recommendations: its own decisions, kept apart from the rebuilt catalogue.
CREATE TABLE practice_recommendation (
    municipality   text        NOT NULL,
    tool           smallint    NOT NULL,
    id             bytea       NOT NULL,
    reason         text        NOT NULL,
    recommended_at timestamptz NOT NULL,
    PRIMARY KEY (municipality, tool, id)
);

-- Fill the catalogue from what is already verified: rebuild at the next start.
UPDATE proj_version SET version = 0;
