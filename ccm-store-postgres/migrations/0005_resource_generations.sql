-- ccm schema, version 5: one generation per kind of record. A commit that
-- writes or deletes records of a kind moves that kind's generation in the same
-- transaction, so a reader that sees the same generation again may reuse what
-- it derived from the records (the server's serialised list pages). One row, so
-- a commit takes one row lock whatever the kinds it touches, always after the
-- records' own locks and before `event_counter`'s.
CREATE TABLE resource_generations (
    only_row   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    worker     BIGINT NOT NULL DEFAULT 0,
    lab        BIGINT NOT NULL DEFAULT 0,
    definition BIGINT NOT NULL DEFAULT 0,
    lablet     BIGINT NOT NULL DEFAULT 0,
    job        BIGINT NOT NULL DEFAULT 0
);
INSERT INTO resource_generations (only_row) VALUES (TRUE);
