"""Handlers of the downloader's Koku tasks.

``masu.celery.tasks.check_report_updates`` finds new CUR deliveries and records a
manifest with one file row each; ``masu.processor.tasks.get_report_files`` converts
one file to daily Parquet. When the last file of a manifest is done, the manifest
progress table emits ``summarize_reports`` once.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from datetime import UTC, date, datetime
from pathlib import PurePosixPath
from typing import Any

import asyncio

from shared import manifests, metrics
from shared.catalogue import GetReportFiles, ReportContext, ReportToSummarize, SummarizeReports, CheckReportUpdates
from shared.errors import BadInputError, ObjectNotFoundError
from shared.events import Envelope, derive_event_id
from shared.keys import daily_parquet_key
from shared.providers import Provider, active_providers
from shared.runtime import TaskContext, TaskHandler
from shared.state import ManifestProgressTable
from shared.topics import Size
from services.downloader.aws.cur import convert_cur_csv
from services.downloader.aws.manifest import find_month_manifests, month_of_manifest_key, parse_manifest
from services.downloader.containers import Container, write_plain_csv

__all__ = ["TASKS", "build_handlers"]

log = logging.getLogger(__name__)

CHECK_REPORT_UPDATES = "masu.celery.tasks.check_report_updates"
GET_REPORT_FILES = "masu.processor.tasks.get_report_files"
SUMMARIZE_REPORTS = "masu.processor.tasks.summarize_reports"
TASKS = (CHECK_REPORT_UPDATES, GET_REPORT_FILES)


def _months_back(today: date, count: int) -> date:
    """Return the first day of the month ``count - 1`` months before ``today``'s."""
    index = today.year * 12 + today.month - 1 - (count - 1)
    return date(index // 12, index % 12 + 1, 1)


def _oldest_month(ctx: TaskContext, provider: Provider) -> date:
    settings = ctx.settings
    initial = not provider.setup_complete or settings.INITIAL_INGEST_OVERRIDE
    count = settings.INITIAL_INGEST_NUM_MONTHS if initial else 2
    return _months_back(datetime.now(UTC).date(), count)


async def check_report_updates(ctx: TaskContext, payload: CheckReportUpdates) -> None:
    """Record each new delivery of every due AWS provider and queue its files."""
    async with ctx.pool.acquire() as conn:
        providers = await active_providers(conn, "AWS", payload.provider_uuid)
        providers += await active_providers(conn, "AWS-local", payload.provider_uuid)
    for provider in providers:
        await _poll_aws_provider(ctx, provider)
    if not ctx.committed:
        async with ctx.effects():
            pass


async def _poll_aws_provider(ctx: TaskContext, provider: Provider) -> None:
    bucket = provider.billing_source["bucket"]
    prefix = provider.billing_source.get("report_prefix", "").strip("/")
    report_name = provider.billing_source.get("report_name")
    keys = await ctx.store.list_keys(bucket, f"{prefix}/" if prefix else "")
    oldest = _oldest_month(ctx, provider)
    due = [k for k in find_month_manifests(keys, prefix, report_name) if month_of_manifest_key(k) >= oldest]
    log.info(
        "report check found %d manifest(s)",
        len(due),
        extra={"provider_uuid": str(provider.uuid), "bucket": bucket},
    )
    for key in due:
        manifest = parse_manifest(key, await ctx.store.get_bytes(bucket, key))
        async with ctx.pool.acquire() as conn, conn.transaction():
            record = await manifests.create_manifest(
                conn,
                provider.uuid,
                manifest.assembly_id,
                manifest.billing_period_start,
                list(manifest.report_keys),
            )
            await conn.execute(
                "UPDATE costpipe.providers SET polling_timestamp = now() WHERE uuid = $1",
                provider.uuid,
            )
            if record is None:
                record = await manifests.find_manifest(conn, provider.uuid, manifest.assembly_id)
            pending = await manifests.unfinished_files(conn, record.id) if record else []
        if record is None or not pending:
            continue
        log.info(
            "manifest files queued",
            extra={
                "manifest_id": record.id,
                "assembly_id": record.assembly_id,
                "files": record.num_total_files,
                "queued": len(pending),
            },
        )
        size = Size.XL if record.num_total_files > ctx.settings.XL_REPORT_COUNT else Size.DEFAULT
        for file_key in pending:
            await ctx.runtime.send_event(_file_event(ctx.envelope, provider, record, file_key), size)


def _file_event(
    parent: Envelope, provider: Provider, record: manifests.ManifestRecord, file_key: str
) -> Envelope:
    context = ReportContext(
        manifest_id=record.id,
        assembly_id=record.assembly_id,
        file_key=file_key,
        num_total_files=record.num_total_files,
        billing_period_start=record.billing_period_start,
    )
    payload = GetReportFiles(
        customer_name=provider.schema_name,
        billing_source=provider.billing_source,
        provider_type=provider.type,  # type: ignore[arg-type]
        schema_name=provider.schema_name,
        provider_uuid=provider.uuid,
        report_month=record.billing_period_start,
        report_context=context,
        tracing_id=parent.tracing_id,
    )
    # The id comes from the manifest, not the poll, so a later poll that re-queues an
    # unfinished file produces a duplicate that the inbox drops.
    return Envelope(
        event_id=derive_event_id(f"manifest:{record.id}", GET_REPORT_FILES, file_key),
        task=GET_REPORT_FILES,
        tracing_id=parent.tracing_id,
        schema_name=provider.schema_name,
        provider_uuid=provider.uuid,
        created_at=datetime.now(UTC),
        payload=payload.model_dump(mode="json"),
    )


class ReportFileHandlers:
    """get_report_files and the manifest progress it drives."""

    def __init__(self, progress: ManifestProgressTable) -> None:
        self._progress = progress

    async def run(self, ctx: TaskContext, payload: GetReportFiles) -> None:
        context = payload.report_context
        async with ctx.pool.acquire() as conn:
            await manifests.mark_file_processing(conn, context.manifest_id, context.file_key)
        # Two deliveries of one event may run at once, so each gets its own folder.
        work = ctx.settings.COSTPIPE_WORK_DIR / "downloads" / uuid.uuid4().hex
        work.mkdir(parents=True, exist_ok=True)
        try:
            await self._convert_and_store(ctx, payload, work)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)

    async def _convert_and_store(self, ctx: TaskContext, payload: GetReportFiles, work: Any) -> None:
        context = payload.report_context
        bucket = payload.billing_source["bucket"]
        name = PurePosixPath(context.file_key).name
        csv_path = work / "report.csv"
        metrics.REPORT_DOWNLOAD_ATTEMPTS.labels(provider_type=payload.provider_type).inc()
        try:
            container = await write_plain_csv(ctx.store.stream(bucket, context.file_key), name, csv_path)
        except ObjectNotFoundError as error:
            raise ObjectNotFoundError(
                f"{context.file_key}: report file named in manifest {context.assembly_id} was "
                f"not found in bucket {bucket!r}; re-deliver the report or fix its reportKeys"
            ) from error
        if container is Container.PARQUET:
            raise BadInputError(
                f"{name}: Parquet CUR files are not supported yet; deliver the report as CSV"
            )
        result = await asyncio.to_thread(
            convert_cur_csv,
            csv_path,
            name,
            work / "parquet",
            context.billing_period_start,
            memory_limit=ctx.settings.DUCKDB_MEMORY_LIMIT,
            threads=ctx.settings.DUCKDB_THREADS,
        )
        stem = name.split(".", 1)[0]
        for day, path in result.day_files.items():
            key = daily_parquet_key(
                payload.schema_name, payload.provider_type, payload.provider_uuid, day, context.assembly_id, stem
            )
            await ctx.store.put_file(ctx.settings.COSTPIPE_DATA_BUCKET, key, path)
        metrics.REPORT_ROWS.labels(provider_type=payload.provider_type).inc(result.rows)
        days = sorted(result.day_files)
        async with ctx.effects() as conn:
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
        report = ReportToSummarize(
            schema_name=payload.schema_name,
            provider_type=payload.provider_type,
            provider_uuid=payload.provider_uuid,
            manifest_id=context.manifest_id,
            start=start,
            end=end,
        )
        event = Envelope(
            event_id=derive_event_id(f"manifest:{context.manifest_id}", SUMMARIZE_REPORTS),
            task=SUMMARIZE_REPORTS,
            tracing_id=ctx.envelope.tracing_id,
            schema_name=payload.schema_name,
            provider_uuid=payload.provider_uuid,
            created_at=datetime.now(UTC),
            payload=SummarizeReports(
                reports_to_summarize=[report], manifest_list=[context.manifest_id]
            ).model_dump(mode="json"),
        )
        size = Size.XL if context.num_total_files > ctx.settings.XL_REPORT_COUNT else Size.DEFAULT
        await ctx.runtime.send_event(event, size)
        async with ctx.pool.acquire() as conn:
            await manifests.mark_manifest_state(conn, context.manifest_id, "followups", "sent")
        self._progress.mark_emitted(context.manifest_id)
        log.info("manifest files all done; summary requested", extra={"manifest_id": context.manifest_id})

    async def on_failure(self, ctx: TaskContext, payload: GetReportFiles, error: Exception) -> None:
        context = payload.report_context
        async with ctx.pool.acquire() as conn, conn.transaction():
            await manifests.mark_file_failed(conn, context.manifest_id, context.file_key, str(error))


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
