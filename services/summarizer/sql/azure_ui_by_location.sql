-- Rebuild reporting_azure_cost_summary_by_location_p (one row per day, subscription, location and currency)
-- from the Azure daily summary, for one source and range of days.
-- PostgreSQL; {schema} is the quoted tenant schema; $1 source uuid, $2 first day,
-- $3 last day (inclusive). The data-modifying CTE deletes the range's old rows in the
-- same statement: both parts see the snapshot taken before it, so the insert never
-- meets the rows being deleted.
WITH removed AS (
    DELETE FROM {schema}.reporting_azure_cost_summary_by_location_p
    WHERE source_uuid = $1 AND usage_start BETWEEN $2 AND $3
)
INSERT INTO {schema}.reporting_azure_cost_summary_by_location_p (
    source_uuid, usage_start, usage_end, subscription_guid, resource_location, currency, pretax_cost
)
SELECT
    summary.source_uuid,
    summary.usage_start,
    summary.usage_start,
    summary.subscription_guid,
    summary.resource_location,
    summary.currency,
    SUM(summary.pretax_cost)
FROM {schema}.reporting_azurecostentrylineitem_daily_summary AS summary
WHERE summary.source_uuid = $1 AND summary.usage_start BETWEEN $2 AND $3
GROUP BY summary.source_uuid, summary.usage_start, summary.subscription_guid, summary.resource_location, summary.currency
