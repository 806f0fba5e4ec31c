"""GCP cases of the report-quirk corpus, each a fixture and a test of its kind of fault.

Usage date vs invoice month ("cross-over" rows): GCP bills some usage of the 1st
of a month to the invoice of the month before (and end-of-month usage can go to
the next invoice). Input, in two export file sets:

    usage_start_time   invoice.month  cost
    2025-06-30T23:00Z  202506         5.00
    2025-07-01T00:00Z  202506         3.00
    2025-07-01T01:00Z  202507         4.00

Correct output: invoice June 8.00, invoice July 4.00, usage day 1 July 7.00, and a
re-export of invoice month 202506 also replaces the 1 July cross-over row. Day
files are keyed by invoice month (``year``/``month``) and usage date
(``day=YYYY-MM-DD``). Daily summary rows are keyed by usage date and carry the
invoice month as a column.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.downloader.gcp.export import convert_gcp_export
from services.summarizer import gcp_summary
from services.summarizer.gcp_summary import (
    SUMMARY_COLUMNS,
    select_gcp_day_keys,
    summarize_gcp_files,
)
from shared.keys import invoice_month_day_key, report_day_key

FIXTURES = Path(__file__).parent / "fixtures" / "gcp"
JUNE, JULY = date(2025, 6, 1), date(2025, 7, 1)
SCHEMA = "org1234567"
BUCKET = "data"


@dataclass(frozen=True)
class Manifest:
    assembly_id: str
    billing_period_start: date


class MemoryStore:
    """The object-store calls select_gcp_day_keys makes, over local files."""

    def __init__(self) -> None:
        self.objects: dict[str, Path] = {}

    async def list_keys(self, bucket: str, prefix: str) -> list[str]:
        return sorted(key for key in self.objects if key.startswith(prefix))


class Pipeline:
    """Convert export file sets, store day files under their keys, summarise a range."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path = tmp_path
        self.provider = uuid4()
        self.store = MemoryStore()
        # Newest downloaded delivery per invoice month, as PostgreSQL would return it.
        self.latest: dict[date, Manifest] = {}

        async def find_manifest(
            conn: Any, provider_uuid: UUID, assembly_id: str
        ) -> Manifest | None:
            return next(
                (m for m in self.latest.values() if m.assembly_id == assembly_id), None
            )

        async def latest_downloaded_manifest(
            conn: Any, provider_uuid: UUID, month: date
        ) -> Manifest | None:
            return self.latest.get(month)

        monkeypatch.setattr(gcp_summary.manifests, "find_manifest", find_manifest)
        monkeypatch.setattr(
            gcp_summary.manifests,
            "latest_downloaded_manifest",
            latest_downloaded_manifest,
        )

    def deliver(self, source: Path, invoice_month: date, assembly_id: str) -> None:
        out = self.tmp_path / assembly_id
        result = convert_gcp_export(source, source.name, out, invoice_month)
        stem = source.name.split(".", 1)[0]
        for day, path in result.day_files.items():
            key = report_day_key(
                SCHEMA, "GCP", self.provider, invoice_month, day, assembly_id, stem
            )
            stored_copy = out / f"{day}.parquet"
            shutil.copy(path, stored_copy)
            self.store.objects[key] = stored_copy
        self.latest[invoice_month] = Manifest(assembly_id, invoice_month)

    async def summarise(
        self, assembly_id: str, start: date, end: date
    ) -> list[dict[str, Any]]:
        keys = await select_gcp_day_keys(
            self.store,
            None,
            BUCKET,
            SCHEMA,
            "GCP",
            self.provider,
            assembly_id,
            start,
            end,
        )  # type: ignore[arg-type]
        rows = summarize_gcp_files([self.store.objects[k] for k in keys], start, end)
        return [dict(zip(SUMMARY_COLUMNS, row, strict=True)) for row in rows]


def by(rows: list[dict[str, Any]], column: str) -> dict[Any, Decimal]:
    totals: dict[Any, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row[column]] += row["unblended_cost"]
    return dict(totals)


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    line = Pipeline(tmp_path, monkeypatch)
    line.deliver(FIXTURES / "q11_202506_export.csv", JUNE, "june1")
    line.deliver(FIXTURES / "q11_202507_export.csv", JULY, "july1")
    return line


def test_cross_over_key_uses_invoice_month(pipeline: Pipeline) -> None:
    june_prefix = f"data/parquet/daily/{SCHEMA}/GCP/source={pipeline.provider}/year=2025/month=06/"
    july_prefix = f"data/parquet/daily/{SCHEMA}/GCP/source={pipeline.provider}/year=2025/month=07/"
    assert sorted(pipeline.store.objects) == [
        f"{june_prefix}day=2025-06-30/june1_q11_202506_export.parquet",
        f"{june_prefix}day=2025-07-01/june1_q11_202506_export.parquet",
        f"{july_prefix}day=2025-07-01/july1_q11_202507_export.parquet",
    ]


async def test_cross_over_day_sums_both_invoices(pipeline: Pipeline) -> None:
    # Whichever manifest requests the summary, 1 July reads both invoice months' lines.
    for assembly in ("june1", "july1"):
        rows = await pipeline.summarise(assembly, JULY, date(2025, 7, 31))
        assert by(rows, "usage_start") == {JULY: Decimal("7.00")}, assembly
        assert by(rows, "invoice_month") == {
            "202506": Decimal("3.00"),
            "202507": Decimal("4.00"),
        }, assembly


async def test_invoice_totals_span_usage_months(pipeline: Pipeline) -> None:
    june_days = await pipeline.summarise("june1", JUNE, date(2025, 6, 30))
    july_days = await pipeline.summarise("june1", JULY, date(2025, 7, 31))
    rows = june_days + july_days
    assert by(rows, "invoice_month") == {
        "202506": Decimal("8.00"),
        "202507": Decimal("4.00"),
    }
    assert by(rows, "usage_start") == {
        date(2025, 6, 30): Decimal("5.00"),
        JULY: Decimal("7.00"),
    }


async def test_reexported_invoice_replaces_cross_over(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    restated = tmp_path / "202506_restated.csv"
    text = (FIXTURES / "q11_202506_export.csv").read_text()
    restated.write_text(
        text.replace(
            "2025-07-01T01:00Z,project-a,Project A,[],[],us-central1,3.00",
            "2025-07-01T01:00Z,project-a,Project A,[],[],us-central1,2.50",
        )
    )
    pipeline.deliver(restated, JUNE, "june2")
    for assembly in ("june2", "july1"):
        rows = await pipeline.summarise(assembly, JULY, date(2025, 7, 31))
        assert by(rows, "usage_start") == {JULY: Decimal("6.50")}, assembly
        assert by(rows, "invoice_month") == {
            "202506": Decimal("2.50"),
            "202507": Decimal("4.00"),
        }, assembly


async def test_missing_neighbour_invoice_adds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = Pipeline(tmp_path, monkeypatch)
    line.deliver(FIXTURES / "q11_202507_export.csv", JULY, "july1")
    rows = await line.summarise("july1", JULY, date(2025, 7, 31))
    assert by(rows, "usage_start") == {JULY: Decimal("4.00")}


def test_day_partition_is_zero_padded_date() -> None:
    key = invoice_month_day_key(
        SCHEMA,
        "GCP-local",
        UUID(int=1),
        JUNE,
        date(2025, 7, 1),
        "abc",
        "202506_x_2025-06-01:2025-07-01",
    )
    assert "/GCP/" in key
    assert "/year=2025/month=06/day=2025-07-01/" in key
    assert key.endswith("/abc_202506_x_2025-06-01-2025-07-01.parquet")


def test_aws_keys_unchanged_by_dispatch() -> None:
    key = report_day_key(
        SCHEMA, "AWS", UUID(int=1), JUNE, date(2025, 7, 1), "abc", "report-1"
    )
    assert key.endswith(
        "/AWS/source=00000000-0000-0000-0000-000000000001/year=2025/month=07/day=01/abc_report-1.parquet"
    )
