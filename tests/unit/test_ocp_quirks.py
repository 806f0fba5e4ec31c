"""OpenShift cases of the report-quirk corpus, through conversion and the summary query."""

import csv
import json
import uuid
from datetime import UTC, date
from pathlib import Path

import duckdb
import pytest

from services.downloader.ocp.reports import convert_ocp_csv, detect_report_type
from services.downloader.ocp.reports import read_header as ocp_header
from services.summarizer.ocp_summary import summarize_ocp_files
from shared.engines import load_query, to_trino
from shared.keys import ocp_daily_parquet_key
from shared.ocp_reports import report_type

POD_HEADER = [*report_type("pod_usage").required, "resource_id", "pod_labels"]


def _pod_row(**values: str) -> dict[str, str]:
    row = {column: "0" for column in POD_HEADER}
    row.update(
        report_period_start="2024-03-01 00:00:00 +0000 UTC",
        report_period_end="2024-04-01 00:00:00 +0000 UTC",
        interval_start="2024-03-10 01:00:00 +0000 UTC",
        interval_end="2024-03-10 01:59:59 +0000 UTC",
        node="n1",
        namespace="ns",
        pod="p",
        resource_id="i-1",
        pod_labels="label_app:web",
    )
    row.update(values)
    return row


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _rows(result, tmp_path: Path) -> list[dict]:
    paths = [str(p) for p in result.day_files.values()]
    if not paths:
        return []
    cursor = duckdb.sql(
        f"SELECT * FROM read_parquet({paths!r}) ORDER BY interval_start"
    )
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _summary(tmp_path: Path, rows: list[dict[str, str]]) -> list[dict]:
    result = convert_ocp_csv(
        _write(tmp_path / "pod.csv", POD_HEADER, rows), "pod.csv", tmp_path / "out"
    )
    assert result is not None
    files = {"pod_usage": list(result.day_files.values())}
    columns, records = summarize_ocp_files(files, date(2024, 3, 1), date(2024, 3, 31))[
        0
    ]
    return [dict(zip(columns, record, strict=True)) for record in records]


# empty CSV files inside a payload.
def test_empty_file_yields_no_day_files(tmp_path):
    path = tmp_path / "storage_usage.csv"
    path.write_bytes(b"")
    result = convert_ocp_csv(path, "storage_usage.csv", tmp_path / "out")
    assert result is not None
    assert result.day_files == {}


def test_header_only_file_yields_no_day_files(tmp_path):
    header = list(report_type("node_labels").required)
    result = convert_ocp_csv(
        _write(tmp_path / "node_labels.csv", header, []),
        "node_labels.csv",
        tmp_path / "out",
    )
    assert result is not None
    assert result.day_files == {}


# rows with an empty node or zero capacity never divide by zero.
def test_empty_node_keeps_usage_under_unknown(tmp_path):
    rows = [
        _pod_row(
            node="",
            namespace="ns-a",
            pod_usage_cpu_core_seconds="3600",
            node_capacity_cpu_core_seconds="0",
        ),
        _pod_row(
            node="n1",
            namespace="ns-b",
            pod_usage_cpu_core_seconds="3600",
            node_capacity_cpu_cores="4",
            node_capacity_cpu_core_seconds="14400",
        ),
    ]
    summary = {row["namespace"]: row for row in _summary(tmp_path, rows)}
    assert summary["ns-a"]["node"] == "unknown"
    assert summary["ns-a"]["pod_usage_cpu_core_hours"] == 1.0
    assert summary["ns-a"]["node_capacity_cpu_core_hours"] is None


def test_empty_node_adds_no_cluster_capacity(tmp_path):
    rows = [
        _pod_row(
            node="",
            namespace="ns-a",
            pod_usage_cpu_core_seconds="3600",
            node_capacity_cpu_core_seconds="0",
        ),
        _pod_row(
            node="n1",
            namespace="ns-b",
            pod_usage_cpu_core_seconds="3600",
            node_capacity_cpu_cores="4",
            node_capacity_cpu_core_seconds="14400",
        ),
    ]
    summary = {row["namespace"]: row for row in _summary(tmp_path, rows)}
    assert summary["ns-b"]["cluster_capacity_cpu_core_hours"] == 4.0
    unallocated = (
        summary["ns-b"]["node_capacity_cpu_core_hours"]
        - summary["ns-b"]["pod_effective_usage_cpu_core_hours"]
    )
    assert unallocated == 3.0


def test_node_capacity_counted_once_per_interval(tmp_path):
    rows = [
        _pod_row(pod="a", node_capacity_cpu_core_seconds="14400"),
        _pod_row(pod="b", node_capacity_cpu_core_seconds="14400"),
    ]
    summary = _summary(tmp_path, rows)
    assert {row["node_capacity_cpu_core_hours"] for row in summary} == {4.0}


# effective usage is max(usage, request).
def test_effective_usage_is_max_of_usage_and_request(tmp_path):
    rows = [
        _pod_row(
            pod="A",
            pod_usage_cpu_core_seconds=str(2 * 3600),
            pod_request_cpu_core_seconds="0",
        ),
        _pod_row(
            pod="B",
            pod_usage_cpu_core_seconds=str(1 * 3600),
            pod_request_cpu_core_seconds=str(4 * 3600),
        ),
    ]
    summary = {row["pod"]: row for row in _summary(tmp_path, rows)}
    assert summary["A"]["pod_effective_usage_cpu_core_hours"] == 2.0
    assert summary["B"]["pod_effective_usage_cpu_core_hours"] == 4.0


# timestamps in any offset are bucketed by UTC day.
@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2024-03-10 01:00:00 +0000 UTC", "2024-03-10 01:00:00+00:00"),
        ("2024-03-10T01:00:00Z", "2024-03-10 01:00:00+00:00"),
        ("2024-03-10T02:00:00-05:00", "2024-03-10 07:00:00+00:00"),
        ("2024-03-10 20:00:00 -0500 EST", "2024-03-11 01:00:00+00:00"),
    ],
)
def test_interval_start_read_as_utc_instant(tmp_path, written, instant):
    result = convert_ocp_csv(
        _write(tmp_path / "pod.csv", POD_HEADER, [_pod_row(interval_start=written)]),
        "pod.csv",
        tmp_path / "out",
    )
    (row,) = _rows(result, tmp_path)
    assert str(row["interval_start"].astimezone(UTC)) == instant


def test_late_local_evening_lands_on_next_utc_day(tmp_path):
    result = convert_ocp_csv(
        _write(
            tmp_path / "pod.csv",
            POD_HEADER,
            [_pod_row(interval_start="2024-03-10T22:00:00-05:00")],
        ),
        "pod.csv",
        tmp_path / "out",
    )
    assert list(result.day_files) == [date(2024, 3, 11)]


# partition values have one zero-padded form.
def test_keys_zero_pad_month_and_day():
    key = ocp_daily_parquet_key(
        "org1", "pod_usage", uuid.UUID(int=1), date(2024, 1, 5), "p1", "pod_usage"
    )
    assert "/year=2024/month=01/day=05/" in key


# operator version skew.
def test_missing_new_column_becomes_typed_null(tmp_path):
    header = [c for c in POD_HEADER if c != "resource_id"]
    rows = [{k: v for k, v in _pod_row().items() if k != "resource_id"}]
    result = convert_ocp_csv(
        _write(tmp_path / "pod.csv", header, rows), "pod.csv", tmp_path / "out"
    )
    assert "resource_id" in result.missing_optional
    (row,) = _rows(result, tmp_path)
    assert row["node_role"] is None


def test_unknown_report_is_skipped(tmp_path):
    path = _write(
        tmp_path / "network_usage.csv",
        ["interval_start", "bytes_in"],
        [{"interval_start": "x", "bytes_in": "1"}],
    )
    assert convert_ocp_csv(path, "network_usage.csv", tmp_path / "out") is None


def test_detect_report_type_by_header(tmp_path):
    path = _write(tmp_path / "pod.csv", POD_HEADER, [])
    assert detect_report_type(ocp_header(path)).name == "pod_usage"


def test_metric_above_limit_dropped_and_counted(tmp_path):
    rows = [_pod_row(pod="ok"), _pod_row(pod="bad", pod_usage_cpu_core_seconds="2e18")]
    result = convert_ocp_csv(
        _write(tmp_path / "pod.csv", POD_HEADER, rows), "pod.csv", tmp_path / "out"
    )
    assert result.dropped_rows == 1
    assert [row["pod"] for row in _rows(result, tmp_path)] == ["ok"]


def test_labels_drop_prefix_and_unsplittable_entries(tmp_path):
    labels = "label_app:web|label_team:a:b|garbage|label_env:prod"
    result = convert_ocp_csv(
        _write(tmp_path / "pod.csv", POD_HEADER, [_pod_row(pod_labels=labels)]),
        "pod.csv",
        tmp_path / "out",
    )
    (row,) = _rows(result, tmp_path)
    assert json.loads(row["pod_labels"]) == {"app": "web", "env": "prod"}


@pytest.mark.parametrize(
    "name",
    [
        "ocp_pod_daily_summary.sql",
        "ocp_storage_daily_summary.sql",
        "ocp_vm_daily_summary.sql",
        "ocp_gpu_daily_summary.sql",
    ],
)
def test_ocp_queries_transpile_to_trino(name):
    import sqlglot

    trino = to_trino(load_query("services.summarizer.sql", name))
    assert sqlglot.parse_one(trino, read="trino") is not None
