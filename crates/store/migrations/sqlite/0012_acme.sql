-- ACME certificates (issue 21): a tenant's accounts at ACME CAs, its DNS providers for dns-01
-- challenges, and the orders nodes work through in steps. Timestamps are microseconds since
-- the Unix epoch. Everything secret arrives sealed by the keyring (key id + ciphertext): an
-- account's credentials (its key), a DNS provider's credentials (TSIG secret, AWS keys) and an
-- order's checkpoint (the certificate key).
CREATE TABLE acme_accounts (
    id                 TEXT NOT NULL PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    -- letsencrypt | zerossl | buypass | google | custom ...
    provider           TEXT NOT NULL,
    directory_url      TEXT NOT NULL,
    -- JSON array of mailto: URLs
    contacts           TEXT NOT NULL,
    -- valid | deactivated
    status             TEXT NOT NULL,
    account_url        TEXT NOT NULL,
    credentials_key_id TEXT NOT NULL,
    sealed_credentials BLOB NOT NULL,
    -- the external account binding's key id (not secret)
    eab_kid            TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE INDEX acme_accounts_by_tenant ON acme_accounts (tenant_id, id);

CREATE TABLE acme_dns_providers (
    id                 TEXT NOT NULL PRIMARY KEY,
    tenant_id          TEXT NOT NULL,
    name               TEXT NOT NULL,
    -- rfc2136 | route53 | ...
    kind               TEXT NOT NULL,
    -- JSON without any secret: server, zone, key name, hosted zone id, region, endpoint
    settings           TEXT NOT NULL,
    credentials_key_id TEXT NOT NULL,
    sealed_credentials BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE INDEX acme_dns_providers_by_tenant ON acme_dns_providers (tenant_id, id);

-- An order's DNS provider has no foreign key: a finished order may outlive its provider (the
-- store refuses to delete a provider an unfinished order uses). `claimed_by` and
-- `claim_expires_at` say which node works on the order; an expired claim may be taken over.
CREATE TABLE acme_orders (
    id                TEXT NOT NULL PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    account_id        TEXT NOT NULL REFERENCES acme_accounts (id),
    -- JSON array of domain names
    domains           TEXT NOT NULL,
    -- dns-01 | http-01
    challenge         TEXT NOT NULL,
    dns_provider_id   TEXT,
    key_type          TEXT NOT NULL,
    -- pending | processing | valid | failed (valid and failed are final)
    status            TEXT NOT NULL,
    order_url         TEXT,
    -- the sealed checkpoint (both or neither)
    checkpoint_key_id TEXT,
    sealed_checkpoint BLOB,
    certificate_id    TEXT,
    -- JSON: the CA's problem document of the last failure
    problem           TEXT,
    attempts          INTEGER NOT NULL,
    next_attempt_at   INTEGER NOT NULL,
    renewal_of        TEXT,
    claimed_by        TEXT,
    claim_expires_at  INTEGER,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

-- A tenant's listing (all, or by status), the claim's scan of due unfinished orders, and a
-- DNS provider's unfinished orders (checked before deleting it).
CREATE INDEX acme_orders_by_tenant ON acme_orders (tenant_id, id);
CREATE INDEX acme_orders_by_status ON acme_orders (tenant_id, status, id);
CREATE INDEX acme_orders_due ON acme_orders (next_attempt_at, id)
    WHERE status NOT IN ('valid', 'failed');
CREATE INDEX acme_orders_by_dns_provider ON acme_orders (tenant_id, dns_provider_id)
    WHERE status NOT IN ('valid', 'failed');
