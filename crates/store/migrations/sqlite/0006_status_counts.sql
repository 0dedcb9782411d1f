-- Commitment counts per agency, measure area and status, kept on write (see src/sql_status.rs):
-- the counts on the base day, how they change on each day, and the base day. The store fills
-- them from the commitments when it opens a database that has no base day yet (this migration
-- leaves them empty). Same tables in both dialects.
CREATE TABLE status_counts (
    agency TEXT NOT NULL,
    area TEXT NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (agency, area, status)
);
CREATE TABLE status_steps (
    day TEXT NOT NULL,
    agency TEXT NOT NULL,
    area TEXT NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, agency, area, status)
);
CREATE TABLE status_counts_state (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    as_of TEXT NOT NULL
);
-- How many actions each agency recorded on each day: a period's count is a sum over its days.
-- Filled with the status counts when the store opens a database without a base day.
CREATE TABLE action_days (
    day TEXT NOT NULL,
    agency TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, agency)
);
