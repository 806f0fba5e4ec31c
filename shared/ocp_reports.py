"""The six OpenShift report types the koku-metrics-operator writes, by their columns.

Shared by the downloader, which detects and converts report files, and the
summarizer, which reads the converted Parquet and needs each type's columns even
when a payload has no file of that type.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REPORT_TYPES", "ReportType", "report_type"]


@dataclass(frozen=True)
class ReportType:
    """One operator report: required, optional, metric and label columns."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


_PERIOD = ("report_period_start", "report_period_end", "interval_start", "interval_end")

REPORT_TYPES = (
    ReportType(
        "pod_usage",
        required=(
            *_PERIOD,
            "node",
            "namespace",
            "pod",
            "pod_usage_cpu_core_seconds",
            "pod_request_cpu_core_seconds",
            "pod_limit_cpu_core_seconds",
            "pod_usage_memory_byte_seconds",
            "pod_request_memory_byte_seconds",
            "pod_limit_memory_byte_seconds",
            "node_capacity_cpu_cores",
            "node_capacity_cpu_core_seconds",
            "node_capacity_memory_bytes",
            "node_capacity_memory_byte_seconds",
        ),
        optional=("resource_id", "node_role", "pod_labels"),
        metrics=(
            "pod_usage_cpu_core_seconds",
            "pod_request_cpu_core_seconds",
            "pod_limit_cpu_core_seconds",
            "pod_usage_memory_byte_seconds",
            "pod_request_memory_byte_seconds",
            "pod_limit_memory_byte_seconds",
            "node_capacity_cpu_cores",
            "node_capacity_cpu_core_seconds",
            "node_capacity_memory_bytes",
            "node_capacity_memory_byte_seconds",
        ),
        labels=("pod_labels",),
    ),
    ReportType(
        "storage_usage",
        required=(
            *_PERIOD,
            "namespace",
            "pod",
            "persistentvolumeclaim",
            "persistentvolume",
            "storageclass",
            "persistentvolumeclaim_capacity_bytes",
            "persistentvolumeclaim_capacity_byte_seconds",
            "volume_request_storage_byte_seconds",
            "persistentvolumeclaim_usage_byte_seconds",
        ),
        optional=(
            "node",
            "csi_driver",
            "csi_volume_handle",
            "persistentvolume_labels",
            "persistentvolumeclaim_labels",
        ),
        metrics=(
            "persistentvolumeclaim_capacity_bytes",
            "persistentvolumeclaim_capacity_byte_seconds",
            "volume_request_storage_byte_seconds",
            "persistentvolumeclaim_usage_byte_seconds",
        ),
        labels=("persistentvolume_labels", "persistentvolumeclaim_labels"),
    ),
    ReportType(
        "node_labels",
        required=(*_PERIOD, "node", "node_labels"),
        labels=("node_labels",),
    ),
    ReportType(
        "namespace_labels",
        required=(*_PERIOD, "namespace", "namespace_labels"),
        labels=("namespace_labels",),
    ),
    ReportType(
        "vm_usage",
        required=(
            *_PERIOD,
            "node",
            "namespace",
            "vm_name",
            "vm_uptime_total_seconds",
            "vm_cpu_request_core_seconds",
            "vm_memory_request_byte_seconds",
        ),
        optional=(
            "resource_id",
            "vm_instance_type",
            "vm_os",
            "vm_cpu_limit_core_seconds",
            "vm_cpu_usage_total_seconds",
            "vm_memory_limit_byte_seconds",
            "vm_memory_usage_byte_seconds",
            "vm_persistentvolumeclaim_name",
            "vm_disk_allocated_size_byte_seconds",
            "vm_labels",
        ),
        metrics=(
            "vm_uptime_total_seconds",
            "vm_cpu_request_core_seconds",
            "vm_memory_request_byte_seconds",
            "vm_cpu_limit_core_seconds",
            "vm_cpu_usage_total_seconds",
            "vm_memory_limit_byte_seconds",
            "vm_memory_usage_byte_seconds",
            "vm_disk_allocated_size_byte_seconds",
        ),
        labels=("vm_labels",),
    ),
    ReportType(
        "gpu_usage",
        required=(
            *_PERIOD,
            "node",
            "namespace",
            "pod",
            "gpu_uuid",
            "gpu_model_name",
            "gpu_vendor_name",
            "gpu_memory_capacity_mib",
            "gpu_pod_uptime",
        ),
        optional=(
            "gpu_pod_utilization",
            "gpu_max_slices",
            "mig_instance_id",
            "mig_profile",
            "mig_strategy",
        ),
        metrics=("gpu_memory_capacity_mib", "gpu_pod_uptime"),
    ),
)


def report_type(name: str) -> ReportType:
    """Return the report type called ``name``."""
    for kind in REPORT_TYPES:
        if kind.name == name:
            return kind
    raise KeyError(name)
