-- ACME issuance (issue 21), on top of 0012: what an order needs to store its certificate and
-- renew it, the http-01 answers every node can serve, and ACME certificates in the PKI
-- certificate table.

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
    token             TEXT NOT NULL PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    order_id          TEXT NOT NULL,
    key_authorization TEXT NOT NULL,
    expires_at        INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
);

-- A certificate from an ACME CA is tracked like an internal CA's, with the ACME account's id
-- (`acme_...`) as its `ca_id`: the foreign key to pki_cas goes. SQLite cannot drop a
-- constraint, so the table is rebuilt with the same columns and indexes (nothing refers to it).
CREATE TABLE pki_certificates_new (
    id                TEXT NOT NULL PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    -- pca_... (internal CA) or acme_... (the ACME account it was ordered with)
    ca_id             TEXT NOT NULL,
    serial            TEXT NOT NULL,
    common_name       TEXT NOT NULL,
    -- JSON array of "DNS:x", "IP:x", "email:x", "URI:x"
    sans              TEXT NOT NULL,
    key_type          TEXT,
    -- server | client | both
    usage             TEXT NOT NULL,
    not_before        INTEGER NOT NULL,
    not_after         INTEGER NOT NULL,
    cert_der          BLOB NOT NULL,
    -- where the certificate and its key are a secret; NULL for CSR-signed certificates
    secret_path       TEXT,
    csr_id            TEXT,
    revoked_at        INTEGER,
    revocation_reason TEXT,
    issued_by         TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    UNIQUE (ca_id, serial)
);
INSERT INTO pki_certificates_new
    SELECT id, tenant_id, ca_id, serial, common_name, sans, key_type, usage, not_before,
           not_after, cert_der, secret_path, csr_id, revoked_at, revocation_reason, issued_by,
           created_at
    FROM pki_certificates;
DROP TABLE pki_certificates;
ALTER TABLE pki_certificates_new RENAME TO pki_certificates;
CREATE INDEX pki_certificates_by_tenant ON pki_certificates (tenant_id, id);
CREATE INDEX pki_certificates_by_ca ON pki_certificates (tenant_id, ca_id, id);
CREATE INDEX pki_certificates_expiring ON pki_certificates (not_after, id)
    WHERE revoked_at IS NULL;
