-- ScaiVault PostgreSQL store, schema version 1 (the same shape as the SQLite schema).
-- Timestamps are BIGINT microseconds since the Unix epoch (UTC), exactly as in SQLite: the audit
-- MACs cover microseconds, and one representation keeps both stores' behaviour identical.
-- Keys and ordered text use COLLATE "C" so ordering and cursors are bytewise, like SQLite's,
-- whatever the database's default collation is.

CREATE TABLE system (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

-- Data keys, wrapped by the root key. `purpose` is 'data' (secret values) or 'token_pepper'.
CREATE TABLE data_keys (
    key_id     TEXT COLLATE "C" PRIMARY KEY,
    purpose    TEXT NOT NULL,
    provider   TEXT NOT NULL,
    wrapped    BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    active     BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE secrets (
    tenant_id          TEXT COLLATE "C" NOT NULL,
    path               TEXT COLLATE "C" NOT NULL,
    secret_type        TEXT NOT NULL,
    current_version    BIGINT NOT NULL,
    latest_version     BIGINT NOT NULL,
    max_versions       BIGINT NOT NULL,
    description        TEXT,
    tags               TEXT[] NOT NULL DEFAULT '{}',
    owner              TEXT,
    expires_at         BIGINT,
    rotation_policy_id TEXT,
    secret_policy_id   TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    deleted_at         BIGINT,
    PRIMARY KEY (tenant_id, path)
);

CREATE INDEX secrets_by_expiry ON secrets (tenant_id, expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX secrets_by_deletion ON secrets (deleted_at) WHERE deleted_at IS NOT NULL;

-- One row per live version; pruned, deleted and retired versions lose their row.
CREATE TABLE secret_versions (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    path       TEXT COLLATE "C" NOT NULL,
    version    BIGINT NOT NULL,
    key_id     TEXT NOT NULL,
    ciphertext BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retires_at BIGINT,
    PRIMARY KEY (tenant_id, path, version)
);

CREATE INDEX secret_versions_by_retirement ON secret_versions (retires_at)
    WHERE retires_at IS NOT NULL;

-- Read counters per secret and UTC day, for access_count_30d and last_accessed_at.
CREATE TABLE secret_access (
    tenant_id TEXT COLLATE "C" NOT NULL,
    path      TEXT COLLATE "C" NOT NULL,
    day       BIGINT NOT NULL,
    count     BIGINT NOT NULL,
    last_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, path, day)
);

-- Personal access tokens; only an HMAC of the token is stored.
CREATE TABLE tokens (
    id            TEXT COLLATE "C" PRIMARY KEY,
    tenant_id     TEXT COLLATE "C" NOT NULL,
    partner_id    TEXT NOT NULL,
    identity_id   TEXT COLLATE "C" NOT NULL,
    identity_type TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    scopes        TEXT[] NOT NULL,
    is_admin      BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT
);

CREATE INDEX tokens_by_owner ON tokens (tenant_id, identity_id, id);
