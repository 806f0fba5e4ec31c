-- OpenShift Virtualization usage to one row per UTC day, node, namespace and VM.
-- Parameters: first usage day, last usage day (both inclusive).
SELECT
    'VM' AS data_source,
    usage_date AS usage_start,
    usage_date AS usage_end,
    namespace,
    coalesce(NULLIF(node, ''), 'unknown') AS node,
    max(resource_id) AS resource_id,
    vm_name,
    coalesce(max(vm_labels), '{}') AS labels,
    sum(coalesce(vm_uptime_total_seconds, 0)) / 3600 AS vm_uptime_hours,
    sum(coalesce(vm_cpu_request_core_seconds, 0)) / 3600 AS vm_cpu_request_core_hours,
    sum(coalesce(vm_memory_request_byte_seconds, 0)) / 3600 / 1073741824
        AS vm_memory_request_gigabyte_hours,
    count(*) AS line_item_count
FROM vm_usage
WHERE usage_date BETWEEN ? AND ?
GROUP BY usage_date, namespace, coalesce(NULLIF(node, ''), 'unknown'), vm_name
