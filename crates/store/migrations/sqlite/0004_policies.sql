-- Path policies and their bindings to identities (users, groups, service accounts).
CREATE TABLE policies (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    rules       TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
) WITHOUT ROWID;

CREATE TABLE policy_bindings (
    tenant_id     TEXT NOT NULL,
    policy_id     TEXT NOT NULL,
    identity_id   TEXT NOT NULL,
    identity_type TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, policy_id, identity_id)
) WITHOUT ROWID;

CREATE INDEX policy_bindings_by_identity ON policy_bindings (tenant_id, identity_id);
