"""One logical CUR row in the three AWS dialects gives identical canonical rows (quirk Q-01)."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.downloader.aws.columns import Dialect, detect_dialect
from shared.errors import BadInputError
from tests.unit.aws_support import (
    ACCOUNT,
    FIXTURES,
    canonical_rows,
    convert,
    write_athena_q01,
    write_cur2_q01,
)

PERIOD = date(2025, 1, 1)


@pytest.fixture(scope="module")
def dialect_rows(tmp_path_factory):
    """Canonical rows of Q-01 from legacy CSV, Athena Parquet and CUR 2.0 Parquet."""
    root = tmp_path_factory.mktemp("q01")
    athena = write_athena_q01(
        root / "year=2025" / "month=1" / "cur-00001.snappy.parquet"
    )
    cur2 = write_cur2_q01(
        root / "billing_period=2025-01" / "export-00001.snappy.parquet"
    )
    return {
        "legacy": canonical_rows(
            convert(FIXTURES / "q01_legacy.csv", root / "a", PERIOD)
        ),
        "athena": canonical_rows(convert(athena, root / "b", PERIOD)),
        "cur2": canonical_rows(convert(cur2, root / "c", PERIOD)),
    }


@pytest.mark.parametrize("dialect", ["athena", "cur2"])
def test_dialect_rows_equal_legacy(dialect_rows, dialect):
    assert dialect_rows[dialect] == dialect_rows["legacy"]


@pytest.mark.parametrize("dialect", ["legacy", "athena", "cur2"])
def test_dialect_row_values(dialect_rows, dialect):
    [row] = dialect_rows[dialect]
    assert row["usage_start"] == datetime(2025, 1, 1, tzinfo=UTC)
    assert row["usage_date"] == date(2025, 1, 1)
    assert row["usage_account_id"] == ACCOUNT
    assert row["product_code"] == "AmazonEC2"
    assert row["region"] == "us-east-1"
    assert row["unblended_cost"] == Decimal("0.10")
    assert json.loads(row["tags"]) == {"team": "platform"}
    assert row["billing_period_start"] == PERIOD
    assert row["charge_category"] == "usage"
    assert row["amortized_cost"] == Decimal("0.10")


def test_cur2_drops_aws_generated_tags(tmp_path):
    path = write_cur2_q01(
        tmp_path / "export-00001.parquet",
        extra_tags={"aws_createdBy": "root", "user_env": "prod", "user_empty": ""},
    )
    [row] = canonical_rows(convert(path, tmp_path / "out", PERIOD))
    # Keys are sorted, as the legacy dialect's tag columns are.
    assert row["tags"] == '{"env":"prod","team":"platform"}'


def test_cur2_csv_reads_map_columns_as_json(tmp_path):
    source = tmp_path / "export-00001.csv"
    source.write_text(
        "line_item_usage_account_id,line_item_line_item_type,line_item_usage_start_date,"
        "line_item_product_code,line_item_unblended_cost,product,resource_tags\n"
        f'{ACCOUNT},Usage,2025-01-01T00:00:00Z,AmazonEC2,0.10,"{{""region"": ""us-east-1""}}",'
        '"{""user_team"": ""platform""}"\n'
    )
    [row] = canonical_rows(convert(source, tmp_path / "out", PERIOD))
    assert row["region"] == "us-east-1"
    assert row["tags"] == '{"team":"platform"}'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["lineItem/UsageStartDate", "lineItem/UnblendedCost"], Dialect.LEGACY),
        (["LINEITEM/USAGESTARTDATE"], Dialect.LEGACY),
        (["line_item_usage_start_date", "resource_tags_user_team"], Dialect.ATHENA),
        (["line_item_usage_start_date", "product"], Dialect.CUR2),
        (["line_item_usage_start_date", "resource_tags"], Dialect.CUR2),
    ],
)
def test_detect_dialect(header, expected):
    assert detect_dialect(header, "report.csv") is expected


def test_detect_dialect_unknown_header_raises():
    with pytest.raises(BadInputError) as caught:
        detect_dialect(["Date", "CostInBillingCurrency"], "part_0_0001.csv")
    message = str(caught.value)
    assert "part_0_0001.csv" in message
    assert "matches no CUR dialect" in message
    assert "lineItem/UsageStartDate" in message


@pytest.mark.parametrize("dialect", ["athena", "cur2"])
def test_parquet_missing_required_column_raises(tmp_path, dialect):
    import pyarrow.parquet as pq

    writer = write_athena_q01 if dialect == "athena" else write_cur2_q01
    path = writer(tmp_path / "full.parquet")
    table = pq.read_table(path).drop(["line_item_unblended_cost"])
    pq.write_table(table, tmp_path / "partial.parquet")
    with pytest.raises(BadInputError) as caught:
        convert(tmp_path / "partial.parquet", tmp_path / "out", PERIOD)
    message = str(caught.value)
    assert "partial.parquet" in message
    assert "missing required column(s) line_item_unblended_cost" in message
    assert not (tmp_path / "out" / "days").exists()
