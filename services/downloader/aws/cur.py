"""Convert one CUR file (CSV or Parquet, any dialect) into canonical line items per usage day.

The conversion is one DuckDB statement over the report, read with every column as
text so account ids keep their leading zeros; Parquet columns are cast to text
first, and CUR 2.0 map columns become JSON text. Numbers become ``DECIMAL(38, 18)``:
money is never a float. The statement reads the report once and checks every value
as it goes. A header of no known dialect, a missing required column or an
unreadable number or timestamp raises :class:`BadInputError` naming the file, the
row and the column. Finding that row takes a second, slower pass, which runs only on
a file that failed. Row numbers count lines of a CSV file (the header is line 1) and
rows of a Parquet file from 1.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from services.downloader.aws.columns import (
    COLUMNS,
    COST_CATEGORY_PREFIXES,
    CUR2_COST_CATEGORY_MAP,
    CUR2_PRODUCT_MAP,
    CUR2_TAG_MAP,
    CUR2_USER_TAG_PREFIX,
    TAG_PREFIXES,
    Column,
    Dialect,
    Kind,
    detect_dialect,
    source_name,
)
from shared.engines import load_query
from shared.errors import BadInputError

__all__ = [
    "ConversionResult",
    "charge_category_expression",
    "convert_cur_report",
    "read_header",
]

log = logging.getLogger(__name__)

DECIMAL = "DECIMAL(38, 18)"
_PARQUET_MAGIC = b"PAR1"
_SQL_TYPES = {
    Kind.TEXT: "VARCHAR",
    Kind.DECIMAL: DECIMAL,
    Kind.TIMESTAMP: "TIMESTAMPTZ",
}
# Values that mean "no value"; the report generator koku-nise writes Python's None
# as the text "None".
_EMPTY_VALUES = ("", "None", "null", "NULL")
# Charge category of each line item type (AWS's documented lineItem/LineItemType
# values). Types not listed, including new ones AWS adds, are "other".
CHARGE_CATEGORIES = {
    "Usage": "usage",
    "DiscountedUsage": "usage",
    "SavingsPlanCoveredUsage": "usage",
    "SavingsPlanNegation": "usage",
    "Fee": "fee",
    "RIFee": "fee",
    "SavingsPlanUpfrontFee": "fee",
    "SavingsPlanRecurringFee": "fee",
    "Tax": "tax",
    "Credit": "credit",
    "Refund": "refund",
    "BundledDiscount": "discount",
    "EdpDiscount": "discount",
    "PrivateRateDiscount": "discount",
    "SppDiscount": "discount",
    "DistributorDiscount": "discount",
}


@dataclass(frozen=True)
class ConversionResult:
    """Output of converting one report file."""

    rows: int
    day_files: dict[date, Path]
    missing_optional: tuple[str, ...]


def read_header(path: Path, name: str) -> list[str]:
    """Return the CSV header of ``path``, without a byte-order mark."""
    with path.open(newline="", encoding="utf-8-sig", errors="strict") as handle:
        try:
            header = next(csv.reader(handle), None)
        except (UnicodeDecodeError, csv.Error) as error:
            raise BadInputError(
                f"{name}: the header row is not UTF-8 CSV: {error}"
            ) from error
    if not header:
        raise BadInputError(f"{name}: the file is empty; expected a CUR CSV header row")
    return [column.strip() for column in header]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(_PARQUET_MAGIC)) == _PARQUET_MAGIC


def _parquet_source(
    conn: duckdb.DuckDBPyConnection, path: Path, name: str
) -> tuple[list[str], str]:
    """Return the column names of a Parquet file and a query reading them all as text."""
    reader = f"read_parquet({_literal(str(path))}, file_row_number = true)"
    try:
        schema = conn.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except (duckdb.IOException, duckdb.InvalidInputException) as error:
        raise BadInputError(
            f"{name}: the Parquet file cannot be read: {error}; re-deliver the report"
        ) from error
    header, selected = [], []
    for column_name, column_type, *_ in schema:
        if column_name == "file_row_number":
            continue
        header.append(column_name)
        # Maps and structs (CUR 2.0 product, resource_tags) become JSON text, as in a
        # CUR 2.0 CSV export, so one code path reads both. NOTE: Athena-style Parquet
        # stores costs as DOUBLE, and their text is the shortest repr of the double.
        nested = column_type.startswith(("MAP", "STRUCT")) or column_type.endswith("]")
        value = f"to_json({_quote(column_name)})" if nested else _quote(column_name)
        text = f"CAST({value} AS VARCHAR)"
        selected.append(f"{_blank_to_null(text)} AS {_quote(column_name)}")
    selected.append("file_row_number + 1 AS source_row")
    return header, f"SELECT {', '.join(selected)} FROM {reader}"


def _csv_source(path: Path, *, numbered: bool) -> str:
    """Return a query reading a CSV file as text, with the empty values as NULL.

    ``numbered`` adds each row's line number as ``source_row``. Numbering makes
    DuckDB keep the whole file in memory, so only the search for a bad row uses it.
    """
    empties = ", ".join(_literal(value) for value in _EMPTY_VALUES)
    numbers = ", row_number() OVER () + 1 AS source_row" if numbered else ""
    return (
        f"SELECT *{numbers}"
        f" FROM read_csv({_literal(str(path))}, all_varchar = true, header = true,"
        " delim = ',', quote = '\"', escape = '\"', strict_mode = false,"
        f" nullstr = [{empties}])"
    )


def _blank_to_null(expression: str) -> str:
    empties = ", ".join(_literal(value) for value in _EMPTY_VALUES)
    return f"CASE WHEN {expression} IN ({empties}) THEN NULL ELSE {expression} END"


def _prefixed_columns_json(header: list[str], prefix: str) -> str:
    """Fold the columns starting with ``prefix`` into a JSON object, dropping empties.

    The object is written as text, keys sorted, in the compact form of DuckDB's
    ``to_json``: ``{"env":"prod","team":"platform"}``.
    """
    pairs = sorted(
        (column[len(prefix) :], column)
        for column in header
        if column.lower().startswith(prefix.lower())
    )
    if not pairs:
        return "'{}'"
    members = ", ".join(
        f"CASE WHEN {_quote(column)} IS NOT NULL THEN"
        f" {_literal(json.dumps(key, ensure_ascii=False) + ':')}"
        f" || to_json({_quote(column)})::VARCHAR END"
        for key, column in pairs
    )
    return f"'{{' || concat_ws(',', {members}) || '}}'"


def _map_column_json(column: str, key_prefix: str) -> str:
    """Turn a CUR 2.0 map column (JSON text) into a sorted JSON object of its non-empty values.

    Only keys starting with ``key_prefix`` are kept, without the prefix, so
    ``{"user_team": "platform"}`` becomes ``{"team": "platform"}`` as the legacy
    ``resourceTags/user:team`` column does.
    """
    source = _quote(column)
    entries = f"map_entries(CAST(CAST({source} AS JSON) AS MAP(VARCHAR, VARCHAR)))"
    kept = (
        f"list_filter({entries}, lambda e: starts_with(e.key, {_literal(key_prefix)})"
        " AND coalesce(trim(e.value), '') NOT IN ('', 'None'))"
    )
    renamed = f"list_transform({kept}, lambda e: {{'key': e.key[{len(key_prefix) + 1}:], 'value': e.value}})"
    return (
        f"CASE WHEN coalesce(trim({source}), '') IN ('', 'null') THEN '{{}}'"
        f" ELSE to_json(map_from_entries(list_sort({renamed})))::VARCHAR END"
    )


def _typed(value: str, kind: Kind) -> str:
    return value if kind is Kind.TEXT else f"CAST({value} AS {_SQL_TYPES[kind]})"


# A usage date must be written out, starting with a YYYY-MM-DD date: DuckDB also
# reads words such as 'epoch' and 'infinity' as timestamps.
_DATE_PATTERN = "'^[0-9]{4}-[0-9]{2}-[0-9]{2}'"


def _checked(value: str, column: Column, source: str) -> str:
    """Return ``value`` typed for ``column``, failing the statement on a value it rejects.

    A CAST of an unreadable number or timestamp fails by itself; the cases a CAST
    accepts but a report must not contain call ``error()``.
    """
    rejected = f"{_literal(source)} || ' has an unreadable value'"
    if column.kind is Kind.TIMESTAMP:
        return (
            f"CASE WHEN {value} IS NOT NULL AND NOT regexp_matches({value}, {_DATE_PATTERN})"
            f" THEN error({rejected}) ELSE {_typed(value, column.kind)} END"
        )
    if column.kind is Kind.DECIMAL and column.required:
        # A line without a usage start is kept (it moves to the billing period's
        # first day), but a line without its cost is not a line item.
        return (
            f"CASE WHEN {value} IS NULL THEN error({rejected})"
            f" ELSE {_typed(value, column.kind)} END"
        )
    return _typed(value, column.kind)


def _resolve(header: list[str]) -> dict[str, str]:
    return {column.lower(): column for column in header}


def _select_list(
    header: list[str], dialect: Dialect, billing_period_start: date
) -> tuple[list[str], list[str]]:
    """Return the canonical select list and the optional source columns that are absent."""
    present = _resolve(header)
    product_map = present.get(CUR2_PRODUCT_MAP) if dialect is Dialect.CUR2 else None
    selected, missing = [], []
    for column in COLUMNS:
        source = present.get(source_name(column, dialect).lower())
        if source is not None:
            value = _checked(_quote(source), column, source)
        elif product_map is not None and column.cur2_map_key is not None:
            attribute = f"json_extract_string({_quote(product_map)}, {_literal('$.' + column.cur2_map_key)})"
            value = _typed(_blank_to_null(attribute), column.kind)
        else:
            missing.append(source_name(column, dialect))
            value = f"CAST(NULL AS {_SQL_TYPES[column.kind]})"
        selected.append(f"{value} AS {column.name}")
    if dialect is Dialect.CUR2:
        tags = present.get(CUR2_TAG_MAP)
        categories = present.get(CUR2_COST_CATEGORY_MAP)
        no_map = "'{}'"
        selected.append(
            f"{_map_column_json(tags, CUR2_USER_TAG_PREFIX) if tags else no_map} AS tags"
        )
        selected.append(
            f"{_map_column_json(categories, '') if categories else no_map} AS cost_category"
        )
    else:
        selected.append(
            f"{_prefixed_columns_json(header, TAG_PREFIXES[dialect])} AS tags"
        )
        selected.append(
            f"{_prefixed_columns_json(header, COST_CATEGORY_PREFIXES[dialect])} AS cost_category"
        )
    selected.append(
        f"DATE {_literal(billing_period_start.isoformat())} AS billing_period_start"
    )
    return selected, missing


def _check_required_present(header: list[str], dialect: Dialect, name: str) -> None:
    present = _resolve(header)
    missing = [
        source_name(c, dialect)
        for c in COLUMNS
        if c.required and source_name(c, dialect).lower() not in present
    ]
    if missing:
        raise BadInputError(
            f"{name}: missing required column(s) {', '.join(missing)}; re-create the report "
            "with these columns (they are in every standard CUR)"
        )


def _bad_value_test(column: Column, source: str) -> str:
    """Return a condition that is true on a row whose ``source`` value cannot be read."""
    value = _quote(source)
    unreadable = f"TRY_CAST({value} AS {_SQL_TYPES[column.kind]}) IS NULL"
    if column.kind is Kind.TIMESTAMP:
        unreadable += f" OR NOT regexp_matches({value}, {_DATE_PATTERN})"
    test = f"({value} IS NOT NULL AND ({unreadable}))"
    if column.required and column.kind is Kind.DECIMAL:
        test = f"({test} OR {value} IS NULL)"
    return test


def _check_values(
    conn: duckdb.DuckDBPyConnection, header: list[str], dialect: Dialect, name: str
) -> None:
    """Raise on the first row of view ``numbered_report`` with an unreadable number or timestamp."""
    present = _resolve(header)
    checks = [
        (column, present[source_name(column, dialect).lower()])
        for column in COLUMNS
        if column.kind is not Kind.TEXT
        and source_name(column, dialect).lower() in present
    ]
    if not checks:
        return

    firsts = ", ".join(
        f"min(source_row) FILTER (WHERE {_bad_value_test(c, s)})" for c, s in checks
    )
    found = conn.execute(f"SELECT {firsts} FROM numbered_report").fetchone() or ()
    failures = [(row, index) for index, row in enumerate(found) if row is not None]
    if not failures:
        return

    row, index = min(failures)
    column, source = checks[index]
    cell = conn.execute(
        f"SELECT {_quote(source)} FROM numbered_report WHERE source_row = ?", [row]
    ).fetchone()
    expected = (
        "an ISO 8601 timestamp such as 2025-01-01T00:00:00Z"
        if column.kind is Kind.TIMESTAMP
        else "a decimal number such as 0.125"
    )
    raise BadInputError(
        f"{name}: row {row}: column {source} has {cell[0] if cell else None!r}, "
        f"expected {expected}; fix the row or re-deliver the report"
    )


@functools.cache
def _amortized_cost() -> str:
    return load_query("services.downloader.aws", "amortized_cost.sql")


def charge_category_expression() -> str:
    """Return the DuckDB expression that classifies ``line_item_type`` as a charge category."""
    cases = " ".join(
        f"WHEN {_literal(kind)} THEN {_literal(category)}"
        for kind, category in CHARGE_CATEGORIES.items()
    )
    return f"CASE line_item_type {cases} ELSE 'other' END"


def _collect_day_files(days_dir: Path) -> dict[date, Path]:
    day_files: dict[date, Path] = {}
    for folder in sorted(days_dir.glob("day_partition=*")):
        day = date.fromisoformat(folder.name.split("=", 1)[1])
        parts = sorted(folder.glob("*.parquet"))
        if len(parts) != 1:
            raise RuntimeError(
                f"expected one Parquet file in {folder}, found {len(parts)}"
            )
        day_files[day] = parts[0]
    return day_files


def convert_cur_report(
    path: Path,
    name: str,
    out_dir: Path,
    billing_period_start: date,
    *,
    memory_limit: str = "512MB",
    threads: int = 2,
) -> ConversionResult:
    """Write the line items of ``path`` to ``out_dir`` as one Parquet file per usage day.

    ``path`` is a plain CSV or Parquet file; the first bytes decide which. A line
    without a usage start (tax, credit and refund lines can lack one) lands on the
    billing period's first day with ``usage_date_missing`` set.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads})
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(f"SET temp_directory = {_literal(str(out_dir / 'spill'))}")
        if _is_parquet(path):
            header, source = _parquet_source(conn, path, name)
            numbered = source
        else:
            header = read_header(path, name)
            source = _csv_source(path, numbered=False)
            numbered = _csv_source(path, numbered=True)
        dialect = detect_dialect(header, name)
        _check_required_present(header, dialect, name)
        selected, missing = _select_list(header, dialect, billing_period_start)
        conn.execute(f"CREATE TEMP VIEW report AS {source}")
        conn.execute(f"CREATE TEMP VIEW numbered_report AS {numbered}")
        amortized = _amortized_cost()
        conn.execute(
            "CREATE TEMP VIEW line_items AS SELECT *,"
            " CAST(coalesce(usage_start, CAST(billing_period_start AS TIMESTAMPTZ)) AS DATE)"
            "   AS usage_date,"
            " usage_start IS NULL AS usage_date_missing,"
            f" {charge_category_expression()} AS charge_category,"
            f" {amortized} AS amortized_cost"
            f" FROM (SELECT {', '.join(selected)} FROM report)"
        )
        try:
            written = conn.execute(
                "COPY (SELECT *, strftime(usage_date, '%Y-%m-%d') AS day_partition"
                " FROM line_items) TO "
                f"{_literal(str(out_dir / 'days'))}"
                " (FORMAT parquet, PARTITION_BY (day_partition), OVERWRITE true,"
                " FILENAME_PATTERN 'part_{i}')"
            ).fetchone()
        except (duckdb.ConversionException, duckdb.InvalidInputException) as error:
            # Find the first bad row for the message. If the search finds none (a CSV
            # the reader cannot split, say), raise with DuckDB's message.
            _check_values(conn, header, dialect, name)
            raise BadInputError(f"{name}: a value cannot be read: {error}") from error
    except duckdb.InvalidInputException as error:
        raise BadInputError(f"{name}: the report cannot be parsed: {error}") from error
    finally:
        conn.close()
    if missing:
        log.warning(
            "report lacks optional columns; they are null in every line item",
            extra={"file": name, "dialect": str(dialect), "missing_columns": missing},
        )
    rows = int(written[0]) if written else 0
    return ConversionResult(
        rows=rows,
        day_files=_collect_day_files(out_dir / "days"),
        missing_optional=tuple(missing),
    )
