"""Handlers of the summarizer's Koku tasks.

``masu.processor.tasks.summarize_reports`` turns processed reports into one
``update_summary_tables`` per provider and month; that task replaces the month's
rows of the daily summary in one transaction, then
``masu.processor.tasks.mark_manifest_complete`` closes the manifest and removes the
Parquet files of deliveries it supersedes.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from services.summarizer.gcp_summary import select_gcp_day_keys
from services.summarizer.ocp_handlers import summarize_openshift
from services.summarizer.providers import SummarySpec, summary_for
from shared import manifests
from shared.catalogue import (
    MarkManifestComplete,
    ReportToSummarize,
    SummarizeReports,
    UpdateSummaryTables,
)
from shared.db import ensure_tenant
from shared.engines import DuckdbJobs, load_query
from shared.errors import BadInputError
from shared.identifiers import quote_ident
from shared.keys import assembly_of_key, daily_parquet_month_prefix
from shared.runtime import TaskContext, TaskHandler
from shared.state import TaskLockTable

__all__ = ["TASKS", "build_handlers"]

log = logging.getLogger(__name__)

SUMMARIZE_REPORTS = "masu.processor.tasks.summarize_reports"
UPDATE_SUMMARY_TABLES = "masu.processor.tasks.update_summary_tables"
MARK_MANIFEST_COMPLETE = "masu.processor.tasks.mark_manifest_complete"
TASKS = (SUMMARIZE_REPORTS, UPDATE_SUMMARY_TABLES, MARK_MANIFEST_COMPLETE)
_DOWNLOAD_CONCURRENCY = 8
_REFRESH_WORK_MEM = "64MB"


@dataclass(frozen=True)
class _Replaced:
    rows: int
    deleted: str


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def split_by_month(start: date, end: date) -> list[tuple[date, date]]:
    """Split ``[start, end]`` (inclusive) into calendar-month pieces."""
    pieces = []
    cursor = start
    while cursor <= end:
        last = min(end, month_end(cursor))
        pieces.append((cursor, last))
        cursor = last + timedelta(days=1)
    return pieces


async def summarize_reports(ctx: TaskContext, payload: SummarizeReports) -> None:
    """Emit one update_summary_tables per provider and calendar month."""
    ranges: dict[UUID, tuple[date, date]] = {}
    first: dict[UUID, ReportToSummarize] = {}
    for report in payload.reports_to_summarize:
        low, high = ranges.get(report.provider_uuid, (report.start, report.end))
        ranges[report.provider_uuid] = (min(low, report.start), max(high, report.end))
        first.setdefault(report.provider_uuid, report)
    async with ctx.effects():
        for provider_uuid, (start, end) in ranges.items():
            report = first[provider_uuid]
            for piece_start, piece_end in split_by_month(start, end):
                update = UpdateSummaryTables(
                    schema=report.schema_name,
                    provider_type=report.provider_type,
                    provider_uuid=provider_uuid,
                    start_date=piece_start,
                    end_date=piece_end,
                    manifest_id=report.manifest_id,
                    manifest_list=payload.manifest_list,
                    queue_name=payload.queue_name,
                    tracing_id=ctx.envelope.tracing_id,
                )
                ctx.emit(
                    ctx.envelope.child(
                        UPDATE_SUMMARY_TABLES,
                        update,
                        discriminator=f"{provider_uuid}:{piece_start}",
                        schema_name=report.schema_name,
                        provider_uuid=provider_uuid,
                    )
                )


class SummaryHandlers:
    """update_summary_tables under a task lock."""

    def __init__(self, locks: TaskLockTable) -> None:
        self._locks = locks
        self._duckdb = DuckdbJobs()

    async def update_summary_tables(
        self, ctx: TaskContext, payload: UpdateSummaryTables
    ) -> None:
        start = payload.start_date
        end = min(payload.end_date or month_end(start), month_end(start))
        lock_key = ":".join(
            (
                UPDATE_SUMMARY_TABLES,
                payload.schema,
                payload.provider_type,
                str(payload.provider_uuid),
                str(start),
                str(end),
            )
        )
        holder = ctx.envelope.event_id
        ttl_s = ctx.settings.WORKER_CACHE_TIMEOUT
        held = await self._locks.acquire(ctx.pool, lock_key, holder, ttl_s)
        if held is not None:
            log.warning(
                "update_summary_tables skipped: the same range is already being summarised",
                extra={
                    "lock_key": lock_key,
                    "held_by": held["holder"],
                    "expires_at": held["expires_at"],
                },
            )
            return
        try:
            # Tables added since the tenant was created (new columns, UI tables) must
            # exist before the summary writes to them.
            async with ctx.pool.acquire() as conn, conn.transaction():
                await ensure_tenant(conn, payload.schema)
            await self._summarize(ctx, payload, start, end)
        finally:
            await self._locks.release(ctx.pool, lock_key, holder)

    async def _summarize(
        self, ctx: TaskContext, payload: UpdateSummaryTables, start: date, end: date
    ) -> None:
        if payload.provider_type == "OCP":
            async with self._duckdb.slot(ctx.settings):
                await summarize_openshift(ctx, payload, start, end)
            return
        spec = summary_for(payload.provider_type)
        if spec is None:
            raise BadInputError(
                f"update_summary_tables: provider type {payload.provider_type} is not built yet"
            )
        async with ctx.pool.acquire() as conn:
            if payload.manifest_id is not None:
                manifest = await manifests.get_manifest(conn, payload.manifest_id)
            else:
                manifest = await manifests.latest_downloaded_manifest(
                    conn, payload.provider_uuid, month_start(start)
                )
        if manifest is None:
            raise BadInputError(
                f"update_summary_tables: no converted delivery of provider {payload.provider_uuid} "
                f"covers {start:%Y-%m}; run check_report_updates first"
            )
        work = ctx.settings.COSTPIPE_WORK_DIR / "summaries" / uuid.uuid4().hex
        try:
            files = await self._fetch_line_items(
                ctx, payload, manifest.assembly_id, start, end, work
            )
            written = await self._replace_summary(
                ctx, payload, spec, manifest.id, files, start, end, work
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        log.info(
            "daily summary replaced",
            extra={
                "start": str(start),
                "end": str(end),
                "rows": written.rows,
                "deleted": written.deleted,
                "manifest_id": manifest.id,
            },
        )

    async def _replace_summary(
        self,
        ctx: TaskContext,
        payload: UpdateSummaryTables,
        spec: SummarySpec,
        manifest_id: int,
        files: list[Path],
        start: date,
        end: date,
        work: Path,
    ) -> _Replaced:
        """Swap the range's summary rows for new ones, with the UI tables, in one transaction."""
        settings = ctx.settings
        columns = ("source_uuid", "manifest_id", *spec.columns)
        records: list[tuple[Any, ...]] | None = None
        summary_csv = work / "summary.csv"
        async with self._duckdb.slot(ctx.settings):
            if spec.export is not None:
                rows = await asyncio.to_thread(
                    spec.export,
                    files,
                    start,
                    end,
                    summary_csv,
                    leading=(payload.provider_uuid, manifest_id),
                    memory_limit=settings.DUCKDB_MEMORY_LIMIT,
                    threads=settings.DUCKDB_THREADS,
                )
            else:
                found = await asyncio.to_thread(
                    spec.run,
                    files,
                    start,
                    end,
                    settings.DUCKDB_MEMORY_LIMIT,
                    settings.DUCKDB_THREADS,
                )
                records = [(payload.provider_uuid, manifest_id, *row) for row in found]
                rows = len(records)
        async with ctx.effects() as conn:
            # The UI refresh groups the whole range, and PostgreSQL's default 4 MB
            # of sort memory would send that sort to disk.
            await conn.execute(f"SET LOCAL work_mem = '{_REFRESH_WORK_MEM}'")
            table = f"{quote_ident(payload.schema)}.{spec.table}"
            deleted = await conn.execute(
                f"DELETE FROM {table} WHERE source_uuid = $1 AND usage_start BETWEEN $2 AND $3",
                payload.provider_uuid,
                start,
                end,
            )
            if records is None:
                await conn.copy_to_table(
                    spec.table,
                    schema_name=payload.schema,
                    columns=columns,
                    source=summary_csv,
                    format="csv",
                )
            else:
                await conn.copy_records_to_table(
                    spec.table,
                    schema_name=payload.schema,
                    columns=columns,
                    records=records,
                )
            for name in spec.refresh_sql:
                statement = load_query("services.summarizer.sql", name)
                await conn.execute(
                    statement.replace("{schema}", quote_ident(payload.schema)),
                    payload.provider_uuid,
                    start,
                    end,
                )
            await manifests.mark_manifest_state(conn, manifest_id, "summary", "end")
            if payload.manifest_id is not None:
                ctx.emit(
                    ctx.envelope.child(
                        MARK_MANIFEST_COMPLETE,
                        MarkManifestComplete(
                            schema=payload.schema,
                            provider_type=payload.provider_type,
                            provider_uuid=payload.provider_uuid,
                            manifest_list=payload.manifest_list
                            or [payload.manifest_id],
                            tracing_id=ctx.envelope.tracing_id,
                        ),
                    )
                )
        return _Replaced(rows=rows, deleted=deleted)

    async def _fetch_line_items(
        self,
        ctx: TaskContext,
        payload: UpdateSummaryTables,
        assembly_id: str,
        start: date,
        end: date,
        work: Path,
    ) -> list[Path]:
        bucket = ctx.settings.COSTPIPE_DATA_BUCKET
        if payload.provider_type.removesuffix("-local") == "GCP":
            # GCP day files sit under invoice months, and a day can span two of them.
            async with ctx.pool.acquire() as conn:
                wanted = await select_gcp_day_keys(
                    ctx.store,
                    conn,
                    bucket,
                    payload.schema,
                    payload.provider_type,
                    payload.provider_uuid,
                    assembly_id,
                    start,
                    end,
                )
        else:
            prefix = daily_parquet_month_prefix(
                payload.schema, payload.provider_type, payload.provider_uuid, start
            )
            wanted = []
            for key in await ctx.store.list_keys(bucket, prefix):
                day_part = key[len(prefix) :].split("/", 1)[0]
                if (
                    not day_part.startswith("day=")
                    or assembly_of_key(key) != assembly_id
                ):
                    continue
                day = start.replace(day=int(day_part[4:]))
                if start <= day <= end:
                    wanted.append(key)
        await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
        limit = asyncio.Semaphore(_DOWNLOAD_CONCURRENCY)

        async def fetch(index: int, key: str) -> Path:
            path = work / f"{index:05d}.parquet"
            async with limit:
                with path.open("wb") as out:
                    async for chunk in ctx.store.stream(bucket, key):
                        out.write(chunk)
            return path

        return list(
            await asyncio.gather(*(fetch(i, key) for i, key in enumerate(wanted)))
        )


async def mark_manifest_complete(
    ctx: TaskContext, payload: MarkManifestComplete
) -> None:
    """Close the manifests and delete Parquet of the deliveries they supersede."""
    superseded: list[str] = []
    async with ctx.effects() as conn:
        for manifest_id in payload.manifest_list:
            manifest = await manifests.get_manifest(conn, manifest_id)
            if manifest is None:
                continue
            await manifests.mark_manifest_state(
                conn, manifest_id, "summary", "end", status="complete"
            )
            latest = await manifests.latest_downloaded_manifest(
                conn, manifest.provider_uuid, manifest.billing_period_start
            )
            if latest is not None and latest.id == manifest_id:
                prefix = daily_parquet_month_prefix(
                    payload.schema,
                    payload.provider_type,
                    payload.provider_uuid,
                    manifest.billing_period_start,
                )
                keys = await ctx.store.list_keys(
                    ctx.settings.COSTPIPE_DATA_BUCKET, prefix
                )
                superseded += [
                    k for k in keys if assembly_of_key(k) != manifest.assembly_id
                ]
        await conn.execute(
            "UPDATE costpipe.providers SET data_updated_timestamp = now(), setup_complete = true"
            " WHERE uuid = $1",
            payload.provider_uuid,
        )
    if superseded:
        await ctx.store.delete_keys(ctx.settings.COSTPIPE_DATA_BUCKET, superseded)
        log.info("superseded Parquet files deleted", extra={"files": len(superseded)})


def build_handlers(locks: TaskLockTable) -> dict[str, TaskHandler]:
    """Map the summarizer's Koku task names to their handlers."""
    summaries = SummaryHandlers(locks)
    return {
        SUMMARIZE_REPORTS: TaskHandler(run=summarize_reports),
        UPDATE_SUMMARY_TABLES: TaskHandler(run=summaries.update_summary_tables),
        MARK_MANIFEST_COMPLETE: TaskHandler(run=mark_manifest_complete),
    }
