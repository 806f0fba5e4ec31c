-- AWS line items to one row per usage day and cost dimension.
-- Written once in DuckDB's dialect; shared.engines turns it into Trino's.
-- Parameters: first usage day, last usage day (both inclusive).
-- usage_amount leaves out SavingsPlanNegation lines, which restate covered usage.
-- calculated_amortized_cost sums each line's amortized_cost, which the converter
-- computes by the rule in services/downloader/aws/amortized_cost.sql.
-- usage_date_missing groups apart the lines that had no usage start and were put
-- on the billing period's first day.
-- Resources are not a group key, as in Koku's table: each row lists its distinct
-- resource ids, so one row stands for every resource of the same dimensions.
-- The sums run in two steps, per resource and then per row, because one grouping
-- per resource yields the distinct ids far faster than list(DISTINCT ...) does.
WITH per_resource AS (
    SELECT
        usage_date,
        usage_account_id,
        product_code,
        product_family,
        region,
        availability_zone,
        instance_type,
        line_item_type,
        charge_category,
        usage_date_missing,
        unit,
        currency_code,
        tags,
        cost_category,
        resource_id,
        SUM(CASE WHEN line_item_type = 'SavingsPlanNegation' THEN 0 ELSE usage_amount END)
            AS usage_amount,
        SUM(unblended_cost) AS unblended_cost,
        SUM(blended_cost) AS blended_cost,
        SUM(savingsplan_effective_cost) AS savingsplan_effective_cost,
        SUM(amortized_cost) AS amortized_cost,
        SUM(net_unblended_cost) AS net_unblended_cost,
        SUM(public_on_demand_cost) AS public_on_demand_cost,
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
        instance_type,
        line_item_type,
        charge_category,
        usage_date_missing,
        unit,
        currency_code,
        tags,
        cost_category,
        resource_id
)
SELECT
    usage_date AS usage_start,
    usage_date AS usage_end,
    usage_account_id,
    product_code,
    product_family,
    region,
    availability_zone,
    instance_type,
    line_item_type,
    charge_category,
    usage_date_missing,
    unit,
    currency_code,
    tags,
    cost_category,
    coalesce(list_sort(list(resource_id) FILTER (WHERE resource_id IS NOT NULL)), [])
        AS resource_ids,
    COUNT(resource_id) AS resource_count,
    SUM(usage_amount) AS usage_amount,
    SUM(unblended_cost) AS unblended_cost,
    SUM(blended_cost) AS blended_cost,
    SUM(savingsplan_effective_cost) AS savingsplan_effective_cost,
    SUM(amortized_cost) AS calculated_amortized_cost,
    SUM(net_unblended_cost) AS net_unblended_cost,
    SUM(public_on_demand_cost) AS public_on_demand_cost,
    SUM(line_item_count) AS line_item_count
FROM per_resource
GROUP BY
    usage_date,
    usage_account_id,
    product_code,
    product_family,
    region,
    availability_zone,
    instance_type,
    line_item_type,
    charge_category,
    usage_date_missing,
    unit,
    currency_code,
    tags,
    cost_category
