"""Conversion of GCP billing export files (CSV, JSON-lines, Parquet) to canonical day files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.downloader.gcp.export import CANONICAL_SCHEMA, convert_gcp_export
from shared.errors import BadInputError

FIXTURES = Path(__file__).parent / "fixtures" / "gcp"
JULY = date(2025, 7, 1)
HEADER = "billing_account_id,service.id,sku.id,usage_start_time,project.id,cost,invoice.month,credits,labels"


def only_row(result_files: dict[date, Path]) -> dict[str, object]:
    assert len(result_files) == 1
    rows = pq.read_table(next(iter(result_files.values()))).to_pylist()
    assert len(rows) == 1
    row = rows[0]
    row.pop("source_row")
    return row


def write_parquet_copy(tmp_path: Path) -> Path:
    """Write the JSON-lines fixture as a Parquet export with nested structs, money as FLOAT64."""
    record = json.loads((FIXTURES / "dialect_nested.jsonl").read_text())
    for key in ("usage_start_time", "usage_end_time", "export_time"):
        record[key] = datetime.fromisoformat(record[key])
    path = tmp_path / "export.parquet"
    pq.write_table(pa.Table.from_pylist([record]), path)
    return path


def write_csv(tmp_path: Path, lines: list[str], name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_dialects_give_one_canonical_row(tmp_path: Path) -> None:
    sources = {
        "dotted CSV": FIXTURES / "dialect_dotted.csv",
        "underscore CSV": FIXTURES / "dialect_underscore.csv",
        "nested JSON-lines": FIXTURES / "dialect_nested.jsonl",
        "nested Parquet": write_parquet_copy(tmp_path),
    }
    rows = {}
    for label, path in sources.items():
        result = convert_gcp_export(
            path, path.name, tmp_path / label.replace(" ", "_"), JULY
        )
        assert result.rows == 1, label
        rows[label] = only_row(result.day_files)
    expected = rows["dotted CSV"]
    for label, row in rows.items():
        assert row == expected, label


def test_canonical_values_of_dotted_csv(tmp_path: Path) -> None:
    path = FIXTURES / "dialect_dotted.csv"
    row = only_row(convert_gcp_export(path, path.name, tmp_path, JULY).day_files)
    assert row["billing_account_id"] == "0012AB-CDEF01-234567"
    assert row["usage_start"] == datetime(2025, 7, 1, 5, tzinfo=UTC)
    assert row["usage_date"] == date(2025, 7, 1)
    assert row["invoice_month"] == "202507"
    assert row["cost"] == Decimal("1.234567")
    assert row["labels"] == '{"app": "web", "team": "platform"}'
    assert (
        row["system_labels"]
        == '{"compute.googleapis.com/machine_spec": "n1-standard-4"}'
    )
    assert row["project_labels"] == '{"env": "prod"}'
    assert row["location_region"] == "us-central1"
    assert row["usage_amount_in_pricing_units"] == Decimal(1)


def test_every_credit_is_summed_and_kept_by_type(tmp_path: Path) -> None:
    # Hand sum: -0.2 - 0.034567 - 0.1 = -0.334567; PROMOTION = -0.2 - 0.1 = -0.3.
    for name in (
        "dialect_dotted.csv",
        "dialect_underscore.csv",
        "dialect_nested.jsonl",
    ):
        path = FIXTURES / name
        row = only_row(convert_gcp_export(path, name, tmp_path / name, JULY).day_files)
        assert row["credit_amount"] == Decimal("-0.334567"), name
        assert json.loads(row["credits_by_type"], parse_float=Decimal) == {
            "PROMOTION": Decimal("-0.3"),
            "SUSTAINED_USAGE_DISCOUNT": Decimal("-0.034567"),
        }, name


def test_nise_empty_credit_record_adds_nothing(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [
            'A,S,K,2025-07-01T00:00:00,p,0.5,202507,"{""name"": """", ""amount"": 0, ""type"": """"}",[]',
            "A,S,K,2025-07-01T01:00:00,p,0.5,202507,[],",
        ],
    )
    result = convert_gcp_export(path, path.name, tmp_path / "out", JULY)
    rows = pq.read_table(result.day_files[JULY]).to_pylist()
    assert [r["credit_amount"] for r in rows] == [Decimal(0), Decimal(0)]
    assert [r["credits_by_type"] for r in rows] == ["{}", "{}"]
    assert [r["labels"] for r in rows] == ["{}", "{}"]


def test_ids_keep_leading_zeros(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [
            "000123-0ABCDE-000001,0039-AAAA,0001-BBBB,2025-07-01T00:00:00Z,0123,1,202507,[],[]"
        ],
    )
    row = only_row(
        convert_gcp_export(path, path.name, tmp_path / "out", JULY).day_files
    )
    assert row["billing_account_id"] == "000123-0ABCDE-000001"
    assert row["service_id"] == "0039-AAAA"
    assert row["project_id"] == "0123"
    assert CANONICAL_SCHEMA.field("billing_account_id").type == pa.string()


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2025-07-01T05:00:00", datetime(2025, 7, 1, 5, tzinfo=UTC)),
        ("2025-07-01 05:00:00 UTC", datetime(2025, 7, 1, 5, tzinfo=UTC)),
        ("2025-07-01 05:00:00 +0000 UTC", datetime(2025, 7, 1, 5, tzinfo=UTC)),
        ("2025-07-01T05:00:00Z", datetime(2025, 7, 1, 5, tzinfo=UTC)),
        ("2025-07-01T05:00:00.250Z", datetime(2025, 7, 1, 5, 0, 0, 250000, tzinfo=UTC)),
        ("2025-06-30T22:00:00-07:00", datetime(2025, 7, 1, 5, tzinfo=UTC)),
    ],
)
def test_timestamp_forms_read_as_utc(
    tmp_path: Path, text: str, instant: datetime
) -> None:
    path = write_csv(tmp_path, [f"A,S,K,{text},p,1,202507,[],[]"])
    row = only_row(
        convert_gcp_export(path, path.name, tmp_path / "out", JULY).day_files
    )
    assert row["usage_start"] == instant
    assert row["usage_date"] == date(2025, 7, 1)


def test_unknown_header_names_file(tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    path.write_text("Date,Amount\n2025-07-01,1.00\n", encoding="utf-8")
    with pytest.raises(BadInputError) as error:
        convert_gcp_export(path, "costs.csv", tmp_path / "out", JULY)
    message = str(error.value)
    assert message.startswith("costs.csv: ")
    assert "matches no GCP billing export dialect" in message
    assert "invoice.month" in message


def test_missing_required_column_named(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "billing_account_id,service.id,sku.id,usage_start_time,project.id,invoice.month\n",
        encoding="utf-8",
    )
    with pytest.raises(
        BadInputError, match=r"export\.csv: missing required column\(s\) cost"
    ):
        convert_gcp_export(path, "export.csv", tmp_path / "out", JULY)


@pytest.mark.parametrize(
    "bad", ["07/01/2025 05:00", "epoch", "2025-13-01T00:00:00", "yesterday"]
)
def test_unreadable_date_names_row_column(tmp_path: Path, bad: str) -> None:
    path = write_csv(
        tmp_path,
        [
            "A,S,K,2025-07-01T00:00:00Z,p,1,202507,[],[]",
            f"A,S,K,{bad},p,1,202507,[],[]",
        ],
    )
    with pytest.raises(BadInputError) as error:
        convert_gcp_export(path, "export.csv", tmp_path / "out", JULY)
    message = str(error.value)
    assert message.startswith("export.csv: row 3: column usage_start_time has ")
    assert "expected an ISO 8601 timestamp" in message
    assert not (tmp_path / "out" / "days").exists()


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("A,S,K,2025-07-01T00:00:00Z,p,1.0x,202507,[],[]", "cost"),
        ("A,S,K,2025-07-01T00:00:00Z,p,,202507,[],[]", "cost"),
        ("A,S,K,2025-07-01T00:00:00Z,p,1,2025-07,[],[]", "invoice.month"),
        ("A,S,K,2025-07-01T00:00:00Z,p,1,,[],[]", "invoice.month"),
        (
            'A,S,K,2025-07-01T00:00:00Z,p,1,202507,"[{""amount"": ""lots""}]",[]',
            "credits.amount",
        ),
        ("A,S,K,2025-07-01T00:00:00Z,p,1,202507,not json,[]", "credits"),
        ("A,S,K,2025-07-01T00:00:00Z,p,1,202507,[],[{oops", "labels"),
        (",S,K,2025-07-01T00:00:00Z,p,1,202507,[],[]", "billing_account_id"),
    ],
)
def test_unreadable_value_names_row_column(
    tmp_path: Path, line: str, column: str
) -> None:
    path = write_csv(tmp_path, [line])
    with pytest.raises(BadInputError) as error:
        convert_gcp_export(path, "export.csv", tmp_path / "out", JULY)
    assert str(error.value).startswith(f"export.csv: row 2: column {column} has ")


def test_usage_far_from_invoice_month_rejected(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["A,S,K,2025-03-01T00:00:00Z,p,1,202507,[],[]"])
    with pytest.raises(
        BadInputError, match="within one month of the file's invoice month 202507"
    ):
        convert_gcp_export(path, "export.csv", tmp_path / "out", JULY)


def test_rows_split_by_usage_day(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [
            "A,S,K,2025-06-30T23:00:00Z,p,1.10,202507,[],[]",
            "A,S,K,2025-07-01T00:00:00Z,p,2.20,202507,[],[]",
            "A,S,K,2025-07-01T23:59:59Z,p,3.30,202507,[],[]",
        ],
    )
    result = convert_gcp_export(path, "export.csv", tmp_path / "out", JULY)
    assert result.rows == 3
    assert sorted(result.day_files) == [date(2025, 6, 30), date(2025, 7, 1)]
    july = pq.read_table(result.day_files[JULY]).to_pylist()
    assert sum(r["cost"] for r in july) == Decimal("5.50")
    assert [r["source_row"] for r in july] == [3, 4]


def test_empty_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(BadInputError, match=r"empty\.csv: the file is empty"):
        convert_gcp_export(path, "empty.csv", tmp_path / "out", JULY)
