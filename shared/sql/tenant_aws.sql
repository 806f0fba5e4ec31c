-- AWS tables of one tenant; {schema} as in tenant.sql.
CREATE TABLE IF NOT EXISTS {schema}.reporting_awscostentrylineitem_daily_summary (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    manifest_id bigint,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    usage_account_id text,
    product_code text,
    product_family text,
    region text,
    availability_zone text,
    resource_id text,
    line_item_type text,
    unit text,
    usage_amount numeric(38, 18),
    unblended_cost numeric(38, 18) NOT NULL,
    blended_cost numeric(38, 18),
    savingsplan_effective_cost numeric(38, 18),
    currency_code text,
    tags jsonb NOT NULL DEFAULT '{}'::jsonb,
    line_item_count bigint NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_awscostentrylineitem_daily_summary_source_day
    ON {schema}.reporting_awscostentrylineitem_daily_summary (source_uuid, usage_start);
