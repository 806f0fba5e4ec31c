-- Azure tables of one tenant; {schema} as in tenant.sql.
-- The daily summary holds one row per usage day and cost dimension of one source;
-- the UI tables below are rebuilt from it for each summarised range of days.
CREATE TABLE IF NOT EXISTS {schema}.reporting_azurecostentrylineitem_daily_summary (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    manifest_id bigint,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    subscription_guid text NOT NULL,
    subscription_name text,
    resource_location text,
    service_name text,
    meter_id text,
    instance_type text,
    unit_of_measure text,
    currency text NOT NULL,
    tags jsonb NOT NULL DEFAULT '{}'::jsonb,
    usage_quantity numeric(38, 18),
    pretax_cost numeric(38, 18) NOT NULL,
    instance_ids text[] NOT NULL DEFAULT '{}',
    instance_count bigint NOT NULL,
    line_item_count bigint NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_azurecostentrylineitem_daily_summary_source_day
    ON {schema}.reporting_azurecostentrylineitem_daily_summary (source_uuid, usage_start);

-- One row per day and currency of a source.
CREATE TABLE IF NOT EXISTS {schema}.reporting_azure_cost_summary_p (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    currency text NOT NULL,
    pretax_cost numeric(38, 18) NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_azure_cost_summary_p_source_day
    ON {schema}.reporting_azure_cost_summary_p (source_uuid, usage_start);

-- One row per day, subscription and currency.
CREATE TABLE IF NOT EXISTS {schema}.reporting_azure_cost_summary_by_account_p (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    subscription_guid text NOT NULL,
    subscription_name text,
    currency text NOT NULL,
    pretax_cost numeric(38, 18) NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_azure_cost_summary_by_account_p_source_day
    ON {schema}.reporting_azure_cost_summary_by_account_p (source_uuid, usage_start);

-- One row per day, subscription, resource location and currency.
CREATE TABLE IF NOT EXISTS {schema}.reporting_azure_cost_summary_by_location_p (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    subscription_guid text NOT NULL,
    resource_location text,
    currency text NOT NULL,
    pretax_cost numeric(38, 18) NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_azure_cost_summary_by_location_p_source_day
    ON {schema}.reporting_azure_cost_summary_by_location_p (source_uuid, usage_start);

-- One row per day, subscription, service and currency.
CREATE TABLE IF NOT EXISTS {schema}.reporting_azure_cost_summary_by_service_p (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    subscription_guid text NOT NULL,
    service_name text,
    currency text NOT NULL,
    pretax_cost numeric(38, 18) NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_azure_cost_summary_by_service_p_source_day
    ON {schema}.reporting_azure_cost_summary_by_service_p (source_uuid, usage_start);

-- One row per day, subscription, tag key, tag value and currency. A line item
-- with two tags counts in two rows, so this table's costs do not add up to the
-- source total, and untagged cost has no row.
CREATE TABLE IF NOT EXISTS {schema}.reporting_azure_cost_summary_by_tag_p (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    subscription_guid text NOT NULL,
    tag_key text NOT NULL,
    tag_value text NOT NULL,
    currency text NOT NULL,
    pretax_cost numeric(38, 18) NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_azure_cost_summary_by_tag_p_source_day
    ON {schema}.reporting_azure_cost_summary_by_tag_p (source_uuid, usage_start);
