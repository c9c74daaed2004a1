-- ccm schema, version 3: the per-worker metrics time series. Recent points are
-- raw; compaction replaces older ones by one average per worker and bucket.

CREATE TABLE metric_points (
    worker_id      TEXT NOT NULL,
    -- Nanoseconds since the unix epoch (bucket arithmetic in SQL).
    at_ns          INTEGER NOT NULL,
    cpu_percent    REAL,
    memory_percent REAL,
    disk_percent   REAL,
    running_nodes  INTEGER,
    -- Raw observations this point stands for (its weight in later averages).
    samples        INTEGER NOT NULL DEFAULT 1,
    -- 0 raw, 1 an average written by compaction (raw points are what it looks for).
    averaged       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX metric_points_worker_at ON metric_points (worker_id, at_ns);
CREATE INDEX metric_points_at ON metric_points (at_ns);
-- Compaction looks for raw points past the raw window only.
CREATE INDEX metric_points_raw_at ON metric_points (at_ns) WHERE averaged = 0;
