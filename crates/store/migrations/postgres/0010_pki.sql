-- The internal CA (issue 16), the same shape as the SQLite schema (SANs as TEXT[], booleans
-- as BOOLEAN, ids, tenants, serials and statuses COLLATE "C" so they order as in SQLite):
-- certificate authorities, the certificates they issued, CSRs from external requesters, and
-- the latest CRL of each CA. Certificates are DER, serials lowercase hex, private keys sealed
-- by the server (a CA's here, an issued certificate's in its secret).
CREATE TABLE pki_cas (
    id                   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id            TEXT COLLATE "C" NOT NULL,
    name                 TEXT NOT NULL,
    -- the issuing CA of an intermediate (same tenant); NULL for a root
    parent_ca_id         TEXT COLLATE "C",
    common_name          TEXT NOT NULL,
    key_type             TEXT NOT NULL,
    cert_der             BYTEA NOT NULL,
    -- the CA's private key, sealed by the keyring (key id + ciphertext)
    key_id               TEXT NOT NULL,
    sealed_key           BYTEA NOT NULL,
    serial               TEXT COLLATE "C" NOT NULL,
    not_before           BIGINT NOT NULL,
    not_after            BIGINT NOT NULL,
    -- active | disabled
    status               TEXT COLLATE "C" NOT NULL,
    separation_of_duties BOOLEAN NOT NULL,
    -- JSON: path length, name constraints, subject fields, CRL/OCSP URLs
    settings             TEXT NOT NULL,
    imported             BOOLEAN NOT NULL,
    -- the last CRL number handed out (`next_crl_number` increments it)
    crl_number           BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE INDEX pki_cas_by_tenant ON pki_cas (tenant_id, id);

-- A CSR signed into a certificate names it (cert_id), and the certificate its CSR (csr_id).
CREATE TABLE pki_csrs (
    id           TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id    TEXT COLLATE "C" NOT NULL,
    csr_pem      TEXT NOT NULL,
    common_name  TEXT NOT NULL,
    -- "DNS:x", "IP:x", "email:x", "URI:x"
    sans         TEXT[] NOT NULL,
    key_type     TEXT,
    -- pending | approved | rejected | signed
    status       TEXT COLLATE "C" NOT NULL,
    submitted_by TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   BIGINT,
    reason       TEXT,
    cert_id      TEXT,
    created_at   BIGINT NOT NULL
);

CREATE INDEX pki_csrs_by_tenant ON pki_csrs (tenant_id, id);
CREATE INDEX pki_csrs_by_status ON pki_csrs (tenant_id, status, id);

-- UNIQUE (ca_id, serial) is what keeps several nodes from handing out one serial: the loser of
-- a collision gets a unique violation and retries with a fresh random serial.
CREATE TABLE pki_certificates (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id         TEXT COLLATE "C" NOT NULL,
    ca_id             TEXT COLLATE "C" NOT NULL REFERENCES pki_cas (id),
    serial            TEXT COLLATE "C" NOT NULL,
    common_name       TEXT NOT NULL,
    -- "DNS:x", "IP:x", "email:x", "URI:x"
    sans              TEXT[] NOT NULL,
    key_type          TEXT,
    -- server | client | both
    usage             TEXT NOT NULL,
    not_before        BIGINT NOT NULL,
    not_after         BIGINT NOT NULL,
    cert_der          BYTEA NOT NULL,
    -- where the certificate and its key are a secret; NULL for CSR-signed certificates
    secret_path       TEXT,
    csr_id            TEXT,
    revoked_at        BIGINT,
    revocation_reason TEXT,
    issued_by         TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    UNIQUE (ca_id, serial)
);

-- A tenant's listing (all, or one CA's) in id order, and the expiry scan across tenants.
CREATE INDEX pki_certificates_by_tenant ON pki_certificates (tenant_id, id);
CREATE INDEX pki_certificates_by_ca ON pki_certificates (tenant_id, ca_id, id);
CREATE INDEX pki_certificates_expiring ON pki_certificates (not_after, id)
    WHERE revoked_at IS NULL;

-- The latest CRL of each CA (a CRL with a lower number never replaces a higher one).
CREATE TABLE pki_crls (
    ca_id       TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES pki_cas (id),
    crl_number  BIGINT NOT NULL,
    der         BYTEA NOT NULL,
    this_update BIGINT NOT NULL,
    next_update BIGINT NOT NULL
);

-- New scopes guard the PKI routes. A credential that held every tenant scope of the previous
-- catalogue keeps doing everything it could: it gets the three PKI scopes (as 0008 did for the
-- scopes of its day). Narrower credentials gain nothing.
UPDATE tokens
SET scopes = scopes || ARRAY['pki:read', 'pki:issue', 'pki:admin']
WHERE scopes @> ARRAY['secrets:read', 'secrets:write', 'audit:read', 'policies:read',
                      'policies:write', 'identity:read', 'identity:write',
                      'service-accounts:read', 'service-accounts:write', 'tokens:write'];
