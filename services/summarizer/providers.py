"""The provider types the summarizer can summarise: table, columns and query of each.

A provider type plugs in with a :class:`SummarySpec`: the daily summary table in the
tenant schema, the columns the query fills in order, and a function that runs the
query over the downloaded line-item Parquet files for a range of usage days.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from services.summarizer.aws_summary import (
    SUMMARY_COLUMNS,
    UI_REFRESH_SQL,
    export_aws_summary,
    summarize_aws_files,
)
from services.summarizer.azure_summary import SUMMARY_COLUMNS as AZURE_SUMMARY_COLUMNS
from services.summarizer.azure_summary import UI_REFRESH_SQL as AZURE_UI_REFRESH_SQL
from services.summarizer.azure_summary import (
    export_azure_summary,
    summarize_azure_files,
)
from services.summarizer.gcp_summary import SUMMARY_COLUMNS as GCP_SUMMARY_COLUMNS
from services.summarizer.gcp_summary import UI_REFRESH_SQL as GCP_UI_REFRESH_SQL
from services.summarizer.gcp_summary import summarize_gcp_files

__all__ = ["SUMMARIES", "SummarySpec", "summary_for"]


@dataclass(frozen=True)
class SummarySpec:
    """The daily summary of one provider type: its table, columns and query."""

    table: str
    columns: tuple[str, ...]
    summarize: Callable[..., list[tuple[Any, ...]]]
    # PostgreSQL statements (file names in services/summarizer/sql) that rebuild the
    # UI tables from the daily summary in the same transaction. Each gets {schema}
    # replaced by the quoted tenant schema and binds $1 source uuid, $2 first day,
    # $3 last day.
    refresh_sql: tuple[str, ...] = ()
    # Writes the rows straight to a CSV file for COPY instead of returning them,
    # after the values given as ``leading``; None keeps the rows in Python.
    # NOTE: GCP merges its credit objects in Python, so it has no export yet.
    export: Callable[..., int] | None = None

    def run(
        self,
        files: Sequence[Path],
        start: date,
        end: date,
        memory_limit: str,
        threads: int,
    ) -> list[tuple[Any, ...]]:
        return self.summarize(
            files, start, end, memory_limit=memory_limit, threads=threads
        )


SUMMARIES: dict[str, SummarySpec] = {
    "AWS": SummarySpec(
        table="reporting_awscostentrylineitem_daily_summary",
        columns=SUMMARY_COLUMNS,
        summarize=summarize_aws_files,
        refresh_sql=UI_REFRESH_SQL,
        export=export_aws_summary,
    ),
    "Azure": SummarySpec(
        table="reporting_azurecostentrylineitem_daily_summary",
        columns=AZURE_SUMMARY_COLUMNS,
        summarize=summarize_azure_files,
        refresh_sql=AZURE_UI_REFRESH_SQL,
        export=export_azure_summary,
    ),
    "GCP": SummarySpec(
        table="reporting_gcpcostentrylineitem_daily_summary",
        columns=GCP_SUMMARY_COLUMNS,
        summarize=summarize_gcp_files,
        refresh_sql=GCP_UI_REFRESH_SQL,
    ),
}


def summary_for(provider_type: str) -> SummarySpec | None:
    """Return the summary of a provider type; ``-local`` types share their cloud's."""
    return SUMMARIES.get(provider_type.removesuffix("-local"))
