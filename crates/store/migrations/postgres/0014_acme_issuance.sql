-- ACME issuance (issue 21), on top of 0013; the same shape as SQLite's 0013_acme_issuance:
-- what an order needs to store its certificate and renew it, the http-01 answers every node
-- can serve, and ACME certificates in the PKI certificate table.

-- Where the certificate and key are stored (kept by renewals) and who asked for it.
ALTER TABLE acme_orders ADD COLUMN secret_path TEXT NOT NULL DEFAULT '';
ALTER TABLE acme_orders ADD COLUMN requested_by TEXT NOT NULL DEFAULT '';

-- A certificate's renewal order (the latest one first).
CREATE INDEX acme_orders_by_renewal ON acme_orders (tenant_id, renewal_of, created_at)
    WHERE renewal_of IS NOT NULL;

-- http-01: the key authorization to answer at /.well-known/acme-challenge/{token}, shared by
-- every node (the CA's request may reach any of them). Not secret: it is published to the CA;
-- removed after validation, and never served past `expires_at`.
CREATE TABLE acme_http01_tokens (
    token             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id         TEXT COLLATE "C" NOT NULL,
    order_id          TEXT COLLATE "C" NOT NULL,
    key_authorization TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL
);

-- A certificate from an ACME CA is tracked like an internal CA's, with the ACME account's id
-- (`acme_...`) as its `ca_id`: the foreign key to pki_cas goes.
ALTER TABLE pki_certificates DROP CONSTRAINT pki_certificates_ca_id_fkey;
