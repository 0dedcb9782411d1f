-- The schema of one puente node, PostgreSQL dialect. It has the same tables, columns and
-- indexes as ../sqlite/0001_init.sql, because the store's SQL is written once for both backends.
--
-- Conventions: ids are hyphenated UUID text; instants are BIGINT microseconds since the Unix
-- epoch; dates are `YYYY-MM-DD` text (which sorts); booleans are BOOLEAN; bilingual text is two
-- columns; small nested lists are JSON text. Record tables carry the RecordMeta columns (id,
-- origin, created_at, updated_at, version). Id and date columns use the "C" collation so they
-- compare byte-wise, as in SQLite, whatever the database's default collation.

-- The node's identity: one row, written once at init (the CHECK makes a second init a
-- primary-key violation).
CREATE TABLE node (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    party TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    agency TEXT,
    password_hash TEXT,
    disabled BOOLEAN NOT NULL,
    lang TEXT
);

-- API tokens and login sessions are found by the SHA-256 of their secret (hex), never the
-- secret itself.
CREATE TABLE tokens (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    secret_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    secret_hash TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- The hash-chained audit trail; hashes are lower-case hex. Append-only: nothing updates or
-- deletes a row.
CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    ip TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE indicators (
    id TEXT COLLATE "C" PRIMARY KEY,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    area TEXT,
    name_en TEXT NOT NULL,
    name_es TEXT NOT NULL,
    unit TEXT NOT NULL,
    direction TEXT NOT NULL,
    baseline_value DOUBLE PRECISION NOT NULL,
    baseline_period TEXT NOT NULL,
    targets TEXT NOT NULL
);
CREATE INDEX indicators_area_id ON indicators (area, id);

-- A commitment stores its status schedule (sched_*) and the inputs counted from its actions
-- (n_actions, completed), recomputed whenever they change, so a status filter is a range query.
-- owner_b is NULL for a commitment owned by one party.
CREATE TABLE commitments (
    id TEXT COLLATE "C" PRIMARY KEY,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    area TEXT NOT NULL,
    title_en TEXT NOT NULL,
    title_es TEXT NOT NULL,
    description_en TEXT NOT NULL,
    description_es TEXT NOT NULL,
    owner_a TEXT NOT NULL,
    owner_b TEXT,
    agency TEXT NOT NULL,
    start_date TEXT COLLATE "C" NOT NULL,
    due_date TEXT COLLATE "C" NOT NULL,
    n_actions BIGINT NOT NULL,
    completed BOOLEAN NOT NULL,
    sched_done BOOLEAN NOT NULL,
    sched_not_started_until TEXT COLLATE "C" NOT NULL,
    sched_at_risk_from TEXT COLLATE "C" NOT NULL
);
-- Keyset paging (`... AND id > $n ORDER BY id LIMIT $m`) walks an index ending in id.
CREATE INDEX commitments_area_id ON commitments (area, id);
CREATE INDEX commitments_owner_a_id ON commitments (owner_a, id);
CREATE INDEX commitments_owner_b_id ON commitments (owner_b, id);
CREATE INDEX commitments_agency_id ON commitments (agency, id);
CREATE INDEX commitments_due_id ON commitments (due_date, id);
CREATE INDEX commitments_done_id ON commitments (sched_done, id);
CREATE INDEX commitments_done_due_id ON commitments (sched_done, due_date, id);
CREATE INDEX commitments_not_started_until_id ON commitments (sched_not_started_until, id);
CREATE INDEX commitments_at_risk_from_id ON commitments (sched_at_risk_from, id);

CREATE TABLE commitment_indicators (
    commitment_id TEXT COLLATE "C" NOT NULL REFERENCES commitments (id),
    indicator_id TEXT COLLATE "C" NOT NULL REFERENCES indicators (id),
    position BIGINT NOT NULL,
    PRIMARY KEY (commitment_id, position)
);
CREATE INDEX commitment_indicators_indicator ON commitment_indicators (indicator_id);

CREATE TABLE actions (
    id TEXT COLLATE "C" PRIMARY KEY,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    commitment_id TEXT COLLATE "C" NOT NULL REFERENCES commitments (id),
    date TEXT COLLATE "C" NOT NULL,
    agency TEXT NOT NULL,
    description_en TEXT NOT NULL,
    description_es TEXT NOT NULL,
    outputs TEXT NOT NULL,
    evidence TEXT NOT NULL,
    completes BOOLEAN NOT NULL
);
CREATE INDEX actions_commitment_id ON actions (commitment_id, id);
CREATE INDEX actions_origin_id ON actions (origin, id);
CREATE INDEX actions_agency_id ON actions (agency, id);
CREATE INDEX actions_date_id ON actions (date, id);

CREATE TABLE measurements (
    id TEXT COLLATE "C" PRIMARY KEY,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    indicator_id TEXT COLLATE "C" NOT NULL REFERENCES indicators (id),
    period TEXT NOT NULL,
    party TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    source TEXT NOT NULL,
    UNIQUE (indicator_id, period, party)
);
CREATE INDEX measurements_indicator_id ON measurements (indicator_id, id);

CREATE TABLE meetings (
    id TEXT COLLATE "C" PRIMARY KEY,
    origin TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    date TEXT COLLATE "C" NOT NULL,
    place TEXT NOT NULL,
    attendees TEXT NOT NULL,
    decisions TEXT NOT NULL
);
CREATE INDEX meetings_date_id ON meetings (date, id);

CREATE TABLE follow_ups (
    id TEXT COLLATE "C" PRIMARY KEY,
    meeting_id TEXT COLLATE "C" NOT NULL REFERENCES meetings (id),
    position BIGINT NOT NULL,
    title_en TEXT NOT NULL,
    title_es TEXT NOT NULL,
    owner TEXT NOT NULL,
    due TEXT COLLATE "C" NOT NULL,
    completed_on TEXT COLLATE "C"
);
CREATE INDEX follow_ups_meeting ON follow_ups (meeting_id, position);
CREATE INDEX follow_ups_due ON follow_ups (due);
