-- ccm schema, version 6: indexes in the order list pages are read in (workers by
-- name then id, lablets by start then id, in byte order as Rust compares text),
-- so a page of `LIMIT n OFFSET m` walks the index and reads n bodies instead of
-- sorting every row the filter selects.
CREATE INDEX workers_page_order ON workers (name COLLATE "C", id COLLATE "C");
CREATE INDEX lablets_page_order ON lablets (timeslot_start COLLATE "C", id COLLATE "C");
-- The start-then-id index serves every use of the start-only one.
DROP INDEX lablets_timeslot_start;
