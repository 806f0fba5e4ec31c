-- Cost models and their assignment to sources; applied after global.sql, so every
-- statement is idempotent.
CREATE TABLE IF NOT EXISTS costpipe.cost_models (
    uuid uuid PRIMARY KEY,
    name text NOT NULL,
    source_type text NOT NULL,
    -- The validated request body without source_uuids (services/costmodel/models.py).
    definition jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A source belongs to at most one cost model, as in Koku.
CREATE TABLE IF NOT EXISTS costpipe.cost_model_sources (
    provider_uuid uuid PRIMARY KEY REFERENCES costpipe.providers (uuid) ON DELETE CASCADE,
    cost_model_uuid uuid NOT NULL REFERENCES costpipe.cost_models (uuid) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS cost_model_sources_model
    ON costpipe.cost_model_sources (cost_model_uuid);

-- The OpenShift sources that the latest check_cost_model_status found without a
-- cost model; a check replaces the rows of the sources it covered.
CREATE TABLE IF NOT EXISTS costpipe.sources_without_cost_model (
    provider_uuid uuid PRIMARY KEY REFERENCES costpipe.providers (uuid) ON DELETE CASCADE,
    schema_name text NOT NULL,
    event_id uuid NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT now()
);
