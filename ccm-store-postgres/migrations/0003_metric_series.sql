-- ccm schema, version 3: the per-worker metrics time series. Recent points are
-- raw; compaction replaces older ones by one average per worker and bucket.

CREATE TABLE metric_points (
    worker_id      TEXT NOT NULL,
    -- Nanoseconds since the unix epoch (bucket arithmetic in SQL).
    at_ns          BIGINT NOT NULL,
    cpu_percent    DOUBLE PRECISION,
    memory_percent DOUBLE PRECISION,
    disk_percent   DOUBLE PRECISION,
    running_nodes  BIGINT,
    -- Raw observations this point stands for (its weight in later averages).
    samples        BIGINT NOT NULL DEFAULT 1,
    -- An average written by compaction (raw points are what it looks for).
    averaged       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX metric_points_worker_at ON metric_points (worker_id, at_ns);
CREATE INDEX metric_points_at ON metric_points (at_ns);
CREATE INDEX metric_points_raw_at ON metric_points (at_ns) WHERE NOT averaged;
