"""Tests of the independent Azure export reader behind ``costpipe run``."""

import gzip
import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

from services.reports_azure import azure_daily_totals, find_azure_deliveries

FIXTURES = Path(__file__).parent / "fixtures" / "azure"


def test_classic_month_takes_newest_file(tmp_path):
    month = tmp_path / "exports" / "costs" / "20240101-20240131"
    month.mkdir(parents=True)
    older = month / "costs_0b2f0d7c-0000-4000-8000-000000000000.csv"
    newer = month / "costs_1c3e1e8d-1111-4111-8111-111111111111.csv"
    older.write_text("Date,CostInBillingCurrency\n2024-01-15,9.99\n", encoding="utf-8")
    newer.write_bytes((FIXTURES / "q07_5_legacy_v1_bom.csv").read_bytes())
    os.utime(older, (1_700_000_000, 1_700_000_000))
    os.utime(newer, (1_700_000_100, 1_700_000_100))
    (delivery,) = find_azure_deliveries(tmp_path)
    assert delivery.prefix == "exports"
    assert delivery.export_name == "costs"
    # The legacy file has UsageDateTime 01/15/2024 and PreTaxCost 1.20.
    assert azure_daily_totals(delivery) == {date(2024, 1, 15): Decimal("1.20")}


def test_partitioned_month_takes_latest_run(tmp_path):
    month = tmp_path / "costs" / "20240101-20240131"
    for stamp, submitted, cost in (("202401120305", "2024-01-12T03:05:00Z", "5.00"),
                                   ("202401130307", "2024-01-13T03:07:00Z", "0.75")):  # fmt: skip
        run = month / stamp / f"run-{stamp}"
        run.mkdir(parents=True)
        body = f"date,costInBillingCurrency\n2024-01-02,{cost}\n2024-01-02,0.25\n"
        (run / "part_0_0001.csv.gz").write_bytes(gzip.compress(body.encode()))
        manifest = {
            "runInfo": {"submittedTime": submitted},
            "blobs": [
                {
                    "blobName": f"costs/20240101-20240131/{stamp}/run-{stamp}/part_0_0001.csv.gz"
                }
            ],
        }
        (run / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (delivery,) = find_azure_deliveries(tmp_path)
    assert delivery.prefix == ""
    assert azure_daily_totals(delivery) == {date(2024, 1, 2): Decimal("1.00")}


def test_localised_header_read(tmp_path):
    month = tmp_path / "d" / "costs" / "20240101-20240131"
    month.mkdir(parents=True)
    (month / "costs_x.csv").write_bytes(
        (FIXTURES / "q07_4_localised_german.csv").read_bytes()
    )
    (delivery,) = find_azure_deliveries(tmp_path)
    assert azure_daily_totals(delivery) == {date(2024, 1, 15): Decimal("1.20")}
