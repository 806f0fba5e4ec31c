"""OpenShift report files: their type by header, and their conversion to daily Parquet.

The operator writes six report types. A file's type is the one whose required
columns its header contains; a file of no known type is reported and skipped, never
fatal (newer operators add reports). Columns that newer operators added are
optional: an older file gets them as typed nulls. Usage metrics are seconds-based
quantities read as DOUBLE; a metric above 1e18 is an operator fault, and the row is
dropped and counted. Timestamps such as ``2026-11-01 00:00:00 +0000 UTC`` or any
ISO 8601 offset are read as instants and bucketed by UTC day.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from shared.errors import BadInputError
from shared.ocp_reports import REPORT_TYPES, ReportType

__all__ = ["OcpConversion", "convert_ocp_csv", "detect_report_type"]

METRIC_LIMIT = 1e18


@dataclass(frozen=True)
class OcpConversion:
    """The result of converting one OpenShift report file."""

    report_type: str
    rows: int
    dropped_rows: int
    day_files: dict[date, Path]
    missing_optional: tuple[str, ...]


def read_header(path: Path) -> list[str]:
    """Return the header of ``path``; an empty file has none."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), None)
    return [column.strip() for column in header] if header else []


def detect_report_type(header: list[str]) -> ReportType | None:
    """Return the report type whose required columns the header has, if any."""
    present = set(header)
    matches = [kind for kind in REPORT_TYPES if set(kind.required) <= present]
    # The most specific type wins: pod_usage also carries a node column, for example.
    return max(matches, key=lambda kind: len(kind.required), default=None)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _timestamp(column: str) -> str:
    # The operator writes Go's "2026-11-01 00:00:00 +0000 UTC"; drop the zone name so
    # the offset fixes the instant.
    text = f"regexp_replace(trim({_quote(column)}), ' ([+-][0-9]{{4}}) [A-Z]+$', '\\1')"
    return f"CAST({text} AS TIMESTAMPTZ)"


def _labels(column: str) -> str:
    """``label_a:x|label_b:y`` to a JSON object without the ``label_`` prefix.

    An entry without exactly one ``:`` cannot be split into key and value and is dropped.
    """
    entries = f"string_split(coalesce({_quote(column)}, ''), '|')"
    pairs = f"list_filter(list_transform({entries}, lambda e: string_split(e, ':')), lambda p: len(p) = 2 AND p[1] <> '')"
    mapped = f"list_transform({pairs}, lambda p: {{'key': regexp_replace(p[1], '^label_', ''), 'value': p[2]}})"
    return f"to_json(map_from_entries({mapped}))::VARCHAR"


def convert_ocp_csv(path: Path, name: str, out_dir: Path) -> OcpConversion | None:
    """Write ``path``'s rows as one Parquet file per UTC day of ``interval_start``.

    Returns None for a file of no known report type. An empty file or one with a
    header only yields no day files.
    """
    header = read_header(path) if path.stat().st_size else []
    if not header:
        return OcpConversion("empty", 0, 0, {}, ())
    kind = detect_report_type(header)
    if kind is None:
        return None
    present = set(header)
    missing = tuple(column for column in kind.optional if column not in present)
    selected = []
    for column in (*kind.required, *kind.optional):
        if column not in present:
            kind_of = "DOUBLE" if column in kind.metrics else "VARCHAR"
            selected.append(f"CAST(NULL AS {kind_of}) AS {column}")
        elif column in {
            "interval_start",
            "interval_end",
            "report_period_start",
            "report_period_end",
        }:
            selected.append(f"{_timestamp(column)} AS {column}")
        elif column in kind.metrics:
            selected.append(
                f"TRY_CAST(NULLIF(trim({_quote(column)}), '') AS DOUBLE) AS {column}"
            )
        elif column in kind.labels:
            selected.append(f"{_labels(column)} AS {column}")
        else:
            selected.append(f"NULLIF(trim({_quote(column)}), '') AS {column}")
    too_large = (
        " OR ".join(f"coalesce({m}, 0) > {METRIC_LIMIT}" for m in kind.metrics)
        or "false"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(config={"threads": 2, "memory_limit": "512MB"})
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(
            "CREATE TEMP VIEW report AS SELECT "
            + ", ".join(selected)
            + f" FROM read_csv({_literal(str(path))}, all_varchar = true, header = true)"
        )
        bad = conn.execute(
            "SELECT count(*) FROM report WHERE interval_start IS NULL"
        ).fetchone()
        if bad and bad[0]:
            raise BadInputError(
                f"{name}: {bad[0]} row(s) have no readable interval_start; expected a "
                "timestamp such as 2026-11-01 00:00:00 +0000 UTC"
            )
        counts = conn.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {too_large}) FROM report"
        ).fetchone()
        conn.execute(
            "COPY (SELECT *, CAST(interval_start AS DATE) AS usage_date,"
            " strftime(CAST(interval_start AS DATE), '%Y-%m-%d') AS day_partition"
            f" FROM report WHERE NOT ({too_large})) TO {_literal(str(out_dir / 'days'))}"
            " (FORMAT parquet, PARTITION_BY (day_partition), OVERWRITE true,"
            " FILENAME_PATTERN 'part_{i}')"
        )
    except duckdb.Error as error:
        if isinstance(error, duckdb.ConversionException | duckdb.InvalidInputException):
            raise BadInputError(
                f"{name}: the {kind.name} report cannot be read: {error}"
            ) from error
        raise
    finally:
        conn.close()
    day_files = {
        date.fromisoformat(folder.name.split("=", 1)[1]): next(folder.glob("*.parquet"))
        for folder in sorted((out_dir / "days").glob("day_partition=*"))
    }
    rows, dropped = (int(counts[0]), int(counts[1])) if counts else (0, 0)
    return OcpConversion(kind.name, rows - dropped, dropped, day_files, missing)
