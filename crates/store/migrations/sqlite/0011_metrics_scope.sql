-- The metrics scope guards /v1/sys/metrics (docs/monitoring.md). A credential that held every
-- scope of the previous catalogue (a partner admin's: the sixteen tenant scopes and
-- tenants:admin) keeps doing everything it could: it gets metrics:read. Narrower credentials
-- (tenant admins included) gain nothing.
UPDATE tokens
SET scopes = json_insert(scopes, '$[#]', 'metrics:read')
WHERE (SELECT count(DISTINCT value) FROM json_each(tokens.scopes)
       WHERE value IN ('secrets:read', 'secrets:write', 'audit:read', 'policies:read',
                       'policies:write', 'identity:read', 'identity:write',
                       'service-accounts:read', 'service-accounts:write', 'tokens:write',
                       'tenants:admin', 'pki:read', 'pki:issue', 'pki:admin',
                       'dynamic:read', 'dynamic:creds', 'dynamic:admin')) = 17;
