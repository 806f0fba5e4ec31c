-- OpenShift pod usage to one row per UTC day, node, namespace, pod and label set.
-- Written once in DuckDB's dialect; shared.engines turns it into Trino's.
-- Parameters: first usage day, last usage day (both inclusive).
-- Effective usage is max(usage, request) per interval, summed over the day.
-- A row with an empty node keeps its usage under node 'unknown' but adds no capacity.
-- Node capacity is counted once per node and interval, not once per pod.
WITH pod AS (
    SELECT
        usage_date,
        interval_start,
        coalesce(NULLIF(node, ''), 'unknown') AS node,
        NULLIF(node, '') IS NULL AS node_missing,
        namespace,
        pod,
        resource_id,
        node_role,
        coalesce(pod_labels, '{}') AS pod_labels,
        coalesce(pod_usage_cpu_core_seconds, 0) AS usage_cpu,
        coalesce(pod_request_cpu_core_seconds, 0) AS request_cpu,
        coalesce(pod_limit_cpu_core_seconds, 0) AS limit_cpu,
        coalesce(pod_usage_memory_byte_seconds, 0) AS usage_memory,
        coalesce(pod_request_memory_byte_seconds, 0) AS request_memory,
        coalesce(pod_limit_memory_byte_seconds, 0) AS limit_memory,
        node_capacity_cpu_cores,
        node_capacity_cpu_core_seconds,
        node_capacity_memory_bytes,
        node_capacity_memory_byte_seconds
    FROM pod_usage
    WHERE usage_date BETWEEN ? AND ?
),
node_interval AS (
    SELECT
        usage_date,
        node,
        interval_start,
        max(node_capacity_cpu_cores) AS cpu_cores,
        max(node_capacity_cpu_core_seconds) AS cpu_core_seconds,
        max(node_capacity_memory_bytes) AS memory_bytes,
        max(node_capacity_memory_byte_seconds) AS memory_byte_seconds
    FROM pod
    WHERE NOT node_missing
    GROUP BY usage_date, node, interval_start
),
node_day AS (
    SELECT
        usage_date,
        node,
        max(cpu_cores) AS node_capacity_cpu_cores,
        sum(cpu_core_seconds) / 3600 AS node_capacity_cpu_core_hours,
        max(memory_bytes) / 1073741824 AS node_capacity_memory_gigabytes,
        sum(memory_byte_seconds) / 3600 / 1073741824 AS node_capacity_memory_gigabyte_hours
    FROM node_interval
    GROUP BY usage_date, node
),
cluster_day AS (
    SELECT
        usage_date,
        sum(node_capacity_cpu_core_hours) AS cluster_capacity_cpu_core_hours,
        sum(node_capacity_memory_gigabyte_hours) AS cluster_capacity_memory_gigabyte_hours
    FROM node_day
    GROUP BY usage_date
),
node_label_day AS (
    SELECT usage_date, node, max(node_labels) AS node_labels
    FROM node_labels
    GROUP BY usage_date, node
),
namespace_label_day AS (
    SELECT usage_date, namespace, max(namespace_labels) AS namespace_labels
    FROM namespace_labels
    GROUP BY usage_date, namespace
),
pod_day AS (
    SELECT
        usage_date,
        node,
        namespace,
        pod,
        pod_labels,
        max(resource_id) AS resource_id,
        max(node_role) AS node_role,
        sum(usage_cpu) / 3600 AS pod_usage_cpu_core_hours,
        sum(request_cpu) / 3600 AS pod_request_cpu_core_hours,
        sum(limit_cpu) / 3600 AS pod_limit_cpu_core_hours,
        sum(greatest(usage_cpu, request_cpu)) / 3600 AS pod_effective_usage_cpu_core_hours,
        sum(usage_memory) / 3600 / 1073741824 AS pod_usage_memory_gigabyte_hours,
        sum(request_memory) / 3600 / 1073741824 AS pod_request_memory_gigabyte_hours,
        sum(limit_memory) / 3600 / 1073741824 AS pod_limit_memory_gigabyte_hours,
        sum(greatest(usage_memory, request_memory)) / 3600 / 1073741824
            AS pod_effective_usage_memory_gigabyte_hours,
        count(*) AS line_item_count
    FROM pod
    GROUP BY usage_date, node, namespace, pod, pod_labels
)
SELECT
    'Pod' AS data_source,
    p.usage_date AS usage_start,
    p.usage_date AS usage_end,
    p.namespace,
    p.node,
    p.pod,
    p.resource_id,
    p.node_role,
    json_merge_patch(
        json_merge_patch(coalesce(nl.node_labels, '{}'), coalesce(sl.namespace_labels, '{}')),
        p.pod_labels
    ) AS labels,
    p.pod_usage_cpu_core_hours,
    p.pod_request_cpu_core_hours,
    p.pod_limit_cpu_core_hours,
    p.pod_effective_usage_cpu_core_hours,
    p.pod_usage_memory_gigabyte_hours,
    p.pod_request_memory_gigabyte_hours,
    p.pod_limit_memory_gigabyte_hours,
    p.pod_effective_usage_memory_gigabyte_hours,
    n.node_capacity_cpu_cores,
    n.node_capacity_cpu_core_hours,
    n.node_capacity_memory_gigabytes,
    n.node_capacity_memory_gigabyte_hours,
    c.cluster_capacity_cpu_core_hours,
    c.cluster_capacity_memory_gigabyte_hours,
    p.line_item_count
FROM pod_day AS p
LEFT JOIN node_day AS n ON n.usage_date = p.usage_date AND n.node = p.node
LEFT JOIN cluster_day AS c ON c.usage_date = p.usage_date
LEFT JOIN node_label_day AS nl ON nl.usage_date = p.usage_date AND nl.node = p.node
LEFT JOIN namespace_label_day AS sl ON sl.usage_date = p.usage_date AND sl.namespace = p.namespace
