"""Benchmark input: one koku-nise AWS month, scaled up to a given number of CUR rows.

The nise month is generated once into ``bench/data/``. A scaled month of N rows is the
first N rows of an endless sequence: copy 0 is the nise month as it is, and copy c > 0
repeats its rows with a fresh ``identity/LineItemId`` (an md5 of c and the old id) and
``lineItem/ResourceId`` (the old id with ``-c`` appended, so copy c looks like another
set of resources). Dates stay those of the nise month, so every row stays in one month.

The sequence is cut into files of at most ``FILE_ROWS`` rows, named by their row range,
so sizes share files: the 1M month is the first two files of the 2M month. Each file is
kept as plain CSV (for the read-speed limit) and gzip (the delivery). A JSON sidecar
stores its row count and its unblended cost per usage day, summed with Python's Decimal
from the plain CSV. Every run is checked against those sums.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

FILE_ROWS = 500_000
REPORT_NAME = "cur"
LINE_ITEM_ID = "identity/LineItemId"
RESOURCE_ID = "lineItem/ResourceId"
UNBLENDED_COST = "lineItem/UnblendedCost"
USAGE_START = "lineItem/UsageStartDate"
_COPY_BLOCK_BYTES = 1 << 20
# zlib's default level, which gzip(1) also uses.
_GZIP_LEVEL = 6


@dataclass(frozen=True)
class NiseMonth:
    """The koku-nise delivery that every scaled month repeats."""

    bucket: Path
    assembly_id: str
    billing_period_start: date
    files: tuple[Path, ...]


@dataclass(frozen=True)
class ReportFile:
    """One scaled report file, plain and gzip, with the figures it is checked against."""

    csv_path: Path
    gz_path: Path
    rows: int
    csv_bytes: int
    gz_bytes: int
    daily_totals: dict[date, Decimal]


@dataclass(frozen=True)
class ScaledMonth:
    """A month of ``rows`` CUR rows split into report files."""

    rows: int
    billing_period_start: date
    files: tuple[ReportFile, ...]

    @property
    def csv_bytes(self) -> int:
        return sum(f.csv_bytes for f in self.files)

    @property
    def gz_bytes(self) -> int:
        return sum(f.gz_bytes for f in self.files)

    @property
    def daily_totals(self) -> dict[date, Decimal]:
        totals: dict[date, Decimal] = defaultdict(Decimal)
        for report in self.files:
            for day, cost in report.daily_totals.items():
                totals[day] += cost
        return dict(sorted(totals.items()))

    @property
    def total(self) -> Decimal:
        return sum(self.daily_totals.values(), Decimal(0))


def month_range(month: date) -> str:
    """Return the ``YYYYMMDD-YYYYMMDD`` folder name of a CUR month."""
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return f"{month:%Y%m%d}-{following:%Y%m%d}"


def nise_month(data_dir: Path) -> NiseMonth:
    """Return the nise month under ``data_dir``, generating last month's if there is none."""
    pattern = f"nise-*/bucket/*/{REPORT_NAME}/*/{REPORT_NAME}-Manifest.json"
    for manifest in sorted(data_dir.glob(pattern)):
        return _read_nise_manifest(manifest.parents[3], manifest)
    return _generate_nise_month(data_dir)


def _generate_nise_month(data_dir: Path) -> NiseMonth:
    today = datetime.now(UTC).date()
    end = today.replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    folder = data_dir / f"nise-{start:%Y-%m}"
    shutil.rmtree(folder, ignore_errors=True)
    bucket = folder / "bucket"
    bucket.mkdir(parents=True)

    nise = Path(sys.executable).with_name("nise")
    command = [
        str(nise), "report", "aws",
        "--start-date", start.isoformat(), "--end-date", end.isoformat(),
        "--aws-s3-bucket-name", str(bucket),
        "--aws-s3-report-name", REPORT_NAME, "--aws-s3-report-prefix", "nise",
    ]  # fmt: skip
    log.info(
        "generating the AWS CUR of %s with koku-nise (about a minute)", f"{start:%Y-%m}"
    )
    # S603: the report generator installed beside this interpreter, with fixed arguments.
    subprocess.run(command, check=True, cwd=folder, stdout=subprocess.DEVNULL)

    # nise also leaves uncompressed copies in its working folder, which the bucket already has.
    for leftover in folder.glob("*.csv"):
        leftover.unlink()
    manifest = next(bucket.glob(f"*/{REPORT_NAME}/*/{REPORT_NAME}-Manifest.json"))
    return _read_nise_manifest(bucket, manifest)


def _read_nise_manifest(bucket: Path, manifest_path: Path) -> NiseMonth:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    start = datetime.strptime(manifest["billingPeriod"]["start"][:8], "%Y%m%d").date()
    files = tuple(bucket / key for key in manifest["reportKeys"])
    return NiseMonth(bucket, manifest["assemblyId"], start, files)


def scaled_month(nise: NiseMonth, rows: int, data_dir: Path) -> ScaledMonth:
    """Return the month of ``rows`` rows, writing the files that are not cached yet."""
    if rows < 1:
        raise ValueError(f"a scaled month needs at least one row, got {rows}")
    folder = data_dir / f"scaled-{nise.assembly_id[:8]}"
    folder.mkdir(parents=True, exist_ok=True)
    ranges = [
        (start, min(rows, start + FILE_ROWS)) for start in range(0, rows, FILE_ROWS)
    ]
    files: list[ReportFile] = []
    missing = [r for r in ranges if _read_sidecar(folder, *r) is None]
    if missing:
        _write_files(nise, folder, missing)
    for start, end in ranges:
        report = _read_sidecar(folder, start, end)
        if report is None:
            raise RuntimeError(
                f"scaled file rows {start}-{end} is missing in {folder} after writing it"
            )
        files.append(report)
    return ScaledMonth(rows, nise.billing_period_start, tuple(files))


def _stem(start: int, end: int) -> str:
    return f"rows-{start:09d}-{end:09d}"


def _read_sidecar(folder: Path, start: int, end: int) -> ReportFile | None:
    sidecar = folder / f"{_stem(start, end)}.json"
    if not sidecar.is_file():
        return None
    facts = json.loads(sidecar.read_text(encoding="utf-8"))
    report = ReportFile(
        csv_path=folder / facts["csv"],
        gz_path=folder / facts["gz"],
        rows=facts["rows"],
        csv_bytes=facts["csv_bytes"],
        gz_bytes=facts["gz_bytes"],
        daily_totals={
            date.fromisoformat(d): Decimal(v) for d, v in facts["daily_totals"].items()
        },
    )
    if not (report.csv_path.is_file() and report.gz_path.is_file()):
        return None
    if (
        report.csv_path.stat().st_size != report.csv_bytes
        or report.gz_path.stat().st_size != report.gz_bytes
    ):
        return None
    return report


def _write_files(nise: NiseMonth, folder: Path, ranges: list[tuple[int, int]]) -> None:
    """Write the plain CSV with DuckDB, then gzip it and sum its costs, file by file."""
    conn = duckdb.connect()
    try:
        conn.execute("SET enable_progress_bar = false")
        paths = ", ".join(_literal(str(path)) for path in nise.files)
        # One thread makes row_number() follow the files' order, so every run numbers
        # the source rows alike and files written by different runs fit together.
        conn.execute("SET threads = 1")
        conn.execute(
            "CREATE TABLE nise AS SELECT row_number() OVER () - 1 AS source_row, * FROM"
            f" read_csv([{paths}], all_varchar = true, header = true, delim = ',',"
            " quote = '\"', escape = '\"')"
        )
        conn.execute("RESET threads")
        row = conn.execute("SELECT count(*) FROM nise").fetchone()
        source_rows = int(row[0]) if row else 0
        if source_rows == 0:
            raise RuntimeError(f"the nise month in {nise.bucket} has no rows")
        pending: list[Future[None]] = []
        with ThreadPoolExecutor(max_workers=1) as gzipper:
            for start, end in ranges:
                stem = _stem(start, end)
                csv_path = folder / f"{stem}.csv"
                gz_path = folder / f"{stem}.csv.gz"
                log.info(
                    "writing scaled CUR rows %d to %d into %s", start, end, csv_path
                )
                _copy_rows(conn, source_rows, start, end, csv_path)
                pending.append(gzipper.submit(_gzip_file, csv_path, gz_path))
                daily, rows = _sum_costs(csv_path, nise.billing_period_start)
                if rows != end - start:
                    raise RuntimeError(
                        f"{csv_path} has {rows} rows, expected {end - start}"
                    )
                pending[-1].result()
                sidecar = {
                    "csv": csv_path.name,
                    "gz": gz_path.name,
                    "rows": rows,
                    "csv_bytes": csv_path.stat().st_size,
                    "gz_bytes": gz_path.stat().st_size,
                    "daily_totals": {
                        d.isoformat(): str(v) for d, v in sorted(daily.items())
                    },
                }
                (folder / f"{stem}.json").write_text(
                    json.dumps(sidecar, indent=1), encoding="utf-8"
                )
    finally:
        conn.close()


def _copy_rows(
    conn: duckdb.DuckDBPyConnection,
    source_rows: int,
    start: int,
    end: int,
    target: Path,
) -> None:
    first_copy, last_copy = start // source_rows, (end - 1) // source_rows
    line_item = _quote(LINE_ITEM_ID)
    resource = _quote(RESOURCE_ID)
    conn.execute(
        "COPY (SELECT * EXCLUDE (copy_index, source_row) REPLACE ("
        f"   CASE WHEN copy_index = 0 THEN {line_item}"
        f"        ELSE md5(copy_index::VARCHAR || ':' || coalesce({line_item}, '')) END AS {line_item},"
        f"   CASE WHEN copy_index = 0 OR coalesce({resource}, '') = '' THEN {resource}"
        f"        ELSE {resource} || '-' || copy_index::VARCHAR END AS {resource})"
        " FROM (SELECT copies.range AS copy_index, nise.* FROM range(?, ?) AS copies, nise)"
        " WHERE copy_index * ? + source_row >= ? AND copy_index * ? + source_row < ?"
        " ORDER BY copy_index, source_row"
        f") TO {_literal(str(target))} (FORMAT csv, HEADER true, DELIMITER ',')",
        [first_copy, last_copy + 1, source_rows, start, source_rows, end],
    )


def _gzip_file(source: Path, target: Path) -> None:
    partial = target.with_suffix(".gz.partial")
    with (
        source.open("rb") as plain,
        gzip.GzipFile(partial, "wb", compresslevel=_GZIP_LEVEL, mtime=0) as packed,
    ):
        while block := plain.read(_COPY_BLOCK_BYTES):
            packed.write(block)
    partial.replace(target)


def _sum_costs(
    csv_path: Path, billing_period_start: date
) -> tuple[dict[date, Decimal], int]:
    """Sum ``lineItem/UnblendedCost`` per usage day with Decimal, as an independent check.

    A row without a usage start counts on the billing period's first day, which is
    where the pipeline puts it too.
    """
    totals: dict[date, Decimal] = defaultdict(Decimal)
    rows = 0
    for started, cost in _cost_cells(csv_path):
        day = (
            datetime.fromisoformat(started.replace("Z", "+00:00")).date()
            if started
            else billing_period_start
        )
        totals[day] += Decimal(cost) if cost.strip() else Decimal(0)
        rows += 1
    return dict(totals), rows


def _cost_cells(csv_path: Path) -> Iterator[tuple[str, str]]:
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        start_index, cost_index = (
            header.index(USAGE_START),
            header.index(UNBLENDED_COST),
        )
        for record in reader:
            yield record[start_index].strip(), record[cost_index]


def delivery_objects(
    month: ScaledMonth, prefix: str, assembly_id: str
) -> tuple[list[tuple[str, Path]], list[tuple[str, bytes]]]:
    """Return the report files and manifests of one delivery of ``month`` in the AWS layout.

    Files go to ``<prefix>/cur/<range>/<assemblyId>/cur-<n>.csv.gz``; the manifest goes
    beside the assembly folder and, as AWS also writes it, inside it.
    """
    base = f"{prefix}/{REPORT_NAME}/{month_range(month.billing_period_start)}"
    files = [
        (f"{base}/{assembly_id}/{REPORT_NAME}-{index}.csv.gz", report.gz_path)
        for index, report in enumerate(month.files, start=1)
    ]
    manifest = {
        "assemblyId": assembly_id,
        "reportName": REPORT_NAME,
        "compression": "GZIP",
        "contentType": "text/csv",
        "billingPeriod": {"start": f"{month.billing_period_start:%Y%m%d}T000000.000Z"},
        "reportKeys": [key for key, _ in files],
    }
    body = json.dumps(manifest, indent=1).encode()
    manifests = [
        (f"{base}/{REPORT_NAME}-Manifest.json", body),
        (f"{base}/{assembly_id}/{REPORT_NAME}-Manifest.json", body),
    ]
    return files, manifests


def write_delivery_folder(
    month: ScaledMonth, root: Path, prefix: str, assembly_id: str
) -> Path:
    """Lay ``month`` out under ``root`` as a report bucket, with hard links to the gzip files.

    ``costpipe run --reports ROOT`` ingests the result.
    """
    files, manifests = delivery_objects(month, prefix, assembly_id)
    shutil.rmtree(root, ignore_errors=True)
    for key, source in files:
        target = root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.hardlink_to(source)
        except OSError:
            shutil.copyfile(source, target)
    for key, body in manifests:
        target = root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return root


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
