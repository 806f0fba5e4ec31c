"""Build OpenShift daily usage rows from the converted reports of the winning payloads.

Payloads of one cluster can overlap: the operator re-sends a day as it fills up. For
each day the summary reads the payload covering the most hours of it, and among
equals the one created last, so the result does not depend on arrival order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from shared.engines import duckdb_session, load_query, parquet_files
from shared.keys import ocp_month_prefix
from shared.objectstore import ObjectStore
from shared.ocp_reports import REPORT_TYPES, ReportType

__all__ = ["QUERIES", "fetch_ocp_files", "summarize_ocp_files", "winning_payloads"]

QUERIES = (
    "ocp_pod_daily_summary.sql",
    "ocp_storage_daily_summary.sql",
    "ocp_vm_daily_summary.sql",
    "ocp_gpu_daily_summary.sql",
)
_DOWNLOAD_CONCURRENCY = 8


async def winning_payloads(
    conn: asyncpg.Connection, provider_uuid: UUID, start: date, end: date
) -> dict[date, str]:
    """Return, per day in ``[start, end]``, the payload uuid whose files to read."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (d.day) d.day, m.assembly_id FROM costpipe.ocp_payload_days d"
        " JOIN costpipe.manifests m ON m.id = d.manifest_id"
        " WHERE m.provider_uuid = $1 AND d.day BETWEEN $2 AND $3"
        " AND m.status IN ('downloaded', 'complete')"
        " ORDER BY d.day, d.hours DESC, d.payload_created_at DESC, m.id DESC",
        provider_uuid,
        start,
        end,
    )
    return {row["day"]: row["assembly_id"] for row in rows}


async def fetch_ocp_files(
    store: ObjectStore,
    bucket: str,
    schema_name: str,
    provider_uuid: UUID,
    winners: dict[date, str],
    work: Path,
) -> dict[str, list[Path]]:
    """Download the winning payloads' day files; return local paths per report type."""
    wanted: list[tuple[str, str]] = []
    months = sorted({day.replace(day=1) for day in winners})
    for kind in REPORT_TYPES:
        for month in months:
            prefix = ocp_month_prefix(schema_name, kind.name, provider_uuid, month)
            for key in await store.list_keys(bucket, prefix):
                day_part, file_name = key[len(prefix) :].split("/", 1)
                day = month.replace(day=int(day_part.removeprefix("day=")))
                if winners.get(day) == file_name.split("_", 1)[0]:
                    wanted.append((kind.name, key))
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    limit = asyncio.Semaphore(_DOWNLOAD_CONCURRENCY)

    async def fetch(index: int, key: str) -> Path:
        path = work / f"{index:05d}.parquet"
        async with limit:
            data = await store.get_bytes(bucket, key)
        await asyncio.to_thread(path.write_bytes, data)
        return path

    paths = await asyncio.gather(*(fetch(i, key) for i, (_, key) in enumerate(wanted)))
    files: dict[str, list[Path]] = {kind.name: [] for kind in REPORT_TYPES}
    for (kind_name, _), path in zip(wanted, paths, strict=True):
        files[kind_name].append(path)
    return files


def _empty_view(kind: ReportType) -> str:
    columns = [
        f"CAST(NULL AS TIMESTAMPTZ) AS {c}"
        if c.startswith(("interval_", "report_period_"))
        else (
            f"CAST(NULL AS DOUBLE) AS {c}"
            if c in kind.metrics
            else f"CAST(NULL AS VARCHAR) AS {c}"
        )
        for c in (*kind.required, *kind.optional)
    ]
    columns.append("CAST(NULL AS DATE) AS usage_date")
    return f"SELECT {', '.join(columns)} WHERE false"


def summarize_ocp_files(
    files: Mapping[str, Sequence[Path]],
    start: date,
    end: date,
    *,
    memory_limit: str = "512MB",
    threads: int = 2,
) -> list[tuple[list[str], list[tuple[Any, ...]]]]:
    """Run each OpenShift summary query; return its column names and rows."""
    with duckdb_session(memory_limit, threads) as conn:
        for kind in REPORT_TYPES:
            paths = files.get(kind.name) or []
            if paths:
                source = f"SELECT * FROM {parquet_files(paths, union_by_name=True)}"
            else:
                source = _empty_view(kind)
            conn.execute(f"CREATE TEMP VIEW {kind.name} AS {source}")
        results = []
        for name in QUERIES:
            cursor = conn.execute(
                load_query("services.summarizer.sql", name), [start, end]
            )
            columns = [column[0] for column in cursor.description]
            results.append((columns, cursor.fetchall()))
        return results
