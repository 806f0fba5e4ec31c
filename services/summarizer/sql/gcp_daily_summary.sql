-- GCP line items to one row per usage day, invoice month and cost dimension.
-- Written once in DuckDB's dialect; shared.engines turns it into Trino's.
-- Parameters: first usage day, last usage day (both inclusive).
-- Rows land on their usage day. invoice_month stays a grouping column, so a day
-- whose lines belong to two invoice months gets a row for each.
-- credit_amount sums every credit of every line (credits are negative), and
-- credits_by_type lists each line's per-type object for the caller to add up.
SELECT
    usage_date AS usage_start,
    usage_date AS usage_end,
    invoice_month,
    billing_account_id AS account_id,
    project_id,
    MAX(project_name) AS project_name,
    service_id,
    MAX(service_description) AS service_alias,
    sku_id,
    MAX(sku_description) AS sku_alias,
    location_region AS region,
    json_extract_string(system_labels, '$."compute.googleapis.com/machine_spec"') AS instance_type,
    MAX(usage_pricing_unit) AS unit,
    cost_type AS line_item_type,
    currency,
    labels AS tags,
    SUM(usage_amount_in_pricing_units) AS usage_amount,
    SUM(cost) AS unblended_cost,
    SUM(credit_amount) AS credit_amount,
    SUM(cost + credit_amount) AS cost_after_credits,
    LIST(credits_by_type) FILTER (WHERE credits_by_type <> '{}') AS credits_by_type,
    COUNT(*) AS line_item_count
FROM gcp_line_items
WHERE usage_date BETWEEN ? AND ?
GROUP BY
    usage_date,
    invoice_month,
    billing_account_id,
    project_id,
    service_id,
    sku_id,
    location_region,
    json_extract_string(system_labels, '$."compute.googleapis.com/machine_spec"'),
    cost_type,
    currency,
    labels
