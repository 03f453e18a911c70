-- Partners own tenants; identities (users, groups, service accounts) live in tenants.
CREATE TABLE partners (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX tenants_by_partner ON tenants (partner_id, id);

CREATE TABLE service_accounts (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    roles       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX service_accounts_by_tenant ON service_accounts (tenant_id, id);

-- Group membership synced from the identity provider (JWTs carry their own `groups` claim).
CREATE TABLE identity_groups (
    tenant_id   TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    group_id    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, identity_id, group_id)
) WITHOUT ROWID;

-- Credentials: `personal` tokens (skt_), service-account `api_key`s (svk_) and short-lived
-- tokens `exchanged` for an API key. Partner admins act across their partner's tenants.
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal';
ALTER TABLE tokens ADD COLUMN is_partner_admin INTEGER NOT NULL DEFAULT 0;
