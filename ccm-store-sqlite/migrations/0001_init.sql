-- ccm schema, version 1. Resources are JSON documents (`body`, the serde_json of the
-- domain type, its `version` field included) beside the columns that filters use.

CREATE TABLE workers (
    id        TEXT PRIMARY KEY NOT NULL,
    name      TEXT NOT NULL,
    region    TEXT NOT NULL,
    lifecycle TEXT NOT NULL,
    version   INTEGER NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX workers_region ON workers (region);
CREATE INDEX workers_lifecycle ON workers (lifecycle);

CREATE TABLE labs (
    id        TEXT PRIMARY KEY NOT NULL,
    worker_id TEXT NOT NULL,
    title     TEXT NOT NULL,
    gone      INTEGER NOT NULL,
    version   INTEGER NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX labs_worker ON labs (worker_id);

CREATE TABLE definitions (
    id      TEXT PRIMARY KEY NOT NULL,
    name    TEXT NOT NULL,
    active  INTEGER NOT NULL,
    version INTEGER NOT NULL,
    body    TEXT NOT NULL
);
CREATE INDEX definitions_name ON definitions (name);

CREATE TABLE lablets (
    id             TEXT PRIMARY KEY NOT NULL,
    phase          TEXT NOT NULL,
    worker_id      TEXT,
    owner          TEXT NOT NULL,
    definition_id  TEXT NOT NULL,
    timeslot_start TEXT NOT NULL,
    version        INTEGER NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX lablets_phase ON lablets (phase);
CREATE INDEX lablets_worker ON lablets (worker_id);
CREATE INDEX lablets_owner ON lablets (owner);
CREATE INDEX lablets_definition ON lablets (definition_id);
CREATE INDEX lablets_timeslot_start ON lablets (timeslot_start);

CREATE TABLE jobs (
    name        TEXT PRIMARY KEY NOT NULL,
    next_run_at TEXT,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL
);

-- The outbox: gap-free, increasing sequence numbers (one writer at a time).
CREATE TABLE events (
    sequence     INTEGER PRIMARY KEY NOT NULL,
    id           TEXT NOT NULL,
    type         TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    occurred_at  TEXT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX events_subject ON events (subject_kind, subject_id);

-- Leases are never deleted, so their fencing tokens only grow.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    token      INTEGER NOT NULL,
    expires_at TEXT NOT NULL
);

-- API keys: the hash only, never the key.
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    body       TEXT NOT NULL
);
