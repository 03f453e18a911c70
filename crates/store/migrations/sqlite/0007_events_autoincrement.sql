-- The outbox is pruned (events no subscription needs, delivered events past the replay
-- window). A plain INTEGER PRIMARY KEY would hand out the pruned seqs again once the newest
-- rows are gone, and poll cursors held by clients would skip the new events: AUTOINCREMENT
-- never reuses a seq. The table is rebuilt with the same columns, rows and index.
CREATE TABLE events_new (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    path        TEXT,
    occurred_at INTEGER NOT NULL,
    data        TEXT NOT NULL
);

INSERT INTO events_new (seq, id, tenant_id, event_type, path, occurred_at, data)
    SELECT seq, id, tenant_id, event_type, path, occurred_at, data FROM events;

DROP TABLE events;

ALTER TABLE events_new RENAME TO events;

CREATE INDEX events_by_tenant ON events (tenant_id, seq);
