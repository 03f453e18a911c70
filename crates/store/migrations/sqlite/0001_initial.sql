-- ScaiVault embedded store, schema version 1. Every tenant-owned row is keyed by tenant_id.
-- Timestamps are INTEGER microseconds since the Unix epoch (UTC).

CREATE TABLE system (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Data keys, wrapped by the root key. `purpose` is 'data' (secret values) or 'token_pepper'.
CREATE TABLE data_keys (
    key_id     TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    provider   TEXT NOT NULL,
    wrapped    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    active     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE secrets (
    tenant_id          TEXT NOT NULL,
    path               TEXT NOT NULL,
    secret_type        TEXT NOT NULL,
    current_version    INTEGER NOT NULL,
    latest_version     INTEGER NOT NULL,
    max_versions       INTEGER NOT NULL,
    description        TEXT,
    tags               TEXT NOT NULL DEFAULT '[]',
    owner              TEXT,
    expires_at         INTEGER,
    rotation_policy_id TEXT,
    secret_policy_id   TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    deleted_at         INTEGER,
    PRIMARY KEY (tenant_id, path)
) WITHOUT ROWID;

CREATE INDEX secrets_by_expiry ON secrets (tenant_id, expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX secrets_by_deletion ON secrets (deleted_at) WHERE deleted_at IS NOT NULL;

-- One row per live version; pruned, deleted and retired versions lose their row.
CREATE TABLE secret_versions (
    tenant_id  TEXT NOT NULL,
    path       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    key_id     TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retires_at INTEGER,
    PRIMARY KEY (tenant_id, path, version)
) WITHOUT ROWID;

CREATE INDEX secret_versions_by_retirement ON secret_versions (retires_at) WHERE retires_at IS NOT NULL;

-- Read counters per secret and UTC day, for access_count_30d and last_accessed_at.
CREATE TABLE secret_access (
    tenant_id TEXT NOT NULL,
    path      TEXT NOT NULL,
    day       INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, path, day)
) WITHOUT ROWID;

-- Personal access tokens; only an HMAC of the token is stored.
CREATE TABLE tokens (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    partner_id    TEXT NOT NULL,
    identity_id   TEXT NOT NULL,
    identity_type TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    is_admin      INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER
) WITHOUT ROWID;

CREATE INDEX tokens_by_owner ON tokens (tenant_id, identity_id, id);
