-- OpenShift GPU usage to one row per UTC day, node, namespace, pod and GPU.
-- Parameters: first usage day, last usage day (both inclusive).
-- The operator names NVIDIA's vendor nvidia_com_gpu; it is stored as nvidia.
SELECT
    'GPU' AS data_source,
    usage_date AS usage_start,
    usage_date AS usage_end,
    namespace,
    coalesce(NULLIF(node, ''), 'unknown') AS node,
    pod,
    gpu_uuid,
    max(gpu_model_name) AS gpu_model_name,
    max(CASE WHEN gpu_vendor_name = 'nvidia_com_gpu' THEN 'nvidia' ELSE gpu_vendor_name END)
        AS gpu_vendor_name,
    max(gpu_memory_capacity_mib) AS gpu_memory_capacity_mib,
    sum(coalesce(gpu_pod_uptime, 0)) / 3600 AS gpu_uptime_hours,
    count(*) AS line_item_count
FROM gpu_usage
WHERE usage_date BETWEEN ? AND ?
GROUP BY usage_date, namespace, coalesce(NULLIF(node, ''), 'unknown'), pod, gpu_uuid
