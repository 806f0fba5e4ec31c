-- GCP tables of one tenant; {schema} as in tenant.sql.
-- Rows are by usage day (usage_start = usage_end); invoice_month (YYYYMM) is the
-- month GCP bills the row to, which for cross-over rows differs from the usage
-- month. cost_after_credits = unblended_cost + credit_amount (credits are negative).
CREATE TABLE IF NOT EXISTS {schema}.reporting_gcpcostentrylineitem_daily_summary (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    manifest_id bigint,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    invoice_month text NOT NULL,
    account_id text NOT NULL,
    project_id text NOT NULL,
    project_name text,
    service_id text,
    service_alias text,
    sku_id text,
    sku_alias text,
    region text,
    instance_type text,
    unit text,
    line_item_type text,
    currency text,
    tags jsonb NOT NULL DEFAULT '{}'::jsonb,
    usage_amount numeric(38, 18),
    unblended_cost numeric(38, 18) NOT NULL,
    credit_amount numeric(38, 18) NOT NULL,
    cost_after_credits numeric(38, 18) NOT NULL,
    -- credit type (PROMOTION, SUSTAINED_USAGE_DISCOUNT, ...) -> summed amount
    credits jsonb NOT NULL DEFAULT '{}'::jsonb,
    line_item_count bigint NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_gcpcostentrylineitem_daily_summary_source_day
    ON {schema}.reporting_gcpcostentrylineitem_daily_summary (source_uuid, usage_start);

-- UI tables, rebuilt from the daily summary for each summarised range of days.
CREATE TABLE IF NOT EXISTS {schema}.reporting_gcp_cost_summary_p (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    invoice_month text NOT NULL,
    currency text,
    unblended_cost numeric(38, 18) NOT NULL,
    credit_amount numeric(38, 18) NOT NULL,
    cost_after_credits numeric(38, 18) NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.reporting_gcp_cost_summary_by_project_p (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    invoice_month text NOT NULL,
    account_id text NOT NULL,
    project_id text NOT NULL,
    project_name text,
    currency text,
    unblended_cost numeric(38, 18) NOT NULL,
    credit_amount numeric(38, 18) NOT NULL,
    cost_after_credits numeric(38, 18) NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.reporting_gcp_cost_summary_by_service_p (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    invoice_month text NOT NULL,
    account_id text NOT NULL,
    service_id text,
    service_alias text,
    currency text,
    unblended_cost numeric(38, 18) NOT NULL,
    credit_amount numeric(38, 18) NOT NULL,
    cost_after_credits numeric(38, 18) NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.reporting_gcp_cost_summary_by_region_p (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    invoice_month text NOT NULL,
    account_id text NOT NULL,
    region text,
    currency text,
    unblended_cost numeric(38, 18) NOT NULL,
    credit_amount numeric(38, 18) NOT NULL,
    cost_after_credits numeric(38, 18) NOT NULL
);

-- One row per label key and value: a line with two labels counts under both keys,
-- so totals add up per key, not across keys.
CREATE TABLE IF NOT EXISTS {schema}.reporting_gcp_cost_summary_by_tag_p (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    invoice_month text NOT NULL,
    account_id text NOT NULL,
    project_id text NOT NULL,
    tag_key text NOT NULL,
    tag_value text NOT NULL,
    currency text,
    unblended_cost numeric(38, 18) NOT NULL,
    credit_amount numeric(38, 18) NOT NULL,
    cost_after_credits numeric(38, 18) NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_gcp_cost_summary_p_source_day
    ON {schema}.reporting_gcp_cost_summary_p (source_uuid, usage_start);
CREATE INDEX IF NOT EXISTS reporting_gcp_cost_summary_by_project_p_source_day
    ON {schema}.reporting_gcp_cost_summary_by_project_p (source_uuid, usage_start);
CREATE INDEX IF NOT EXISTS reporting_gcp_cost_summary_by_service_p_source_day
    ON {schema}.reporting_gcp_cost_summary_by_service_p (source_uuid, usage_start);
CREATE INDEX IF NOT EXISTS reporting_gcp_cost_summary_by_region_p_source_day
    ON {schema}.reporting_gcp_cost_summary_by_region_p (source_uuid, usage_start);
CREATE INDEX IF NOT EXISTS reporting_gcp_cost_summary_by_tag_p_source_day
    ON {schema}.reporting_gcp_cost_summary_by_tag_p (source_uuid, usage_start);
