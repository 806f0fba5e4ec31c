"""Tests of reading a CUR delivery folder straight from its files."""

import csv
import gzip
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from services.reports import CurDelivery, find_cur_deliveries, report_daily_totals

ASSEMBLY = "7f4c2b9e-1d3a-4e8f-9b6c-0a2d5e7f1c3b"
STALE_ASSEMBLY = "00000000-1d3a-4e8f-9b6c-0a2d5e7f1c3b"
MONTH = "cur/costreport/20261101-20261201"
HEADER = [
    "identity/LineItemId",
    "lineItem/UsageAccountId",
    "lineItem/UsageStartDate",
    "lineItem/UnblendedCost",
]


def _csv_bytes(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _manifest(report_keys, start="20261101T000000.000Z"):
    document = {
        "assemblyId": ASSEMBLY,
        "billingPeriod": {"start": start, "end": "20261201T000000.000Z"},
        "reportKeys": report_keys,
    }
    return json.dumps(document).encode()


@pytest.fixture
def delivery_root(tmp_path):
    """Write a November delivery of a gzip and a plain file, beside a stale assembly."""
    gzip_key = f"{MONTH}/{ASSEMBLY}/costreport-00001.csv.gz"
    plain_key = f"{MONTH}/{ASSEMBLY}/costreport-00002.csv"
    first = [
        ["a1", "012345678901", "2026-11-01T00:00:00Z", "0.125"],
        ["a2", "012345678901", "2026-11-01T23:00:00Z", "0.375"],
        ["a3", "012345678901", "2026-11-02T01:00:00Z", "2.5"],
    ]
    second = [
        ["b1", "012345678901", "", "1.10"],
        ["b2", "012345678901", "2026-11-02T05:00:00Z", "-0.000000000000000001"],
    ]
    _write(tmp_path / gzip_key, gzip.compress(_csv_bytes(first), mtime=0))
    _write(tmp_path / plain_key, _csv_bytes(second))
    _write(
        tmp_path / f"{MONTH}/{STALE_ASSEMBLY}/costreport-00001.csv",
        _csv_bytes([["s1", "012345678901", "2026-11-01T00:00:00Z", "1000"]]),
    )
    manifest = _manifest([gzip_key, plain_key])
    _write(tmp_path / f"{MONTH}/costreport-Manifest.json", manifest)
    _write(tmp_path / f"{MONTH}/{ASSEMBLY}/costreport-Manifest.json", manifest)
    return tmp_path


def test_find_cur_deliveries_finds_month_manifest(delivery_root):
    assert find_cur_deliveries(delivery_root) == [
        CurDelivery(
            root=delivery_root,
            prefix="cur",
            report_name="costreport",
            manifest_paths=(delivery_root / MONTH / "costreport-Manifest.json",),
        )
    ]


def test_find_cur_deliveries_groups_months(tmp_path):
    october = tmp_path / "cur/costreport/20261001-20261101/costreport-Manifest.json"
    november = tmp_path / MONTH / "costreport-Manifest.json"
    for path in (november, october):
        _write(path, b"{}")
    [delivery] = find_cur_deliveries(tmp_path)
    assert delivery.manifest_paths == (october, november)


def test_find_cur_deliveries_separates_reports(tmp_path):
    _write(tmp_path / MONTH / "costreport-Manifest.json", b"{}")
    _write(
        tmp_path / "other/daily/20261101-20261201/daily-Manifest.json",
        b"{}",
    )
    found = [(d.prefix, d.report_name) for d in find_cur_deliveries(tmp_path)]
    assert found == [("cur", "costreport"), ("other", "daily")]


def test_find_cur_deliveries_without_prefix(tmp_path):
    _write(tmp_path / "costreport/20261101-20261201/costreport-Manifest.json", b"{}")
    [delivery] = find_cur_deliveries(tmp_path)
    assert delivery.prefix == ""
    assert delivery.report_name == "costreport"


def test_find_cur_deliveries_nested_prefix(tmp_path):
    path = tmp_path / "a/b/costreport/20261101-20261201/costreport-Manifest.json"
    _write(path, b"{}")
    [delivery] = find_cur_deliveries(tmp_path)
    assert delivery.prefix == "a/b"


@pytest.mark.parametrize(
    "relative",
    [
        pytest.param(
            "cur/costreport/20261101-20261201/otherreport-Manifest.json",
            id="other-report-name",
        ),
        pytest.param("cur/costreport/2026-11/costreport-Manifest.json", id="bad-range"),
        pytest.param("costreport/costreport-Manifest.json", id="too-shallow"),
    ],
)
def test_find_cur_deliveries_ignores_path(tmp_path, relative):
    _write(tmp_path / relative, b"{}")
    assert find_cur_deliveries(tmp_path) == []


def test_find_cur_deliveries_empty_folder(tmp_path):
    assert find_cur_deliveries(tmp_path) == []


def test_report_daily_totals(delivery_root):
    [delivery] = find_cur_deliveries(delivery_root)
    assert report_daily_totals(delivery) == {
        # 0.125 + 0.375 + 1.10 (no usage start, so the billing period's first day)
        date(2026, 11, 1): Decimal("1.600"),
        # 2.5 - 0.000000000000000001
        date(2026, 11, 2): Decimal("2.499999999999999999"),
    }


def test_report_daily_totals_sorted_by_day(delivery_root):
    [delivery] = find_cur_deliveries(delivery_root)
    assert list(report_daily_totals(delivery)) == [date(2026, 11, 1), date(2026, 11, 2)]


def test_report_daily_totals_over_two_months(tmp_path):
    october_month = "cur/costreport/20261001-20261101"
    october_key = f"{october_month}/{ASSEMBLY}/costreport-00001.csv"
    november_key = f"{MONTH}/{ASSEMBLY}/costreport-00001.csv"
    _write(
        tmp_path / october_key,
        _csv_bytes([["o1", "012345678901", "", "4.00"]]),
    )
    _write(
        tmp_path / november_key,
        _csv_bytes([["n1", "012345678901", "2026-11-30T23:59:59Z", "0.01"]]),
    )
    _write(
        tmp_path / f"{october_month}/costreport-Manifest.json",
        _manifest([october_key], start="20261001T000000.000Z"),
    )
    _write(tmp_path / f"{MONTH}/costreport-Manifest.json", _manifest([november_key]))
    [delivery] = find_cur_deliveries(tmp_path)
    assert report_daily_totals(delivery) == {
        date(2026, 10, 1): Decimal("4.00"),
        date(2026, 11, 30): Decimal("0.01"),
    }


def test_report_daily_totals_uses_utc_day(tmp_path):
    key = f"{MONTH}/{ASSEMBLY}/costreport-00001.csv"
    _write(
        tmp_path / key,
        _csv_bytes([["x1", "012345678901", "2026-11-01T23:00:00-05:00", "1.5"]]),
    )
    _write(tmp_path / f"{MONTH}/costreport-Manifest.json", _manifest([key]))
    [delivery] = find_cur_deliveries(tmp_path)
    assert report_daily_totals(delivery) == {date(2026, 11, 2): Decimal("1.5")}


def test_unreadable_cost_names_file_and_row(tmp_path):
    key = f"{MONTH}/{ASSEMBLY}/costreport-00001.csv"
    rows = [
        ["a1", "012345678901", "2026-11-01T00:00:00Z", "0.125"],
        ["a2", "012345678901", "2026-11-01T01:00:00Z", "12.3abc"],
    ]
    _write(tmp_path / key, _csv_bytes(rows))
    _write(tmp_path / MONTH / "costreport-Manifest.json", _manifest([key]))
    [delivery] = find_cur_deliveries(tmp_path)
    with pytest.raises(ValueError, match=r"costreport-00001\.csv: row 3: .*'12\.3abc'"):
        report_daily_totals(delivery)
