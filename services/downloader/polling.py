"""Report discovery shared by every provider: the ingest window and file events."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared import manifests
from shared.catalogue import GetReportFiles, ReportContext
from shared.events import Envelope, derive_event_id
from shared.providers import Provider
from shared.runtime import TaskContext
from shared.topics import Size

__all__ = ["oldest_month", "queue_manifest_files"]

GET_REPORT_FILES = "masu.processor.tasks.get_report_files"


def months_back(today: date, count: int) -> date:
    """Return the first day of the month ``count - 1`` months before ``today``'s."""
    index = today.year * 12 + today.month - 1 - (count - 1)
    return date(index // 12, index % 12 + 1, 1)


def oldest_month(ctx: TaskContext, provider: Provider) -> date:
    """Return the first month to ingest: more months for a provider not set up yet."""
    settings = ctx.settings
    initial = not provider.setup_complete or settings.INITIAL_INGEST_OVERRIDE
    count = settings.INITIAL_INGEST_NUM_MONTHS if initial else 2
    return months_back(datetime.now(UTC).date(), count)


async def queue_manifest_files(
    ctx: TaskContext,
    provider: Provider,
    assembly_id: str,
    billing_period_start: date,
    report_keys: list[str],
    *,
    report_type: str | None = None,
) -> None:
    """Record a delivery and emit get_report_files for each file not finished yet.

    A delivery seen before is not recorded again, but its unfinished files are
    queued again: the event ids come from the manifest, so a file whose event is
    still in flight is a duplicate that the inbox drops.
    """
    async with ctx.pool.acquire() as conn, conn.transaction():
        record = await manifests.create_manifest(
            conn, provider.uuid, assembly_id, billing_period_start, report_keys
        )
        await conn.execute(
            "UPDATE costpipe.providers SET polling_timestamp = now() WHERE uuid = $1",
            provider.uuid,
        )
        if record is None:
            record = await manifests.find_manifest(conn, provider.uuid, assembly_id)
        pending = await manifests.unfinished_files(conn, record.id) if record else []
    if record is None or not pending:
        return
    size = (
        Size.XL
        if record.num_total_files > ctx.settings.XL_REPORT_COUNT
        else Size.DEFAULT
    )
    for file_key in pending:
        event = _file_event(ctx.envelope, provider, record, file_key, report_type)
        await ctx.runtime.send_event(event, size)


def _file_event(
    parent: Envelope,
    provider: Provider,
    record: manifests.ManifestRecord,
    file_key: str,
    report_type: str | None,
) -> Envelope:
    context = ReportContext(
        manifest_id=record.id,
        assembly_id=record.assembly_id,
        file_key=file_key,
        num_total_files=record.num_total_files,
        billing_period_start=record.billing_period_start,
        report_type=report_type,
    )
    payload = GetReportFiles(
        customer_name=provider.schema_name,
        billing_source=provider.billing_source,
        provider_type=provider.type,
        schema_name=provider.schema_name,
        provider_uuid=provider.uuid,
        report_month=record.billing_period_start,
        report_context=context,
        tracing_id=parent.tracing_id,
    )
    return Envelope(
        event_id=derive_event_id(f"manifest:{record.id}", GET_REPORT_FILES, file_key),
        task=GET_REPORT_FILES,
        tracing_id=parent.tracing_id,
        schema_name=provider.schema_name,
        provider_uuid=provider.uuid,
        created_at=datetime.now(UTC),
        payload=payload.model_dump(mode="json"),
    )
