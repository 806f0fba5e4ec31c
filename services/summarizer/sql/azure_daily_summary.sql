-- Azure line items to one row per usage day, subscription, location, service, meter,
-- instance type, unit, currency and tag set.
-- Written once in DuckDB's dialect; shared.engines turns it into Trino's.
-- Parameters: first usage day, last usage day (both inclusive).
-- usage_quantity is in the canonical unit: the converter already multiplied the
-- reported quantity by the block size of units such as "10 Hours".
-- The sums run in two steps, per resource and then per row, because one grouping
-- per resource yields the distinct ids far faster than list(DISTINCT ...) does.
WITH per_resource AS (
    SELECT
        usage_date,
        usage_account_id,
        coalesce(subscription_name, usage_account_id) AS subscription_name,
        region,
        service_name,
        meter_id,
        instance_type,
        unit,
        currency_code,
        tags,
        resource_id,
        SUM(usage_amount) AS usage_amount,
        SUM(cost) AS cost,
        COUNT(*) AS line_item_count
    FROM azure_line_items
    WHERE usage_date BETWEEN ? AND ?
    GROUP BY
        usage_date,
        usage_account_id,
        coalesce(subscription_name, usage_account_id),
        region,
        service_name,
        meter_id,
        instance_type,
        unit,
        currency_code,
        tags,
        resource_id
)
SELECT
    usage_date AS usage_start,
    usage_date AS usage_end,
    usage_account_id AS subscription_guid,
    subscription_name,
    region AS resource_location,
    service_name,
    meter_id,
    instance_type,
    unit AS unit_of_measure,
    currency_code AS currency,
    tags,
    SUM(usage_amount) AS usage_quantity,
    SUM(cost) AS pretax_cost,
    coalesce(list_sort(list(resource_id) FILTER (WHERE resource_id IS NOT NULL)), [])
        AS instance_ids,
    COUNT(resource_id) AS instance_count,
    SUM(line_item_count) AS line_item_count
FROM per_resource
GROUP BY
    usage_date,
    usage_account_id,
    subscription_name,
    region,
    service_name,
    meter_id,
    instance_type,
    unit,
    currency_code,
    tags
