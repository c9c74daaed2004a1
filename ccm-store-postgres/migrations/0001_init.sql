-- ccm schema, version 1. Resources are JSON documents (`body`, the serde_json of the
-- domain type, its `version` field included) beside the columns that filters use.
-- Every table lives in the connection's current schema (search_path).

CREATE TABLE workers (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    region    TEXT NOT NULL,
    lifecycle TEXT NOT NULL,
    version   BIGINT NOT NULL,
    body      JSONB NOT NULL
);
CREATE INDEX workers_region ON workers (region);
CREATE INDEX workers_lifecycle ON workers (lifecycle);

CREATE TABLE labs (
    id        TEXT PRIMARY KEY,
    worker_id TEXT NOT NULL,
    title     TEXT NOT NULL,
    gone      BOOLEAN NOT NULL,
    version   BIGINT NOT NULL,
    body      JSONB NOT NULL
);
CREATE INDEX labs_worker ON labs (worker_id);

CREATE TABLE definitions (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    active  BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    body    JSONB NOT NULL
);
CREATE INDEX definitions_name ON definitions (name);

CREATE TABLE lablets (
    id             TEXT PRIMARY KEY,
    phase          TEXT NOT NULL,
    worker_id      TEXT,
    owner          TEXT NOT NULL,
    definition_id  TEXT NOT NULL,
    timeslot_start TEXT NOT NULL,
    version        BIGINT NOT NULL,
    body           JSONB NOT NULL
);
CREATE INDEX lablets_phase ON lablets (phase);
CREATE INDEX lablets_worker ON lablets (worker_id);
CREATE INDEX lablets_owner ON lablets (owner);
CREATE INDEX lablets_definition ON lablets (definition_id);
CREATE INDEX lablets_timeslot_start ON lablets (timeslot_start);

CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    next_run_at TEXT,
    version     BIGINT NOT NULL,
    body        JSONB NOT NULL
);

-- The outbox. Sequence numbers come from `event_counter`, whose single row every
-- appending transaction updates: appenders serialize on its row lock, and a rolled
-- back transaction gives its numbers back, so the log has no gaps.
CREATE TABLE events (
    sequence     BIGINT PRIMARY KEY,
    id           TEXT NOT NULL,
    type         TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    body         JSONB NOT NULL
);
CREATE INDEX events_subject ON events (subject_kind, subject_id);

CREATE TABLE event_counter (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    last     BIGINT NOT NULL
);
INSERT INTO event_counter (only_row, last) VALUES (TRUE, 0);

-- Leases are never deleted, so their fencing tokens only grow.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      BIGINT NOT NULL,
    expires_at TEXT NOT NULL
);

-- API keys: the hash only, never the key.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    body       JSONB NOT NULL
);
