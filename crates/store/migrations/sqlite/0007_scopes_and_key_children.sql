-- Tokens minted from a service-account API key (directly, or through an exchanged token) record
-- the key: revoking the key revokes them in the same transaction.
ALTER TABLE tokens ADD COLUMN parent_key_id TEXT;

CREATE INDEX tokens_by_parent_key ON tokens (parent_key_id) WHERE parent_key_id IS NOT NULL;

-- New scopes guard the identity, service-account, token and tenant routes. A credential that
-- held every scope of the old catalogue keeps doing what it did: it gets every new scope its
-- role allows (a partner admin all of them, anyone else all but tenants:admin). Narrower
-- credentials gain nothing.
UPDATE tokens
SET scopes = CASE
    WHEN is_partner_admin <> 0 THEN
        '["secrets:read","secrets:write","audit:read","policies:read","policies:write","identity:read","identity:write","service-accounts:read","service-accounts:write","tokens:write","tenants:admin"]'
    ELSE
        '["secrets:read","secrets:write","audit:read","policies:read","policies:write","identity:read","identity:write","service-accounts:read","service-accounts:write","tokens:write"]'
    END
WHERE (SELECT count(DISTINCT value) FROM json_each(tokens.scopes)
       WHERE value IN ('secrets:read', 'secrets:write', 'audit:read', 'policies:read',
                       'policies:write')) = 5;

-- Tenant slugs are unique within a partner, not across partners: a partner admin creating a
-- tenant must not learn that another partner uses the slug. SQLite cannot drop a column's
-- UNIQUE, so the table is rebuilt; the rows wait in a temporary table so that the new table and
-- indexes take the pages the old ones free (no free pages are left behind).
CREATE TEMP TABLE tenants_old AS SELECT id, partner_id, slug, name, created_at FROM tenants;

DROP TABLE tenants;

CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL,
    slug       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (partner_id, slug)
) WITHOUT ROWID;

INSERT INTO tenants (id, partner_id, slug, name, created_at)
SELECT id, partner_id, slug, name, created_at FROM temp.tenants_old;

DROP TABLE temp.tenants_old;

CREATE INDEX tenants_by_partner ON tenants (partner_id, id);
