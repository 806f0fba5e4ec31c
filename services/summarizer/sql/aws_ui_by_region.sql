-- Rebuild reporting_aws_cost_summary_by_region_p (one row per day, account, region, availability zone and currency)
-- from the daily summary, for one source and range of days.
-- PostgreSQL; {schema} is the quoted tenant schema; $1 source uuid, $2 first day,
-- $3 last day (inclusive). The data-modifying CTE deletes the range's old rows in the
-- same statement: both parts see the snapshot taken before it, so the insert never
-- meets the rows being deleted.
WITH removed AS (
    DELETE FROM {schema}.reporting_aws_cost_summary_by_region_p
    WHERE source_uuid = $1 AND usage_start BETWEEN $2 AND $3
)
INSERT INTO {schema}.reporting_aws_cost_summary_by_region_p (
    source_uuid, usage_start, usage_end, usage_account_id, region, availability_zone, currency_code,
    unblended_cost, blended_cost, savingsplan_effective_cost,
    calculated_amortized_cost, net_unblended_cost
)
SELECT
    summary.source_uuid,
    summary.usage_start,
    summary.usage_start,
    summary.usage_account_id,
    summary.region,
    summary.availability_zone,
    summary.currency_code,
    SUM(summary.unblended_cost),
    SUM(summary.blended_cost),
    SUM(summary.savingsplan_effective_cost),
    SUM(summary.calculated_amortized_cost),
    SUM(summary.net_unblended_cost)
FROM {schema}.reporting_awscostentrylineitem_daily_summary AS summary
WHERE summary.source_uuid = $1 AND summary.usage_start BETWEEN $2 AND $3
GROUP BY summary.source_uuid, summary.usage_start, summary.usage_account_id, summary.region, summary.availability_zone, summary.currency_code
