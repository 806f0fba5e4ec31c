"""A small re-creation of Koku's AWS processing approach, as the benchmark's fixed reference.

This is code written for the benchmark, not Koku's. It follows the approach in four
steps. First pandas reads each report in 200,000-row chunks and appends each chunk's
rows to one CSV per usage day. Then each daily CSV is read again in 200,000-row
chunks, numbers become float64 and usage dates timestamps, and every chunk is written
as one Parquet file. A pandas group-by per day then builds the same daily summary
rows as costpipe, and the rows are copied into PostgreSQL.

Report files are processed in parallel by ``--workers`` processes, as Celery workers
would take one file each, and so are the days of the summary. The input is the gzip
files on local disk, so the baseline skips the S3 download and upload that costpipe
does, which favours the baseline.

Run as ``python -m bench.baseline --files A.csv.gz B.csv.gz --billing-period-start
2026-11-01 --work DIR --database-url URL --run-id ID``. It prints one JSON object:
seconds, stages, rows, summary rows and the largest peak RSS among its processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pandas as pd

from bench.measure import peak_rss_bytes

CHUNK_ROWS = 200_000
TABLE = "bench_baseline.daily_summary"
USAGE_START = "lineItem/UsageStartDate"
LINE_ITEM_TYPE = "lineItem/LineItemType"
TAG_PREFIX = "resourceTags/user:"
# Summary dimensions: (CUR column, summary column), in costpipe's order.
DIMENSIONS = (
    ("lineItem/UsageAccountId", "usage_account_id"),
    ("lineItem/ProductCode", "product_code"),
    ("product/productFamily", "product_family"),
    ("product/region", "region"),
    ("lineItem/AvailabilityZone", "availability_zone"),
    ("lineItem/ResourceId", "resource_id"),
    ("lineItem/LineItemType", "line_item_type"),
    ("pricing/unit", "unit"),
    ("lineItem/CurrencyCode", "currency_code"),
)
MEASURES = (
    ("lineItem/UsageAmount", "usage_amount"),
    ("lineItem/UnblendedCost", "unblended_cost"),
    ("lineItem/BlendedCost", "blended_cost"),
    ("savingsPlan/SavingsPlanEffectiveCost", "savingsplan_effective_cost"),
)
# Name endings that mark the numeric columns of the lineItem, pricing, reservation and
# savingsPlan groups in nise's output. Text columns such as pricing/RateCode end otherwise.
_NUMERIC_ENDINGS = (
    "Cost",
    "Rate",
    "Amount",
    "Factor",
    "Fee",
    "Units",
    "Quantity",
    "Value",
    "ForUsage",
    "BillingPeriod",
    "Reservation",
    "Reservations",
    "ToDate",
    "Commitment",
)
_NUMERIC_GROUPS = ("lineItem/", "pricing/", "reservation/", "savingsPlan/")
_DATE_COLUMNS = ("lineItem/UsageStartDate", "lineItem/UsageEndDate")
_EMPTY_TAGS = ("", "None")


def _is_numeric(column: str) -> bool:
    return column.startswith(_NUMERIC_GROUPS) and column.endswith(_NUMERIC_ENDINGS)


def process_report(
    gz_path: Path, work: Path, billing_period_start: str
) -> tuple[dict[str, list[str]], int, int, dict[str, float]]:
    """Split one report into daily CSV files, then convert each into Parquet chunks.

    Returns the Parquet files per usage day, the row count, this process's peak RSS and
    the seconds of each step.
    """
    stem = gz_path.name.split(".", 1)[0]
    daily_dir = work / "daily" / stem
    daily_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    daily_csv: dict[str, Path] = {}
    rows = 0
    for chunk in pd.read_csv(
        gz_path, chunksize=CHUNK_ROWS, dtype=str, keep_default_na=False
    ):
        rows += len(chunk)
        days = chunk[USAGE_START].str.slice(0, 10)
        days = days.where(days != "", billing_period_start)
        for day, day_rows in chunk.groupby(days, sort=False):
            path = daily_csv.setdefault(str(day), daily_dir / f"{stem}_{day}.csv")
            day_rows.to_csv(path, mode="a", header=not path.exists(), index=False)
    split_s = time.perf_counter() - started
    started = time.perf_counter()
    parquet: dict[str, list[str]] = defaultdict(list)
    parquet_dir = work / "parquet"
    parquet_dir.mkdir(parents=True, exist_ok=True)
    for day, csv_path in sorted(daily_csv.items()):
        reader = pd.read_csv(
            csv_path, chunksize=CHUNK_ROWS, dtype=str, keep_default_na=False
        )
        for index, chunk in enumerate(reader):
            converted = _convert(chunk)
            target = parquet_dir / f"{csv_path.stem}_{index}.parquet"
            converted.to_parquet(target, index=False)
            parquet[day].append(str(target))
        csv_path.unlink()
    parquet_s = time.perf_counter() - started
    return (
        dict(parquet),
        rows,
        peak_rss_bytes(),
        {"daily CSV split": split_s, "Parquet per chunk": parquet_s},
    )


def _convert(chunk: pd.DataFrame) -> pd.DataFrame:
    """Convert numbers to float64 and usage dates to UTC timestamps; keep the rest as text."""
    columns: dict[str, Any] = {}
    for column in chunk.columns:
        if _is_numeric(column):
            columns[column] = pd.to_numeric(
                chunk[column].replace("", None), errors="coerce"
            )
        elif column in _DATE_COLUMNS:
            columns[column] = pd.to_datetime(
                chunk[column].replace("", None), utc=True, errors="coerce"
            )
        else:
            columns[column] = chunk[column]
    return pd.DataFrame(columns)


def summarise_day(day: str, files: list[str]) -> tuple[list[tuple[Any, ...]], int]:
    """Group one usage day's line items into summary rows; return them and the peak RSS."""
    frames = [pd.read_parquet(path) for path in files]
    items = pd.concat(frames, ignore_index=True)
    tag_columns = sorted(c for c in items.columns if c.startswith(TAG_PREFIX))
    keys = [source for source, _ in DIMENSIONS] + tag_columns
    usage = items["lineItem/UsageAmount"].where(
        items[LINE_ITEM_TYPE] != "SavingsPlanNegation", 0.0
    )
    measures = pd.DataFrame(
        {
            "usage_amount": usage,
            "unblended_cost": items["lineItem/UnblendedCost"],
            "blended_cost": items["lineItem/BlendedCost"],
            "savingsplan_effective_cost": items["savingsPlan/SavingsPlanEffectiveCost"],
            "line_item_count": 1,
        }
    )
    grouped = (
        pd.concat([items[keys], measures], axis=1)
        .groupby(keys, sort=False, dropna=False)
        .sum(min_count=0)
    )
    rows = []
    for index, values in zip(
        grouped.index, grouped.itertuples(index=False), strict=True
    ):
        dimension_values = index[: len(DIMENSIONS)]
        tags = {
            column[len(TAG_PREFIX) :]: value
            for column, value in zip(tag_columns, index[len(DIMENSIONS) :], strict=True)
            if value not in _EMPTY_TAGS
        }
        rows.append(
            (
                day,
                *(_text(v) for v in dimension_values),
                json.dumps(tags, sort_keys=True),
                *values,
            )
        )
    return rows, peak_rss_bytes()


def _text(value: Any) -> str | None:
    return None if value == "" else str(value)


async def _load(database_url: str, run_id: str, rows: list[tuple[Any, ...]]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS bench_baseline")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (run_id text NOT NULL, usage_start date NOT NULL,"
            + "".join(f" {name} text," for _, name in DIMENSIONS)
            + " tags jsonb NOT NULL,"
            + "".join(f" {name} float8," for _, name in MEASURES)
            + " line_item_count bigint NOT NULL)"
        )
        records = [(run_id, date.fromisoformat(row[0]), *row[1:]) for row in rows]
        columns = (
            "run_id",
            "usage_start",
            *(n for _, n in DIMENSIONS),
            "tags",
            *(n for _, n in MEASURES),
            "line_item_count",
        )
        await conn.copy_records_to_table(
            "daily_summary",
            schema_name="bench_baseline",
            columns=columns,
            records=records,
        )
    finally:
        await conn.close()


def run(
    files: list[Path],
    billing_period_start: str,
    work: Path,
    database_url: str,
    run_id: str,
    workers: int,
) -> dict[str, Any]:
    """Process ``files`` into the baseline summary table; return the figures of the run."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    stages: dict[str, float] = defaultdict(float)
    peaks = [peak_rss_bytes()]
    started = time.perf_counter()
    parquet: dict[str, list[str]] = defaultdict(list)
    rows = 0
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(files)))) as pool:
        phase = time.perf_counter()
        for day_files, file_rows, peak, steps in pool.map(
            process_report,
            files,
            [work] * len(files),
            [billing_period_start] * len(files),
        ):
            rows += file_rows
            peaks.append(peak)
            for step, step_s in steps.items():
                stages[f"{step} (sum over workers)"] += step_s
            for day, paths in day_files.items():
                parquet[day] += paths
        stages["files to Parquet"] = time.perf_counter() - phase
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        phase = time.perf_counter()
        summary: list[tuple[Any, ...]] = []
        days = sorted(parquet)
        for day_rows, peak in pool.map(summarise_day, days, [parquet[d] for d in days]):
            summary += day_rows
            peaks.append(peak)
        stages["summary"] = time.perf_counter() - phase
    phase = time.perf_counter()
    asyncio.run(_load(database_url, run_id, summary))
    stages["load into PostgreSQL"] = time.perf_counter() - phase
    seconds = time.perf_counter() - started
    peaks.append(peak_rss_bytes())
    shutil.rmtree(work, ignore_errors=True)
    return {
        "seconds": seconds,
        "stages": dict(stages),
        "rows": rows,
        "summary_rows": len(summary),
        "peak_rss_bytes": max(peaks),
        "processes": 1 + max(1, workers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--files",
        nargs="+",
        type=Path,
        required=True,
        help="gzip CUR files of one month",
    )
    parser.add_argument(
        "--billing-period-start",
        required=True,
        help="first day of the month, YYYY-MM-DD",
    )
    parser.add_argument(
        "--work",
        type=Path,
        required=True,
        help="scratch folder, emptied first and deleted after",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL URL (default: $DATABASE_URL)",
    )
    parser.add_argument(
        "--run-id", required=True, help="value of run_id in the summary table"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: cores)",
    )
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    result = run(
        args.files,
        args.billing_period_start,
        args.work,
        args.database_url,
        args.run_id,
        args.workers,
    )
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
