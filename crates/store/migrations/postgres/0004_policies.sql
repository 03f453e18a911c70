-- Path policies and their bindings to identities (users, groups, service accounts).
CREATE TABLE policies (
    tenant_id   TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    rules       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE policy_bindings (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    policy_id     TEXT COLLATE "C" NOT NULL,
    identity_id   TEXT COLLATE "C" NOT NULL,
    identity_type TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, policy_id, identity_id)
);

CREATE INDEX policy_bindings_by_identity ON policy_bindings (tenant_id, identity_id);
