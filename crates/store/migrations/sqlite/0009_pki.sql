-- The internal CA (issue 16): certificate authorities, the certificates they issued, CSRs from
-- external requesters, and the latest CRL of each CA. Certificates are DER, serials lowercase
-- hex, private keys sealed by the server (a CA's here, an issued certificate's in its secret).
CREATE TABLE pki_cas (
    id                   TEXT NOT NULL PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    name                 TEXT NOT NULL,
    -- the issuing CA of an intermediate (same tenant); NULL for a root
    parent_ca_id         TEXT,
    common_name          TEXT NOT NULL,
    key_type             TEXT NOT NULL,
    cert_der             BLOB NOT NULL,
    -- the CA's private key, sealed by the keyring (key id + ciphertext)
    key_id               TEXT NOT NULL,
    sealed_key           BLOB NOT NULL,
    serial               TEXT NOT NULL,
    not_before           INTEGER NOT NULL,
    not_after            INTEGER NOT NULL,
    -- active | disabled
    status               TEXT NOT NULL,
    separation_of_duties INTEGER NOT NULL,
    -- JSON: path length, name constraints, subject fields, CRL/OCSP URLs
    settings             TEXT NOT NULL,
    imported             INTEGER NOT NULL,
    -- the last CRL number handed out (`next_crl_number` increments it)
    crl_number           INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE INDEX pki_cas_by_tenant ON pki_cas (tenant_id, id);

-- A CSR signed into a certificate names it (cert_id), and the certificate its CSR (csr_id).
CREATE TABLE pki_csrs (
    id           TEXT NOT NULL PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    csr_pem      TEXT NOT NULL,
    common_name  TEXT NOT NULL,
    -- JSON array of "DNS:x", "IP:x", "email:x", "URI:x"
    sans         TEXT NOT NULL,
    key_type     TEXT,
    -- pending | approved | rejected | signed
    status       TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   INTEGER,
    reason       TEXT,
    cert_id      TEXT,
    created_at   INTEGER NOT NULL
);

CREATE INDEX pki_csrs_by_tenant ON pki_csrs (tenant_id, id);
CREATE INDEX pki_csrs_by_status ON pki_csrs (tenant_id, status, id);

-- UNIQUE (ca_id, serial) is what keeps several nodes from handing out one serial: the loser of
-- a collision gets a unique violation and retries with a fresh random serial.
CREATE TABLE pki_certificates (
    id                TEXT NOT NULL PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    ca_id             TEXT NOT NULL REFERENCES pki_cas (id),
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

-- A tenant's listing (all, or one CA's) in id order, and the expiry scan across tenants.
CREATE INDEX pki_certificates_by_tenant ON pki_certificates (tenant_id, id);
CREATE INDEX pki_certificates_by_ca ON pki_certificates (tenant_id, ca_id, id);
CREATE INDEX pki_certificates_expiring ON pki_certificates (not_after, id)
    WHERE revoked_at IS NULL;

-- The latest CRL of each CA (a CRL with a lower number never replaces a higher one).
CREATE TABLE pki_crls (
    ca_id       TEXT NOT NULL PRIMARY KEY REFERENCES pki_cas (id),
    crl_number  INTEGER NOT NULL,
    der         BLOB NOT NULL,
    this_update INTEGER NOT NULL,
    next_update INTEGER NOT NULL
);

-- New scopes guard the PKI routes. A credential that held every tenant scope of the previous
-- catalogue keeps doing everything it could: it gets the three PKI scopes (as 0007 did for the
-- scopes of its day). Narrower credentials gain nothing.
UPDATE tokens
SET scopes = json_insert(scopes, '$[#]', 'pki:read', '$[#]', 'pki:issue', '$[#]', 'pki:admin')
WHERE (SELECT count(DISTINCT value) FROM json_each(tokens.scopes)
       WHERE value IN ('secrets:read', 'secrets:write', 'audit:read', 'policies:read',
                       'policies:write', 'identity:read', 'identity:write',
                       'service-accounts:read', 'service-accounts:write', 'tokens:write')) = 10;
