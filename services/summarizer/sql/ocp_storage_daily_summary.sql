-- OpenShift volume usage to one row per UTC day, namespace, pod and claim.
-- Written once in DuckDB's dialect; shared.engines turns it into Trino's.
-- Parameters: first usage day, last usage day (both inclusive).
-- Byte-seconds become gigabyte-months: / 3600 / 24 / days in the month / 2^30.
WITH volume AS (
    SELECT
        usage_date,
        namespace,
        pod,
        coalesce(NULLIF(node, ''), 'unknown') AS node,
        persistentvolumeclaim,
        persistentvolume,
        storageclass,
        csi_volume_handle,
        json_merge_patch(
            coalesce(persistentvolume_labels, '{}'), coalesce(persistentvolumeclaim_labels, '{}')
        ) AS volume_labels,
        persistentvolumeclaim_capacity_bytes,
        coalesce(persistentvolumeclaim_capacity_byte_seconds, 0) AS capacity_byte_seconds,
        coalesce(volume_request_storage_byte_seconds, 0) AS request_byte_seconds,
        coalesce(persistentvolumeclaim_usage_byte_seconds, 0) AS usage_byte_seconds,
        3600.0 * 24 * day(last_day(usage_date)) * 1073741824 AS byte_seconds_per_gigabyte_month
    FROM storage_usage
    WHERE usage_date BETWEEN ? AND ?
),
namespace_label_day AS (
    SELECT usage_date, namespace, max(namespace_labels) AS namespace_labels
    FROM namespace_labels
    GROUP BY usage_date, namespace
)
SELECT
    'Storage' AS data_source,
    v.usage_date AS usage_start,
    v.usage_date AS usage_end,
    v.namespace,
    max(v.node) AS node,
    v.pod,
    v.persistentvolumeclaim,
    v.persistentvolume,
    v.storageclass,
    max(v.csi_volume_handle) AS csi_volume_handle,
    json_merge_patch(coalesce(max(sl.namespace_labels), '{}'), v.volume_labels) AS labels,
    max(v.persistentvolumeclaim_capacity_bytes) / 1073741824
        AS persistentvolumeclaim_capacity_gigabyte,
    sum(v.capacity_byte_seconds / v.byte_seconds_per_gigabyte_month)
        AS persistentvolumeclaim_capacity_gigabyte_months,
    sum(v.request_byte_seconds / v.byte_seconds_per_gigabyte_month)
        AS volume_request_storage_gigabyte_months,
    sum(v.usage_byte_seconds / v.byte_seconds_per_gigabyte_month)
        AS persistentvolumeclaim_usage_gigabyte_months,
    count(*) AS line_item_count
FROM volume AS v
LEFT JOIN namespace_label_day AS sl ON sl.usage_date = v.usage_date AND sl.namespace = v.namespace
GROUP BY
    v.usage_date,
    v.namespace,
    v.pod,
    v.persistentvolumeclaim,
    v.persistentvolume,
    v.storageclass,
    v.volume_labels
