-- ccm schema, version 4: event-log retention. Compaction removes events from
-- the front of the log: from `first_sequence` on the log is complete; before it
-- only one snapshot event per existing worker and lablet is left. Sequences
-- come from `event_counter`, which compaction never lowers; the bound has a row
-- of its own so a compaction holding it does not stall appenders.
CREATE TABLE event_log_bounds (
    only_row       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    first_sequence BIGINT NOT NULL
);
INSERT INTO event_log_bounds (only_row, first_sequence) VALUES (TRUE, 1);
