-- ccm schema, version 4: event-log retention. Compaction removes events from
-- the front of the log: from `first_sequence` on the log is complete; before it
-- only one snapshot event per existing worker and lablet is left.
-- `first_sequence - 1` also keeps the highest sequence ever given when
-- compaction removed the newest events, so no sequence is given out twice.
CREATE TABLE event_log_bounds (
    only_row       INTEGER PRIMARY KEY NOT NULL CHECK (only_row = 1),
    first_sequence INTEGER NOT NULL
);
INSERT INTO event_log_bounds (only_row, first_sequence) VALUES (1, 1);
