"""The independent GCP export reader that ``costpipe run`` prints beside the summary."""

from __future__ import annotations

import gzip
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

from services.reports_gcp import (
    find_gcp_deliveries,
    gcp_daily_measures,
    gcp_daily_totals,
)

FIXTURES = Path(__file__).parent / "fixtures" / "gcp"


def test_cross_over_totals_by_usage_day(tmp_path: Path) -> None:
    for name in ("q11_202506_export.csv", "q11_202507_export.csv"):
        folder = tmp_path / name[4:10]
        folder.mkdir()
        shutil.copy(FIXTURES / name, folder / name)
    deliveries = find_gcp_deliveries(tmp_path)
    assert len(deliveries) == 2
    totals: dict[date, Decimal] = {}
    for delivery in deliveries:
        for day, cost in gcp_daily_totals(delivery).items():
            totals[day] = totals.get(day, Decimal(0)) + cost
    assert totals == {
        date(2025, 6, 30): Decimal("5.00"),
        date(2025, 7, 1): Decimal("7.00"),
    }


def test_measures_of_all_dialects(tmp_path: Path) -> None:
    # Hand sums: cost 1.234567, credits -0.2 - 0.034567 - 0.1 = -0.334567.
    names = ("dialect_dotted.csv", "dialect_underscore.csv", "dialect_nested.jsonl")
    for name in names:
        folder = tmp_path / name.split(".")[0]
        folder.mkdir()
        (folder / f"{name}.gz").write_bytes(
            gzip.compress((FIXTURES / name).read_bytes())
        )
        (delivery,) = find_gcp_deliveries(folder)
        assert gcp_daily_measures(delivery) == {
            date(2025, 7, 1): {
                "cost": Decimal("1.234567"),
                "credits": Decimal("-0.334567"),
                "cost_after_credits": Decimal("0.900000"),
            }
        }, name


def test_other_files_ignored(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    assert find_gcp_deliveries(tmp_path) == []
