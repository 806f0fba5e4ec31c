"""The read-speed limit: parse the month's CSV and do nothing else, with pyarrow and DuckDB.

Every column is read as text, as the pipeline reads it. Both readers use all cores
(their defaults). The benchmark has just written or read the files, and they fit in
memory, so the plain-file figures measure parsing more than the disk. The gzip
variants add inflation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv

from bench.data import ScaledMonth

__all__ = ["READERS", "time_reader"]


def _header(path: Path) -> list[str]:
    with pa_csv.open_csv(str(path)) as reader:
        return list(reader.schema.names)


def _read_pyarrow(paths: list[Path]) -> int:
    rows = 0
    for path in paths:
        # A path ending in .gz is inflated as it is read.
        options = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(_header(path), pa.string())
        )
        rows += pa_csv.read_csv(str(path), convert_options=options).num_rows
    return rows


def _read_duckdb(paths: list[Path]) -> int:
    listed = ", ".join("'" + str(path).replace("'", "''") + "'" for path in paths)
    conn = duckdb.connect()
    try:
        conn.execute("SET enable_progress_bar = false")
        row = conn.execute(
            f"SELECT count(*) FROM read_csv([{listed}], all_varchar = true, header = true,"
            " delim = ',', quote = '\"', escape = '\"')"
        ).fetchone()
    finally:
        conn.close()
    return int(row[0]) if row else 0


READERS: dict[str, Callable[[list[Path]], int]] = {
    "pyarrow": _read_pyarrow,
    "duckdb": _read_duckdb,
}


def time_reader(reader: str, month: ScaledMonth, gzip: bool) -> float:
    """Return the seconds that ``reader`` takes to parse every file of ``month``.

    Raises ``RuntimeError`` when the row count differs from the month's.
    """
    paths = [f.gz_path if gzip else f.csv_path for f in month.files]
    started = time.perf_counter()
    rows = READERS[reader](paths)
    elapsed = time.perf_counter() - started
    if rows != month.rows:
        raise RuntimeError(f"{reader} read {rows} rows from the {month.rows}-row month")
    return elapsed
