-- ccm schema, version 2: small records shared by every process (the key-value
-- port). Expired records read as absent until `purge_expired` deletes them.

CREATE TABLE kv (
    namespace  TEXT NOT NULL,
    -- Byte order, as every adapter lists keys.
    key        TEXT COLLATE "C" NOT NULL,
    value      TEXT NOT NULL,
    -- 1 on creation (and after expiry), +1 on every write: compare-and-swap.
    version    BIGINT NOT NULL,
    -- Fixed-width RFC 3339, compared bytewise (sorts as the instant does);
    -- NULL = never expires.
    expires_at TEXT COLLATE "C",
    PRIMARY KEY (namespace, key)
);
CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
