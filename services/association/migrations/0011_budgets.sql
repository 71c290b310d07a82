-- Participatory budget rounds and their projects (projection version 4): rows as the postcard
-- bytes of `projection::RoundRow` and `projection::BudgetProjectRow`, like every entity table.
-- The national budget figures are sums over the rounds, a few per hromada.

CREATE TABLE proj_round (
    municipality text  NOT NULL,
    id           bytea NOT NULL,
    row          bytea NOT NULL,
    PRIMARY KEY (municipality, id)
);

CREATE TABLE proj_budget_project (
    municipality text  NOT NULL,
    id           bytea NOT NULL,
    row          bytea NOT NULL,
    PRIMARY KEY (municipality, id)
);
