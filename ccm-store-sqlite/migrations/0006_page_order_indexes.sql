-- ccm schema, version 6: indexes in the order list pages are read in (workers by
-- name then id, lablets by start then id), so a page of `LIMIT n OFFSET m` walks
-- the index and reads n bodies instead of sorting the table. SQLite compares
-- TEXT in byte order, the order the pages use.
CREATE INDEX workers_page_order ON workers (name, id);
CREATE INDEX lablets_page_order ON lablets (timeslot_start, id);
-- The start-then-id index serves every use of the start-only one.
DROP INDEX lablets_timeslot_start;
