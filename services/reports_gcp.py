"""Read GCP billing export files straight from a folder, independently of the pipeline.

``costpipe run`` can print these totals beside the summary's, so a reader can see
that every cent of the export reached the daily table. The reader uses Python's
csv, json and Decimal only and shares no code with the conversion it checks. It
reads CSV (dotted or underscore column names) and JSON-lines, plain or gzipped;
Parquet exports are not read here.
"""

from __future__ import annotations

import ast
import csv
import gzip
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = [
    "GcpDelivery",
    "find_gcp_deliveries",
    "gcp_daily_measures",
    "gcp_daily_totals",
]

_SUFFIXES = (".csv", ".json", ".jsonl", ".csv.gz", ".json.gz", ".jsonl.gz")


@dataclass(frozen=True)
class GcpDelivery:
    """The GCP export files of one folder, such as what ``nise report gcp`` writes."""

    root: Path
    files: tuple[Path, ...]


def find_gcp_deliveries(root: Path) -> list[GcpDelivery]:
    """Return one delivery per folder under ``root`` that contains GCP export files."""
    folders: dict[Path, list[Path]] = defaultdict(list)
    for path in sorted(root.rglob("*")):
        if (
            path.is_file()
            and path.name.lower().endswith(_SUFFIXES)
            and _is_gcp_export(path)
        ):
            folders[path.parent].append(path)
    return [GcpDelivery(root, tuple(files)) for _, files in sorted(folders.items())]


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with _open_text(path) as handle:
        first = handle.read(1)
        handle.seek(0)
        if first == "{":
            for line in handle:
                if line.strip():
                    yield json.loads(line, parse_float=Decimal, parse_int=Decimal)
        else:
            yield from csv.DictReader(handle)


def _is_gcp_export(path: Path) -> bool:
    for record in _records(path):
        return "usage_start_time" in record and ("cost" in record)
    return False


def _field(record: dict[str, Any], dotted: str) -> Any:
    """Return a field by its dotted name from a flat CSV row or a nested JSON record."""
    if dotted in record:
        return record[dotted]
    underscored = dotted.replace(".", "_")
    if underscored in record:
        return record[underscored]
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _usage_day(text: str) -> date:
    cleaned = str(text).strip().removesuffix(" UTC").replace("Z", "+00:00")
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _credit_sum(value: Any) -> Decimal:
    if value in (None, "", "[]"):
        return Decimal(0)
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal, parse_int=Decimal)
        except json.JSONDecodeError:
            value = ast.literal_eval(
                value
            )  # koku-nise writes Python's repr of the list
    if isinstance(value, dict):
        value = [value]
    return sum(
        (Decimal(str(credit.get("amount") or 0)) for credit in value), Decimal(0)
    )


def gcp_daily_measures(delivery: GcpDelivery) -> dict[date, dict[str, Decimal]]:
    """Sum cost, credits and cost after credits per usage day over the delivery's files."""
    totals: dict[date, dict[str, Decimal]] = defaultdict(
        lambda: {
            "cost": Decimal(0),
            "credits": Decimal(0),
            "cost_after_credits": Decimal(0),
        }
    )
    for path in delivery.files:
        for record in _records(path):
            day = _usage_day(_field(record, "usage_start_time"))
            cost = Decimal(str(_field(record, "cost")))
            credits = _credit_sum(_field(record, "credits"))
            totals[day]["cost"] += cost
            totals[day]["credits"] += credits
            totals[day]["cost_after_credits"] += cost + credits
    return dict(sorted(totals.items()))


def gcp_daily_totals(delivery: GcpDelivery) -> dict[date, Decimal]:
    """Sum ``cost`` per usage day (the UTC date of ``usage_start_time``)."""
    return {
        day: measures["cost"] for day, measures in gcp_daily_measures(delivery).items()
    }
