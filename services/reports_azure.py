"""Read Azure cost export folders straight from their files, apart from the pipeline.

``costpipe run`` prints these totals beside the summary's, so a reader can see that
every cent of an export reached the daily table. The reader uses Python's csv and
Decimal only, sharing no code with the conversion it checks. It expects the layout
an export writes to its storage container: ``<prefix>/<export>/<YYYYMMDD-YYYYMMDD>/``
with either ``<export>_<guid>.csv`` files (classic) or run folders holding
``manifest.json`` and ``part_<n>_<m>.csv.gz`` files (partitioned).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

__all__ = ["AzureDelivery", "azure_daily_totals", "find_azure_deliveries"]

_RANGE_RE = re.compile(r"^\d{8}-\d{8}$")
_COST_COLUMNS = ("costinbillingcurrency", "pretaxcost")
_DATE_COLUMNS = ("date", "usagedatetime")


@dataclass(frozen=True)
class AzureDelivery:
    """One export's month folders under ``root``."""

    root: Path
    prefix: str
    export_name: str
    month_folders: tuple[Path, ...]


def find_azure_deliveries(root: Path) -> list[AzureDelivery]:
    """Return each (prefix, export name) with its ``YYYYMMDD-YYYYMMDD`` folders."""
    found: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for folder in sorted(
        p for p in root.rglob("*") if p.is_dir() and _RANGE_RE.match(p.name)
    ):
        relative = folder.relative_to(root).parts
        if len(relative) < 2:
            continue
        found[("/".join(relative[:-2]), relative[-2])].append(folder)
    return [
        AzureDelivery(root, prefix, export, tuple(folders))
        for (prefix, export), folders in sorted(found.items())
    ]


def _month_files(folder: Path) -> list[Path]:
    """Return the data files of the month's latest run."""
    manifests = [
        p for p in folder.rglob("*") if p.name in ("manifest.json", "_manifest.json")
    ]
    if manifests:

        def submitted(path: Path) -> tuple[str, str]:
            info = json.loads(path.read_text(encoding="utf-8")).get("runInfo") or {}
            return (str(info.get("submittedTime") or ""), path.as_posix())

        latest = max(manifests, key=submitted)
        blobs = json.loads(latest.read_text(encoding="utf-8"))["blobs"]
        return [latest.parent / Path(blob["blobName"]).name for blob in blobs]
    classic = [p for p in folder.iterdir() if p.is_file() and ".csv" in p.name.lower()]
    if not classic:
        return []
    # A classic export writes a complete file per run; the newest file is current.
    return [max(classic, key=lambda p: (p.stat().st_mtime, p.name))]


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _key(header: str) -> str:
    text = header.strip()
    match = re.search(r"\(([^()]+)\)\s*$", text)
    if match:
        text = match.group(1)
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _day(text: str) -> date:
    value = text.strip()
    if "/" in value:
        return datetime.strptime(value.split()[0], "%m/%d/%Y").date()  # noqa: DTZ007 - a date
    return date.fromisoformat(value[:10])


def azure_daily_totals(delivery: AzureDelivery) -> dict[date, Decimal]:
    """Sum the cost column per usage day over each month's latest run."""
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for folder in delivery.month_folders:
        for path in _month_files(folder):
            with _open_text(path) as handle:
                reader = csv.reader(handle)
                keys = [_key(column) for column in next(reader)]
                cost = next(keys.index(k) for k in _COST_COLUMNS if k in keys)
                day = next(keys.index(k) for k in _DATE_COLUMNS if k in keys)
                for row in reader:
                    if row:
                        totals[_day(row[day])] += Decimal(row[cost])
    return dict(sorted(totals.items()))
