"""Tests of the CUR CSV to daily Parquet conversion, read back with DuckDB."""

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import duckdb
import pytest

from services.downloader.aws.cur import convert_cur_report
from shared.errors import BadInputError

NAME = "costreport-00001.csv"
PERIOD = date(2026, 11, 1)
LEGACY_HEADER = [
    "identity/TimeInterval",
    "bill/PayerAccountId",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/ProductCode",
    "lineItem/UnblendedCost",
    "lineItem/BlendedCost",
    "savingsPlan/SavingsPlanEffectiveCost",
    "lineItem/CurrencyCode",
    "product/region",
    "resourceTags/user:team",
    "resourceTags/user:env",
]
SNAKE_HEADER = [
    "identity_time_interval",
    "bill_payer_account_id",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_product_code",
    "line_item_unblended_cost",
    "line_item_blended_cost",
    "savings_plan_savings_plan_effective_cost",
    "line_item_currency_code",
    "product_region",
    "resource_tags_user_team",
    "resource_tags_user_env",
]
INTERVAL = "2026-11-01T00:00:00Z/2026-12-01T00:00:00Z"
ROWS = [
    [
        INTERVAL,
        "012345678901",
        "012345678901",
        "Usage",
        "2026-11-01T00:00:00Z",
        "AmazonEC2",
        "0.125",
        "0.12",
        "None",
        "USD",
        "us-east-1",
        "platform",
        "prod",
    ],
    [
        INTERVAL,
        "012345678901",
        "012345678901",
        "Usage",
        "2026-11-01T23:00:00Z",
        "AmazonS3",
        "0.000000000000000001",
        "0",
        "",
        "USD",
        "us-east-1",
        "",
        "",
    ],
    [
        INTERVAL,
        "012345678901",
        "098765432109",
        "SavingsPlanCoveredUsage",
        "2026-11-02 01:00:00+00:00",
        "AmazonEC2",
        "2.5",
        "2.5",
        "1.75",
        "USD",
        "us-east-1",
        "platform",
        "",
    ],
    [
        INTERVAL,
        "012345678901",
        "098765432109",
        "Usage",
        "2026-11-02T02:00:00Z",
        "AmazonRDS",
        "10.3",
        "10",
        "",
        "USD",
        "eu-west-1",
        "",
        "prod",
    ],
]
# Legacy columns of the canonical set that LEGACY_HEADER lacks, in canonical order.
MISSING_OPTIONAL = (
    "bill/BillingEntity",
    "bill/InvoiceId",
    "lineItem/UsageEndDate",
    "lineItem/UsageType",
    "lineItem/LineItemDescription",
    "lineItem/Operation",
    "lineItem/AvailabilityZone",
    "lineItem/ResourceId",
    "lineItem/TaxType",
    "lineItem/UsageAmount",
    "lineItem/UnblendedRate",
    "lineItem/NetUnblendedCost",
    "savingsPlan/SavingsPlanARN",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "reservation/ReservationARN",
    "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
    "pricing/publicOnDemandCost",
    "pricing/unit",
    "product/ProductName",
    "product/productFamily",
    "product/instanceType",
)


def _write_csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _convert(tmp_path, header=LEGACY_HEADER, rows=ROWS, folder="out"):
    source = _write_csv(tmp_path / f"{folder}.csv", header, rows)
    return convert_cur_report(source, NAME, tmp_path / folder, PERIOD)


def _query(sql, *params):
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        return conn.execute(sql, list(params)).fetchall()


def _rows_of(path, columns):
    return _query(
        f"SELECT {columns} FROM read_parquet(?) ORDER BY usage_start, product_code",
        str(path),
    )


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    return _convert(tmp_path_factory.mktemp("legacy"))


def test_conversion_counts_rows(converted):
    assert converted.rows == 4


def test_conversion_writes_one_file_per_day(converted):
    assert sorted(converted.day_files) == [date(2026, 11, 1), date(2026, 11, 2)]


def test_conversion_day_file_is_parquet(converted):
    for path in converted.day_files.values():
        assert path.suffix == ".parquet"


def test_conversion_lists_missing_optional_columns(converted):
    assert converted.missing_optional == MISSING_OPTIONAL


def test_conversion_day_rows(converted):
    first = _query(
        "SELECT count(*) FROM read_parquet(?)", str(converted.day_files[PERIOD])
    )
    second = _query(
        "SELECT count(*) FROM read_parquet(?)",
        str(converted.day_files[date(2026, 11, 2)]),
    )
    assert first == [(2,)]
    assert second == [(2,)]


def test_conversion_day_sum_is_exact(converted):
    [(first,)] = _query(
        "SELECT sum(unblended_cost) FROM read_parquet(?)",
        str(converted.day_files[PERIOD]),
    )
    [(second,)] = _query(
        "SELECT sum(unblended_cost) FROM read_parquet(?)",
        str(converted.day_files[date(2026, 11, 2)]),
    )
    # 0.125 + 0.000000000000000001, which a double cannot hold.
    assert first == Decimal("0.125000000000000001")
    # 2.5 + 10.3
    assert second == Decimal("12.8")


def test_conversion_usage_date_of_both_timestamp_spellings(converted):
    rows = _rows_of(converted.day_files[date(2026, 11, 2)], "usage_start, usage_date")
    assert rows == [
        (datetime(2026, 11, 2, 1, 0, tzinfo=UTC), date(2026, 11, 2)),
        (datetime(2026, 11, 2, 2, 0, tzinfo=UTC), date(2026, 11, 2)),
    ]


def test_conversion_keeps_account_leading_zero(converted):
    rows = _rows_of(converted.day_files[PERIOD], "usage_account_id, payer_account_id")
    assert rows[0] == ("012345678901", "012345678901")


def test_conversion_account_id_is_text(converted):
    types = dict(
        _query(
            "SELECT column_name, column_type FROM"
            " (DESCRIBE SELECT * FROM read_parquet(?))",
            str(converted.day_files[PERIOD]),
        )
    )
    assert types["usage_account_id"] == "VARCHAR"


@pytest.mark.parametrize(
    "column",
    [
        "unblended_cost",
        "blended_cost",
        "savingsplan_effective_cost",
        "usage_amount",
        "unblended_rate",
        "public_on_demand_cost",
    ],
)
def test_conversion_cost_column_is_decimal(converted, column):
    types = dict(
        _query(
            "SELECT column_name, column_type FROM"
            " (DESCRIBE SELECT * FROM read_parquet(?))",
            str(converted.day_files[PERIOD]),
        )
    )
    assert types[column] == "DECIMAL(38,18)"


def test_conversion_tags_json(converted):
    rows = _rows_of(converted.day_files[PERIOD], "tags")
    assert rows[0] == ('{"env":"prod","team":"platform"}',)


def test_conversion_drops_empty_tag_values(converted):
    rows = _rows_of(converted.day_files[date(2026, 11, 2)], "tags")
    assert [json.loads(tags) for (tags,) in rows] == [
        {"team": "platform"},
        {"env": "prod"},
    ]


def test_conversion_all_empty_tags_give_empty_object(converted):
    rows = _rows_of(converted.day_files[PERIOD], "tags")
    assert json.loads(rows[1][0]) == {}


def test_conversion_none_text_becomes_null(converted):
    rows = _rows_of(converted.day_files[PERIOD], "savingsplan_effective_cost")
    assert rows == [(None,), (None,)]


def test_conversion_keeps_savings_plan_cost(converted):
    rows = _rows_of(
        converted.day_files[date(2026, 11, 2)], "savingsplan_effective_cost"
    )
    assert rows[0] == (Decimal("1.75"),)


def test_conversion_missing_optional_column_is_null(converted):
    rows = _rows_of(converted.day_files[PERIOD], "usage_amount, resource_id")
    assert rows[0] == (None, None)


def test_conversion_usage_date_missing_is_false_with_start(converted):
    rows = _rows_of(converted.day_files[PERIOD], "usage_date_missing")
    assert rows == [(False,), (False,)]


def test_conversion_sets_billing_period_start(converted):
    rows = _rows_of(converted.day_files[PERIOD], "billing_period_start")
    assert rows[0] == (PERIOD,)


def test_conversion_empty_usage_start_lands_on_period_start(tmp_path):
    row = list(ROWS[0])
    row[4] = ""
    result = _convert(tmp_path, rows=[row])
    assert sorted(result.day_files) == [PERIOD]
    rows = _query(
        "SELECT usage_start, usage_date, usage_date_missing FROM read_parquet(?)",
        str(result.day_files[PERIOD]),
    )
    assert rows == [(None, PERIOD, True)]


def test_conversion_mid_month_period_start(tmp_path):
    row = list(ROWS[0])
    row[4] = ""
    source = _write_csv(tmp_path / "r.csv", LEGACY_HEADER, [row])
    result = convert_cur_report(source, NAME, tmp_path / "out", date(2026, 11, 15))
    assert sorted(result.day_files) == [date(2026, 11, 15)]


def test_conversion_header_only_writes_no_days(tmp_path):
    result = _convert(tmp_path, rows=[])
    assert result.rows == 0
    assert result.day_files == {}


def test_conversion_missing_required_column_raises(tmp_path):
    index = LEGACY_HEADER.index("lineItem/UnblendedCost")
    header = LEGACY_HEADER[:index] + LEGACY_HEADER[index + 1 :]
    rows = [row[:index] + row[index + 1 :] for row in ROWS]
    with pytest.raises(BadInputError) as caught:
        _convert(tmp_path, header=header, rows=rows)
    message = str(caught.value)
    assert NAME in message
    assert "missing required column(s) lineItem/UnblendedCost" in message


def test_conversion_bad_cost_names_row_and_column(tmp_path):
    rows = [list(row) for row in ROWS]
    rows[2][6] = "abc"
    with pytest.raises(BadInputError) as caught:
        _convert(tmp_path, rows=rows)
    message = str(caught.value)
    # The header is line 1, so the third data row is line 4.
    assert f"{NAME}: row 4:" in message
    assert "column lineItem/UnblendedCost has 'abc'" in message


def test_conversion_empty_cost_names_row_and_column(tmp_path):
    rows = [list(row) for row in ROWS]
    rows[1][6] = ""
    with pytest.raises(BadInputError) as caught:
        _convert(tmp_path, rows=rows)
    message = str(caught.value)
    assert "row 3:" in message
    assert "column lineItem/UnblendedCost" in message


def test_conversion_bad_usage_start_names_row_and_column(tmp_path):
    rows = [list(row) for row in ROWS]
    rows[1][4] = "yesterday"
    with pytest.raises(BadInputError) as caught:
        _convert(tmp_path, rows=rows)
    message = str(caught.value)
    assert f"{NAME}: row 3:" in message
    assert "column lineItem/UsageStartDate has 'yesterday'" in message


def test_conversion_first_bad_row_is_reported(tmp_path):
    rows = [list(row) for row in ROWS]
    rows[1][6] = "x1"
    rows[3][6] = "x2"
    with pytest.raises(BadInputError) as caught:
        _convert(tmp_path, rows=rows)
    assert "row 3:" in str(caught.value)


def test_conversion_infinite_usage_start_raises_bad_input(tmp_path):
    rows = [list(row) for row in ROWS]
    rows[1][4] = "infinity"
    with pytest.raises(BadInputError) as caught:
        _convert(tmp_path, rows=rows)
    assert "column lineItem/UsageStartDate" in str(caught.value)


def test_conversion_epoch_usage_start_raises_bad_input(tmp_path):
    rows = [list(row) for row in ROWS]
    rows[1][4] = "epoch"
    with pytest.raises(BadInputError):
        _convert(tmp_path, rows=rows)


def test_conversion_bad_optional_cost_raises(tmp_path):
    rows = [list(row) for row in ROWS]
    rows[0][7] = "abc"
    with pytest.raises(BadInputError) as caught:
        _convert(tmp_path, rows=rows)
    message = str(caught.value)
    assert f"{NAME}: row 2:" in message
    assert "column lineItem/BlendedCost has 'abc'" in message


def test_conversion_other_dialect_raises(tmp_path):
    with pytest.raises(BadInputError) as caught:
        _convert(tmp_path, header=["foo", "bar"], rows=[["1", "2"]])
    message = str(caught.value)
    assert NAME in message
    assert "lineItem/UsageStartDate" in message
    assert "line_item_usage_start_date" in message


def test_conversion_empty_file_raises(tmp_path):
    source = tmp_path / "empty.csv"
    source.write_bytes(b"")
    with pytest.raises(BadInputError) as caught:
        convert_cur_report(source, NAME, tmp_path / "out", PERIOD)
    assert NAME in str(caught.value)


def test_conversion_snake_dialect_matches_legacy(tmp_path):
    legacy = _convert(tmp_path, folder="legacy")
    snake = _convert(tmp_path, header=SNAKE_HEADER, folder="snake")
    assert sorted(snake.day_files) == sorted(legacy.day_files)
    for day, path in legacy.day_files.items():
        assert _rows_of(snake.day_files[day], "*") == _rows_of(path, "*")


def test_conversion_snake_dialect_values(tmp_path):
    result = _convert(tmp_path, header=SNAKE_HEADER, rows=ROWS[:1])
    rows = _query(
        "SELECT usage_account_id, line_item_type, product_code, unblended_cost,"
        " region, tags FROM read_parquet(?)",
        str(result.day_files[PERIOD]),
    )
    assert rows == [
        (
            "012345678901",
            "Usage",
            "AmazonEC2",
            Decimal("0.125"),
            "us-east-1",
            '{"env":"prod","team":"platform"}',
        )
    ]
