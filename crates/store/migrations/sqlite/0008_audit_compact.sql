-- Smaller audit entries (issue 23). What an entry records is unchanged, and so are the bytes its
-- MAC covers (`entry_bytes`); only the way it is stored changes:
-- - who called (identity, credential, tenant, partner, address, user agent) repeats on every
--   request of a client, so it is stored once in `audit_callers` and an entry names it by number;
-- - `target_tenant_id` always equals `chain` ('' for none), so it is not stored again;
-- - `prev_hash` equals the `hash` of the chain's previous entry (or of its pruning anchor, or the
--   genesis), so it is looked up when read instead of stored (see `sqlite/audit.rs`);
-- - `audit_by_path` no longer repeats `seq`: SQLite appends the rowid (= seq) to every index.
-- Empty strings stand for "none" in `audit_callers` (no id, address or user agent is ever empty)
-- so that its UNIQUE key can be used by lookups (NULLs are distinct in a UNIQUE constraint).
CREATE TABLE audit_callers (
    id              INTEGER PRIMARY KEY,
    actor_id        TEXT NOT NULL,
    credential_id   TEXT NOT NULL,
    actor_type      TEXT NOT NULL,
    actor_tenant_id TEXT NOT NULL,
    partner_id      TEXT NOT NULL,
    client_ip       TEXT NOT NULL,
    user_agent      TEXT NOT NULL,
    UNIQUE (actor_id, credential_id, actor_type, actor_tenant_id, partner_id, client_ip, user_agent)
);

INSERT INTO audit_callers (actor_id, credential_id, actor_type, actor_tenant_id, partner_id,
                           client_ip, user_agent)
SELECT DISTINCT actor_id, COALESCE(credential_id, ''), actor_type, COALESCE(actor_tenant_id, ''),
       COALESCE(partner_id, ''), COALESCE(client_ip, ''), COALESCE(user_agent, '')
FROM audit_log;

CREATE TABLE audit_log_compact (
    seq           INTEGER PRIMARY KEY,
    entry_id      TEXT NOT NULL,
    chain         TEXT NOT NULL,
    chain_seq     INTEGER NOT NULL,
    occurred_at   INTEGER NOT NULL,
    request_id    TEXT NOT NULL,
    caller        INTEGER NOT NULL REFERENCES audit_callers (id),
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_path TEXT,
    version       INTEGER,
    outcome       TEXT NOT NULL,
    error_code    TEXT,
    hash          BLOB NOT NULL,
    UNIQUE (chain, chain_seq)
);

INSERT INTO audit_log_compact (seq, entry_id, chain, chain_seq, occurred_at, request_id, caller,
                               action, resource_type, resource_path, version, outcome, error_code,
                               hash)
SELECT l.seq, l.entry_id, l.chain, l.chain_seq, l.occurred_at, l.request_id, c.id, l.action,
       l.resource_type, l.resource_path, l.version, l.outcome, l.error_code, l.hash
FROM audit_log l
JOIN audit_callers c
  ON c.actor_id = l.actor_id AND c.credential_id = COALESCE(l.credential_id, '')
 AND c.actor_type = l.actor_type AND c.actor_tenant_id = COALESCE(l.actor_tenant_id, '')
 AND c.partner_id = COALESCE(l.partner_id, '') AND c.client_ip = COALESCE(l.client_ip, '')
 AND c.user_agent = COALESCE(l.user_agent, '');

DROP TABLE audit_log;
ALTER TABLE audit_log_compact RENAME TO audit_log;
CREATE INDEX audit_by_path ON audit_log (chain, resource_path);
