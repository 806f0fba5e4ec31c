"""The provider types the downloader can ingest, and how each is discovered and converted.

A provider type plugs in with a ``poll`` coroutine (find deliveries, then call
``queue_manifest_files``) and a ``convert`` function (one plain report file to one
Parquet file per usage day). Types without an entry are skipped by the report check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from services.downloader.aws.cur import ConversionResult, convert_cur_report
from services.downloader.aws.discovery import poll_aws_provider
from services.downloader.azure.convert import convert_azure_report
from services.downloader.azure.discovery import poll_azure_provider
from services.downloader.gcp.discovery import poll_gcp_provider
from services.downloader.gcp.export import convert_gcp_export
from shared.catalogue import ReportContext
from shared.providers import Provider
from shared.runtime import TaskContext
from shared.settings import Settings

__all__ = ["INGESTS", "ProviderIngest", "ingest_for"]


@dataclass(frozen=True)
class ProviderIngest:
    """Discovery and conversion of one provider type."""

    poll: Callable[[TaskContext, Provider], Awaitable[None]]
    convert: Callable[[Path, str, Path, ReportContext, Settings], ConversionResult]


def _convert_aws(
    path: Path, name: str, out_dir: Path, context: ReportContext, settings: Settings
) -> ConversionResult:
    return convert_cur_report(
        path,
        name,
        out_dir,
        context.billing_period_start,
        memory_limit=settings.DUCKDB_MEMORY_LIMIT,
        threads=settings.DUCKDB_THREADS,
    )


def _convert_gcp(
    path: Path, name: str, out_dir: Path, context: ReportContext, settings: Settings
) -> ConversionResult:
    # The manifest's billing period is the export file set's invoice month.
    return convert_gcp_export(path, name, out_dir, context.billing_period_start)


INGESTS: dict[str, ProviderIngest] = {
    "AWS": ProviderIngest(poll=poll_aws_provider, convert=_convert_aws),
    "Azure": ProviderIngest(poll=poll_azure_provider, convert=convert_azure_report),
    "GCP": ProviderIngest(poll=poll_gcp_provider, convert=_convert_gcp),
}


def ingest_for(provider_type: str) -> ProviderIngest | None:
    """Return the ingest of a provider type; ``-local`` types share their cloud's."""
    return INGESTS.get(provider_type.removesuffix("-local"))
