"""The OpenShift benchmark's pure parts: scaling, Decimal figures, checks and the report."""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bench import ocp, report, run
from bench.ocp_data import (
    COST_MODEL_RATES,
    RENAMED_COLUMNS,
    DayFigures,
    copies_for,
    cost_differences,
    describe_benchmark,
    expected_costs,
    read_figures,
    renamed,
    scale_rows,
    summary_differences,
    usage_day,
)

POD_HEADER = [
    "interval_start",
    "node",
    "namespace",
    "pod",
    "resource_id",
    "pod_usage_cpu_core_seconds",
    "pod_usage_memory_byte_seconds",
    "node_capacity_cpu_core_seconds",
    "node_capacity_memory_byte_seconds",
]
STORAGE_HEADER = [
    "interval_start",
    "namespace",
    "pod",
    "node",
    "persistentvolumeclaim",
    "persistentvolume",
    "csi_volume_handle",
    "persistentvolumeclaim_capacity_byte_seconds",
    "persistentvolumeclaim_usage_byte_seconds",
]
GIB = 2**30
# November has 30 days: byte-seconds of one GiB for the whole month.
GIB_MONTH = 3600 * 24 * 30 * GIB


def _pod_rows() -> list[list[str]]:
    """Two hours of one node with two pods, and one pod without a node."""
    rows = []
    for hour in ("00", "01"):
        start = f"2026-11-01 {hour}:00:00 +0000 UTC"
        rows += [
            [start, "worker-0", "shop", "api-0", "i-1", "3600", str(2 * GIB * 3600),
             "14400", str(8 * GIB * 3600)],
            [start, "worker-0", "openshift-dns", "dns-0", "i-1", "1800", str(GIB * 3600),
             "14400", str(8 * GIB * 3600)],
            [start, "", "shop", "job-0", "", "360", "0", "", ""],
        ]  # fmt: skip
    return rows


def _storage_rows() -> list[list[str]]:
    start = "2026-11-01 00:00:00 +0000 UTC"
    return [
        [start, "shop", "api-0", "worker-0", "data-0", "pv-0", "vol-0",
         str(GIB_MONTH // 30 // 24 * 10), str(GIB_MONTH // 30 // 24 * 4)],
        [start, "shop", "api-0", "worker-0", "data-1", "pv-0", "vol-0",
         str(GIB_MONTH // 30 // 24 * 20), str(GIB_MONTH // 30 // 24 * 5)],
    ]  # fmt: skip


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _scaled(
    tmp_path: Path, copies: int, name: str, header: list[str], rows: list[list[str]]
) -> Path:
    columns = RENAMED_COLUMNS[name]
    return _write(
        tmp_path / name, header, list(scale_rows(header, rows, columns, copies))
    )


def test_copies_round_to_nearest() -> None:
    assert copies_for(100_000, 23_040) == 4
    assert copies_for(400_000, 23_040) == 17
    assert copies_for(1_000, 23_040) == 1


def test_copies_reject_empty_base() -> None:
    with pytest.raises(ValueError, match="pod rows"):
        copies_for(100_000, 0)


def test_renamed_keeps_copy_zero_and_empty() -> None:
    assert renamed("worker-0", 0) == "worker-0"
    assert renamed("worker-0", 3) == "worker-0-c3"
    assert renamed("", 3) == ""
    # Platform namespaces stay platform namespaces in every copy.
    assert renamed("openshift-monitoring", 2).startswith("openshift-")


def test_scale_rows_renames_only_resource_columns() -> None:
    rows = _pod_rows()[:1]
    scaled = list(scale_rows(POD_HEADER, rows, ("node", "namespace", "pod"), 3))
    assert len(scaled) == 3
    assert scaled[0] == rows[0]
    assert scaled[2][1:4] == ["worker-0-c2", "shop-c2", "api-0-c2"]
    assert scaled[2][4] == "i-1"
    assert scaled[2][5:] == rows[0][5:]


def test_scaled_totals_are_copies_times_base(tmp_path: Path) -> None:
    base = tmp_path / "base"
    big = tmp_path / "big"
    base.mkdir()
    big.mkdir()
    single = read_figures(
        _scaled(base, 1, "pod_usage.csv", POD_HEADER, _pod_rows()),
        _scaled(base, 1, "storage_usage.csv", STORAGE_HEADER, _storage_rows()),
    )
    five = read_figures(
        _scaled(big, 5, "pod_usage.csv", POD_HEADER, _pod_rows()),
        _scaled(big, 5, "storage_usage.csv", STORAGE_HEADER, _storage_rows()),
    )
    day = date(2026, 11, 1)
    assert set(five) == {day}
    assert five[day].pod_rows == 5 * single[day].pod_rows
    assert five[day].storage_rows == 5 * single[day].storage_rows
    assert five[day].cpu_core_hours == 5 * single[day].cpu_core_hours
    assert five[day].memory_gigabyte_hours == 5 * single[day].memory_gigabyte_hours
    assert five[day].billable_cpu_core_hours == 5 * single[day].billable_cpu_core_hours
    assert five[day].nodes == 5 * single[day].nodes
    assert five[day].claims == 5 * single[day].claims


def test_figures_sum_usage_and_capacity(tmp_path: Path) -> None:
    days = read_figures(
        _write(tmp_path / "pod.csv", POD_HEADER, _pod_rows()),
        _write(tmp_path / "storage.csv", STORAGE_HEADER, _storage_rows()),
    )
    figures = days[date(2026, 11, 1)]
    assert figures.pod_rows == 6
    # 2 hours x (1 + 0.5 core-hours) on the node, plus 2 x 0.1 without a node.
    assert figures.cpu_core_hours == Decimal("3.2")
    assert figures.memory_gigabyte_hours == Decimal(6)
    assert figures.nodes == 1
    # The node has 4 cores for 2 hours: capacity, not usage, is billed on it.
    assert figures.billable_cpu_core_hours == Decimal("8.2")
    assert figures.billable_memory_gigabyte_hours == Decimal(16)
    assert figures.storage_rows == 2
    assert figures.claims == 2
    assert figures.storage_rows_over_capacity == 0
    assert round(figures.claim_usage_gigabyte_months * 720, 9) == 9
    assert round(figures.billable_storage_gigabyte_months * 720, 9) == 30


def test_usage_day_converts_offsets_to_utc() -> None:
    assert usage_day("2026-11-01 23:00:00 +0000 UTC") == date(2026, 11, 1)
    assert usage_day("2026-11-01 23:00:00 -0200") == date(2026, 11, 2)


def test_expected_costs_apply_every_rate() -> None:
    figures = DayFigures(
        billable_cpu_core_hours=Decimal(100),
        billable_memory_gigabyte_hours=Decimal(1000),
        billable_storage_gigabyte_months=Decimal(3),
        nodes=3,
        claims=6,
    )
    costs = expected_costs(date(2026, 11, 1), figures)
    rates = {kind: Decimal(value) for _, kind, _, value in COST_MODEL_RATES}
    assert costs["cpu"] == 100 * rates["cpu"]
    assert costs["memory"] == 1000 * rates["memory"]
    assert costs["storage"] == 3 * rates["storage"]
    assert costs["node"] == 3 * rates["node"] / 30
    assert costs["cluster"] == rates["cluster"] / 30
    assert costs["pvc"] == 6 * rates["pvc"] / 30
    before_markup = sum((v for k, v in costs.items() if k != "markup"), Decimal(0))
    assert costs["markup"] == before_markup / 10


def _day_figures() -> dict[date, DayFigures]:
    return {
        date(2026, 11, 1): DayFigures(
            pod_rows=48,
            storage_rows=24,
            cpu_core_hours=Decimal("12.5"),
            memory_gigabyte_hours=Decimal(40),
            claim_usage_gigabyte_months=Decimal("0.5"),
            billable_cpu_core_hours=Decimal(96),
            billable_memory_gigabyte_hours=Decimal(384),
            billable_storage_gigabyte_months=Decimal(1),
            nodes=1,
            claims=1,
        )
    }


def _summary_found() -> dict[tuple[date, str], dict[str, Any]]:
    day = date(2026, 11, 1)
    return {
        (day, "Pod"): {
            "items": 48,
            "cpu": Decimal("12.5000000000001"),
            "memory": Decimal(40),
            "claim_usage": None,
        },
        (day, "Storage"): {
            "items": 24,
            "cpu": None,
            "memory": None,
            "claim_usage": Decimal("0.5"),
        },
    }


def test_summary_check_accepts_float_noise() -> None:
    assert summary_differences(_summary_found(), _day_figures()) == []


def test_summary_check_names_wrong_cpu() -> None:
    found = _summary_found()
    found[(date(2026, 11, 1), "Pod")]["cpu"] = Decimal("12.6")
    wrong = summary_differences(found, _day_figures())
    assert len(wrong) == 1
    assert "CPU core-hours" in wrong[0]


def test_summary_check_counts_line_items() -> None:
    found = _summary_found()
    found[(date(2026, 11, 1), "Storage")]["items"] = 23
    wrong = summary_differences(found, _day_figures())
    assert wrong == ["2026-11-01 storage line items: summary 23, files 24"]


def _cost_found() -> dict[date, dict[str, Decimal]]:
    day = date(2026, 11, 1)
    found = dict(expected_costs(day, _day_figures()[day]))
    found["platform_distributed"] = Decimal(0)
    found["worker_distributed"] = Decimal("0.0000001")
    return {day: found}


def test_cost_check_accepts_netted_distribution() -> None:
    assert cost_differences(_cost_found(), _day_figures()) == []


def test_cost_check_catches_distribution_leak() -> None:
    found = _cost_found()
    found[date(2026, 11, 1)]["worker_distributed"] = Decimal("0.05")
    wrong = cost_differences(found, _day_figures())
    assert len(wrong) == 1
    assert "before distribution" in wrong[0]


def test_cost_check_catches_wrong_rate() -> None:
    found = _cost_found()
    found[date(2026, 11, 1)]["node"] += Decimal("0.02")
    wrong = cost_differences(found, _day_figures())
    assert any(w.startswith("2026-11-01 node:") for w in wrong)


def test_size_deadline_shares_budget_by_rows() -> None:
    fixed = ocp.FIXED_SHARE_ROWS
    first = ocp.size_deadline(1000.0, 100_000, [100_000, 400_000], now=0.0)
    share = (100_000 + fixed) / (500_000 + 2 * fixed)
    assert first == pytest.approx(1000.0 * share)
    last = ocp.size_deadline(1000.0, 400_000, [400_000], now=500.0)
    assert last == pytest.approx(1000.0)


def _stats(median: float, count: int = 3) -> dict[str, Any]:
    return {
        "median": median,
        "minimum": median - 1,
        "maximum": median + 1,
        "count": count,
    }


def _openshift_results() -> dict[str, Any]:
    size = {
        "copies": 4,
        "pod_rows": 92_160,
        "storage_rows": 54_720,
        "csv_bytes": 53_654_740,
        "archive_bytes": 2_902_162,
        "days": 30,
        "nodes": 16,
        "load_start": [1.5, 1.2, 1.1],
        "load_end": [1.7, 1.3, 1.1],
        "summary": {
            "seconds": _stats(17.0),
            "runs": [16.0, 17.0, 18.0],
            "stages": {
                "download and convert": _stats(8.8),
                "summary and close": _stats(7.9),
            },
            "automatic_cost_seconds": [0.7, None, 0.9],
        },
        "summary_rows": 6_120,
        "cost_model": {"seconds": _stats(2.5), "runs": [1.5, 2.5, 3.5]},
        "cost_rows": 60_480,
        "skipped": {"summary": 1},
        "service_peak_rss": {"costmodel": 300 * 2**20, "downloader": 2**30},
    }
    return {
        "facts": {
            "cores": 2,
            "cpu_model": "test CPU",
            "memory_bytes": 8 * 2**30,
            "kernel": "6.0",
            "python": "3.11.7",
            "date": "2026-12-04T17:00:00+00:00",
            "command": "bench/run.py --sizes ''",
            "commit": "0123456789ab",
            "modified_files": [],
            "versions": {"duckdb": "2.0.1"},
            "load_start": [1.0, 1.0, 1.0],
            "load_end": [2.0, 2.0, 2.0],
        },
        "sizes": [],
        "repeats": 3,
        "budget_minutes": 29.0,
        "data_seconds": 1.0,
        "wall_seconds": 240.0,
        "openshift": {
            "budget_minutes": 4.5,
            "repeats": 3,
            **describe_benchmark(),
            "sizes": [size],
        },
    }


def test_report_renders_openshift_table(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    report.write_page(_openshift_results(), out)
    page = out.read_text(encoding="utf-8")
    openshift = page.split("## OpenShift", 1)[1]
    assert (
        "| 92,160 | 54,720 | 4 | 16 | 6,120 | 60,480 | upload to summary"
        " | 17.0 | 16.0 | 18.0 | 3 | 9 k |" in openshift
    )
    assert "| | | | | | | cost-model run | 2.50 | 1.50 | 3.50 | 3 | 2 k |" in openshift
    assert "| pod rows | costmodel | downloader |" in openshift
    assert "| 92,160 | 300 MiB | 1.00 GiB |" in openshift
    assert "92,160 pod rows: 1 summary" in openshift
    assert "| 92,160 | 8.80 | 7.90 | 0.80 | 1.50, 1.70 |" in openshift


def test_report_without_aws_sizes_skips_aws(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    report.write_page(_openshift_results(), out)
    page = out.read_text(encoding="utf-8")
    assert "## AWS\n\nNot measured in this run." in page
    assert "## Targets" not in page
    assert not out.with_suffix(".png").exists()


def test_report_without_openshift_says_so(tmp_path: Path) -> None:
    results = _openshift_results()
    del results["openshift"]
    out = tmp_path / "benchmarks.md"
    report.write_page(results, out)
    openshift = out.read_text(encoding="utf-8").split("## OpenShift", 1)[1]
    assert openshift.lstrip().startswith("Not measured in this run.")


def test_run_parses_openshift_only() -> None:
    args = run.parse_args(["--sizes", "", "--openshift-sizes", "100_000,400000"])
    assert args.sizes == []
    assert args.openshift_sizes == [100_000, 400_000]
    assert args.out is None


def test_run_rejects_no_sizes() -> None:
    with pytest.raises(SystemExit):
        run.parse_args(["--sizes", "", "--openshift-sizes", ""])


def test_merge_takes_each_part_from_its_file(tmp_path: Path) -> None:
    openshift = _openshift_results()
    aws = {**_openshift_results(), "sizes": [{"rows": 1}]}
    del aws["openshift"]
    aws["facts"] = {**aws["facts"], "commit": "aws000000000"}
    aws_path = tmp_path / "aws.json"
    openshift_path = tmp_path / "openshift.json"
    aws_path.write_text(json.dumps(aws), encoding="utf-8")
    openshift_path.write_text(json.dumps(openshift), encoding="utf-8")
    merged = run.merge_results([aws_path, openshift_path])
    assert merged["sizes"] == [{"rows": 1}]
    assert merged["facts"]["commit"] == "aws000000000"
    assert merged["openshift"] == openshift["openshift"]
    assert merged["openshift_facts"]["commit"] == "0123456789ab"


def test_merge_single_file_has_no_separate_facts(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_openshift_results()), encoding="utf-8")
    merged = run.merge_results([path])
    assert "openshift_facts" not in merged
    assert merged["openshift"]["sizes"][0]["pod_rows"] == 92_160
