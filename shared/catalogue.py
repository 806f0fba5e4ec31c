"""Every Koku Celery task as one typed event, one queue class and one owning service.

Payload fields keep the parameter names of Koku's task signatures, so a reader who
knows ``masu.processor.tasks.update_summary_tables`` finds ``schema``, ``start_date``
and ``manifest_id`` here under the same names.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from shared.events import Payload
from shared.identifiers import SchemaName
from shared.topics import QueueClass

__all__ = ["CATALOGUE", "TaskSpec", "spec_for"]

# Koku's tasks name a parameter ``schema``, which shadows pydantic's deprecated
# BaseModel.schema() classmethod; the field keeps Koku's name.
warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)

ProviderType = Literal[
    "AWS", "AWS-local", "Azure", "Azure-local", "GCP", "GCP-local", "OCP", "OCI"
]


@dataclass(frozen=True)
class TaskSpec:
    """One Koku task: its event payload, queue class and owning service."""

    name: str
    payload: type[Payload]
    queue: QueueClass
    service: str


# --- Report processing -------------------------------------------------------------


class CheckReportUpdates(Payload):
    """Poll every due cloud provider for new report deliveries."""

    provider_uuid: UUID | None = Field(None, description="Poll only this provider.")


class ReportContext(Payload):
    """One report file of a manifest, as the downloader hands it around."""

    manifest_id: int
    assembly_id: str
    file_key: str = Field(description="Object key of the report file in the bucket.")
    num_total_files: int = Field(ge=1)
    billing_period_start: date
    start: date | None = None
    end: date | None = None
    report_type: str | None = Field(
        None, description="Report kind, where a provider has several."
    )
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Provider-specific context."
    )


class GetReportFiles(Payload):
    customer_name: str
    authentication: dict[str, Any] = Field(default_factory=dict)
    billing_source: dict[str, Any]
    provider_type: ProviderType
    schema_name: SchemaName
    provider_uuid: UUID
    report_month: date
    report_context: ReportContext
    tracing_id: str
    ingress_reports: list[str] | None = None
    ingress_reports_uuid: UUID | None = None


class ReportToSummarize(Payload):
    """A processed report: which provider and days changed."""

    schema_name: SchemaName
    provider_type: ProviderType
    provider_uuid: UUID
    manifest_id: int
    start: date
    end: date
    invoice_month: str | None = None


class SummarizeReports(Payload):
    reports_to_summarize: list[ReportToSummarize]
    queue_name: str | None = None
    manifest_list: list[int] = Field(default_factory=list)
    ingress_report_uuid: UUID | None = None


class UpdateSummaryTables(Payload):
    schema: SchemaName  # type: ignore[assignment]  # Koku's parameter name
    provider_type: ProviderType
    provider_uuid: UUID
    start_date: date
    end_date: date | None = None
    manifest_id: int | None = None
    ingress_report_uuid: UUID | None = None
    queue_name: str | None = None
    synchronous: bool = False
    tracing_id: str | None = None
    ocp_on_cloud: bool = True
    manifest_list: list[int] = Field(default_factory=list)
    invoice_month: str | None = None


class UpdateAllSummaryTables(Payload):
    start_date: date
    end_date: date | None = None


class UpdateOpenshiftOnCloud(Payload):
    schema_name: SchemaName
    openshift_provider_uuid: UUID
    infrastructure_provider_uuid: UUID
    infrastructure_provider_type: ProviderType
    start_date: date
    end_date: date
    manifest_id: int | None = None
    queue_name: str | None = None
    synchronous: bool = False
    tracing_id: str | None = None


class DeleteOpenshiftOnCloudData(Payload):
    schema_name: SchemaName
    infrastructure_provider_uuid: UUID
    start_date: date
    end_date: date
    table_name: str
    operation: Literal["DELETE_TABLE", "TRUNCATE_TABLE"]
    manifest_id: int | None = None
    tracing_id: str | None = None


# --- Data management ---------------------------------------------------------------


class RemoveExpiredDataForSchema(Payload):
    schema_name: SchemaName
    provider: ProviderType
    simulate: bool = False
    provider_uuid: UUID | None = None
    queue_name: str | None = None


class RemoveExpiredTrinoPartitions(Payload):
    schema_name: SchemaName
    provider_type: ProviderType
    simulate: bool = False


class RemoveExpiredData(Payload):
    simulate: bool = False


class DeleteArchivedData(Payload):
    schema_name: SchemaName
    provider_type: ProviderType
    provider_uuid: UUID


class PurgeTrinoFiles(Payload):
    prefix: str
    schema_name: SchemaName
    provider_type: ProviderType
    provider_uuid: UUID


class PurgeManifestRecords(Payload):
    schema_name: SchemaName
    provider_uuid: UUID
    dates: dict[str, date] = Field(
        description="Either start_date and end_date, or bill_date."
    )


class AutovacuumTuneSchema(Payload):
    schema_name: SchemaName


class NoParameters(Payload):
    """A task that takes no parameters."""


class ValidateDailyData(Payload):
    schema: SchemaName  # type: ignore[assignment]  # Koku's parameter name
    start_date: date
    end_date: date
    provider_uuid: UUID
    ocp_on_cloud_type: ProviderType | None = None
    context: dict[str, Any] = Field(default_factory=dict)


# --- Provider management -----------------------------------------------------------


class MarkManifestComplete(Payload):
    schema: SchemaName  # type: ignore[assignment]  # Koku's parameter name
    provider_type: ProviderType
    provider_uuid: UUID
    ingress_report_uuid: UUID | None = None
    tracing_id: str | None = None
    manifest_list: list[int]


class DeleteProviderAsync(Payload):
    name: str
    provider_uuid: UUID
    schema_name: SchemaName


class SourceId(Payload):
    source_id: int


class UpdateCostModelCosts(Payload):
    schema_name: SchemaName
    provider_uuid: UUID
    start_date: date | None = None
    end_date: date | None = None
    queue_name: str | None = None
    synchronous: bool = False
    tracing_id: str | None = None


class OptionalProvider(Payload):
    provider_uuid: UUID | None = None


# --- HCS ---------------------------------------------------------------------------


class CollectHcsReportDataFromManifest(Payload):
    reports_to_hcs_summarize: list[ReportToSummarize]


class CollectHcsReportData(Payload):
    schema_name: SchemaName
    provider_type: ProviderType
    provider_uuid: UUID
    start_date: date | None = None
    end_date: date | None = None
    tracing_id: str | None = None
    finalize: bool = False


class CollectHcsReportFinalization(Payload):
    month: int | None = Field(None, ge=1, le=12)
    year: int | None = None
    provider_type: ProviderType | None = None
    provider_uuid: UUID | None = None
    schema_name: SchemaName | None = None
    tracing_id: str | None = None


# --- SUBS --------------------------------------------------------------------------


class ExtractSubsDataFromReports(Payload):
    reports_to_extract: list[ReportToSummarize]
    metered: str = ""


class ProcessUploadKeysToSubsMessage(Payload):
    context: dict[str, Any] = Field(default_factory=dict)
    schema_name: SchemaName
    tracing_id: str | None = None
    upload_keys: list[str]


# --- Sources -----------------------------------------------------------------------


class DeleteSource(Payload):
    source_id: int
    auth_header: str | None = None
    koku_uuid: UUID | None = None
    account_number: str | None = None
    org_id: str | None = None


class GetCeleryQueueItems(Payload):
    queue_name: str | None = None
    task_name: str | None = None


_SPECS: list[tuple[str, type[Payload], QueueClass, str]] = [
    # name, payload, queue class, service
    (
        "masu.celery.tasks.check_report_updates",
        CheckReportUpdates,
        QueueClass.DEFAULT,
        "downloader",
    ),
    (
        "masu.processor.tasks.get_report_files",
        GetReportFiles,
        QueueClass.DOWNLOAD,
        "downloader",
    ),
    (
        "masu.processor.tasks.summarize_reports",
        SummarizeReports,
        QueueClass.SUMMARY,
        "summarizer",
    ),
    (
        "masu.processor.tasks.update_summary_tables",
        UpdateSummaryTables,
        QueueClass.SUMMARY,
        "summarizer",
    ),
    (
        "masu.processor.tasks.update_all_summary_tables",
        UpdateAllSummaryTables,
        QueueClass.SUMMARY,
        "summarizer",
    ),
    (
        "masu.processor.tasks.update_openshift_on_cloud",
        UpdateOpenshiftOnCloud,
        QueueClass.SUMMARY,
        "summarizer",
    ),
    (
        "masu.processor.tasks.delete_openshift_on_cloud_data",
        DeleteOpenshiftOnCloudData,
        QueueClass.REFRESH,
        "summarizer",
    ),
    (
        "masu.processor.tasks.mark_manifest_complete",
        MarkManifestComplete,
        QueueClass.PRIORITY,
        "summarizer",
    ),
    (
        "masu.processor.tasks.validate_daily_data",
        ValidateDailyData,
        QueueClass.PRIORITY,
        "summarizer",
    ),
    (
        "masu.processor.tasks.remove_expired_data",
        RemoveExpiredDataForSchema,
        QueueClass.DEFAULT,
        "summarizer",
    ),
    (
        "masu.processor.tasks.remove_expired_trino_partitions",
        RemoveExpiredTrinoPartitions,
        QueueClass.DEFAULT,
        "summarizer",
    ),
    (
        "masu.celery.tasks.remove_expired_data",
        RemoveExpiredData,
        QueueClass.DEFAULT,
        "summarizer",
    ),
    (
        "masu.celery.tasks.delete_archived_data",
        DeleteArchivedData,
        QueueClass.SUMMARY,
        "summarizer",
    ),
    (
        "masu.celery.tasks.purge_trino_files",
        PurgeTrinoFiles,
        QueueClass.DEFAULT,
        "summarizer",
    ),
    (
        "masu.celery.tasks.purge_manifest_records",
        PurgeManifestRecords,
        QueueClass.DEFAULT,
        "summarizer",
    ),
    (
        "masu.processor.tasks.autovacuum_tune_schema",
        AutovacuumTuneSchema,
        QueueClass.DEFAULT,
        "summarizer",
    ),
    (
        "masu.celery.tasks.autovacuum_tune_schemas",
        NoParameters,
        QueueClass.DEFAULT,
        "summarizer",
    ),
    (
        "masu.processor.tasks.remove_stale_tenants",
        NoParameters,
        QueueClass.DEFAULT,
        "sources",
    ),
    (
        "masu.celery.tasks.delete_provider_async",
        DeleteProviderAsync,
        QueueClass.PRIORITY,
        "sources",
    ),
    (
        "masu.celery.tasks.out_of_order_source_delete_async",
        SourceId,
        QueueClass.PRIORITY,
        "sources",
    ),
    (
        "masu.celery.tasks.missing_source_delete_async",
        SourceId,
        QueueClass.PRIORITY,
        "sources",
    ),
    ("sources.tasks.delete_source", DeleteSource, QueueClass.PRIORITY, "sources"),
    ("sources.tasks.delete_source_beat", NoParameters, QueueClass.SUMMARY, "sources"),
    ("sources.tasks.source_status_beat", NoParameters, QueueClass.PRIORITY, "sources"),
    (
        "masu.celery.tasks.check_for_stale_ocp_source",
        OptionalProvider,
        QueueClass.DEFAULT,
        "sources",
    ),
    (
        "masu.processor.tasks.update_cost_model_costs",
        UpdateCostModelCosts,
        QueueClass.COST_MODEL,
        "costmodel",
    ),
    (
        "masu.celery.tasks.check_cost_model_status",
        OptionalProvider,
        QueueClass.DEFAULT,
        "costmodel",
    ),
    (
        "hcs.tasks.collect_hcs_report_data_from_manifest",
        CollectHcsReportDataFromManifest,
        QueueClass.HCS,
        "hcs",
    ),
    ("hcs.tasks.collect_hcs_report_data", CollectHcsReportData, QueueClass.HCS, "hcs"),
    (
        "hcs.tasks.collect_hcs_report_finalization",
        CollectHcsReportFinalization,
        QueueClass.HCS,
        "hcs",
    ),
    (
        "subs.tasks.extract_subs_data_from_reports",
        ExtractSubsDataFromReports,
        QueueClass.SUBS_EXTRACTION,
        "subs",
    ),
    (
        "subs.tasks.process_upload_keys_to_subs_message",
        ProcessUploadKeysToSubsMessage,
        QueueClass.SUBS_TRANSMISSION,
        "subs",
    ),
    (
        "masu.celery.tasks.trigger_delayed_tasks",
        NoParameters,
        QueueClass.DOWNLOAD,
        "scheduler",
    ),
    (
        "masu.celery.tasks.get_daily_currency_rates",
        NoParameters,
        QueueClass.DEFAULT,
        "downloader",
    ),
    (
        "masu.celery.tasks.scrape_azure_storage_capacities",
        NoParameters,
        QueueClass.DEFAULT,
        "downloader",
    ),
    (
        "masu.celery.tasks.crawl_account_hierarchy",
        OptionalProvider,
        QueueClass.DEFAULT,
        "downloader",
    ),
    (
        "masu.celery.tasks.collect_queue_metrics",
        NoParameters,
        QueueClass.DEFAULT,
        "admin",
    ),
    (
        "masu.celery.tasks.get_celery_queue_items",
        GetCeleryQueueItems,
        QueueClass.DEFAULT,
        "admin",
    ),
]

CATALOGUE: dict[str, TaskSpec] = {
    name: TaskSpec(name, payload, queue, service)
    for name, payload, queue, service in _SPECS
}

# "admin" tasks are answered by every service's admin API, not by a consumer.
SERVICES = (
    "scheduler",
    "downloader",
    "summarizer",
    "costmodel",
    "hcs",
    "subs",
    "sources",
    "admin",
)


def spec_for(task: str) -> TaskSpec | None:
    """Return the task's spec, or None for a name Koku does not have."""
    return CATALOGUE.get(task)
