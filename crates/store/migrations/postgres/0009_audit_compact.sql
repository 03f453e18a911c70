-- Smaller audit entries (issue 23); see migrations/sqlite/0008_audit_compact.sql for the why.
-- What an entry records and the bytes its MAC covers are unchanged:
-- - who called is stored once in `audit_callers` and an entry names it by number;
-- - `target_tenant_id` (always = `chain`) and `prev_hash` (= the hash of the chain's previous
--   entry or pruning anchor) are no longer stored; reads look them up (`postgres/audit.rs`).
-- Existing rows keep the dropped columns' bytes until they are rewritten: retention archives them
-- away, or `VACUUM FULL audit_log` reclaims the space at once (it locks the table while it runs).
CREATE TABLE audit_callers (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id        TEXT COLLATE "C" NOT NULL,
    credential_id   TEXT COLLATE "C" NOT NULL,
    actor_type      TEXT COLLATE "C" NOT NULL,
    actor_tenant_id TEXT COLLATE "C" NOT NULL,
    partner_id      TEXT COLLATE "C" NOT NULL,
    client_ip       TEXT COLLATE "C" NOT NULL,
    user_agent      TEXT COLLATE "C" NOT NULL,
    UNIQUE (actor_id, credential_id, actor_type, actor_tenant_id, partner_id, client_ip, user_agent)
);

INSERT INTO audit_callers (actor_id, credential_id, actor_type, actor_tenant_id, partner_id,
                           client_ip, user_agent)
SELECT DISTINCT actor_id, COALESCE(credential_id, ''), actor_type, COALESCE(actor_tenant_id, ''),
       COALESCE(partner_id, ''), COALESCE(client_ip, ''), COALESCE(user_agent, '')
FROM audit_log;

ALTER TABLE audit_log ADD COLUMN caller BIGINT;

UPDATE audit_log l SET caller = c.id
FROM audit_callers c
WHERE c.actor_id = l.actor_id AND c.credential_id = COALESCE(l.credential_id, '')
  AND c.actor_type = l.actor_type AND c.actor_tenant_id = COALESCE(l.actor_tenant_id, '')
  AND c.partner_id = COALESCE(l.partner_id, '') AND c.client_ip = COALESCE(l.client_ip, '')
  AND c.user_agent = COALESCE(l.user_agent, '');

ALTER TABLE audit_log
    ALTER COLUMN caller SET NOT NULL,
    DROP COLUMN actor_id,
    DROP COLUMN actor_type,
    DROP COLUMN actor_tenant_id,
    DROP COLUMN target_tenant_id,
    DROP COLUMN partner_id,
    DROP COLUMN credential_id,
    DROP COLUMN client_ip,
    DROP COLUMN user_agent,
    DROP COLUMN prev_hash;

-- `seq` is already the last column of this index's key; nothing else to trim here: every other
-- index serves a query (audit_by_chain_seq: a tenant's newest entries; audit_by_time: time
-- windows and summaries; the UNIQUE key: appends and verification).
