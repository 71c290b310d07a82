-- National projections. Entity rows are stored as the postcard bytes of the `projection`
-- crate's row types (the one definition the association and auditors share), with the few
-- columns queries filter on beside them. Ids are 16 uuid bytes; bytea orders like the uuid.

CREATE TABLE proj_counters (
    municipality text  PRIMARY KEY,
    counters     bytea NOT NULL
);

CREATE TABLE proj_weekly (
    municipality                text   NOT NULL,
    -- Epoch days of the Monday of the Kyiv week.
    week                        int4   NOT NULL,
    petitions_filed             int8   NOT NULL,
    signatures                  int8   NOT NULL,
    petitions_threshold_reached int8   NOT NULL,
    petitions_answered          int8   NOT NULL,
    dialogues_closed            int8   NOT NULL,
    contributions               int8   NOT NULL,
    milestones_completed        int8   NOT NULL,
    PRIMARY KEY (municipality, week)
);
CREATE INDEX proj_weekly_week ON proj_weekly (week);

CREATE TABLE proj_answer_days (
    municipality text NOT NULL,
    days         int4 NOT NULL,
    count        int8 NOT NULL,
    PRIMARY KEY (municipality, days)
);

CREATE TABLE proj_petition (
    municipality text     NOT NULL,
    id           bytea    NOT NULL,
    phase        smallint NOT NULL,
    answer_due   int4,
    row          bytea    NOT NULL,
    PRIMARY KEY (municipality, id)
);
-- Petitions under consideration, by answer date: "overdue now".
CREATE INDEX proj_petition_due ON proj_petition (answer_due) WHERE phase = 5;

CREATE TABLE proj_dialogue (
    municipality text  NOT NULL,
    id           bytea NOT NULL,
    row          bytea NOT NULL,
    PRIMARY KEY (municipality, id)
);

CREATE TABLE proj_plan (
    municipality text  NOT NULL,
    id           bytea NOT NULL,
    row          bytea NOT NULL,
    PRIMARY KEY (municipality, id)
);

CREATE TABLE proj_commitment (
    municipality text  NOT NULL,
    id           bytea NOT NULL,
    row          bytea NOT NULL,
    PRIMARY KEY (municipality, id)
);

CREATE TABLE proj_milestone (
    municipality text  NOT NULL,
    id           bytea NOT NULL,
    due          int4  NOT NULL,
    completed_at int8,
    row          bytea NOT NULL,
    PRIMARY KEY (municipality, id)
);
-- Milestones not yet complete, by due date: "overdue now".
CREATE INDEX proj_milestone_open ON proj_milestone (due) WHERE completed_at IS NULL;
