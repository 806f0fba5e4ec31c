"""Convert one GCP billing export file into canonical line items, one Parquet file per usage day.

The input is the BigQuery billing export's columns saved as files: CSV with the
flattened names (``service.id``, ``usage.amount_in_pricing_units``, ``invoice.month``)
or with underscores in place of the dots (``service_id``), JSON-lines with nested
records (``{"service": {"id": ...}}``), or Parquet with either shape. Every record
is read in Python so that money stays ``Decimal`` from the text to the Parquet
``DECIMAL(38, 18)``. Repeated fields arrive as JSON arrays, or as Python literals
with single quotes in koku-nise CSV files:

* ``labels``, ``system_labels`` and ``project.labels`` are ``[{key, value}]`` arrays
  and become JSON objects with sorted keys;
* ``credits`` is ``[{name, amount, type, ...}]``: every credit of a line is summed into
  ``credit_amount`` (credits are negative) and also kept per type in
  ``credits_by_type``.

Each row lands on the UTC date of its ``usage_start_time``; its ``invoice.month``
is kept as ``invoice_month``. The whole file is checked while it is read, and the
first unreadable value raises :class:`BadInputError` naming the file, the row and the
column, so a bad file produces no day files.
"""

from __future__ import annotations

import ast
import csv
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from services.downloader.aws.cur import ConversionResult
from shared.errors import BadInputError

__all__ = ["CANONICAL_SCHEMA", "convert_gcp_export", "detect_format"]

_SCALE = Decimal(1).scaleb(-18)
# DECIMAL(38, 18) needs 38 significant digits; the default context has 28.
_CONTEXT = Context(prec=38)
_MONEY = pa.decimal128(38, 18)
_TIMESTAMP = pa.timestamp("us", tz="UTC")
# Rows buffered per usage day before they are appended to that day's Parquet file.
_FLUSH_ROWS = 20_000

CANONICAL_SCHEMA = pa.schema(
    [
        ("billing_account_id", pa.string()),
        ("service_id", pa.string()),
        ("service_description", pa.string()),
        ("sku_id", pa.string()),
        ("sku_description", pa.string()),
        ("usage_start", _TIMESTAMP),
        ("usage_end", _TIMESTAMP),
        ("project_id", pa.string()),
        ("project_name", pa.string()),
        ("project_labels", pa.string()),
        ("labels", pa.string()),
        ("system_labels", pa.string()),
        ("location_location", pa.string()),
        ("location_country", pa.string()),
        ("location_region", pa.string()),
        ("location_zone", pa.string()),
        ("export_time", _TIMESTAMP),
        ("cost", _MONEY),
        ("currency", pa.string()),
        ("currency_conversion_rate", _MONEY),
        ("usage_amount", _MONEY),
        ("usage_unit", pa.string()),
        ("usage_amount_in_pricing_units", _MONEY),
        ("usage_pricing_unit", pa.string()),
        ("credit_amount", _MONEY),
        ("credits_by_type", pa.string()),
        ("invoice_month", pa.string()),
        ("cost_type", pa.string()),
        ("resource_name", pa.string()),
        ("resource_global_name", pa.string()),
        ("partition_date", pa.date32()),
        ("usage_date", pa.date32()),
        ("source_row", pa.int64()),
    ]
)

# Export columns by their dotted BigQuery names; the underscore dialect replaces
# each dot with an underscore. Canonical names are the underscore forms, except
# the two timestamps, which follow the AWS line items (usage_start, usage_end).
_TEXT = (
    "billing_account_id",
    "service.id",
    "service.description",
    "sku.id",
    "sku.description",
    "project.id",
    "project.name",
    "location.location",
    "location.country",
    "location.region",
    "location.zone",
    "currency",
    "usage.unit",
    "usage.pricing_unit",
    "cost_type",
    "resource.name",
    "resource.global_name",
)
_DECIMALS = (
    "cost",
    "currency_conversion_rate",
    "usage.amount",
    "usage.amount_in_pricing_units",
)
_KEY_VALUE_ARRAYS = ("labels", "system_labels", "project.labels")
_REQUIRED = (
    "billing_account_id",
    "service.id",
    "sku.id",
    "usage_start_time",
    "project.id",
    "cost",
    "invoice.month",
)
# Columns whose presence identifies a dialect; each is in every BigQuery billing export.
_DIALECT_MARKERS = ("service.id", "sku.id", "invoice.month")
_EMPTY = ("", "None", "null", "NULL")
_DATE_PREFIX_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_INVOICE_MONTH_RE = re.compile(r"^(\d{4})(0[1-9]|1[0-2])$")
_PARQUET_MAGIC = b"PAR1"


class _RowError(Exception):
    """A value of one column that no rule can read; the caller adds file and row."""

    def __init__(self, column: str, value: object, expected: str) -> None:
        super().__init__(column)
        self.column = column
        self.value = value
        self.expected = expected


def detect_format(path: Path) -> str:
    """Return ``parquet``, ``jsonl`` or ``csv`` from the first bytes of a plain file."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Turn nested records into dotted names; arrays stay values (labels, credits)."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in _KEY_VALUE_ARRAYS:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _read_csv(
    path: Path, name: str
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    handle = path.open(newline="", encoding="utf-8-sig", errors="strict")
    reader = csv.reader(handle)
    try:
        header = [column.strip() for column in next(reader, [])]
    except (UnicodeDecodeError, csv.Error) as error:
        handle.close()
        raise BadInputError(
            f"{name}: the header row is not UTF-8 CSV: {error}"
        ) from error
    if not header:
        handle.close()
        raise BadInputError(
            f"{name}: the file is empty; expected a GCP billing export header row"
        )

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        # Row numbers count the header as row 1, as a spreadsheet shows them.
        number = 1
        try:
            for values in reader:
                number += 1
                if not values:
                    continue
                if len(values) != len(header):
                    raise BadInputError(
                        f"{name}: row {number}: expected {len(header)} fields as in the header, "
                        f"found {len(values)}; fix the row or re-export the file"
                    )
                yield number, dict(zip(header, values, strict=True))
        except (UnicodeDecodeError, csv.Error) as error:
            raise BadInputError(
                f"{name}: row {number + 1}: not UTF-8 CSV: {error}"
            ) from error
        finally:
            handle.close()

    return header, rows()


def _read_jsonl(
    path: Path, name: str
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    def records() -> Iterator[tuple[int, dict[str, Any]]]:
        with path.open(encoding="utf-8-sig", errors="strict") as handle:
            try:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(
                            line, parse_float=Decimal, parse_int=Decimal
                        )
                    except json.JSONDecodeError as error:
                        raise BadInputError(
                            f"{name}: line {number}: not a JSON object: {error}; fix the line or re-export the file"
                        ) from error
                    if not isinstance(record, dict):
                        raise BadInputError(
                            f"{name}: line {number}: expected a JSON object, found {type(record).__name__}"
                        )
                    yield number, _flatten(record)
            except UnicodeDecodeError as error:
                raise BadInputError(
                    f"{name}: the file is not UTF-8: {error}"
                ) from error

    iterator = records()
    first = next(iterator, None)
    if first is None:
        raise BadInputError(
            f"{name}: the file contains no JSON records; expected one billing export row per line"
        )

    def chained() -> Iterator[tuple[int, dict[str, Any]]]:
        yield first
        yield from iterator

    # JSON-lines exports leave out null fields. The first record's names pick the
    # dialect only, and a field absent from a record reads as null.
    return list(first[1]), chained()


def _read_parquet(
    path: Path, name: str
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise BadInputError(
            f"{name}: the Parquet file cannot be read: {error}"
        ) from error
    header = list(
        _flatten(
            {field.name: _schema_sample(field.type) for field in parquet.schema_arrow}
        )
    )

    def records() -> Iterator[tuple[int, dict[str, Any]]]:
        number = 0
        for batch in parquet.iter_batches(batch_size=10_000):
            for record in batch.to_pylist():
                number += 1
                yield number, _flatten(record)

    return header, records()


def _schema_sample(data_type: pa.DataType) -> Any:
    """Return a stand-in value whose nesting mirrors a Parquet struct, for the header."""
    if pa.types.is_struct(data_type):
        return {field.name: _schema_sample(field.type) for field in data_type}
    return None


def _dialect(header: list[str], name: str) -> str:
    columns = set(header)
    if any(marker in columns for marker in _DIALECT_MARKERS):
        return "dotted"
    if any(marker.replace(".", "_") in columns for marker in _DIALECT_MARKERS):
        return "underscore"
    raise BadInputError(
        f"{name}: the header matches no GCP billing export dialect: expected BigQuery export "
        "columns such as service.id, sku.id, usage_start_time, cost and invoice.month "
        "(or service_id, sku_id, invoice_month); export the billing table with its standard columns"
    )


def _check_required(
    header: list[str], dialect: str, name: str, file_format: str
) -> None:
    if file_format == "jsonl":
        return  # absent fields are nulls there; the row check names them
    spelled = {column: _spelling(column, dialect) for column in _REQUIRED}
    missing = [source for source in spelled.values() if source not in set(header)]
    if missing:
        raise BadInputError(
            f"{name}: missing required column(s) {', '.join(missing)}; re-export the billing "
            "table with these columns (every standard BigQuery billing export has them)"
        )


def _spelling(column: str, dialect: str) -> str:
    return column if dialect == "dotted" else column.replace(".", "_")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text in _EMPTY else text


def _decimal(value: Any, column: str) -> Decimal | None:
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise _RowError(column, value, "a decimal number such as 0.125")
        return None
    if isinstance(value, float):
        # Parquet exports store money as FLOAT64; its shortest repr is the exported text.
        number = Decimal(repr(value))
    elif isinstance(value, Decimal | int):
        number = Decimal(value)
    else:
        text = str(value).strip()
        if text in _EMPTY:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise _RowError(column, value, "a decimal number such as 0.125") from None
    if not number.is_finite():
        raise _RowError(column, value, "a finite decimal number")
    try:
        return number.quantize(_SCALE, context=_CONTEXT)
    except InvalidOperation:
        raise _RowError(
            column, value, "a decimal number below 10^20 (DECIMAL(38, 18))"
        ) from None


def _timestamp(value: Any, column: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (
            value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        )
    text = str(value).strip()
    if text in _EMPTY:
        return None
    expected = (
        "an ISO 8601 timestamp such as 2025-07-01T00:00:00Z or 2025-07-01 00:00:00 UTC"
    )
    # BigQuery's CSV extract writes "2025-07-01 00:00:00 UTC" and Go tools write
    # "... +0000 UTC". koku-nise writes no zone, and GCP billing times are UTC.
    cleaned = text.removesuffix(" UTC").removesuffix("UTC").strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    cleaned = re.sub(r" ([+-]\d{2}:?\d{2})$", r"\1", cleaned)
    if not _DATE_PREFIX_RE.match(cleaned):
        raise _RowError(column, value, expected)
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise _RowError(column, value, expected) from None
    return (
        parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    )


def _invoice_month(value: Any, column: str) -> str:
    text = _text(value)
    if text is None or not _INVOICE_MONTH_RE.match(text):
        raise _RowError(
            column, value, "an invoice month written YYYYMM, such as 202506"
        )
    return text


def _structured(value: Any, column: str, expected: str) -> Any:
    """Parse a JSON (or koku-nise Python-literal) array cell; pass parsed values through."""
    if value is None or isinstance(value, list | dict):
        return value
    text = str(value).strip()
    if text in _EMPTY:
        return None
    try:
        return json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except json.JSONDecodeError:
        pass
    try:
        # koku-nise writes Python's str() of the list: single quotes, None, True.
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise _RowError(column, value, expected) from None


def _key_values(value: Any, column: str) -> str:
    expected = 'a JSON array of {"key": ..., "value": ...} objects'
    parsed = _structured(value, column, expected)
    if parsed is None:
        return "{}"
    pairs: dict[str, str] = {}
    if isinstance(parsed, dict):
        pairs = {str(k): "" if v is None else str(v) for k, v in parsed.items()}
    elif isinstance(parsed, list):
        for entry in parsed:
            if not isinstance(entry, dict) or "key" not in entry:
                raise _RowError(column, value, expected)
            # Keys are unique per resource in GCP; a repeated key keeps its last value.
            pairs[str(entry["key"])] = (
                "" if entry.get("value") is None else str(entry["value"])
            )
    else:
        raise _RowError(column, value, expected)
    return json.dumps(pairs, sort_keys=True, ensure_ascii=False)


def _credits(value: Any, column: str) -> tuple[Decimal, str]:
    """Return the sum of a line's credits and a JSON object of the sum per credit type."""
    expected = 'a JSON array of credits such as [{"name": "FreeTrial", "amount": -0.5, "type": "PROMOTION"}]'
    parsed = _structured(value, column, expected)
    if parsed is None:
        return Decimal(0).quantize(_SCALE, context=_CONTEXT), "{}"
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list):
        raise _RowError(column, value, expected)
    total = Decimal(0)
    by_type: dict[str, Decimal] = defaultdict(Decimal)
    for credit in parsed:
        if not isinstance(credit, dict):
            raise _RowError(column, value, expected)
        amount = _decimal(credit.get("amount"), f"{column}.amount")
        if amount is None:
            continue  # a credit without an amount adds nothing
        kind = _text(credit.get("type")) or _text(credit.get("name")) or "UNSPECIFIED"
        total += amount
        by_type[kind] += amount
    # koku-nise JSON-lines write {"amount": 0, "type": ""} for a line without a
    # credit, so zero sums are dropped from the per-type object.
    return total.quantize(_SCALE, context=_CONTEXT), _money_object(
        {k: v for k, v in by_type.items() if v}
    )


def _money_object(amounts: dict[str, Decimal]) -> str:
    """Write a JSON object of exact decimal numbers (json.dumps cannot write Decimal)."""
    entries = (
        f"{json.dumps(key)}: {format(amount.normalize(), 'f')}"
        for key, amount in sorted(amounts.items())
    )
    return "{" + ", ".join(entries) + "}"


def _canonical(record: dict[str, Any], dialect: str, number: int) -> dict[str, Any]:
    def get(column: str) -> Any:
        return record.get(_spelling(column, dialect))

    row: dict[str, Any] = {}
    for column in _TEXT:
        row[column.replace(".", "_")] = _text(get(column))
    for column in _DECIMALS:
        row[column.replace(".", "_")] = _decimal(
            get(column), _spelling(column, dialect)
        )
    for column in _KEY_VALUE_ARRAYS:
        row[column.replace(".", "_")] = _key_values(
            get(column), _spelling(column, dialect)
        )
    for column in ("billing_account_id", "service.id", "sku.id", "project.id"):
        if row[column.replace(".", "_")] is None:
            raise _RowError(_spelling(column, dialect), get(column), "a non-empty id")
    if row["cost"] is None:
        raise _RowError("cost", get("cost"), "a decimal number such as 0.125")
    start = _timestamp(get("usage_start_time"), "usage_start_time")
    if start is None:
        raise _RowError(
            "usage_start_time", get("usage_start_time"), "a usage start timestamp"
        )
    row["usage_start"] = start
    row["usage_end"] = _timestamp(get("usage_end_time"), "usage_end_time")
    row["export_time"] = _timestamp(get("export_time"), "export_time")
    partition = _timestamp(get("partition_date"), "partition_date")
    row["partition_date"] = partition.date() if partition else None
    row["credit_amount"], row["credits_by_type"] = _credits(get("credits"), "credits")
    row["invoice_month"] = _invoice_month(
        get("invoice.month"), _spelling("invoice.month", dialect)
    )
    row["usage_date"] = start.date()
    row["source_row"] = number
    return row


def _month_index(day: date) -> int:
    return day.year * 12 + day.month


def _check_usage_month(
    row: dict[str, Any], invoice_month: date, name: str, where: str
) -> None:
    if abs(_month_index(row["usage_date"]) - _month_index(invoice_month)) > 1:
        raise BadInputError(
            f"{name}: {where}: column usage_start_time has {row['usage_date']}, "
            "expected a usage day within one month of the file's invoice month "
            f"{invoice_month:%Y%m}; export each invoice month to its own files"
        )


class _DayWriters:
    """One Parquet writer per usage day, fed in bounded batches."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._buffers: dict[date, list[dict[str, Any]]] = defaultdict(list)
        self._writers: dict[date, pq.ParquetWriter] = {}
        self.paths: dict[date, Path] = {}

    def add(self, row: dict[str, Any]) -> None:
        buffer = self._buffers[row["usage_date"]]
        buffer.append(row)
        if len(buffer) >= _FLUSH_ROWS:
            self._flush(row["usage_date"])

    def _flush(self, day: date) -> None:
        rows = self._buffers.pop(day, [])
        if not rows:
            return
        writer = self._writers.get(day)
        if writer is None:
            path = self._folder / f"{day.isoformat()}.parquet"
            writer = pq.ParquetWriter(path, CANONICAL_SCHEMA)
            self._writers[day] = writer
            self.paths[day] = path
        writer.write_table(pa.Table.from_pylist(rows, schema=CANONICAL_SCHEMA))

    def close(self) -> None:
        for day in list(self._buffers):
            self._flush(day)
        for writer in self._writers.values():
            writer.close()


def convert_gcp_export(
    path: Path, name: str, out_dir: Path, invoice_month: date
) -> ConversionResult:
    """Write ``path``'s line items to ``out_dir`` as one Parquet file per usage day.

    ``invoice_month`` is the first day of the export file set's invoice month. A
    row's usage month must be that month or a neighbour: the summary of a usage
    month looks for its days under the invoice months one before to one after it.
    """
    file_format = detect_format(path)
    reader = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}[
        file_format
    ]
    header, records = reader(path, name)
    dialect = _dialect(header, name)
    _check_required(header, dialect, name, file_format)
    folder = out_dir / "days"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    writers = _DayWriters(folder)
    rows = 0
    row_word = (
        "line"
        if file_format == "jsonl"
        else "record"
        if file_format == "parquet"
        else "row"
    )
    try:
        for number, record in records:
            try:
                row = _canonical(record, dialect, number)
            except _RowError as error:
                raise BadInputError(
                    f"{name}: {row_word} {number}: column {error.column} has {error.value!r}, "
                    f"expected {error.expected}; fix the {row_word} or re-export the file"
                ) from None
            _check_usage_month(row, invoice_month, name, f"{row_word} {number}")
            writers.add(row)
            rows += 1
    except BaseException:
        writers.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    writers.close()
    return ConversionResult(
        rows=rows, day_files=dict(sorted(writers.paths.items())), missing_optional=()
    )
