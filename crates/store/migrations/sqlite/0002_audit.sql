-- The audit trail: one hash chain per target tenant (chain = tenant id, '' for none).
-- `seq` is the global commit order; `chain_seq` numbers a chain's entries from 1 without gaps.
CREATE TABLE audit_log (
    seq              INTEGER PRIMARY KEY,
    entry_id         TEXT NOT NULL,
    chain            TEXT NOT NULL,
    chain_seq        INTEGER NOT NULL,
    occurred_at      INTEGER NOT NULL,
    request_id       TEXT NOT NULL,
    actor_id         TEXT NOT NULL,
    actor_type       TEXT NOT NULL,
    actor_tenant_id  TEXT,
    target_tenant_id TEXT,
    partner_id       TEXT,
    credential_id    TEXT,
    action           TEXT NOT NULL,
    resource_type    TEXT NOT NULL,
    resource_path    TEXT,
    version          INTEGER,
    outcome          TEXT NOT NULL,
    error_code       TEXT,
    client_ip        TEXT,
    user_agent       TEXT,
    prev_hash        BLOB NOT NULL,
    hash             BLOB NOT NULL,
    UNIQUE (chain, chain_seq)
);

CREATE INDEX audit_by_path ON audit_log (chain, resource_path, seq);

-- MAC'd snapshots of each chain's head: deleting the newest entries is detectable.
CREATE TABLE audit_checkpoints (
    chain      TEXT NOT NULL,
    chain_seq  INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    mac        BLOB NOT NULL,
    PRIMARY KEY (chain, chain_seq)
) WITHOUT ROWID;

-- Where a chain resumes after retention pruning (the last pruned entry), MAC'd.
CREATE TABLE audit_anchors (
    chain     TEXT PRIMARY KEY,
    chain_seq INTEGER NOT NULL,
    hash      BLOB NOT NULL,
    mac       BLOB NOT NULL
) WITHOUT ROWID;
