"""Tests of Azure export conversion: header dialects, values and bad input.

The fixtures under ``fixtures/azure`` carry one logical line item in each header set
Azure writes (legacy EA/pay-as-you-go, cost details, camelCase MCA, a localised
German header and a byte-order mark), plus the tag and unit faults.
"""

import csv
import gzip
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.downloader.azure.convert import LINE_ITEM_SCHEMA, convert_azure_csv
from services.downloader.containers import Container, write_plain_csv
from shared.errors import BadInputError

FIXTURES = Path(__file__).parent / "fixtures" / "azure"
PERIOD = date(2024, 1, 1)
SUBSCRIPTION = "00000000-0000-0000-0000-0000000000a1"
RESOURCE = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-prod"
    "/providers/Microsoft.Compute/virtualMachines/vm1"
)
HEADER_FILES = [
    "q07_1_legacy_v1.csv",
    "q07_2_ea_v2.csv",
    "q07_3_mca_camel.csv",
    "q07_4_localised_german.csv",
    "q07_5_legacy_v1_bom.csv",
    "q07_6_payg_billing_currency.csv",
]
# The canonical fields every header set must yield for the one line item, written
# out by hand from the fixture values: 10 blocks of "10 Hours" are 100 hours.
EXPECTED_ROW = {
    "usage_date": date(2024, 1, 15),
    "billing_period_start": PERIOD,
    "usage_account_id": SUBSCRIPTION,
    "resource_group": "rg-prod",
    "region": "US East",
    "service_name": "Virtual Machines",
    "meter_id": "00123",
    "meter_category": "Virtual Machines",
    "resource_id": RESOURCE,
    "instance_type": "Standard_A0",
    "unit_of_measure": "10 Hours",
    "unit": "Hrs",
    "quantity": Decimal(10),
    "usage_amount": Decimal(100),
    "cost": Decimal("1.20"),
    "currency_code": "EUR",
    "tags": '{"env":"prod"}',
    "tags_invalid": False,
}


def convert(path: Path, tmp_path: Path, name: str | None = None):
    return convert_azure_csv(path, name or path.name, tmp_path / "out", PERIOD)


def rows_of(result) -> list[dict]:
    rows = []
    for day in sorted(result.day_files):
        rows += pq.read_table(result.day_files[day]).to_pylist()
    return sorted(rows, key=lambda row: row["source_row"])


@pytest.mark.parametrize("fixture", HEADER_FILES)
def test_header_sets_yield_same_row(fixture, tmp_path):
    result = convert(FIXTURES / fixture, tmp_path)
    assert result.rows == 1
    assert list(result.day_files) == [date(2024, 1, 15)]
    (row,) = rows_of(result)
    for column, expected in EXPECTED_ROW.items():
        assert row[column] == expected, column


def test_bom_is_not_part_of_first_column(tmp_path):
    raw = (FIXTURES / "q07_5_legacy_v1_bom.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfSubscriptionGuid")
    (row,) = rows_of(convert(FIXTURES / "q07_5_legacy_v1_bom.csv", tmp_path))
    assert row["usage_account_id"] == SUBSCRIPTION


def test_parquet_schema_keeps_ids_as_text(tmp_path):
    result = convert(FIXTURES / "q07_2_ea_v2.csv", tmp_path)
    schema = pq.read_schema(result.day_files[date(2024, 1, 15)])
    assert schema.field("meter_id").type == pa.string()
    assert schema.field("usage_account_id").type == pa.string()
    assert schema.field("cost").type == pa.decimal128(38, 18)
    assert schema.names == LINE_ITEM_SCHEMA.names


def header_and_row(fixture: str) -> tuple[list[str], list[str]]:
    with (FIXTURES / fixture).open(newline="", encoding="utf-8-sig") as handle:
        header, row = list(csv.reader(handle))
    return header, row


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def with_cell(fixture: str, column: str, value: str) -> tuple[list[str], list[str]]:
    header, row = header_and_row(fixture)
    row = list(row)
    row[header.index(column)] = value
    return header, row


@pytest.mark.parametrize(
    ("column", "value"),
    [("BillingCurrencyCode", "JPY"), ("BillingCurrencyCode", "USD")],
)
def test_currency_code_carries_over(column, value, tmp_path):
    header, row = with_cell("q07_2_ea_v2.csv", column, value)
    (converted,) = rows_of(
        convert(write_csv(tmp_path / "in.csv", header, [row]), tmp_path)
    )
    assert converted["currency_code"] == value


def test_currency_falls_back_to_other_column(tmp_path):
    header, row = header_and_row("q07_2_ea_v2.csv")
    header = [*header, "Currency"]
    row = [*row, "GBP"]
    row[header.index("BillingCurrencyCode")] = ""
    (converted,) = rows_of(
        convert(write_csv(tmp_path / "in.csv", header, [row]), tmp_path)
    )
    assert converted["currency_code"] == "GBP"


def test_empty_currency_names_row(tmp_path):
    header, row = with_cell("q07_2_ea_v2.csv", "BillingCurrencyCode", "")
    path = write_csv(tmp_path / "in.csv", header, [row, row])
    with pytest.raises(BadInputError, match=r"in\.csv: row 2: no currency"):
        convert(path, tmp_path)


def test_meter_and_subscription_keep_leading_zeros(tmp_path):
    header, row = with_cell("q07_2_ea_v2.csv", "MeterId", "00123")
    row[header.index("SubscriptionId")] = "0039a1b2-0000-0000-0000-000000000001"
    (converted,) = rows_of(
        convert(write_csv(tmp_path / "in.csv", header, [row]), tmp_path)
    )
    assert converted["meter_id"] == "00123"
    assert converted["usage_account_id"] == "0039a1b2-0000-0000-0000-000000000001"


async def _chunks(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_gzip_part_file_yields_same_row(tmp_path):
    plain = (FIXTURES / "q07_2_ea_v2.csv").read_bytes()
    target = tmp_path / "report.csv"
    found = await write_plain_csv(
        _chunks(gzip.compress(plain), 100), "part_0_0001.csv.gz", target
    )
    assert found is Container.GZIP
    (row,) = rows_of(convert(target, tmp_path, "part_0_0001.csv.gz"))
    for column, expected in EXPECTED_ROW.items():
        assert row[column] == expected, column


def test_tags_and_additional_info_faults(tmp_path):
    result = convert(FIXTURES / "q08_tags_additional_info.csv", tmp_path)
    rows = rows_of(result)
    assert [json.loads(row["tags"]) for row in rows] == [
        {"env": "prod", "team": "a"},
        {"env": "prod", "team": "a"},
        {},
        {"env": "prod", "note": "owner: team-a", "team": "a"},
        {},
    ]
    assert [row["tags_invalid"] for row in rows] == [False, False, False, False, True]
    # Every row keeps its cost, including the one whose tags could not be read.
    assert [row["cost"] for row in rows] == [
        Decimal(n) for n in ("1", "2", "3", "4", "5")
    ]
    assert [row["instance_type"] for row in rows] == [
        "Standard_A0",
        None,
        None,
        "Standard_B2s",
        None,
    ]
    assert [row["additional_info_invalid"] for row in rows] == [
        False,
        True,
        False,
        False,
        True,
    ]


def test_units_with_multiplier(tmp_path):
    rows = rows_of(convert(FIXTURES / "q09_units.csv", tmp_path))
    assert [(row["usage_amount"], row["unit"]) for row in rows] == [
        (Decimal(100), "Hrs"),
        (Decimal(24), "Hrs"),
        (Decimal(5), "GB-Mo"),
        (Decimal(3), "10K Transactions"),
    ]
    assert [row["cost"] for row in rows] == [
        Decimal("1.20"),
        Decimal("2.40"),
        Decimal("0.50"),
        Decimal("0.03"),
    ]
    assert [row["quantity"] for row in rows] == [
        Decimal(10),
        Decimal(24),
        Decimal(5),
        Decimal(3),
    ]


def test_rows_split_by_usage_day(tmp_path):
    header, row = header_and_row("q07_2_ea_v2.csv")
    second = list(row)
    second[header.index("Date")] = "2024-01-16"
    result = convert(
        write_csv(tmp_path / "in.csv", header, [row, second, row]), tmp_path
    )
    assert sorted(result.day_files) == [date(2024, 1, 15), date(2024, 1, 16)]
    assert pq.read_table(result.day_files[date(2024, 1, 15)]).num_rows == 2
    assert result.rows == 3


def test_missing_optional_columns_listed(tmp_path):
    header = ["SubscriptionId", "Date", "CostInBillingCurrency", "BillingCurrency"]
    path = write_csv(
        tmp_path / "in.csv", header, [["sub-1", "2024-01-15", "0.5", "USD"]]
    )
    result = convert(path, tmp_path)
    assert "resource_id" in result.missing_optional
    assert "tags" in result.missing_optional
    (row,) = rows_of(result)
    assert row["resource_id"] is None
    assert row["tags"] == "{}"
    assert row["usage_amount"] is None


def test_unknown_header_set_rejected(tmp_path):
    path = write_csv(
        tmp_path / "costs.csv", ["Day", "Amount", "Sub"], [["2024-01-15", "1", "x"]]
    )
    with pytest.raises(BadInputError) as caught:
        convert(path, tmp_path)
    message = str(caught.value)
    assert message.startswith("costs.csv: row 1 (header)")
    assert "Date and CostInBillingCurrency" in message
    assert "UsageDateTime and PreTaxCost" in message
    assert "found Day, Amount, Sub" in message


def test_missing_subscription_column_rejected(tmp_path):
    path = write_csv(
        tmp_path / "costs.csv",
        ["Date", "CostInBillingCurrency", "Currency"],
        [["2024-01-15", "1", "USD"]],
    )
    with pytest.raises(
        BadInputError,
        match="missing required column SubscriptionId or SubscriptionGuid",
    ):
        convert(path, tmp_path)


def test_unreadable_date_names_row_and_column(tmp_path):
    header, row = header_and_row("q07_2_ea_v2.csv")
    bad = list(row)
    bad[header.index("Date")] = "15.01.2024"
    path = write_csv(tmp_path / "costs.csv", header, [row, row, bad])
    with pytest.raises(BadInputError) as caught:
        convert(path, tmp_path)
    message = str(caught.value)
    assert message.startswith("costs.csv: row 4: column Date has '15.01.2024'")
    assert "MM/DD/YYYY" in message


def test_day_first_date_rejected(tmp_path):
    header, row = with_cell("q07_1_legacy_v1.csv", "UsageDateTime", "15/01/2024")
    with pytest.raises(
        BadInputError, match="row 2: column UsageDateTime has '15/01/2024'"
    ):
        convert(write_csv(tmp_path / "in.csv", header, [row]), tmp_path)


def test_unreadable_cost_names_row_and_column(tmp_path):
    header, row = with_cell("q07_3_mca_camel.csv", "costInBillingCurrency", "1,20")
    with pytest.raises(
        BadInputError,
        match="row 2: column costInBillingCurrency has '1,20', expected a decimal",
    ):
        convert(write_csv(tmp_path / "in.csv", header, [row]), tmp_path)


def test_empty_cost_rejected(tmp_path):
    header, row = with_cell("q07_2_ea_v2.csv", "CostInBillingCurrency", "")
    with pytest.raises(BadInputError, match="row 2: column CostInBillingCurrency"):
        convert(write_csv(tmp_path / "in.csv", header, [row]), tmp_path)


def test_empty_file_rejected(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(BadInputError, match=r"empty\.csv: the file is empty"):
        convert(path, tmp_path)


def test_non_utf8_rejected(tmp_path):
    path = tmp_path / "latin.csv"
    header, _row = header_and_row("q07_4_localised_german.csv")
    path.write_bytes((",".join(header) + "\n").encode("latin-1"))
    with pytest.raises(BadInputError, match=r"latin\.csv: the file is not UTF-8"):
        convert(path, tmp_path)


def test_header_only_yields_no_days(tmp_path):
    header, _ = header_and_row("q07_2_ea_v2.csv")
    result = convert(write_csv(tmp_path / "in.csv", header, []), tmp_path)
    assert result.rows == 0
    assert result.day_files == {}
