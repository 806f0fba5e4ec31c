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

-- Columns added after the first release; tenants created before keep working.
-- calculated_amortized_cost follows services/downloader/aws/amortized_cost.sql.
ALTER TABLE {schema}.reporting_awscostentrylineitem_daily_summary
    ADD COLUMN IF NOT EXISTS instance_type text,
    ADD COLUMN IF NOT EXISTS charge_category text,
    ADD COLUMN IF NOT EXISTS usage_date_missing boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS cost_category jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS calculated_amortized_cost numeric(38, 18),
    ADD COLUMN IF NOT EXISTS net_unblended_cost numeric(38, 18),
    ADD COLUMN IF NOT EXISTS public_on_demand_cost numeric(38, 18),
    ADD COLUMN IF NOT EXISTS resource_ids text[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS resource_count integer NOT NULL DEFAULT 0;

-- Rows were once kept per resource; they now list their resources in resource_ids.
-- The next summary of a range rewrites its rows, so the old column can go.
ALTER TABLE {schema}.reporting_awscostentrylineitem_daily_summary
    DROP COLUMN IF EXISTS resource_id;

-- UI tables that a cost UI reads, rebuilt from the daily summary for each summarised
-- range by services/summarizer/sql/aws_ui_*.sql. Named as Koku's; they are not
-- partitioned here.
CREATE TABLE IF NOT EXISTS {schema}.reporting_aws_cost_summary_by_account_p (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    usage_account_id text,
    charge_category text,
    currency_code text,
    unblended_cost numeric(38, 18) NOT NULL,
    blended_cost numeric(38, 18),
    savingsplan_effective_cost numeric(38, 18),
    calculated_amortized_cost numeric(38, 18),
    net_unblended_cost numeric(38, 18)
);

CREATE INDEX IF NOT EXISTS reporting_aws_cost_summary_by_account_p_source_day
    ON {schema}.reporting_aws_cost_summary_by_account_p (source_uuid, usage_start);

CREATE TABLE IF NOT EXISTS {schema}.reporting_aws_cost_summary_by_service_p (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    usage_account_id text,
    product_code text,
    product_family text,
    currency_code text,
    unblended_cost numeric(38, 18) NOT NULL,
    blended_cost numeric(38, 18),
    savingsplan_effective_cost numeric(38, 18),
    calculated_amortized_cost numeric(38, 18),
    net_unblended_cost numeric(38, 18)
);

CREATE INDEX IF NOT EXISTS reporting_aws_cost_summary_by_service_p_source_day
    ON {schema}.reporting_aws_cost_summary_by_service_p (source_uuid, usage_start);

CREATE TABLE IF NOT EXISTS {schema}.reporting_aws_cost_summary_by_region_p (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    usage_account_id text,
    region text,
    availability_zone text,
    currency_code text,
    unblended_cost numeric(38, 18) NOT NULL,
    blended_cost numeric(38, 18),
    savingsplan_effective_cost numeric(38, 18),
    calculated_amortized_cost numeric(38, 18),
    net_unblended_cost numeric(38, 18)
);

CREATE INDEX IF NOT EXISTS reporting_aws_cost_summary_by_region_p_source_day
    ON {schema}.reporting_aws_cost_summary_by_region_p (source_uuid, usage_start);

-- One row per day, account and tag key/value. A line item with two tags counts in
-- two rows, so this table's costs do not add up to the day's total.
CREATE TABLE IF NOT EXISTS {schema}.reporting_aws_cost_summary_by_tag_p (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    usage_account_id text,
    tag_key text NOT NULL,
    tag_value text NOT NULL,
    currency_code text,
    unblended_cost numeric(38, 18) NOT NULL,
    blended_cost numeric(38, 18),
    savingsplan_effective_cost numeric(38, 18),
    calculated_amortized_cost numeric(38, 18),
    net_unblended_cost numeric(38, 18)
);

CREATE INDEX IF NOT EXISTS reporting_aws_cost_summary_by_tag_p_source_day
    ON {schema}.reporting_aws_cost_summary_by_tag_p (source_uuid, usage_start);
