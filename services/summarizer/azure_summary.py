"""Build Azure daily summary rows from the line items of one export run, with DuckDB."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from shared.engines import export_daily_summary, run_daily_summary

__all__ = [
    "SUMMARY_COLUMNS",
    "UI_REFRESH_SQL",
    "export_azure_summary",
    "summarize_azure_files",
]

# Columns of reporting_azurecostentrylineitem_daily_summary that the query fills,
# in the query's order.
SUMMARY_COLUMNS = (
    "usage_start",
    "usage_end",
    "subscription_guid",
    "subscription_name",
    "resource_location",
    "service_name",
    "meter_id",
    "instance_type",
    "unit_of_measure",
    "currency",
    "tags",
    "usage_quantity",
    "pretax_cost",
    "instance_ids",
    "instance_count",
    "line_item_count",
)

# PostgreSQL statements that rebuild the Azure UI tables from the daily summary.
UI_REFRESH_SQL = (
    "azure_ui_cost_summary.sql",
    "azure_ui_by_account.sql",
    "azure_ui_by_location.sql",
    "azure_ui_by_service.sql",
    "azure_ui_by_tag.sql",
)


def summarize_azure_files(
    files: Sequence[Path],
    start: date,
    end: date,
    *,
    memory_limit: str = "512MB",
    threads: int = 2,
) -> list[tuple[Any, ...]]:
    """Return summary rows for usage days ``start`` to ``end`` (inclusive)."""
    return run_daily_summary(
        files,
        "azure_line_items",
        "azure_daily_summary.sql",
        start,
        end,
        memory_limit=memory_limit,
        threads=threads,
    )


def export_azure_summary(
    files: Sequence[Path],
    start: date,
    end: date,
    target: Path,
    *,
    leading: Sequence[Any] = (),
    memory_limit: str = "512MB",
    threads: int = 2,
) -> int:
    """Write the summary rows of ``start`` to ``end`` to ``target`` as CSV for COPY."""
    return export_daily_summary(
        files,
        "azure_line_items",
        "azure_daily_summary.sql",
        start,
        end,
        target,
        leading=leading,
        memory_limit=memory_limit,
        threads=threads,
    )
