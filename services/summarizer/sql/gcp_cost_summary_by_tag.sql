-- Rebuild {schema}.reporting_gcp_cost_summary_by_tag_p from the GCP daily summary for one source and range of days.
-- One statement, so it runs as one prepared statement: the CTE deletes the range's
-- old rows and the INSERT adds the new ones (it does not see the deleted rows).
-- Binds: $1 source uuid, $2 first usage day, $3 last usage day (inclusive).
WITH removed AS (
    DELETE FROM {schema}.reporting_gcp_cost_summary_by_tag_p
    WHERE source_uuid = $1 AND usage_start BETWEEN $2 AND $3
)
INSERT INTO {schema}.reporting_gcp_cost_summary_by_tag_p (
    source_uuid, usage_start, usage_end, invoice_month, account_id, project_id, tag_key, tag_value, currency,
    unblended_cost, credit_amount, cost_after_credits
)
SELECT
    source_uuid, usage_start, usage_end, invoice_month, account_id, project_id, tag.key, tag.value, currency,
    SUM(unblended_cost), SUM(credit_amount), SUM(cost_after_credits)
FROM {schema}.reporting_gcpcostentrylineitem_daily_summary
    CROSS JOIN LATERAL jsonb_each_text(tags) AS tag (key, value)
WHERE source_uuid = $1 AND usage_start BETWEEN $2 AND $3
GROUP BY source_uuid, usage_start, usage_end, invoice_month, account_id, project_id, tag.key, tag.value, currency
