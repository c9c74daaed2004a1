-- ccm schema, version 5: one generation per kind of record. A commit that
-- writes or deletes records of a kind moves that kind's generation in the same
-- transaction, so a reader that sees the same generation again may reuse what
-- it derived from the records (the server's serialised list pages). One row, so
-- a commit takes one lock whatever the kinds it touches.
CREATE TABLE resource_generations (
    only_row   INTEGER PRIMARY KEY NOT NULL CHECK (only_row = 1),
    worker     INTEGER NOT NULL DEFAULT 0,
    lab        INTEGER NOT NULL DEFAULT 0,
    definition INTEGER NOT NULL DEFAULT 0,
    lablet     INTEGER NOT NULL DEFAULT 0,
    job        INTEGER NOT NULL DEFAULT 0
);
INSERT INTO resource_generations (only_row) VALUES (1);
