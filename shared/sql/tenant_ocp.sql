-- OpenShift usage of one tenant; {schema} as in tenant.sql.
-- One row per UTC day and
--   data_source 'Pod':     cluster, node, namespace, pod;
--   data_source 'Storage': cluster, namespace, pod, persistent volume claim;
--   data_source 'VM':      cluster, node, namespace, VM;
--   data_source 'GPU':     cluster, node, namespace, pod, GPU.
-- Units are in the names: core-hours, gigabyte-hours (2^30 bytes), gigabyte-months
-- (byte-seconds / 3600 / 24 / days in the month / 2^30). Effective usage is the
-- larger of usage and request, per interval. Capacities are the node's (or the
-- cluster's, summed over nodes) for the day; a row with an empty node adds none.
CREATE TABLE IF NOT EXISTS {schema}.reporting_ocpusagelineitem_daily_summary (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    manifest_id bigint,
    cluster_id text NOT NULL,
    data_source text NOT NULL CHECK (data_source IN ('Pod', 'Storage', 'VM', 'GPU')),
    usage_start date NOT NULL,
    usage_end date NOT NULL,
    namespace text,
    node text,
    pod text,
    resource_id text,
    node_role text,
    -- Pod (or volume) labels merged with the node's and the namespace's; on a key
    -- clash the most specific wins: pod over namespace over node.
    labels jsonb NOT NULL DEFAULT '{}'::jsonb,
    pod_usage_cpu_core_hours numeric(38, 18),
    pod_request_cpu_core_hours numeric(38, 18),
    pod_limit_cpu_core_hours numeric(38, 18),
    pod_effective_usage_cpu_core_hours numeric(38, 18),
    pod_usage_memory_gigabyte_hours numeric(38, 18),
    pod_request_memory_gigabyte_hours numeric(38, 18),
    pod_limit_memory_gigabyte_hours numeric(38, 18),
    pod_effective_usage_memory_gigabyte_hours numeric(38, 18),
    node_capacity_cpu_cores numeric(38, 18),
    node_capacity_cpu_core_hours numeric(38, 18),
    node_capacity_memory_gigabytes numeric(38, 18),
    node_capacity_memory_gigabyte_hours numeric(38, 18),
    cluster_capacity_cpu_core_hours numeric(38, 18),
    cluster_capacity_memory_gigabyte_hours numeric(38, 18),
    persistentvolumeclaim text,
    persistentvolume text,
    storageclass text,
    csi_volume_handle text,
    persistentvolumeclaim_capacity_gigabyte numeric(38, 18),
    persistentvolumeclaim_capacity_gigabyte_months numeric(38, 18),
    volume_request_storage_gigabyte_months numeric(38, 18),
    persistentvolumeclaim_usage_gigabyte_months numeric(38, 18),
    vm_name text,
    vm_uptime_hours numeric(38, 18),
    vm_cpu_request_core_hours numeric(38, 18),
    vm_memory_request_gigabyte_hours numeric(38, 18),
    gpu_uuid text,
    gpu_model_name text,
    gpu_vendor_name text,
    gpu_memory_capacity_mib numeric(38, 18),
    gpu_uptime_hours numeric(38, 18),
    line_item_count bigint NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS reporting_ocpusagelineitem_daily_summary_source_day
    ON {schema}.reporting_ocpusagelineitem_daily_summary (source_uuid, usage_start);
