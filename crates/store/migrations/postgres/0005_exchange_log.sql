-- The exchange log, PostgreSQL dialect (same tables, columns and indexes as
-- ../sqlite/0005_exchange_log.sql; text keys in the "C" collation).
--
-- A node keeps, per peer, its own log of every envelope it sent to or received from that peer,
-- and a copy of the peer's log of the same exchange, checked leaf by leaf before it cosigns.
-- Both are append-only RFC 9162 Merkle trees named by their origin (puente/<owner>/exchange/
-- <peer>). Of its own log a node keeps every entry (`log_leaves`: all it takes to rebuild its
-- exact leaf text, and its leaf hash), the heads of complete subtrees of 16 leaves and more
-- (`log_nodes`, so a proof reads a handful of rows whatever the size), and each envelope's index
-- (`envelopes.log_idx`). Of a copy it keeps the compact range and where each sequence stands
-- (`logs`): the leaves were checked against its own envelopes when it cosigned, and those of
-- envelopes it did not hold yet wait in `log_pending` until they arrive. Nothing updates or
-- deletes a leaf, a node, a checkpoint or a dispute; a purge of envelope bodies under a
-- retention rule leaves them all.
CREATE TABLE logs (
    origin TEXT COLLATE "C" PRIMARY KEY,
    peer TEXT COLLATE "C" NOT NULL REFERENCES peers (party),
    own BOOLEAN NOT NULL,
    size BIGINT NOT NULL,
    compact TEXT NOT NULL,
    -- A copy of a peer's log: the next seq expected of the messages out and in and of the
    -- receipts out (from its owner's side), and the last receipt in.
    next_out_message BIGINT NOT NULL DEFAULT 1,
    next_in_message BIGINT NOT NULL DEFAULT 1,
    next_out_receipt BIGINT NOT NULL DEFAULT 1,
    last_in_receipt BIGINT NOT NULL DEFAULT 0,
    UNIQUE (peer, own)
);

CREATE TABLE log_leaves (
    origin TEXT COLLATE "C" NOT NULL REFERENCES logs (origin),
    idx BIGINT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    stream TEXT NOT NULL CHECK (stream IN ('message', 'receipt')),
    seq BIGINT NOT NULL,
    logged_at BIGINT NOT NULL,
    envelope_hash TEXT NOT NULL,
    leaf_hash TEXT NOT NULL,
    PRIMARY KEY (origin, idx)
);
-- Where each envelope is in its peer's own log (its inclusion proof starts there).
ALTER TABLE envelopes ADD COLUMN log_idx BIGINT;

-- Leaves of a peer's log naming envelopes this node did not hold yet when it cosigned: checked
-- against each when it arrives (a different envelope under that seq is a dispute).
CREATE TABLE log_pending (
    origin TEXT COLLATE "C" NOT NULL REFERENCES logs (origin),
    direction TEXT NOT NULL,
    stream TEXT NOT NULL,
    seq BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    envelope_hash TEXT NOT NULL,
    PRIMARY KEY (origin, direction, stream, seq)
);

CREATE TABLE log_nodes (
    origin TEXT COLLATE "C" NOT NULL REFERENCES logs (origin),
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (origin, level, idx)
);

-- Checkpoints of both kinds of log: for its own, the note it signed, with the peer's
-- cosignature once it came; for a peer's, the note the peer signed, with this node's
-- cosignature. One per size: a second of the same size with another head is a fork, and is
-- kept in the dispute it raised.
CREATE TABLE checkpoints (
    origin TEXT COLLATE "C" NOT NULL REFERENCES logs (origin),
    size BIGINT NOT NULL,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    made_at BIGINT NOT NULL,
    cosigned_at BIGINT,
    PRIMARY KEY (origin, size)
);

-- What a node found wrong with a peer's log, with the evidence (a dispute file). `subject`
-- names what it is about (a size, an envelope), so the same finding is raised once.
CREATE TABLE disputes (
    id TEXT COLLATE "C" PRIMARY KEY,
    peer TEXT COLLATE "C" NOT NULL REFERENCES peers (party),
    origin TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    detail TEXT NOT NULL,
    evidence TEXT NOT NULL,
    raised_at BIGINT NOT NULL,
    UNIQUE (origin, kind, subject)
);
