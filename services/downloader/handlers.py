"""Handlers of the downloader's Koku tasks.

``masu.celery.tasks.check_report_updates`` finds new CUR deliveries and records a
manifest with one file row each; ``masu.processor.tasks.get_report_files`` converts
one file to daily Parquet. When the last file of a manifest is done, the manifest
progress table emits ``summarize_reports`` once.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

from services.downloader.aws.source_warnings import record_missing_columns
from services.downloader.containers import write_plain_csv
from services.downloader.ingest import ingest_for
from services.downloader.polling import GET_REPORT_FILES
from shared import manifests, metrics
from shared.catalogue import (
    CheckReportUpdates,
    GetReportFiles,
    ReportToSummarize,
    SummarizeReports,
)
from shared.engines import DuckdbJobs
from shared.errors import BadInputError, ObjectNotFoundError
from shared.events import Envelope, derive_event_id
from shared.keys import report_day_key
from shared.providers import active_providers
from shared.runtime import TaskContext, TaskHandler
from shared.state import ManifestProgressTable
from shared.topics import Size

__all__ = ["TASKS", "build_handlers"]

log = logging.getLogger(__name__)

CHECK_REPORT_UPDATES = "masu.celery.tasks.check_report_updates"
SUMMARIZE_REPORTS = "masu.processor.tasks.summarize_reports"
TASKS = (CHECK_REPORT_UPDATES, GET_REPORT_FILES)
# Day files of one report uploaded at once.
_UPLOAD_CONCURRENCY = 8


async def check_report_updates(ctx: TaskContext, payload: CheckReportUpdates) -> None:
    """Poll every active provider whose type the downloader can ingest."""
    async with ctx.pool.acquire() as conn:
        providers = await active_providers(conn, payload.provider_uuid)
    for provider in providers:
        ingest = ingest_for(provider.type)
        if ingest is None:
            log.info(
                "report check skipped: provider type %s is not built yet", provider.type
            )
            continue
        await ingest.poll(ctx, provider)
    if not ctx.committed:
        async with ctx.effects():
            pass


class ReportFileHandlers:
    """get_report_files and the manifest progress it drives."""

    def __init__(self, progress: ManifestProgressTable) -> None:
        self._progress = progress
        self._duckdb = DuckdbJobs()

    async def run(self, ctx: TaskContext, payload: GetReportFiles) -> None:
        context = payload.report_context
        async with ctx.pool.acquire() as conn:
            await manifests.mark_file_processing(
                conn, context.manifest_id, context.file_key
            )
        # Two deliveries of one event may run at once, so each gets its own folder.
        work = ctx.settings.COSTPIPE_WORK_DIR / "downloads" / uuid.uuid4().hex
        work.mkdir(parents=True, exist_ok=True)
        try:
            await self._convert_and_store(ctx, payload, work)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _convert_and_store(
        self, ctx: TaskContext, payload: GetReportFiles, work: Path
    ) -> None:
        context = payload.report_context
        bucket = payload.billing_source["bucket"]
        name = PurePosixPath(context.file_key).name
        # CSV, or Parquet passed through unchanged for convert to read.
        report_path = work / "report.csv"
        metrics.REPORT_DOWNLOAD_ATTEMPTS.labels(
            provider_type=payload.provider_type
        ).inc()
        try:
            await write_plain_csv(
                ctx.store.stream(bucket, context.file_key), name, report_path
            )
        except ObjectNotFoundError as error:
            raise ObjectNotFoundError(
                f"{context.file_key}: report file named in manifest {context.assembly_id} was "
                f"not found in bucket {bucket!r}; re-deliver the report or fix its reportKeys"
            ) from error
        ingest = ingest_for(payload.provider_type)
        if ingest is None:
            raise BadInputError(
                f"{name}: provider type {payload.provider_type} is not built yet"
            )
        async with self._duckdb.slot(ctx.settings):
            result = await asyncio.to_thread(
                ingest.convert,
                report_path,
                name,
                work / "parquet",
                context,
                ctx.settings,
            )
        stem = name.split(".", 1)[0]
        limit = asyncio.Semaphore(_UPLOAD_CONCURRENCY)

        async def upload(day: date, path: Path) -> None:
            key = report_day_key(
                payload.schema_name,
                payload.provider_type,
                payload.provider_uuid,
                context.billing_period_start,
                day,
                context.assembly_id,
                stem,
            )
            async with limit:
                await ctx.store.put_file(ctx.settings.COSTPIPE_DATA_BUCKET, key, path)

        await asyncio.gather(
            *(upload(day, path) for day, path in result.day_files.items())
        )
        metrics.REPORT_ROWS.labels(provider_type=payload.provider_type).inc(result.rows)
        days = sorted(result.day_files)
        async with ctx.effects() as conn:
            await record_missing_columns(
                conn,
                payload.provider_uuid,
                payload.provider_type,
                name,
                result.missing_optional,
            )
            await manifests.mark_file_done(
                conn,
                context.manifest_id,
                context.file_key,
                etag=None,
                row_count=result.rows,
                first_day=days[0] if days else None,
                last_day=days[-1] if days else None,
            )
        log.info(
            "report file converted",
            extra={"file": context.file_key, "rows": result.rows, "days": len(days)},
        )

    async def after_commit(self, ctx: TaskContext, payload: GetReportFiles) -> None:
        """Count the file; when it was the manifest's last, emit the summary once."""
        context = payload.report_context
        due = await self._progress.mark_done(
            ctx.pool, context.manifest_id, context.file_key, context.num_total_files
        )
        if not due:
            return
        async with ctx.pool.acquire() as conn, conn.transaction():
            day_range = await manifests.manifest_day_range(conn, context.manifest_id)
            await manifests.mark_manifest_state(
                conn, context.manifest_id, "download", "end", status="downloaded"
            )
        start = context.billing_period_start
        end = _month_end(start)
        if day_range is not None:
            end = max(end, day_range[1])
            if payload.provider_type.removesuffix("-local") == "GCP":
                # A GCP invoice month can hold usage days of the month before it.
                start = min(start, day_range[0])
        report = ReportToSummarize(
            schema_name=payload.schema_name,
            provider_type=payload.provider_type,
            provider_uuid=payload.provider_uuid,
            manifest_id=context.manifest_id,
            start=start,
            end=end,
        )
        event = Envelope(
            event_id=derive_event_id(
                f"manifest:{context.manifest_id}", SUMMARIZE_REPORTS
            ),
            task=SUMMARIZE_REPORTS,
            tracing_id=ctx.envelope.tracing_id,
            schema_name=payload.schema_name,
            provider_uuid=payload.provider_uuid,
            created_at=datetime.now(UTC),
            payload=SummarizeReports(
                reports_to_summarize=[report], manifest_list=[context.manifest_id]
            ).model_dump(mode="json"),
        )
        size = (
            Size.XL
            if context.num_total_files > ctx.settings.XL_REPORT_COUNT
            else Size.DEFAULT
        )
        await ctx.runtime.send_event(event, size)
        async with ctx.pool.acquire() as conn:
            await manifests.mark_manifest_state(
                conn, context.manifest_id, "followups", "sent"
            )
        self._progress.mark_emitted(context.manifest_id)
        log.info(
            "manifest files all done; summary requested",
            extra={"manifest_id": context.manifest_id},
        )

    async def on_failure(
        self, ctx: TaskContext, payload: GetReportFiles, error: Exception
    ) -> None:
        context = payload.report_context
        async with ctx.pool.acquire() as conn, conn.transaction():
            await manifests.mark_file_failed(
                conn, context.manifest_id, context.file_key, str(error)
            )


def _month_end(month_start: date) -> date:
    index = month_start.year * 12 + month_start.month
    return date.fromordinal(date(index // 12, index % 12 + 1, 1).toordinal() - 1)


def build_handlers(progress: ManifestProgressTable) -> dict[str, TaskHandler]:
    """Map the downloader's Koku task names to their handlers."""
    files = ReportFileHandlers(progress)
    return {
        CHECK_REPORT_UPDATES: TaskHandler(run=check_report_updates),
        GET_REPORT_FILES: TaskHandler(
            run=files.run, after_commit=files.after_commit, on_failure=files.on_failure
        ),
    }
