-- Dynamic credentials (issue 17), the same shape as the SQLite schema (booleans as BOOLEAN,
-- keys, tenants and statuses COLLATE "C" so they order as in SQLite): a tenant's engines (a
-- connection to a database, a cloud account or an SSH CA), their roles, and the leases on the
-- credentials they hand out. Timestamps are microseconds since the Unix epoch. An engine's
-- secret (root password, secret access key, CA private key) is sealed by the keyring (key id
-- + ciphertext); a lease never holds a credential, only the handle its revocation needs.
CREATE TABLE dynamic_engines (
    tenant_id       TEXT COLLATE "C" NOT NULL,
    name            TEXT COLLATE "C" NOT NULL,
    -- postgres | mysql | aws | ssh
    kind            TEXT NOT NULL,
    -- JSON settings without any secret
    config          TEXT NOT NULL,
    secret_key_id   TEXT NOT NULL,
    sealed_secret   BYTEA NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    root_rotated_at BIGINT,
    PRIMARY KEY (tenant_id, name)
);

-- Deleting an engine deletes its roles (the store also deletes them explicitly in the same
-- transaction).
CREATE TABLE dynamic_roles (
    tenant_id        TEXT COLLATE "C" NOT NULL,
    engine           TEXT COLLATE "C" NOT NULL,
    name             TEXT COLLATE "C" NOT NULL,
    -- JSON settings of the engine's kind (statements, policy ARNs, principals)
    config           TEXT NOT NULL,
    default_ttl_secs BIGINT NOT NULL,
    max_ttl_secs     BIGINT NOT NULL,
    -- cap on the role's live leases; NULL: only the tenant's cap applies
    max_leases       BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, engine, name),
    FOREIGN KEY (tenant_id, engine) REFERENCES dynamic_engines (tenant_id, name)
        ON DELETE CASCADE
);

-- Leases outlive their engine and role (history), so they have no foreign key. `due_at` is
-- set exactly while the lease is live (pending, active, revoking, revocation_failed) and NULL
-- once revoked.
CREATE TABLE dynamic_leases (
    id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id      TEXT COLLATE "C" NOT NULL,
    engine         TEXT COLLATE "C" NOT NULL,
    role           TEXT COLLATE "C" NOT NULL,
    identity       TEXT NOT NULL,
    -- pending | active | revoking | revocation_failed | revoked
    status         TEXT COLLATE "C" NOT NULL,
    renewable      BOOLEAN NOT NULL,
    -- JSON: what revoking needs (user name, access key id); never a password or secret key
    handle         TEXT NOT NULL,
    issued_at      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    max_expires_at BIGINT NOT NULL,
    due_at         BIGINT,
    attempts       BIGINT NOT NULL DEFAULT 0,
    last_error     TEXT,
    revoked_at     BIGINT,
    updated_at     BIGINT NOT NULL
);

-- A tenant's listing in id order.
CREATE INDEX dynamic_leases_by_tenant ON dynamic_leases (tenant_id, id);
-- Live leases of a tenant, engine or role: the caps' counts and prefix revocations touch only
-- live rows, however many revoked ones history keeps.
CREATE INDEX dynamic_leases_live ON dynamic_leases (tenant_id, engine, role)
    WHERE due_at IS NOT NULL;
-- The sweeper's scan (`due_at <= now`, soonest first) across tenants. It also serves the
-- `lease.expiring` scan over active leases' `expires_at`: an active lease's `due_at` IS its
-- `expires_at` (activation and renewal set both), so that scan is a range of this index
-- filtered on status, and no second index has to be kept up to date on every lease change.
CREATE INDEX dynamic_leases_due ON dynamic_leases (due_at, id)
    WHERE due_at IS NOT NULL;

-- New scopes guard the dynamic-credentials routes. A credential that held every tenant scope
-- of the previous catalogue (the ten of 0008 and the PKI three of 0010) keeps doing everything
-- it could: it gets the three dynamic scopes. Narrower credentials gain nothing. Every
-- credential (personal tokens, service-account keys and the tokens minted from them) is a row
-- of `tokens`.
UPDATE tokens
SET scopes = scopes || ARRAY['dynamic:read', 'dynamic:creds', 'dynamic:admin']
WHERE scopes @> ARRAY['secrets:read', 'secrets:write', 'audit:read', 'policies:read',
                      'policies:write', 'identity:read', 'identity:write',
                      'service-accounts:read', 'service-accounts:write', 'tokens:write',
                      'pki:read', 'pki:issue', 'pki:admin'];
