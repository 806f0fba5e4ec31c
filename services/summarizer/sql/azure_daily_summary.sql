-- Azure line items to one row per usage day, subscription, location, service, meter,
-- instance type, unit, currency and tag set.
-- Written once in DuckDB's dialect; shared.engines turns it into Trino's.
-- Parameters: first usage day, last usage day (both inclusive).
-- usage_quantity is in the canonical unit: the converter already multiplied the
-- reported quantity by the block size of units such as "10 Hours".
SELECT
    usage_date AS usage_start,
    usage_date AS usage_end,
    usage_account_id AS subscription_guid,
    coalesce(subscription_name, usage_account_id) AS subscription_name,
    region AS resource_location,
    service_name,
    meter_id,
    instance_type,
    unit AS unit_of_measure,
    currency_code AS currency,
    tags,
    SUM(usage_amount) AS usage_quantity,
    SUM(cost) AS pretax_cost,
    coalesce(list_sort(list(DISTINCT resource_id) FILTER (WHERE resource_id IS NOT NULL)), [])
        AS instance_ids,
    COUNT(DISTINCT resource_id) AS instance_count,
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
    tags
