"""Read a CUR delivery folder straight from its files, independently of the pipeline.

``costpipe run`` prints these totals beside the summary's, so a reader can see that
every cent of the report reached the daily table. The reader uses Python's csv and
Decimal only, sharing no code with the conversion it checks.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

__all__ = ["CurDelivery", "find_cur_deliveries", "report_daily_totals"]


@dataclass(frozen=True)
class CurDelivery:
    """A CUR laid out as AWS writes it: ``<prefix>/<report>/<range>/<report>-Manifest.json``."""

    root: Path
    prefix: str
    report_name: str
    manifest_paths: tuple[Path, ...]


def find_cur_deliveries(root: Path) -> list[CurDelivery]:
    """Return each (prefix, report name) with its month manifests under ``root``."""
    found: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for manifest in sorted(root.rglob("*-Manifest.json")):
        relative = manifest.relative_to(root).parts
        if len(relative) < 3:
            continue
        report, date_range = relative[-3], relative[-2]
        if manifest.name != f"{report}-Manifest.json" or len(date_range) != 17:
            continue
        prefix = "/".join(relative[:-3])
        found[(prefix, report)].append(manifest)
    return [
        CurDelivery(root, p, r, tuple(paths)) for (p, r), paths in sorted(found.items())
    ]


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def report_daily_totals(delivery: CurDelivery) -> dict[date, Decimal]:
    """Sum ``lineItem/UnblendedCost`` per usage day over the current assembly of each month."""
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for manifest_path in delivery.manifest_paths:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        start = (
            datetime.strptime(manifest["billingPeriod"]["start"][:8], "%Y%m%d")
            .replace(tzinfo=UTC)
            .date()
        )
        for key in manifest["reportKeys"]:
            path = delivery.root / key
            with _open_text(path) as handle:
                reader = csv.DictReader(handle)
                for row in reader:
                    started = row.get("lineItem/UsageStartDate", "").strip()
                    cost = row["lineItem/UnblendedCost"]
                    try:
                        moment = (
                            datetime.fromisoformat(started.replace("Z", "+00:00"))
                            if started
                            else None
                        )
                        totals[moment.astimezone(UTC).date() if moment else start] += (
                            Decimal(cost)
                        )
                    except (ValueError, ArithmeticError) as error:
                        raise ValueError(
                            f"{key}: row {reader.line_num}: cannot read usage start"
                            f" {started!r} or unblended cost {cost!r}"
                        ) from error
    return dict(sorted(totals.items()))
