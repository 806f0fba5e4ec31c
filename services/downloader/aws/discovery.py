"""Find new CUR deliveries of one AWS provider in its bucket."""

from __future__ import annotations

import logging

from services.downloader.aws.exports import (
    billing_period_of_key,
    find_export_manifests,
    parse_export_manifest,
)
from services.downloader.aws.manifest import (
    CurManifest,
    find_month_manifests,
    month_of_manifest_key,
    parse_manifest,
)
from services.downloader.polling import oldest_month, queue_manifest_files
from shared.providers import Provider
from shared.runtime import TaskContext

__all__ = ["poll_aws_provider"]

log = logging.getLogger(__name__)


async def poll_aws_provider(ctx: TaskContext, provider: Provider) -> None:
    """Record each legacy CUR and CUR 2.0 manifest in the ingest window and queue its files."""
    bucket = provider.billing_source["bucket"]
    prefix = provider.billing_source.get("report_prefix", "").strip("/")
    report_name = provider.billing_source.get("report_name")
    keys = await ctx.store.list_keys(bucket, f"{prefix}/" if prefix else "")
    oldest = oldest_month(ctx, provider)
    due = [
        key
        for key in find_month_manifests(keys, prefix, report_name)
        if month_of_manifest_key(key) >= oldest
    ]
    exports = [
        key
        for key in find_export_manifests(keys, prefix, report_name)
        if (billing_period_of_key(key) or oldest) >= oldest
    ]
    log.info(
        "report check found %d manifest(s) and %d CUR 2.0 export manifest(s)",
        len(due),
        len(exports),
        extra={"provider_uuid": str(provider.uuid), "bucket": bucket},
    )
    for key in due:
        manifest = parse_manifest(key, await ctx.store.get_bytes(bucket, key))
        await _queue(ctx, provider, manifest)
    for key in exports:
        body = await ctx.store.get_bytes(bucket, key)
        await _queue(ctx, provider, parse_export_manifest(key, body, bucket))


async def _queue(ctx: TaskContext, provider: Provider, manifest: CurManifest) -> None:
    await queue_manifest_files(
        ctx,
        provider,
        manifest.assembly_id,
        manifest.billing_period_start,
        list(manifest.report_keys),
    )
