-- Leases of cluster-wide background jobs: the holder runs the job until its lease expires,
-- then any node may take it over (a dead node's jobs move on by themselves).
CREATE TABLE job_leases (
    job        TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
