-- AWS line items to one row per usage day and cost dimension.
-- Written once in DuckDB's dialect; shared.engines turns it into Trino's.
-- Parameters: first usage day, last usage day (both inclusive).
-- usage_amount leaves out SavingsPlanNegation lines, which restate covered usage.
SELECT
    usage_date AS usage_start,
    usage_date AS usage_end,
    usage_account_id,
    product_code,
    product_family,
    region,
    availability_zone,
    resource_id,
    line_item_type,
    unit,
    currency_code,
    tags,
    SUM(CASE WHEN line_item_type = 'SavingsPlanNegation' THEN 0 ELSE usage_amount END)
        AS usage_amount,
    SUM(unblended_cost) AS unblended_cost,
    SUM(blended_cost) AS blended_cost,
    SUM(savingsplan_effective_cost) AS savingsplan_effective_cost,
    COUNT(*) AS line_item_count
FROM aws_line_items
WHERE usage_date BETWEEN ? AND ?
GROUP BY
    usage_date,
    usage_account_id,
    product_code,
    product_family,
    region,
    availability_zone,
    resource_id,
    line_item_type,
    unit,
    currency_code,
    tags
