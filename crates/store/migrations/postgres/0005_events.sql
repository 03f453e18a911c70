-- The event outbox, written in the same transaction as the change that caused it, and the
-- subscriptions that read it (the same shape as the SQLite schema).
--
-- `seq` is the poll and delivery cursor (an identity column). With several nodes, transactions
-- may commit out of `seq` order, so `events_after` only reads up to a high-water mark below
-- which every inserting transaction has finished (see src/postgres/events.rs). That mark is the
-- sequence's last value, which is exact only with CACHE 1 (no values preallocated per session):
-- keep it so.
CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME events_seq CACHE 1)
                PRIMARY KEY,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    tenant_id   TEXT COLLATE "C" NOT NULL,
    event_type  TEXT NOT NULL,
    path        TEXT COLLATE "C",
    occurred_at BIGINT NOT NULL,
    data        TEXT NOT NULL
);

CREATE INDEX events_by_tenant ON events (tenant_id, seq);

-- Path globs, event types, tenants and owner groups are TEXT[]. The webhook signing secret is
-- stored sealed by the keyring (key id + ciphertext), both set or both NULL.
CREATE TABLE subscriptions (
    id                     TEXT COLLATE "C" PRIMARY KEY,
    tenant_id              TEXT COLLATE "C" NOT NULL,
    name                   TEXT NOT NULL,
    paths                  TEXT[] NOT NULL,
    event_types            TEXT[] NOT NULL,
    tenants                TEXT[] NOT NULL,
    webhook_url            TEXT,
    webhook_secret_key_id  TEXT,
    webhook_secret         BYTEA,
    owner_identity         TEXT NOT NULL,
    owner_groups           TEXT[] NOT NULL,
    owner_is_admin         BOOLEAN NOT NULL,
    owner_is_partner_admin BOOLEAN NOT NULL,
    created_at             BIGINT NOT NULL,
    start_seq              BIGINT NOT NULL,
    delivered_seq          BIGINT NOT NULL,
    attempts               BIGINT NOT NULL DEFAULT 0,
    next_attempt_at        BIGINT,
    last_error             TEXT
);

CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant_id, id);

CREATE TABLE dead_letters (
    subscription_id TEXT COLLATE "C" NOT NULL,
    event_seq       BIGINT NOT NULL,
    event_id        TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    last_error      TEXT NOT NULL,
    failed_at       BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, event_seq)
);

-- Expiry notices look across tenants for live secrets expiring in a window, soonest first.
CREATE INDEX secrets_expiring ON secrets (expires_at)
    WHERE expires_at IS NOT NULL AND deleted_at IS NULL;
