-- The event outbox, written in the same transaction as the change that caused it.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    path        TEXT,
    occurred_at INTEGER NOT NULL,
    data        TEXT NOT NULL
);

CREATE INDEX events_by_tenant ON events (tenant_id, seq);

CREATE TABLE subscriptions (
    id                     TEXT PRIMARY KEY,
    tenant_id              TEXT NOT NULL,
    name                   TEXT NOT NULL,
    paths                  TEXT NOT NULL,
    event_types            TEXT NOT NULL,
    tenants                TEXT NOT NULL,
    webhook_url            TEXT,
    webhook_secret_key_id  TEXT,
    webhook_secret         BLOB,
    owner_identity         TEXT NOT NULL,
    owner_groups           TEXT NOT NULL,
    owner_is_admin         INTEGER NOT NULL,
    owner_is_partner_admin INTEGER NOT NULL,
    created_at             INTEGER NOT NULL,
    start_seq              INTEGER NOT NULL,
    delivered_seq          INTEGER NOT NULL,
    attempts               INTEGER NOT NULL DEFAULT 0,
    next_attempt_at        INTEGER,
    last_error             TEXT
) WITHOUT ROWID;

CREATE INDEX subscriptions_by_tenant ON subscriptions (tenant_id, id);

CREATE TABLE dead_letters (
    subscription_id TEXT NOT NULL,
    event_seq       INTEGER NOT NULL,
    event_id        TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    failed_at       INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, event_seq)
) WITHOUT ROWID;
