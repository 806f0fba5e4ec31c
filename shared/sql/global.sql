-- Tables shared by all tenants. Every statement is idempotent: services apply this
-- file at start, one at a time under an advisory lock.
CREATE SCHEMA IF NOT EXISTS costpipe;

CREATE TABLE IF NOT EXISTS costpipe.tenants (
    schema_name text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS costpipe.providers (
    uuid uuid PRIMARY KEY,
    name text NOT NULL,
    type text NOT NULL,
    schema_name text NOT NULL REFERENCES costpipe.tenants (schema_name),
    billing_source jsonb NOT NULL,
    active boolean NOT NULL DEFAULT true,
    setup_complete boolean NOT NULL DEFAULT false,
    polling_timestamp timestamptz,
    data_updated_timestamp timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per report delivery (an AWS assembly id). state contains per-step
-- timestamps: {"download": {"start":..., "end":...}, "summary": {...}}.
CREATE TABLE IF NOT EXISTS costpipe.manifests (
    id bigserial PRIMARY KEY,
    provider_uuid uuid NOT NULL REFERENCES costpipe.providers (uuid) ON DELETE CASCADE,
    assembly_id text NOT NULL,
    billing_period_start date NOT NULL,
    num_total_files integer NOT NULL,
    state jsonb NOT NULL DEFAULT '{}'::jsonb,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'downloaded', 'complete', 'failed')),
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    UNIQUE (provider_uuid, assembly_id)
);

CREATE TABLE IF NOT EXISTS costpipe.report_files (
    manifest_id bigint NOT NULL REFERENCES costpipe.manifests (id) ON DELETE CASCADE,
    report_name text NOT NULL,
    status text NOT NULL DEFAULT 'downloading'
        CHECK (status IN ('downloading', 'processing', 'done', 'failed')),
    failed_status text,
    etag text,
    row_count bigint,
    first_day date,
    last_day date,
    error text,
    started_at timestamptz,
    completed_at timestamptz,
    PRIMARY KEY (manifest_id, report_name)
);

-- Inbox: an event id is recorded in the same transaction as its handler's effects.
-- followups contains the events the handler emitted, re-sent when a duplicate arrives
-- after a crash between commit and produce.
CREATE TABLE IF NOT EXISTS costpipe.processed_events (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    task text NOT NULL,
    followups jsonb NOT NULL DEFAULT '[]'::jsonb,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE IF NOT EXISTS costpipe.dead_letters (
    id bigserial PRIMARY KEY,
    event_id uuid,
    task text,
    service text NOT NULL,
    topic text NOT NULL,
    partition integer,
    "offset" bigint,
    reason text NOT NULL,
    error text NOT NULL,
    event text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Record of truth for the task-lock state table.
CREATE TABLE IF NOT EXISTS costpipe.task_locks (
    lock_key text PRIMARY KEY,
    holder uuid NOT NULL,
    expires_at timestamptz NOT NULL
);

-- Warnings about a source's reports that do not stop processing, such as absent
-- optional columns: a JSON array of objects, one per distinct warning "key".
ALTER TABLE costpipe.providers ADD COLUMN IF NOT EXISTS warnings jsonb NOT NULL DEFAULT '[]'::jsonb;
