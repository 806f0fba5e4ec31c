"""Tests of the AWS daily summary over converted line items."""

import csv
from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.downloader.aws.cur import convert_cur_report
from services.summarizer.aws_summary import (
    SUMMARY_COLUMNS,
    export_aws_summary,
    summarize_aws_files,
)

PERIOD = date(2026, 11, 1)
HEADER = [
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/ProductCode",
    "lineItem/UsageAmount",
    "lineItem/UnblendedCost",
    "lineItem/BlendedCost",
    "savingsPlan/SavingsPlanEffectiveCost",
    "product/productFamily",
    "product/region",
    "pricing/unit",
    "lineItem/CurrencyCode",
    "resourceTags/user:team",
]
ACCOUNT = "012345678901"
# Account, line item type, usage start, product, usage amount, unblended cost,
# blended cost, savings plan effective cost, product family, region, unit,
# currency, team tag.
LINES = [
    [ACCOUNT, "Usage", "2026-11-01T00:00:00Z", "AmazonEC2", "2", "0.20", "0.19", "",
     "Compute Instance", "us-east-1", "Hrs", "USD", "platform"],
    [ACCOUNT, "Usage", "2026-11-01T13:00:00Z", "AmazonEC2", "3", "0.30", "0.29", "",
     "Compute Instance", "us-east-1", "Hrs", "USD", "platform"],
    [ACCOUNT, "Usage", "2026-11-01T02:00:00Z", "AmazonEC2", "4", "0.40", "0.40", "",
     "Compute Instance", "us-east-1", "Hrs", "USD", "data"],
    [ACCOUNT, "SavingsPlanCoveredUsage", "2026-11-02T00:00:00Z", "AmazonEC2", "10",
     "1.00", "1.00", "0.70", "Compute Instance", "us-east-1", "Hrs", "USD",
     "platform"],
    [ACCOUNT, "SavingsPlanNegation", "2026-11-02T00:00:00Z", "AmazonEC2", "10",
     "-1.00", "-1.00", "", "Compute Instance", "us-east-1", "Hrs", "USD",
     "platform"],
    [ACCOUNT, "SavingsPlanNegation", "2026-11-02T05:00:00Z", "AmazonEC2", "6",
     "-0.60", "-0.60", "", "Compute Instance", "us-east-1", "Hrs", "USD",
     "platform"],
    [ACCOUNT, "Usage", "2026-11-03T00:00:00Z", "AmazonEC2", "7", "0.70", "0.70", "",
     "Compute Instance", "us-east-1", "Hrs", "USD", "platform"],
]  # fmt: skip
PLATFORM = '{"team":"platform"}'
DATA = '{"team":"data"}'


@pytest.fixture(scope="module")
def day_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("summary")
    source = folder / "costreport-00001.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(LINES)
    result = convert_cur_report(source, source.name, folder / "out", PERIOD)
    return [result.day_files[day] for day in sorted(result.day_files)]


def _by_group(rows):
    """Index summary rows by (usage day, line item type, tags)."""
    named = [dict(zip(SUMMARY_COLUMNS, row, strict=True)) for row in rows]
    return {
        (row["usage_start"], row["line_item_type"], row["tags"]): row for row in named
    }


def test_summary_row_width(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 1), date(2026, 11, 2))
    assert {len(row) for row in rows} == {len(SUMMARY_COLUMNS)}


def test_summary_groups_in_range(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 1), date(2026, 11, 2))
    assert sorted(_by_group(rows)) == [
        (date(2026, 11, 1), "Usage", DATA),
        (date(2026, 11, 1), "Usage", PLATFORM),
        (date(2026, 11, 2), "SavingsPlanCoveredUsage", PLATFORM),
        (date(2026, 11, 2), "SavingsPlanNegation", PLATFORM),
    ]


def test_summary_sums_one_group(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 1), date(2026, 11, 2))
    group = _by_group(rows)[(date(2026, 11, 1), "Usage", PLATFORM)]
    assert group["usage_amount"] == Decimal("5")
    assert group["unblended_cost"] == Decimal("0.50")
    assert group["blended_cost"] == Decimal("0.48")
    assert group["savingsplan_effective_cost"] is None
    assert group["line_item_count"] == 2


def test_summary_separates_tags(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 1), date(2026, 11, 2))
    group = _by_group(rows)[(date(2026, 11, 1), "Usage", DATA)]
    assert group["usage_amount"] == Decimal("4")
    assert group["unblended_cost"] == Decimal("0.40")
    assert group["line_item_count"] == 1


def test_summary_keeps_dimensions(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 1), date(2026, 11, 1))
    group = _by_group(rows)[(date(2026, 11, 1), "Usage", PLATFORM)]
    assert group["usage_end"] == date(2026, 11, 1)
    assert group["usage_account_id"] == ACCOUNT
    assert group["product_code"] == "AmazonEC2"
    assert group["product_family"] == "Compute Instance"
    assert group["region"] == "us-east-1"
    assert group["unit"] == "Hrs"
    assert group["currency_code"] == "USD"
    assert group["availability_zone"] is None
    assert group["resource_ids"] == []
    assert group["resource_count"] == 0


def test_summary_savings_plan_covered_usage(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 2), date(2026, 11, 2))
    group = _by_group(rows)[(date(2026, 11, 2), "SavingsPlanCoveredUsage", PLATFORM)]
    assert group["usage_amount"] == Decimal("10")
    assert group["unblended_cost"] == Decimal("1.00")
    assert group["savingsplan_effective_cost"] == Decimal("0.70")


def test_summary_negation_adds_no_usage(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 2), date(2026, 11, 2))
    group = _by_group(rows)[(date(2026, 11, 2), "SavingsPlanNegation", PLATFORM)]
    # The two negation lines carry 10 and 6 usage hours, and neither counts.
    assert group["usage_amount"] == Decimal("0")
    assert group["line_item_count"] == 2


def test_summary_negation_cost_counts(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 2), date(2026, 11, 2))
    group = _by_group(rows)[(date(2026, 11, 2), "SavingsPlanNegation", PLATFORM)]
    # -1.00 + -0.60
    assert group["unblended_cost"] == Decimal("-1.60")
    assert group["blended_cost"] == Decimal("-1.60")


def test_summary_day_total_with_negation(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 2), date(2026, 11, 2))
    total = sum(row[SUMMARY_COLUMNS.index("unblended_cost")] for row in rows)
    # 1.00 - 1.00 - 0.60
    assert total == Decimal("-0.60")


def test_summary_excludes_days_after_range(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 1), date(2026, 11, 2))
    days = {row[SUMMARY_COLUMNS.index("usage_start")] for row in rows}
    assert date(2026, 11, 3) not in days


def test_summary_excludes_days_before_range(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 2), date(2026, 11, 3))
    days = {row[SUMMARY_COLUMNS.index("usage_start")] for row in rows}
    assert days == {date(2026, 11, 2), date(2026, 11, 3)}


def test_summary_range_end_is_inclusive(day_files):
    rows = summarize_aws_files(day_files, date(2026, 11, 3), date(2026, 11, 3))
    group = _by_group(rows)[(date(2026, 11, 3), "Usage", PLATFORM)]
    assert group["unblended_cost"] == Decimal("0.70")


def test_summary_range_without_data_is_empty(day_files):
    assert summarize_aws_files(day_files, date(2026, 12, 1), date(2026, 12, 31)) == []


def test_summary_without_files_is_empty():
    assert summarize_aws_files([], date(2026, 11, 1), date(2026, 11, 30)) == []


def test_summary_of_pyarrow_parquet(tmp_path):
    cost = pa.decimal128(38, 18)
    table = pa.table(
        {
            "usage_date": pa.array([date(2026, 11, 5)] * 2, pa.date32()),
            "usage_account_id": [ACCOUNT, ACCOUNT],
            "product_code": ["AmazonS3", "AmazonS3"],
            "product_family": ["Storage", "Storage"],
            "region": ["us-west-2", "us-west-2"],
            "availability_zone": [None, None],
            "resource_id": ["bucket-b", "bucket-a"],
            "line_item_type": ["Usage", "Usage"],
            "unit": ["GB-Mo", "GB-Mo"],
            "currency_code": ["USD", "USD"],
            "tags": ["{}", "{}"],
            "usage_amount": pa.array([Decimal("1.5"), Decimal("2.25")], cost),
            "unblended_cost": pa.array([Decimal("0.035"), Decimal("0.0525")], cost),
            "blended_cost": pa.array([Decimal("0.035"), Decimal("0.0525")], cost),
            "savingsplan_effective_cost": pa.array([None, None], cost),
        }
    )
    path = tmp_path / "line_items.parquet"
    pq.write_table(table, path)
    [row] = summarize_aws_files([path], date(2026, 11, 5), date(2026, 11, 5))
    summary = dict(zip(SUMMARY_COLUMNS, row, strict=True))
    assert summary["usage_amount"] == Decimal("3.75")
    assert summary["unblended_cost"] == Decimal("0.0875")
    # Two resources of the same dimensions share one row that lists both.
    assert summary["resource_ids"] == ["bucket-a", "bucket-b"]
    assert summary["resource_count"] == 2
    assert summary["line_item_count"] == 2


def _pyarrow_line_items(path, resource_ids):
    cost = pa.decimal128(38, 18)
    count = len(resource_ids)
    pq.write_table(
        pa.table(
            {
                "usage_date": pa.array([date(2026, 11, 5)] * count, pa.date32()),
                "usage_account_id": [ACCOUNT] * count,
                "product_code": ["AmazonS3"] * count,
                "product_family": ["Storage"] * count,
                "region": ["us-west-2"] * count,
                "availability_zone": pa.array([None] * count, pa.string()),
                "resource_id": resource_ids,
                "line_item_type": ["Usage"] * count,
                "unit": ["GB-Mo"] * count,
                "currency_code": ["USD"] * count,
                "tags": ['{"team":"a,\\"b\\""}'] * count,
                "usage_amount": pa.array([Decimal("1")] * count, cost),
                "unblended_cost": pa.array([Decimal("0.000000001")] * count, cost),
                "blended_cost": pa.array([None] * count, cost),
                "savingsplan_effective_cost": pa.array([None] * count, cost),
            }
        ),
        path,
    )
    return path


def _postgres_array(text):
    """Read a PostgreSQL array literal of quoted elements, as the COPY would."""
    assert text.startswith("{")
    assert text.endswith("}")
    body, items, index = text[1:-1], [], 0
    while index < len(body):
        assert body[index] == '"'
        index += 1
        item = []
        while body[index] != '"':
            if body[index] == "\\":
                index += 1
            item.append(body[index])
            index += 1
        items.append("".join(item))
        index += 2  # the closing quote and the comma
    return items


def test_export_writes_the_rows_of_the_query(tmp_path):
    ids = ['i-"quoted"', "back\\slash", "comma,id", None, "plain"]
    path = _pyarrow_line_items(tmp_path / "line_items.parquet", ids)
    day = date(2026, 11, 5)
    [expected] = summarize_aws_files([path], day, day)
    target = tmp_path / "summary.csv"
    source = "8c1ac4e5-0f8b-4a5e-9a34-7c1d5e0b9a11"
    written = export_aws_summary([path], day, day, target, leading=(source, 42))
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert written == len(rows) == 1
    [row] = rows
    assert row[:2] == [source, "42"]
    exported = dict(zip(SUMMARY_COLUMNS, row[2:], strict=True))
    summary = dict(zip(SUMMARY_COLUMNS, expected, strict=True))
    assert _postgres_array(exported["resource_ids"]) == summary["resource_ids"]
    assert exported["tags"] == summary["tags"]
    assert Decimal(exported["unblended_cost"]) == summary["unblended_cost"]
    assert exported["usage_start"] == "2026-11-05"
    assert exported["resource_count"] == "4"


def test_export_of_no_files_is_an_empty_file(tmp_path):
    target = tmp_path / "summary.csv"
    assert export_aws_summary([], PERIOD, PERIOD, target) == 0
    assert target.read_bytes() == b""
