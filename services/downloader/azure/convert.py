"""Convert one Azure cost export CSV into line items, one Parquet file per usage day.

The file is read as a stream of text rows, so memory stays bounded by the write
batch whatever the export's size, and every id stays text (meter ids such as
``00123`` keep their leading zeros). Money and quantities are ``DECIMAL(38, 18)``.
A row whose usage date, cost or currency cannot be read raises
:class:`BadInputError` naming the file, the row (the header is row 1) and the column.
The converter only writes to its scratch folder, so the caller uploads nothing then.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client import Counter

from services.downloader.aws.cur import ConversionResult
from services.downloader.azure.dialects import HeaderMap, map_header
from services.downloader.azure.values import (
    parse_date,
    parse_decimal,
    parse_json_cell,
    parse_unit,
)
from shared.catalogue import ReportContext
from shared.errors import BadInputError
from shared.settings import Settings

__all__ = ["LINE_ITEM_SCHEMA", "convert_azure_csv", "convert_azure_report"]

log = logging.getLogger(__name__)

INVALID_JSON_CELLS = Counter(
    "costpipe_azure_invalid_json_cells_total",
    "Azure Tags or AdditionalInfo cells that were not a JSON object, stored as {}.",
    ["column"],
)

_DECIMAL = pa.decimal128(38, 18)
LINE_ITEM_SCHEMA = pa.schema(
    [
        ("usage_date", pa.date32()),
        ("billing_period_start", pa.date32()),
        ("usage_account_id", pa.string()),
        ("subscription_name", pa.string()),
        ("resource_group", pa.string()),
        ("region", pa.string()),
        ("service_name", pa.string()),
        ("product_name", pa.string()),
        ("meter_id", pa.string()),
        ("meter_category", pa.string()),
        ("meter_subcategory", pa.string()),
        ("meter_name", pa.string()),
        ("meter_region", pa.string()),
        ("resource_id", pa.string()),
        ("resource_name", pa.string()),
        ("instance_type", pa.string()),
        ("charge_type", pa.string()),
        ("pricing_model", pa.string()),
        ("unit_of_measure", pa.string()),
        ("unit", pa.string()),
        ("quantity", _DECIMAL),
        ("usage_amount", _DECIMAL),
        ("effective_price", _DECIMAL),
        ("unit_price", _DECIMAL),
        ("cost", _DECIMAL),
        ("currency_code", pa.string()),
        ("tags", pa.string()),
        ("tags_invalid", pa.bool_()),
        ("additional_info", pa.string()),
        ("additional_info_invalid", pa.bool_()),
        ("source_row", pa.int64()),
    ]
)

_TEXT_COLUMNS = (
    "usage_account_id",
    "subscription_name",
    "resource_group",
    "region",
    "service_name",
    "product_name",
    "meter_id",
    "meter_category",
    "meter_subcategory",
    "meter_name",
    "meter_region",
    "resource_id",
    "resource_name",
    "charge_type",
    "pricing_model",
)
_BATCH_ROWS = 20_000


class _Row:
    """Cell access by canonical column for one CSV record."""

    __slots__ = ("_cells", "_map")

    def __init__(self, header_map: HeaderMap, cells: list[str]) -> None:
        self._map = header_map
        self._cells = cells

    def first(self, column: str) -> str:
        """Return the first non-empty cell among the column's header aliases, or ''."""
        for position in self._map.positions.get(column, ()):
            if position < len(self._cells):
                value = self._cells[position].strip()
                if value:
                    return value
        return ""


@dataclass
class _DayWriter:
    path: Path
    columns: dict[str, list[Any]] = field(
        default_factory=lambda: {n: [] for n in LINE_ITEM_SCHEMA.names}
    )
    writer: pq.ParquetWriter | None = None
    pending: int = 0

    def add(self, record: dict[str, Any]) -> None:
        for key, values in self.columns.items():
            values.append(record[key])
        self.pending += 1
        if self.pending >= _BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        table = pa.Table.from_pydict(self.columns, schema=LINE_ITEM_SCHEMA)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, LINE_ITEM_SCHEMA)
        self.writer.write_table(table)
        for values in self.columns.values():
            values.clear()
        self.pending = 0

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()


def _records(path: Path, name: str) -> Iterator[list[str]]:
    with path.open(newline="", encoding="utf-8-sig", errors="strict") as handle:
        try:
            yield from csv.reader(handle)
        except UnicodeDecodeError as error:
            raise BadInputError(
                f"{name}: the file is not UTF-8 text ({error}); "
                "export it again as UTF-8 CSV"
            ) from error
        except csv.Error as error:
            raise BadInputError(f"{name}: the CSV cannot be parsed: {error}") from error


def _header_name(header: list[str], header_map: HeaderMap, column: str) -> str:
    positions = header_map.positions.get(column, ())
    return header[positions[0]].replace("\ufeff", "").strip() if positions else column


def _bad_value(
    name: str, row_number: int, column: str, value: str, error: ValueError
) -> BadInputError:
    return BadInputError(
        f"{name}: row {row_number}: column {column} has {value!r}, {error}; "
        "fix the row or deliver the export again"
    )


def _convert_row(
    row: _Row,
    row_number: int,
    header: list[str],
    header_map: HeaderMap,
    name: str,
    period: date,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        column: row.first(column) or None for column in _TEXT_COLUMNS
    }
    date_text = row.first("usage_date")
    try:
        record["usage_date"] = parse_date(date_text)
    except ValueError as error:
        column = _header_name(header, header_map, "usage_date")
        raise _bad_value(name, row_number, column, date_text, error) from error
    for column in ("cost", "quantity", "effective_price", "unit_price"):
        text = row.first(column)
        try:
            record[column] = parse_decimal(text)
        except ValueError as error:
            raise _bad_value(
                name, row_number, _header_name(header, header_map, column), text, error
            ) from error
    if record["cost"] is None:
        column = _header_name(header, header_map, "cost")
        raise _bad_value(
            name, row_number, column, "", ValueError("expected a decimal cost")
        )
    currency = row.first("currency_code")
    if not currency:
        raise BadInputError(
            f"{name}: row {row_number}: no currency in any of the columns "
            "BillingCurrencyCode, BillingCurrency or Currency; "
            "every row needs its billing currency"
        )
    record["currency_code"] = currency
    raw_unit = row.first("unit_of_measure")
    unit = parse_unit(raw_unit)
    record["unit_of_measure"] = raw_unit or None
    record["unit"] = unit.name or None
    quantity = record["quantity"]
    record["usage_amount"] = None if quantity is None else quantity * unit.multiplier
    tags = parse_json_cell(row.first("tags"), string_values=True)
    info = parse_json_cell(row.first("additional_info"), string_values=False)
    record["tags"], record["tags_invalid"] = tags.text, tags.invalid
    record["additional_info"], record["additional_info_invalid"] = (
        info.text,
        info.invalid,
    )
    service_type = info.mapping.get("ServiceType")
    record["instance_type"] = (
        service_type if isinstance(service_type, str) and service_type else None
    )
    record["billing_period_start"] = period
    record["source_row"] = row_number
    return record


def convert_azure_csv(
    csv_path: Path, name: str, out_dir: Path, billing_period_start: date
) -> ConversionResult:
    """Write the line items of ``csv_path`` to ``out_dir``, one Parquet file per day."""
    records = _records(csv_path, name)
    header = next(records, None)
    if not header:
        raise BadInputError(
            f"{name}: the file is empty; expected an Azure cost export header row"
        )
    header_map = map_header(header, name)
    days_dir = out_dir / "days"
    days_dir.mkdir(parents=True, exist_ok=True)
    writers: dict[date, _DayWriter] = {}
    invalid = {"tags": 0, "additional_info": 0}
    rows = 0
    try:
        for row_number, cells in enumerate(records, start=2):
            if not cells or all(not cell.strip() for cell in cells):
                continue
            record = _convert_row(
                _Row(header_map, cells),
                row_number,
                header,
                header_map,
                name,
                billing_period_start,
            )
            invalid["tags"] += record["tags_invalid"]
            invalid["additional_info"] += record["additional_info_invalid"]
            day = record["usage_date"]
            if day not in writers:
                writers[day] = _DayWriter(days_dir / f"{day.isoformat()}.parquet")
            writers[day].add(record)
            rows += 1
    finally:
        for writer in writers.values():
            writer.close()
    for column, count in invalid.items():
        if count:
            INVALID_JSON_CELLS.labels(column=column).inc(count)
            log.warning(
                "Azure export cells are not a JSON object and were stored as {}",
                extra={"file": name, "column": column, "rows": count},
            )
    log.info(
        "Azure export converted",
        extra={"file": name, "dialect": header_map.dialect, "rows": rows},
    )
    day_files = {day: writer.path for day, writer in sorted(writers.items())}
    return ConversionResult(
        rows=rows, day_files=day_files, missing_optional=header_map.missing_optional
    )


def convert_azure_report(
    path: Path, name: str, out_dir: Path, context: ReportContext, settings: Settings
) -> ConversionResult:
    """Convert one downloaded export file for the downloader's ``get_report_files``."""
    del settings  # the streaming reader needs no engine memory or thread settings
    return convert_azure_csv(path, name, out_dir, context.billing_period_start)
