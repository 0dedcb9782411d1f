-- The exchange with peers, SQLite dialect. Same tables, columns and indexes as
-- ../postgres/0003_exchange.sql, because the store's SQL is written once for both backends.
--
-- Sequence numbers are BIGINT (u64 in Rust, never above i64::MAX). Envelopes are kept exactly as
-- signed (`signed`) with their SHA-256 (`hash`, lower-case hex): they are the evidence of what
-- was exchanged, and the outbox is just the outbound message rows without `delivered_at`.

-- A registered peer and its three counters: the seq of the next message to it, of the next
-- message expected from it, and of the next receipt issued to it.
CREATE TABLE peers (
    party TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    signing_key TEXT NOT NULL,
    tls_fingerprint TEXT NOT NULL UNIQUE,
    card TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    next_out_seq BIGINT NOT NULL,
    next_in_seq BIGINT NOT NULL,
    next_receipt_seq BIGINT NOT NULL,
    last_contact_at BIGINT,
    last_error TEXT,
    last_error_at BIGINT
);

-- Exchanged items (referrals and requests); id = the id of the envelope that carried it. The
-- state columns are what the domain's state machine last derived.
CREATE TABLE items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('referral', 'request')),
    originator TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subtype TEXT NOT NULL,
    urgency TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    agency TEXT,
    acknowledged_at BIGINT,
    closed_at BIGINT,
    closure TEXT,
    updated_at BIGINT NOT NULL
);
-- Keyset paging of the item list walks an index ending in id, one per filter.
CREATE INDEX items_kind_id ON items (kind, id);
CREATE INDEX items_originator_id ON items (originator, id);
CREATE INDEX items_recipient_id ON items (recipient, id);
CREATE INDEX items_state_id ON items (state, id);
CREATE INDEX items_urgency_id ON items (urgency, id);
CREATE INDEX items_agency_id ON items (agency, id);

CREATE TABLE item_steps (
    item_id TEXT NOT NULL REFERENCES items (id),
    position BIGINT NOT NULL,
    step TEXT NOT NULL,
    by_party TEXT NOT NULL,
    at BIGINT NOT NULL,
    body TEXT NOT NULL,
    envelope_id TEXT NOT NULL,
    PRIMARY KEY (item_id, position)
);

-- Every envelope sent or received. row_no orders them as stored (the cursor of the envelope
-- log); (peer, direction, stream, seq) is each sequence without duplicates, and an id is held
-- once per direction (so a replayed id is found by one lookup).
CREATE TABLE envelopes (
    row_no INTEGER PRIMARY KEY,
    peer TEXT NOT NULL REFERENCES peers (party),
    direction TEXT NOT NULL CHECK (direction IN ('out', 'in')),
    stream TEXT NOT NULL CHECK (stream IN ('message', 'receipt')),
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    message_time BIGINT NOT NULL,
    signed TEXT NOT NULL,
    hash TEXT NOT NULL,
    item_id TEXT REFERENCES items (id),
    stored_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (peer, direction, stream, seq),
    UNIQUE (direction, id)
);
-- The outbox (and each peer's backlog): undelivered envelopes of one peer in seq order. Partial,
-- so delivered envelopes, nearly all of them, cost it nothing.
CREATE INDEX envelopes_undelivered ON envelopes (peer, direction, stream, seq)
    WHERE delivered_at IS NULL;
CREATE INDEX envelopes_peer_row ON envelopes (peer, row_no);
