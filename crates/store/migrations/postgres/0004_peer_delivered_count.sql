-- How many outbound messages to each peer a receipt has covered, kept with the peer's counters
-- so that the backlog (next_out_seq - 1 - delivered_out: every seq below next_out_seq is one
-- stored envelope) is read in one row instead of counted over the outbox, which under load is
-- thousands of rows counted on every delivery and every peer lookup. record_receipt adds what it
-- marks delivered, in the same transaction. Same in both dialects.
ALTER TABLE peers ADD COLUMN delivered_out BIGINT NOT NULL DEFAULT 0;
UPDATE peers SET delivered_out = (
    SELECT COUNT(*) FROM envelopes e
    WHERE e.peer = peers.party AND e.direction = 'out' AND e.stream = 'message'
      AND e.delivered_at IS NOT NULL
);
