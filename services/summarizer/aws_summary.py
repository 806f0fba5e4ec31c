"""Build AWS daily summary rows from the line items of one manifest, with DuckDB."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from shared.engines import load_query

__all__ = ["SUMMARY_COLUMNS", "summarize_aws_files"]

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
    "line_item_type",
    "unit",
    "currency_code",
    "tags",
    "usage_amount",
    "unblended_cost",
    "blended_cost",
    "savingsplan_effective_cost",
    "line_item_count",
)


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
        conn.execute(
            "CREATE TEMP VIEW aws_line_items AS SELECT * FROM"
            f" read_parquet([{paths}], hive_partitioning = false)"
        )
        query = load_query("services.summarizer.sql", "aws_daily_summary.sql")
        return conn.execute(query, [start, end]).fetchall()
    finally:
        conn.close()
