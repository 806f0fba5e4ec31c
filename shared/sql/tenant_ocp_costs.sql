-- Cost-model costs of OpenShift usage; {schema} as in tenant.sql. Written by
-- update_cost_model_costs, which replaces a source's date range in one transaction.
-- One row per UTC day, cluster, node, namespace, pod (or PVC or VM), cost kind,
-- metric and rate type. cost_kind:
--   cpu, memory, storage, node, cluster, pvc, vm: a tiered rate of that metric;
--   tag: a tag-based rate; markup: the markup (negative: discount) of a cost row;
--   *_distributed: a share of an overhead pool moved to a user project (positive)
--   or taken from its source namespace (negative, the source's own cost).
-- metric is the rate's metric name; NULL on the positive distributed rows.
-- Source buckets use Koku's namespaces: Platform unallocated, Worker unallocated,
-- Storage unattributed, Network unattributed.
CREATE TABLE IF NOT EXISTS {schema}.reporting_ocp_cost_daily (
    uuid uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_uuid uuid NOT NULL,
    cost_model_uuid uuid,
    usage_start date NOT NULL,
    cluster_id text NOT NULL,
    data_source text NOT NULL CHECK (data_source IN ('Pod', 'Storage', 'VM', 'GPU')),
    node text,
    namespace text NOT NULL,
    pod text,
    persistentvolumeclaim text,
    vm_name text,
    cost_kind text NOT NULL CHECK (cost_kind IN (
        'cpu', 'memory', 'storage', 'node', 'cluster', 'pvc', 'vm', 'tag', 'markup',
        'platform_distributed', 'worker_distributed',
        'storage_unattributed_distributed', 'network_unattributed_distributed'
    )),
    metric text,
    rate_type text NOT NULL CHECK (rate_type IN ('Infrastructure', 'Supplementary')),
    cost numeric(38, 15) NOT NULL,
    currency text NOT NULL
);

CREATE INDEX IF NOT EXISTS reporting_ocp_cost_daily_source_day
    ON {schema}.reporting_ocp_cost_daily (source_uuid, usage_start);
