-- ccm schema, version 2: small shared records (the key-value port). Expired
-- records read as absent until `purge_expired` deletes them.

CREATE TABLE kv (
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    -- 1 on creation (and after expiry), +1 on every write: compare-and-swap.
    version    INTEGER NOT NULL,
    -- Fixed-width RFC 3339 (sorts as the instant does); NULL = never expires.
    expires_at TEXT,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
