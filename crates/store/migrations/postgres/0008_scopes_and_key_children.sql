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
    WHEN is_partner_admin THEN
        ARRAY['secrets:read', 'secrets:write', 'audit:read', 'policies:read', 'policies:write',
              'identity:read', 'identity:write', 'service-accounts:read',
              'service-accounts:write', 'tokens:write', 'tenants:admin']
    ELSE
        ARRAY['secrets:read', 'secrets:write', 'audit:read', 'policies:read', 'policies:write',
              'identity:read', 'identity:write', 'service-accounts:read',
              'service-accounts:write', 'tokens:write']
    END
WHERE scopes @> ARRAY['secrets:read', 'secrets:write', 'audit:read', 'policies:read',
                      'policies:write'];

-- Tenant slugs are unique within a partner, not across partners: a partner admin creating a
-- tenant must not learn that another partner uses the slug.
ALTER TABLE tenants DROP CONSTRAINT tenants_slug_key;
ALTER TABLE tenants ADD CONSTRAINT tenants_partner_slug_key UNIQUE (partner_id, slug);
