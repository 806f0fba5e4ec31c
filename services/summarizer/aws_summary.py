"""Build AWS daily summary rows from the line items of one manifest, with DuckDB."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from shared.engines import load_query

__all__ = ["SUMMARY_COLUMNS", "UI_REFRESH_SQL", "summarize_aws_files"]

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
    "resource_id",
    "instance_type",
    "line_item_type",
    "charge_category",
    "usage_date_missing",
    "unit",
    "currency_code",
    "tags",
    "cost_category",
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
    conn = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads})
    try:
        conn.execute("SET TimeZone = 'UTC'")
        # Views cannot take parameters; the paths are scratch files this process named.
        paths = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
        reader = (
            f"read_parquet([{paths}], hive_partitioning = false, union_by_name = true)"
        )
        present = {
            row[0]
            for row in conn.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        }
        added = "".join(
            f", {value} AS {name}"
            for name, value in _LATER_COLUMNS.items()
            if name not in present
        )
        conn.execute(
            f"CREATE TEMP VIEW aws_line_items AS SELECT *{added} FROM {reader}"
        )
        query = load_query("services.summarizer.sql", "aws_daily_summary.sql")
        return conn.execute(query, [start, end]).fetchall()
    finally:
        conn.close()
