"""Find GCP billing export files of one provider in its bucket, one manifest per file set.

An export file set is every file of one invoice month in one folder under the
provider's ``report_prefix``. The invoice month comes from the path: a file name
starting ``YYYYMM_`` (as koku-nise and Koku's GCP downloader name files), or a
folder named ``YYYYMM``, ``invoice_month=YYYYMM`` or ``year=YYYY/month=MM``.
The assembly id is a digest of the invoice month and the set's keys, so a set that
gains or loses a file is a new delivery that supersedes the old one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath

from services.downloader.polling import oldest_month, queue_manifest_files
from shared.providers import Provider
from shared.runtime import TaskContext

__all__ = ["ExportSet", "find_export_sets", "poll_gcp_provider"]

log = logging.getLogger(__name__)

_EXPORT_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson", ".parquet")
_CONTAINER_SUFFIXES = ("", ".gz", ".zip")
_NAME_MONTH_RE = re.compile(r"^(\d{4})(0[1-9]|1[0-2])_")
_FOLDER_MONTH_RE = re.compile(r"^(?:invoice_month=)?(\d{4})(0[1-9]|1[0-2])$")
_YEAR_RE = re.compile(r"^year=(\d{4})$")
_MONTH_RE = re.compile(r"^month=(0?[1-9]|1[0-2])$")


@dataclass(frozen=True)
class ExportSet:
    """The export files of one invoice month in one folder."""

    invoice_month: date
    folder: str
    keys: tuple[str, ...]

    @property
    def assembly_id(self) -> str:
        digest = hashlib.sha256(f"{self.invoice_month:%Y%m}\n".encode())
        for key in self.keys:
            digest.update(key.encode() + b"\n")
        return digest.hexdigest()[:32]


def _is_export_file(name: str) -> bool:
    lowered = name.lower()
    return any(
        lowered.endswith(e + c) for e in _EXPORT_SUFFIXES for c in _CONTAINER_SUFFIXES
    )


def invoice_month_of_key(key: str) -> date | None:
    """Return the invoice month that a key's path names, or None."""
    path = PurePosixPath(key)
    if match := _NAME_MONTH_RE.match(path.name):
        return date(int(match[1]), int(match[2]), 1)
    year: int | None = None
    for part in reversed(path.parent.parts):
        if match := _FOLDER_MONTH_RE.match(part):
            return date(int(match[1]), int(match[2]), 1)
    for part in path.parent.parts:
        if match := _YEAR_RE.match(part):
            year = int(match[1])
        elif (match := _MONTH_RE.match(part)) and year is not None:
            return date(year, int(match[1]), 1)
    return None


def find_export_sets(keys: list[str], prefix: str) -> tuple[list[ExportSet], list[str]]:
    """Group export files under ``prefix`` into sets; also return keys with no invoice month."""
    groups: dict[tuple[date, str], list[str]] = {}
    undated: list[str] = []
    base = f"{prefix}/" if prefix else ""
    for key in keys:
        if not key.startswith(base) or not _is_export_file(PurePosixPath(key).name):
            continue
        month = invoice_month_of_key(key[len(base) :])
        if month is None:
            undated.append(key)
            continue
        groups.setdefault((month, str(PurePosixPath(key).parent)), []).append(key)
    sets = [
        ExportSet(month, folder, tuple(sorted(files)))
        for (month, folder), files in sorted(groups.items())
    ]
    return sets, undated


async def poll_gcp_provider(ctx: TaskContext, provider: Provider) -> None:
    """Record each export file set in the ingest window and queue its files."""
    bucket = provider.billing_source["bucket"]
    prefix = provider.billing_source.get("report_prefix", "").strip("/")
    keys = await ctx.store.list_keys(bucket, f"{prefix}/" if prefix else "")
    sets, undated = find_export_sets(keys, prefix)
    if undated:
        log.warning(
            "GCP export files skipped: no invoice month in the path; name files YYYYMM_<name>"
            " or put them in a folder named YYYYMM",
            extra={
                "provider_uuid": str(provider.uuid),
                "bucket": bucket,
                "files": len(undated),
                "first": undated[0],
            },
        )
    oldest = oldest_month(ctx, provider)
    due = [export for export in sets if export.invoice_month >= oldest]
    log.info(
        "report check found %d GCP export file set(s)",
        len(due),
        extra={"provider_uuid": str(provider.uuid), "bucket": bucket},
    )
    for export in due:
        # NOTE: the object store lists keys without ETags. A re-export written over
        # the same keys is therefore not seen as a new delivery, so write it to new keys.
        await queue_manifest_files(
            ctx, provider, export.assembly_id, export.invoice_month, list(export.keys)
        )
