"""Tests of the Azure daily summary over converted line items, and its SQL files."""

import csv
import io
import re
from datetime import date
from decimal import Decimal
from importlib import resources

import pytest
import sqlglot
from sqlglot import exp

from services.downloader.azure.convert import convert_azure_csv
from services.summarizer.azure_summary import (
    SUMMARY_COLUMNS,
    UI_REFRESH_SQL,
    summarize_azure_files,
)
from services.summarizer.providers import summary_for
from shared.engines import load_query, to_trino

PERIOD = date(2024, 1, 1)
HEADER = [
    "SubscriptionId",
    "SubscriptionName",
    "ResourceLocation",
    "Date",
    "MeterCategory",
    "MeterId",
    "UnitOfMeasure",
    "Quantity",
    "CostInBillingCurrency",
    "BillingCurrency",
    "ResourceId",
    "Tags",
    "AdditionalInfo",
]
SUB = "0039a1b2-0000-0000-0000-000000000001"
VM = '{"ServiceType": "Standard_A0"}'
# Subscription, name, location, date, category, meter, unit, quantity, cost,
# currency, resource, tags, additional info.
LINES = [
    [SUB, "Prod", "US East", "2024-01-01", "Virtual Machines", "00123", "10 Hours",
     "1", "0.10", "EUR", "vm1", '{"env":"prod"}', VM],
    [SUB, "Prod", "US East", "01/01/2024", "Virtual Machines", "00123", "10 Hours",
     "2", "0.20", "EUR", "vm2", '"env": "prod"', VM],
    [SUB, "Prod", "US East", "2024-01-01", "Storage", "00456", "1 GB/Month",
     "5", "0.05", "EUR", "disk1", "", ""],
    [SUB, "Prod", "US East", "2024-01-02", "Virtual Machines", "00123", "10 Hours",
     "3", "0.30", "EUR", "vm1", '{"env":"prod"}', VM],
]  # fmt: skip


def convert_lines(tmp_path, lines):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([HEADER, *lines])
    path = tmp_path / "in.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return convert_azure_csv(path, "in.csv", tmp_path / "out", PERIOD)


def summary_rows(tmp_path, start=date(2024, 1, 1), end=date(2024, 1, 31)):
    result = convert_lines(tmp_path, LINES)
    rows = summarize_azure_files(list(result.day_files.values()), start, end)
    return [dict(zip(SUMMARY_COLUMNS, row, strict=True)) for row in rows]


def test_vm_rows_merge_across_tag_forms(tmp_path):
    rows = summary_rows(tmp_path)
    vm_day1 = [
        r
        for r in rows
        if r["usage_start"] == date(2024, 1, 1) and r["meter_id"] == "00123"
    ]
    (row,) = vm_day1
    # Two rows of 1 and 2 blocks of 10 hours: 30 hours, 0.10 + 0.20 = 0.30.
    assert row["usage_quantity"] == Decimal(30)
    assert row["pretax_cost"] == Decimal("0.30")
    assert row["unit_of_measure"] == "Hrs"
    assert row["tags"] == '{"env":"prod"}'
    assert row["instance_type"] == "Standard_A0"
    assert row["instance_ids"] == ["vm1", "vm2"]
    assert row["instance_count"] == 2
    assert row["line_item_count"] == 2
    assert row["currency"] == "EUR"
    assert row["subscription_guid"] == SUB
    assert row["subscription_name"] == "Prod"
    assert row["service_name"] == "Virtual Machines"
    assert row["resource_location"] == "US East"


def test_daily_totals_by_hand(tmp_path):
    rows = summary_rows(tmp_path)
    totals = {}
    for row in rows:
        totals[row["usage_start"]] = (
            totals.get(row["usage_start"], Decimal(0)) + row["pretax_cost"]
        )
    assert totals == {
        date(2024, 1, 1): Decimal("0.35"),
        date(2024, 1, 2): Decimal("0.30"),
    }


def test_storage_row_without_tags(tmp_path):
    (row,) = [r for r in summary_rows(tmp_path) if r["meter_id"] == "00456"]
    assert row["tags"] == "{}"
    assert row["instance_type"] is None
    assert row["usage_quantity"] == Decimal(5)
    assert row["unit_of_measure"] == "GB-Mo"


def test_range_limits_days(tmp_path):
    rows = summary_rows(tmp_path, date(2024, 1, 2), date(2024, 1, 2))
    assert {row["usage_start"] for row in rows} == {date(2024, 1, 2)}


def test_no_files_no_rows():
    assert summarize_azure_files([], date(2024, 1, 1), date(2024, 1, 31)) == []


def test_meter_id_stays_text(tmp_path):
    assert {row["meter_id"] for row in summary_rows(tmp_path)} == {"00123", "00456"}


def test_registered_for_azure_types():
    for provider_type in ("Azure", "Azure-local"):
        spec = summary_for(provider_type)
        assert spec is not None
        assert spec.table == "reporting_azurecostentrylineitem_daily_summary"
        assert spec.columns == SUMMARY_COLUMNS
        assert spec.refresh_sql == UI_REFRESH_SQL


def test_daily_query_transpiles_to_trino():
    query = load_query("services.summarizer.sql", "azure_daily_summary.sql")
    parsed = sqlglot.parse_one(to_trino(query), read="trino")
    assert isinstance(parsed, exp.Select)
    assert len(list(parsed.find_all(exp.Placeholder))) == 2
    assert [e.alias_or_name for e in parsed.expressions] == list(SUMMARY_COLUMNS)


TENANT_SQL = (
    resources.files("shared.sql")
    .joinpath("tenant_azure.sql")
    .read_text(encoding="utf-8")
)


def table_columns(table):
    body = re.search(rf"\.{table} \((.*?)\n\);", TENANT_SQL, re.S)
    assert body, table
    return [line.split()[0] for line in body.group(1).strip().splitlines()]


def test_summary_columns_exist_in_table():
    columns = table_columns("reporting_azurecostentrylineitem_daily_summary")
    assert set(SUMMARY_COLUMNS) <= set(columns)


@pytest.mark.parametrize("name", UI_REFRESH_SQL)
def test_refresh_sql_shape(name):
    statement = load_query("services.summarizer.sql", name)
    table = re.search(r"INSERT INTO \{schema\}\.(\w+) \(", statement).group(1)
    inserted = re.search(
        r"INSERT INTO \{schema\}\.\w+ \((.*?)\)", statement, re.S
    ).group(1)
    assert {c.strip() for c in inserted.split(",")} <= set(table_columns(table))
    assert f"DELETE FROM {{schema}}.{table}" in statement
    # One statement, binding exactly the source, first day and last day.
    parsed = sqlglot.parse(statement.replace("{schema}", '"org1"'), read="postgres")
    assert len([p for p in parsed if p is not None]) == 1
    assert set(re.findall(r"\$\d", statement)) == {"$1", "$2", "$3"}
