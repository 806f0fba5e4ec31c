"""Find Azure cost export runs in a provider's bucket; queue each month's latest run.

The storage container of an export is copied to the bucket under ``report_prefix``
(the export's directory), so objects sit at ``<prefix>/<export>/<YYYYMMDD-YYYYMMDD>/``:

- classic exports write ``<export>_<guid>.csv`` straight into the month folder, one
  complete file per run;
- partitioned exports write a ``manifest.json`` (``_manifest.json`` in older runs)
  into a folder per run, listing the run's ``part_<n>_<m>.csv.gz`` blobs.

Every run restates the whole month, so only the latest run of a month is recorded.
Its run id (partitioned) or the guid of its file name (classic) is the assembly id,
so a re-delivered run maps to the manifest already recorded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath

from services.downloader.polling import oldest_month, queue_manifest_files
from shared import manifests
from shared.errors import BadInputError
from shared.providers import Provider
from shared.runtime import TaskContext

__all__ = [
    "AzureRun",
    "MonthFolder",
    "classic_runs",
    "find_month_folders",
    "latest_run",
    "parse_run_manifest",
    "poll_azure_provider",
]

log = logging.getLogger(__name__)

_RANGE_RE = re.compile(r"^(\d{8})-(\d{8})$")
_GUID_RE = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_ASSEMBLY_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_MANIFEST_NAMES = ("manifest.json", "_manifest.json")
_DATA_SUFFIXES = (".csv", ".csv.gz", ".gz", ".zip")


@dataclass(frozen=True)
class MonthFolder:
    """The objects of one export under one ``YYYYMMDD-YYYYMMDD`` folder."""

    export_name: str
    folder: str
    billing_period_start: date
    manifest_keys: tuple[str, ...]
    # Data files directly in the month folder: the runs of a classic export.
    classic_keys: tuple[str, ...]
    all_keys: frozenset[str] = field(repr=False)


@dataclass(frozen=True)
class AzureRun:
    """One export run: the files that together restate one month."""

    assembly_id: str
    billing_period_start: date
    report_keys: tuple[str, ...]
    # Sorts runs of a month oldest first: submitted time, then object key.
    order: tuple[str, str]


def _is_data_key(key: str) -> bool:
    return key.lower().endswith(_DATA_SUFFIXES)


def find_month_folders(
    keys: Iterable[str], prefix: str, export_name: str | None
) -> list[MonthFolder]:
    """Group the keys under ``prefix`` by export and month folder."""
    base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key in keys:
        if not key.startswith(base):
            continue
        parts = key[len(base) :].split("/")
        if len(parts) < 3 or not _RANGE_RE.match(parts[1]):
            continue
        if export_name and parts[0] != export_name:
            continue
        grouped[(parts[0], parts[1])].append(key)
    folders = []
    for (export, month_range), members in sorted(grouped.items()):
        start_text = _RANGE_RE.match(month_range)[1]  # type: ignore[index]
        try:
            start = datetime.strptime(start_text, "%Y%m%d").date()  # noqa: DTZ007 - a date
        except ValueError:
            log.warning(
                "Azure month folder skipped: %s is not a date range", month_range
            )
            continue
        folder = f"{base}{export}/{month_range}"
        depth = len(folder.split("/")) + 1
        manifests_found = sorted(
            k for k in members if PurePosixPath(k).name in _MANIFEST_NAMES
        )
        classic = sorted(
            k for k in members if len(k.split("/")) == depth and _is_data_key(k)
        )
        folders.append(
            MonthFolder(
                export_name=export,
                folder=folder,
                billing_period_start=start.replace(day=1),
                manifest_keys=tuple(manifests_found),
                classic_keys=tuple(classic),
                all_keys=frozenset(members),
            )
        )
    return folders


def _fallback_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _resolve_blob(blob_name: str, manifest_key: str, folder: MonthFolder) -> str | None:
    """Return the bucket key of a manifest's blob, or None when it is not delivered.

    ``blobName`` is the path inside the storage container, which matches the key
    when the container was copied to the bucket as is. When it was copied under
    another prefix, the blob is found in the manifest's folder or by its path tail.
    """
    name = blob_name.lstrip("/")
    if name in folder.all_keys:
        return name
    beside = f"{PurePosixPath(manifest_key).parent}/{PurePosixPath(name).name}"
    if beside in folder.all_keys:
        return beside
    tails = [key for key in folder.all_keys if key.endswith("/" + name)]
    return tails[0] if len(tails) == 1 else None


def parse_run_manifest(key: str, body: bytes, folder: MonthFolder) -> AzureRun:
    """Parse a partitioned export's manifest; raise BadInputError naming a bad field."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadInputError(
            f"{key}: export manifest is not valid JSON: {error}"
        ) from error
    if not isinstance(document, dict):
        raise BadInputError(f"{key}: export manifest must be a JSON object")
    blobs = document.get("blobs")
    if not isinstance(blobs, list) or not blobs:
        raise BadInputError(
            f"{key}: field blobs is missing or empty; expected the list of the run's "
            'part files as {"blobName": ...} objects'
        )
    report_keys = []
    for index, blob in enumerate(blobs):
        name = blob.get("blobName") if isinstance(blob, dict) else None
        if not isinstance(name, str) or not name.strip("/"):
            raise BadInputError(
                f"{key}: blobs[{index}].blobName is missing or not text"
            )
        resolved = _resolve_blob(name, key, folder)
        if resolved is None:
            raise BadInputError(
                f"{key}: blobs[{index}].blobName {name!r} was not found under "
                f"{folder.folder}/; copy the whole run folder to the bucket"
            )
        report_keys.append(resolved)
    run_info = document.get("runInfo")
    if not isinstance(run_info, dict):
        run_info = {}
    run_id = run_info.get("runId")
    run_folder = PurePosixPath(key).parent.name
    if isinstance(run_id, str) and _ASSEMBLY_RE.match(run_id):
        assembly = run_id
    elif _ASSEMBLY_RE.match(run_folder):
        assembly = run_folder
    else:
        assembly = _fallback_id(key)
    submitted = run_info.get("submittedTime")
    order = (submitted if isinstance(submitted, str) else "", key)
    return AzureRun(assembly, folder.billing_period_start, tuple(report_keys), order)


def classic_runs(folder: MonthFolder) -> list[AzureRun]:
    """Return one run per data file directly in a classic export's month folder."""
    runs = []
    for key in folder.classic_keys:
        guid = _GUID_RE.search(PurePosixPath(key).name)
        assembly = guid.group(0).lower() if guid else _fallback_id(key)
        runs.append(AzureRun(assembly, folder.billing_period_start, (key,), ("", key)))
    return runs


def latest_run(runs: Iterable[AzureRun]) -> AzureRun:
    """Return the run submitted last (by manifest time, then key)."""
    return max(runs, key=lambda run: run.order)


async def _latest_classic_run(
    ctx: TaskContext, provider: Provider, runs: list[AzureRun]
) -> AzureRun:
    """Pick the current run of a classic export month.

    A run file not recorded yet arrived after every recorded one, so it is the
    latest. Without a recorded run there is no order to go by, because the objects'
    modification times are not listed.
    """
    async with ctx.pool.acquire() as conn:
        recorded = {}
        for run in runs:
            record = await manifests.find_manifest(conn, provider.uuid, run.assembly_id)
            if record is not None:
                recorded[run.assembly_id] = record.id
    new = [run for run in runs if run.assembly_id not in recorded]
    if len(new) > 1:
        # NOTE: several unrecorded classic files in one month are ordered by key,
        # not by upload time, because the object store lists no modification times.
        log.warning(
            "several new Azure classic export files in one month; taking the last key",
            extra={
                "provider_uuid": str(provider.uuid),
                "files": [r.report_keys[0] for r in new],
            },
        )
    if new:
        return latest_run(new)
    return max(runs, key=lambda run: recorded[run.assembly_id])


async def poll_azure_provider(ctx: TaskContext, provider: Provider) -> None:
    """Record and queue the latest run of each export month in the ingest window."""
    bucket = provider.billing_source["bucket"]
    prefix = provider.billing_source.get("report_prefix", "").strip("/")
    export_name = provider.billing_source.get("report_name")
    keys = await ctx.store.list_keys(bucket, f"{prefix}/" if prefix else "")
    oldest = oldest_month(ctx, provider)
    folders = [
        folder
        for folder in find_month_folders(keys, prefix, export_name)
        if folder.billing_period_start >= oldest
    ]
    log.info(
        "report check found %d Azure export month folder(s)",
        len(folders),
        extra={"provider_uuid": str(provider.uuid), "bucket": bucket},
    )
    for folder in folders:
        if folder.manifest_keys:
            runs = [
                parse_run_manifest(key, await ctx.store.get_bytes(bucket, key), folder)
                for key in folder.manifest_keys
            ]
            run = latest_run(runs)
        elif folder.classic_keys:
            run = await _latest_classic_run(ctx, provider, classic_runs(folder))
        else:
            continue
        await queue_manifest_files(
            ctx,
            provider,
            run.assembly_id,
            run.billing_period_start,
            list(run.report_keys),
        )
