"""Convert one CUR CSV file into canonical line items, one Parquet file per usage day.

The conversion is one DuckDB statement over the CSV, read with every column as
text so account ids keep their leading zeros. Numbers become ``DECIMAL(38, 18)``:
money is never a float. Checks run before the conversion writes anything: a missing
required column or an unreadable required value raises :class:`BadInputError`
naming the file, the row and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

import duckdb

from shared.errors import BadInputError

__all__ = ["Column", "ConversionResult", "convert_cur_csv", "read_header"]

DECIMAL = "DECIMAL(38, 18)"


class Kind(StrEnum):
    TEXT = "text"
    DECIMAL = "decimal"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class Column:
    """A canonical line-item column and its spellings in the two CUR header styles."""

    name: str
    legacy: str
    snake: str
    kind: Kind = Kind.TEXT
    required: bool = False


COLUMNS = (
    Column("usage_account_id", "lineItem/UsageAccountId", "line_item_usage_account_id", required=True),
    Column("line_item_type", "lineItem/LineItemType", "line_item_line_item_type", required=True),
    Column("usage_start", "lineItem/UsageStartDate", "line_item_usage_start_date", Kind.TIMESTAMP, required=True),
    Column("product_code", "lineItem/ProductCode", "line_item_product_code", required=True),
    Column("unblended_cost", "lineItem/UnblendedCost", "line_item_unblended_cost", Kind.DECIMAL, required=True),
    Column("payer_account_id", "bill/PayerAccountId", "bill_payer_account_id"),
    Column("billing_entity", "bill/BillingEntity", "bill_billing_entity"),
    Column("invoice_id", "bill/InvoiceId", "bill_invoice_id"),
    Column("usage_end", "lineItem/UsageEndDate", "line_item_usage_end_date", Kind.TIMESTAMP),
    Column("usage_type", "lineItem/UsageType", "line_item_usage_type"),
    Column("operation", "lineItem/Operation", "line_item_operation"),
    Column("availability_zone", "lineItem/AvailabilityZone", "line_item_availability_zone"),
    Column("resource_id", "lineItem/ResourceId", "line_item_resource_id"),
    Column("tax_type", "lineItem/TaxType", "line_item_tax_type"),
    Column("currency_code", "lineItem/CurrencyCode", "line_item_currency_code"),
    Column("usage_amount", "lineItem/UsageAmount", "line_item_usage_amount", Kind.DECIMAL),
    Column("unblended_rate", "lineItem/UnblendedRate", "line_item_unblended_rate", Kind.DECIMAL),
    Column("blended_cost", "lineItem/BlendedCost", "line_item_blended_cost", Kind.DECIMAL),
    Column("savingsplan_effective_cost", "savingsPlan/SavingsPlanEffectiveCost", "savings_plan_savings_plan_effective_cost", Kind.DECIMAL),
    Column("public_on_demand_cost", "pricing/publicOnDemandCost", "pricing_public_on_demand_cost", Kind.DECIMAL),
    Column("unit", "pricing/unit", "pricing_unit"),
    Column("product_name", "product/ProductName", "product_product_name"),
    Column("product_family", "product/productFamily", "product_product_family"),
    Column("region", "product/region", "product_region"),
    Column("instance_type", "product/instanceType", "product_instance_type"),
)

# Column-name prefixes whose columns fold into one JSON object each.
_TAG_PREFIXES = {"legacy": "resourceTags/user:", "snake": "resource_tags_user_"}
_COST_CATEGORY_PREFIXES = {"legacy": "costCategory/", "snake": "cost_category_"}
# Values that mean "no value" in optional numeric columns; the report generator
# writes Python's None as the text "None".
_EMPTY_VALUES = ("", "None", "null", "NULL")


@dataclass(frozen=True)
class ConversionResult:
    """What one report file produced."""

    rows: int
    day_files: dict[date, Path]
    missing_optional: tuple[str, ...]


def read_header(path: Path, name: str) -> list[str]:
    """Return the CSV header of ``path``, without a byte-order mark."""
    with path.open(newline="", encoding="utf-8-sig", errors="strict") as handle:
        try:
            header = next(csv.reader(handle), None)
        except (UnicodeDecodeError, csv.Error) as error:
            raise BadInputError(f"{name}: the header row is not UTF-8 CSV: {error}") from error
    if not header:
        raise BadInputError(f"{name}: the file is empty; expected a CUR CSV header row")
    return [column.strip() for column in header]


def detect_dialect(header: Iterable[str], name: str) -> str:
    """Return ``legacy`` (``lineItem/UsageStartDate``) or ``snake`` header style."""
    columns = set(header)
    if any(c.legacy in columns for c in COLUMNS if c.required):
        return "legacy"
    if any(c.snake in columns for c in COLUMNS if c.required):
        return "snake"
    raise BadInputError(
        f"{name}: the header matches no CUR column style: expected columns such as "
        "lineItem/UsageStartDate (legacy CSV) or line_item_usage_start_date (Athena or CUR 2.0)"
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_object_expression(header: list[str], prefix: str) -> str:
    """Fold the columns starting with ``prefix`` into a JSON object, dropping empties."""
    pairs = sorted((column[len(prefix) :], column) for column in header if column.startswith(prefix))
    if not pairs:
        return "'{}'"
    entries = ", ".join(
        f"{{'key': {_literal(key)}, 'value': {_quote(column)}}}" for key, column in pairs
    )
    return (
        f"to_json(map_from_entries(list_filter([{entries}], "
        f"lambda e: coalesce(e.value, '') NOT IN ('', 'None'))))::VARCHAR"
    )


def _blank_to_null(expression: str) -> str:
    empties = ", ".join(_literal(value) for value in _EMPTY_VALUES)
    return f"CASE WHEN trim({expression}) IN ({empties}) THEN NULL ELSE trim({expression}) END"


def _select_list(header: list[str], dialect: str, billing_period_start: date) -> tuple[list[str], list[str]]:
    present = set(header)
    selected, missing = [], []
    for column in COLUMNS:
        source = column.legacy if dialect == "legacy" else column.snake
        if source not in present:
            missing.append(source)
            cast = {Kind.TEXT: "VARCHAR", Kind.DECIMAL: DECIMAL, Kind.TIMESTAMP: "TIMESTAMPTZ"}
            selected.append(f"CAST(NULL AS {cast[column.kind]}) AS {column.name}")
            continue
        value = _blank_to_null(_quote(source))
        if column.kind is Kind.DECIMAL:
            selected.append(f"CAST({value} AS {DECIMAL}) AS {column.name}")
        elif column.kind is Kind.TIMESTAMP:
            selected.append(f"CAST({value} AS TIMESTAMPTZ) AS {column.name}")
        else:
            selected.append(f"{value} AS {column.name}")
    selected.append(f"{_json_object_expression(header, _TAG_PREFIXES[dialect])} AS tags")
    selected.append(
        f"{_json_object_expression(header, _COST_CATEGORY_PREFIXES[dialect])} AS cost_category"
    )
    selected.append(f"DATE {_literal(billing_period_start.isoformat())} AS billing_period_start")
    return selected, missing


def _check_required_present(header: list[str], dialect: str, name: str) -> None:
    present = set(header)
    missing = [
        (c.legacy if dialect == "legacy" else c.snake)
        for c in COLUMNS
        if c.required and (c.legacy if dialect == "legacy" else c.snake) not in present
    ]
    if missing:
        raise BadInputError(
            f"{name}: missing required column(s) {', '.join(missing)}; re-create the report "
            "with these columns (they are in every standard CUR)"
        )


def _check_values(conn: duckdb.DuckDBPyConnection, dialect: str, name: str) -> None:
    """Find the first row whose required timestamp or cost cannot be read."""
    for column in COLUMNS:
        if not column.required or column.kind is Kind.TEXT:
            continue
        source = _quote(column.legacy if dialect == "legacy" else column.snake)
        target = "TIMESTAMPTZ" if column.kind is Kind.TIMESTAMP else DECIMAL
        allow_empty = column.kind is Kind.TIMESTAMP
        empty_test = "" if allow_empty else f" OR trim(coalesce({source}, '')) = ''"
        # DuckDB also reads words such as 'epoch' and 'infinity' as timestamps; a
        # usage start must be written out, starting with a YYYY-MM-DD date.
        shape_test = (
            f" OR (trim(coalesce({source}, '')) <> ''"
            f" AND NOT regexp_matches(trim({source}), '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}'))"
            if column.kind is Kind.TIMESTAMP
            else ""
        )
        row = conn.execute(
            f"SELECT source_row, {source} FROM report WHERE"
            f" (trim(coalesce({source}, '')) <> '' AND TRY_CAST(trim({source}) AS {target}) IS NULL)"
            f"{empty_test}{shape_test} ORDER BY source_row LIMIT 1"
        ).fetchone()
        if row is not None:
            expected = (
                "an ISO 8601 timestamp such as 2025-01-01T00:00:00Z"
                if column.kind is Kind.TIMESTAMP
                else "a decimal number such as 0.125"
            )
            raise BadInputError(
                f"{name}: row {row[0]}: column {source.strip(chr(34))} has {row[1]!r}, "
                f"expected {expected}; fix the row or re-deliver the report"
            )


def convert_cur_csv(
    csv_path: Path,
    name: str,
    out_dir: Path,
    billing_period_start: date,
    *,
    memory_limit: str = "512MB",
    threads: int = 2,
) -> ConversionResult:
    """Write ``csv_path``'s line items to ``out_dir`` as one Parquet file per usage day.

    A line without a usage start (tax, credit and refund lines can lack one) lands on
    the billing period's first day with ``usage_date_missing`` set.
    """
    header = read_header(csv_path, name)
    dialect = detect_dialect(header, name)
    _check_required_present(header, dialect, name)
    selected, missing = _select_list(header, dialect, billing_period_start)
    out_dir.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads})
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(f"SET temp_directory = {_literal(str(out_dir / 'spill'))}")
        conn.execute(
            "CREATE TEMP VIEW report AS SELECT *, row_number() OVER () + 1 AS source_row"
            f" FROM read_csv({_literal(str(csv_path))}, all_varchar = true, header = true,"
            " delim = ',', quote = '\"', escape = '\"', strict_mode = false)"
        )
        _check_values(conn, dialect, name)
        canonical = ", ".join(selected)
        conn.execute(
            "CREATE TEMP VIEW line_items AS SELECT *,"
            " CAST(coalesce(usage_start, CAST(billing_period_start AS TIMESTAMPTZ)) AS DATE)"
            "   AS usage_date,"
            " usage_start IS NULL AS usage_date_missing"
            f" FROM (SELECT {canonical} FROM report)"
        )
        try:
            conn.execute(
                "COPY (SELECT *, strftime(usage_date, '%Y-%m-%d') AS day_partition"
                " FROM line_items) TO "
                f"{_literal(str(out_dir / 'days'))}"
                " (FORMAT parquet, PARTITION_BY (day_partition), OVERWRITE true,"
                " FILENAME_PATTERN 'part_{i}')"
            )
        except duckdb.ConversionException as error:
            raise BadInputError(f"{name}: a value cannot be read: {error}") from error
        count_row = conn.execute("SELECT count(*) FROM report").fetchone()
    except duckdb.InvalidInputException as error:
        raise BadInputError(f"{name}: the CSV cannot be parsed: {error}") from error
    finally:
        conn.close()
    day_files: dict[date, Path] = {}
    for folder in sorted((out_dir / "days").glob("day_partition=*")):
        day = date.fromisoformat(folder.name.split("=", 1)[1])
        parts = sorted(folder.glob("*.parquet"))
        if len(parts) != 1:
            raise RuntimeError(f"expected one Parquet file in {folder}, found {len(parts)}")
        day_files[day] = parts[0]
    rows = int(count_row[0]) if count_row else 0
    return ConversionResult(rows=rows, day_files=day_files, missing_optional=tuple(missing))
