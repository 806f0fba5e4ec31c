"""Single timed runs of costpipe's own steps outside the services, to show where its time goes.

Each probe calls the function a service calls, with the services' default DuckDB
settings, on the benchmark's local files. The four steps are inflating the gzip
files, converting the CSV to daily Parquet, running the summary query over that
Parquet and copying its rows into PostgreSQL. A probe that fails (for example after
an interface change) is logged and left out of the results page, because the
end-to-end figures stand without it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from bench.data import ScaledMonth

log = logging.getLogger(__name__)

_READ_BLOCK_BYTES = 1 << 20
INFLATE = "inflate gzip (write_plain_csv)"
CONVERT = "convert CSV to daily Parquet (AWS ingest convert)"
QUERY = "summary query to a CSV file (AWS summary export)"
COPY = "COPY the summary CSV into PostgreSQL (asyncpg)"
REFRESH = "refresh the UI tables from the summary (same transaction)"
SUMMARY_ROWS = "summary rows"


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(_READ_BLOCK_BYTES):
            yield block


async def run_probes(
    month: ScaledMonth, scratch: Path, database_url: str
) -> dict[str, Any]:
    """Time each step once on ``month``; return seconds per step and the summary rows.

    The steps go through the same entry points as the handlers: ``write_plain_csv``,
    the AWS entry of ``services.downloader.ingest`` and of ``services.summarizer.providers``.
    """
    results: dict[str, Any] = {}
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        from services.downloader.containers import write_plain_csv
        from services.downloader.ingest import ingest_for
        from services.summarizer.providers import summary_for
        from shared.catalogue import ReportContext
        from shared.settings import Settings

        settings = Settings()
        ingest, summary = ingest_for("AWS"), summary_for("AWS")
        if ingest is None or summary is None:
            raise RuntimeError("costpipe has no AWS ingest or summary entry to probe")

        started = time.perf_counter()
        for index, report in enumerate(month.files):
            await write_plain_csv(
                _file_chunks(report.gz_path),
                report.gz_path.name,
                scratch / f"inflated-{index}.csv",
            )
        results[INFLATE] = time.perf_counter() - started
        for index in range(len(month.files)):
            (scratch / f"inflated-{index}.csv").unlink()

        started = time.perf_counter()
        day_files: list[Path] = []
        for index, report in enumerate(month.files):
            context = ReportContext(
                manifest_id=0,
                assembly_id="probe",
                file_key=report.csv_path.name,
                num_total_files=len(month.files),
                billing_period_start=month.billing_period_start,
            )
            converted = await asyncio.to_thread(
                ingest.convert,
                report.csv_path,
                report.csv_path.name,
                scratch / f"parquet-{index}",
                context,
                settings,
            )
            day_files += converted.day_files.values()
        results[CONVERT] = time.perf_counter() - started

        first, last = min(month.daily_totals), max(month.daily_totals)
        if summary.export is None:
            raise RuntimeError("the AWS summary has no CSV export to probe")
        summary_csv = scratch / "summary.csv"
        source = uuid.uuid4()
        started = time.perf_counter()
        rows = await asyncio.to_thread(
            summary.export,
            day_files,
            first,
            last,
            summary_csv,
            leading=(source, 0),
            memory_limit=settings.DUCKDB_MEMORY_LIMIT,
            threads=settings.DUCKDB_THREADS,
        )
        results[QUERY] = time.perf_counter() - started
        results[SUMMARY_ROWS] = rows

        copy_s, refresh_s = await _store_summary(
            database_url, summary, summary_csv, source, first, last
        )
        results[COPY] = copy_s
        results[REFRESH] = refresh_s
    except Exception:
        # Probes are optional: the page leaves out the ones that did not finish.
        log.exception("a probe failed; the results page shows the probes that finished")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


async def _store_summary(
    database_url: str,
    summary: Any,
    summary_csv: Path,
    source: uuid.UUID,
    first: date,
    last: date,
) -> tuple[float, float]:
    """Store the exported rows as the summarizer does, in a scratch tenant; return the seconds of each part.

    One transaction holds the COPY and the UI-table refresh statements, as in the
    summarizer. The tenant schema is dropped afterwards.
    """
    from shared.db import ensure_tenant
    from shared.engines import load_query
    from shared.identifiers import quote_ident

    schema = f"org{random.randrange(10**9, 10**10)}"
    conn = await asyncpg.connect(database_url)
    try:
        async with conn.transaction():
            await ensure_tenant(conn, schema)
        async with conn.transaction():
            started = time.perf_counter()
            await conn.copy_to_table(
                summary.table,
                schema_name=schema,
                columns=("source_uuid", "manifest_id", *summary.columns),
                source=summary_csv,
                format="csv",
            )
            copied = time.perf_counter()
            for name in summary.refresh_sql:
                statement = load_query("services.summarizer.sql", name)
                await conn.execute(
                    statement.replace("{schema}", quote_ident(schema)),
                    source,
                    first,
                    last,
                )
            refreshed = time.perf_counter()
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await conn.execute(
            "DELETE FROM costpipe.tenants WHERE schema_name = $1", schema
        )
        await conn.close()
    return copied - started, refreshed - copied
