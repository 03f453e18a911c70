-- The audit trail: one hash chain per target tenant (chain = tenant id, '' for none).
-- `chain_seq` numbers a chain's entries from 1 without gaps. `seq` is the global cursor order
-- (an identity column): with several nodes, transactions may commit out of `seq` order, so
-- `audit_since` only reads up to a high-water mark below which every transaction has finished
-- (see src/postgres/audit.rs). That mark is the sequence's last value, which is exact only
-- with CACHE 1 (no values preallocated per session): keep it so.
CREATE TABLE audit_log (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME audit_log_seq CACHE 1)
                     PRIMARY KEY,
    entry_id         TEXT NOT NULL,
    chain            TEXT COLLATE "C" NOT NULL,
    chain_seq        BIGINT NOT NULL,
    occurred_at      BIGINT NOT NULL,
    request_id       TEXT NOT NULL,
    actor_id         TEXT COLLATE "C" NOT NULL,
    actor_type       TEXT NOT NULL,
    actor_tenant_id  TEXT,
    target_tenant_id TEXT,
    partner_id       TEXT,
    credential_id    TEXT,
    action           TEXT COLLATE "C" NOT NULL,
    resource_type    TEXT NOT NULL,
    resource_path    TEXT COLLATE "C",
    version          BIGINT,
    outcome          TEXT COLLATE "C" NOT NULL,
    error_code       TEXT,
    client_ip        TEXT,
    user_agent       TEXT,
    prev_hash        BYTEA NOT NULL,
    hash             BYTEA NOT NULL,
    UNIQUE (chain, chain_seq)
);

CREATE INDEX audit_by_path ON audit_log (chain, resource_path, seq);
CREATE INDEX audit_by_chain_seq ON audit_log (chain, seq);
CREATE INDEX audit_by_time ON audit_log (occurred_at);

-- Each chain's head (its newest entry's position and hash). Appenders on every node lock the
-- chain's row (SELECT ... FOR UPDATE) in the transaction that inserts the entries, so a chain
-- grows one transaction at a time without gaps or forks.
CREATE TABLE audit_heads (
    chain     TEXT COLLATE "C" PRIMARY KEY,
    chain_seq BIGINT NOT NULL,
    hash      BYTEA NOT NULL
);

-- MAC'd snapshots of each chain's head: deleting the newest entries is detectable.
CREATE TABLE audit_checkpoints (
    chain      TEXT COLLATE "C" NOT NULL,
    chain_seq  BIGINT NOT NULL,
    hash       BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    mac        BYTEA NOT NULL,
    PRIMARY KEY (chain, chain_seq)
);

-- Where a chain resumes after retention pruning (the last pruned entry), MAC'd.
CREATE TABLE audit_anchors (
    chain     TEXT COLLATE "C" PRIMARY KEY,
    chain_seq BIGINT NOT NULL,
    hash      BYTEA NOT NULL,
    mac       BYTEA NOT NULL
);
