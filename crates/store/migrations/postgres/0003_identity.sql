-- Partners own tenants; identities (users, groups, service accounts) live in tenants.
CREATE TABLE partners (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tenants (
    id         TEXT COLLATE "C" PRIMARY KEY,
    partner_id TEXT COLLATE "C" NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX tenants_by_partner ON tenants (partner_id, id);

CREATE TABLE service_accounts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    roles       TEXT[] NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE INDEX service_accounts_by_tenant ON service_accounts (tenant_id, id);

-- Group membership synced from the identity provider (JWTs carry their own `groups` claim).
CREATE TABLE identity_groups (
    tenant_id   TEXT COLLATE "C" NOT NULL,
    identity_id TEXT COLLATE "C" NOT NULL,
    group_id    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, identity_id, group_id)
);

-- Credentials: `personal` tokens (skt_), service-account `api_key`s (svk_) and short-lived
-- tokens `exchanged` for an API key. Partner admins act across their partner's tenants.
ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal';
ALTER TABLE tokens ADD COLUMN is_partner_admin BOOLEAN NOT NULL DEFAULT FALSE;
