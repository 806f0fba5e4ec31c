"""Helpers of the AWS unit tests: fixture paths, Parquet dialect writers and read-back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from services.downloader.aws.cur import ConversionResult, convert_cur_report

FIXTURES = Path(__file__).parent / "fixtures" / "aws"
ACCOUNT = "012345678901"


def convert(path: Path, out_dir: Path, period: date) -> ConversionResult:
    return convert_cur_report(path, path.name, out_dir, period)


def canonical_rows(result: ConversionResult) -> list[dict[str, Any]]:
    """Every canonical line item that a conversion wrote, with its usage day, sorted."""
    rows: list[dict[str, Any]] = []
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        for path in result.day_files.values():
            cursor = conn.execute("SELECT * FROM read_parquet(?)", [str(path)])
            names = [column[0] for column in cursor.description]
            rows += [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return sorted(rows, key=repr)


def write_athena_q01(path: Path) -> Path:
    """Q-01's row as legacy CUR Parquet from the Athena integration (snake case, doubles)."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    table = pa.table(
        {
            "identity_time_interval": ["2025-01-01T00:00:00Z/2025-01-01T01:00:00Z"],
            "line_item_usage_account_id": [ACCOUNT],
            "line_item_line_item_type": ["Usage"],
            "line_item_usage_start_date": pa.array([start], pa.timestamp("ms")),
            "line_item_product_code": ["AmazonEC2"],
            "line_item_unblended_cost": pa.array([0.10], pa.float64()),
            "product_region": ["us-east-1"],
            "resource_tags_user_team": ["platform"],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def write_cur2_q01(path: Path, *, extra_tags: dict[str, str] | None = None) -> Path:
    """Q-01's row as CUR 2.0 Parquet: product attributes and tags in map columns."""
    tags = {"user_team": "platform", **(extra_tags or {})}
    string_map = pa.map_(pa.string(), pa.string())
    table = pa.table(
        {
            "identity_time_interval": ["2025-01-01T00:00:00Z/2025-01-01T01:00:00Z"],
            "line_item_usage_account_id": [ACCOUNT],
            "line_item_line_item_type": ["Usage"],
            "line_item_usage_start_date": pa.array(
                [datetime(2025, 1, 1, tzinfo=UTC)], pa.timestamp("ms", tz="UTC")
            ),
            "line_item_product_code": ["AmazonEC2"],
            "line_item_unblended_cost": pa.array([0.10], pa.float64()),
            "product": pa.array([list({"region": "us-east-1"}.items())], string_map),
            "resource_tags": pa.array([list(tags.items())], string_map),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path
