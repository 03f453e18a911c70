-- Rotation: value-generation policies (sp_), rotation policies (rot_), the schedule of every
-- secret a rotation policy is attached to, and the history of rotation runs.
CREATE TABLE secret_policies (
    tenant_id   TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    secret_type TEXT NOT NULL,
    -- JSON array of {name, generator, config}
    fields      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE rotation_policies (
    tenant_id      TEXT COLLATE "C" NOT NULL,
    id             TEXT COLLATE "C" NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT,
    interval_secs  BIGINT NOT NULL,
    grace_secs     BIGINT NOT NULL,
    -- JSON array of seconds before the due time, largest first
    warn_before    TEXT NOT NULL,
    auto_generate  BOOLEAN NOT NULL,
    -- optional cron-style window (minute hour day-of-month month day-of-week), UTC
    rotation_window TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);

-- One row per secret with a rotation policy: when it rotates next, which warning is next.
CREATE TABLE rotation_schedules (
    tenant_id        TEXT COLLATE "C" NOT NULL,
    path             TEXT COLLATE "C" NOT NULL,
    policy_id        TEXT COLLATE "C" NOT NULL,
    -- scheduled | awaiting_value | retrying
    state            TEXT NOT NULL,
    next_rotation_at BIGINT NOT NULL,
    next_warning_at  BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_rotated_at  BIGINT,
    last_error       TEXT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, path)
);

-- The scheduler's scans across tenants (`due_rotations` leaves out schedules awaiting a value,
-- which would otherwise pile up at the front of the index), and a tenant's listing (optionally
-- of one policy) in (next_rotation_at, path) order, which also serves deleting a policy's rows.
CREATE INDEX rotation_schedules_due ON rotation_schedules (next_rotation_at, path, tenant_id)
    WHERE state <> 'awaiting_value';
CREATE INDEX rotation_schedules_warning ON rotation_schedules (next_warning_at, path, tenant_id)
    WHERE next_warning_at IS NOT NULL;
CREATE INDEX rotation_schedules_by_tenant ON rotation_schedules (tenant_id, next_rotation_at, path);
CREATE INDEX rotation_schedules_by_policy
    ON rotation_schedules (tenant_id, policy_id, next_rotation_at, path);

CREATE TABLE rotation_runs (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT COLLATE "C" NOT NULL UNIQUE,
    tenant_id    TEXT COLLATE "C" NOT NULL,
    policy_id    TEXT COLLATE "C",
    path         TEXT COLLATE "C" NOT NULL,
    -- schedule | trigger | manual
    trigger      TEXT NOT NULL,
    -- running | awaiting_value | succeeded | failed
    status       TEXT NOT NULL,
    attempt      BIGINT NOT NULL,
    old_version  BIGINT,
    new_version  BIGINT,
    error        TEXT,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT
);

-- A tenant's history newest first (all of it, or one policy's, or one path's), and the open
-- runs of every tenant oldest first (`open_rotation_runs` repeats the index's IN condition
-- verbatim, so the planner may use the partial index whatever status it binds).
CREATE INDEX rotation_runs_by_tenant ON rotation_runs (tenant_id, seq);
CREATE INDEX rotation_runs_by_policy ON rotation_runs (tenant_id, policy_id, seq);
CREATE INDEX rotation_runs_by_path ON rotation_runs (tenant_id, path, seq);
CREATE INDEX rotation_runs_open ON rotation_runs (status, seq)
    WHERE status IN ('running', 'awaiting_value');

-- Secrets with a rotation policy: detaching a deleted policy from its secrets, and finding
-- secrets whose schedule is missing (`unscheduled_rotations`).
CREATE INDEX secrets_by_rotation_policy ON secrets (tenant_id, rotation_policy_id)
    WHERE rotation_policy_id IS NOT NULL;
