"""Build AWS daily summary rows from the line items of one manifest, with DuckDB."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from shared.engines import (
    duckdb_session,
    export_daily_summary,
    parquet_files,
    run_daily_summary,
)

__all__ = [
    "SUMMARY_COLUMNS",
    "UI_REFRESH_SQL",
    "export_aws_summary",
    "summarize_aws_files",
]

# Columns of reporting_awscostentrylineitem_daily_summary that the query fills,
# in the query's order.
SUMMARY_COLUMNS = (
    "usage_start",
    "usage_end",
    "usage_account_id",
    "product_code",
    "product_family",
    "region",
    "availability_zone",
    "instance_type",
    "line_item_type",
    "charge_category",
    "usage_date_missing",
    "unit",
    "currency_code",
    "tags",
    "cost_category",
    "resource_ids",
    "resource_count",
    "usage_amount",
    "unblended_cost",
    "blended_cost",
    "savingsplan_effective_cost",
    "calculated_amortized_cost",
    "net_unblended_cost",
    "public_on_demand_cost",
    "line_item_count",
)

# PostgreSQL files in services/summarizer/sql that rebuild the UI tables.
UI_REFRESH_SQL = (
    "aws_ui_by_account.sql",
    "aws_ui_by_service.sql",
    "aws_ui_by_region.sql",
    "aws_ui_by_tag.sql",
)

# Line-item columns that day files written before they were added lack, with the
# value such a file stands for. Amortised and net cost stay unknown (NULL).
_LATER_COLUMNS = {
    "instance_type": "CAST(NULL AS VARCHAR)",
    "charge_category": "CAST(NULL AS VARCHAR)",
    "usage_date_missing": "false",
    "cost_category": "'{}'",
    "amortized_cost": "CAST(NULL AS DECIMAL(38, 18))",
    "net_unblended_cost": "CAST(NULL AS DECIMAL(38, 18))",
    "public_on_demand_cost": "CAST(NULL AS DECIMAL(38, 18))",
}


def _view_select(files: Sequence[Path], memory_limit: str, threads: int) -> str:
    """Return the line-item view's select list, adding the columns older files lack."""
    with duckdb_session(memory_limit, threads) as conn:
        described = conn.execute(
            f"DESCRIBE SELECT * FROM {parquet_files(files, union_by_name=True)}"
        ).fetchall()
    present = {row[0] for row in described}
    added = "".join(
        f", {value} AS {name}"
        for name, value in _LATER_COLUMNS.items()
        if name not in present
    )
    return f"SELECT *{added}"


def summarize_aws_files(
    files: Sequence[Path],
    start: date,
    end: date,
    *,
    memory_limit: str = "512MB",
    threads: int = 2,
) -> list[tuple[Any, ...]]:
    """Return summary rows for usage days ``start`` to ``end`` (inclusive)."""
    if not files:
        return []
    return run_daily_summary(
        files,
        "aws_line_items",
        "aws_daily_summary.sql",
        start,
        end,
        view_select=_view_select(files, memory_limit, threads),
        memory_limit=memory_limit,
        threads=threads,
    )


def export_aws_summary(
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
    if not files:
        target.write_bytes(b"")
        return 0
    return export_daily_summary(
        files,
        "aws_line_items",
        "aws_daily_summary.sql",
        start,
        end,
        target,
        leading=leading,
        view_select=_view_select(files, memory_limit, threads),
        memory_limit=memory_limit,
        threads=threads,
    )
