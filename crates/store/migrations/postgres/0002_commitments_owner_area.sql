-- A page of one party's commitments in one measure area: the commitment list's usual filter. The
-- party is owner_a or owner_b, so the list reads one keyset-limited branch per owner column. With
-- only (owner, id) and (area, id) to choose from, each branch walked one and filtered on the other
-- column, visiting several rows per row returned (about 7 over the benchmark's data; 21 where
-- PostgreSQL's statistics steered it to the primary key). With (owner, area, id) each branch reads
-- exactly its page from one index range, in id order. Same indexes as
-- ../sqlite/0002_commitments_owner_area.sql.
CREATE INDEX commitments_owner_a_area_id ON commitments (owner_a, area, id);
CREATE INDEX commitments_owner_b_area_id ON commitments (owner_b, area, id);
