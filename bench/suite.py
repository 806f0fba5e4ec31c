"""The measurements of one size, repeated as far as the run's time budget allows.

A size gets a share of the remaining budget in proportion to its rows (plus a fixed
part for service starts). Its first round always runs: the limit, one costpipe
ingestion, one re-summary of a day and of the month, and the baseline where it is
required (the speed-up size) or fits. Further rounds repeat each measurement, in that
order, only while its last duration still fits the size's share, so ``make bench``
keeps to its budget on a busy machine and the page states the run counts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from bench import limit, probes
from bench.data import ScaledMonth
from bench.measure import Stats, load_average
from bench.pipeline import CostpipeBench, IngestRun, MismatchError, cents

__all__ = ["KINDS", "SizePlan", "measure_size"]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("limit", "costpipe", "baseline", "day", "month")
LIMIT_CASES = (
    ("pyarrow", False),
    ("pyarrow", True),
    ("duckdb", False),
    ("duckdb", True),
)


@dataclass
class SizePlan:
    """The measurements of one size and the deadline for starting optional repeats."""

    month: ScaledMonth
    repeats: int
    deadline: float
    baseline_required: bool
    probe: bool
    # Seconds per row of each kind at the previous size, to estimate a first run here.
    rates: dict[str, float] = field(default_factory=dict)


@dataclass
class _Progress:
    durations: dict[str, list[float]] = field(
        default_factory=lambda: {kind: [] for kind in KINDS}
    )
    skipped: dict[str, int] = field(default_factory=dict)

    def estimate(self, kind: str, rows: int, rates: dict[str, float]) -> float | None:
        if self.durations[kind]:
            return max(self.durations[kind][-1], 0.0)
        if kind in rates:
            return rates[kind] * rows
        return None


async def measure_baseline(
    month: ScaledMonth, scratch: Path, database_url: str, timeout_s: float
) -> dict[str, Any]:
    """Run the baseline in a fresh process and check its summary against the files."""
    run_id = uuid.uuid4().hex
    command = [
        sys.executable, "-m", "bench.baseline",
        "--files", *(str(f.gz_path) for f in month.files),
        "--billing-period-start", month.billing_period_start.isoformat(),
        "--work", str(scratch / "baseline"),
        "--database-url", database_url,
        "--run-id", run_id,
    ]  # fmt: skip
    completed = await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"the baseline failed with exit code {completed.returncode}:\n{completed.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT usage_start, sum(unblended_cost) AS cost, sum(line_item_count) AS items"
            " FROM bench_baseline.daily_summary WHERE run_id = $1 GROUP BY usage_start",
            run_id,
        )
        await conn.execute(
            "DELETE FROM bench_baseline.daily_summary WHERE run_id = $1", run_id
        )
    finally:
        await conn.close()
    # The baseline sums float64 costs, and repr keeps every digit of each sum.
    found = {row["usage_start"]: Decimal(repr(row["cost"])) for row in rows}
    wrong = [
        f"{day}: baseline {cents(found.get(day))}, files {cents(cost)}"
        for day, cost in month.daily_totals.items()
        if cents(found.get(day)) != cents(cost)
    ]
    if wrong or set(found) - set(month.daily_totals):
        raise MismatchError(
            f"the baseline summary differs from the report files on {len(wrong)} day(s): {'; '.join(wrong[:3])}"
        )
    items = sum(int(row["items"]) for row in rows)
    if items != month.rows:
        raise MismatchError(
            f"the baseline summary counts {items} line items, the files have {month.rows}"
        )
    return result


class _SizeRun:
    def __init__(
        self,
        plan: SizePlan,
        bench: CostpipeBench,
        scratch: Path,
        database_url: str,
        timeout_s: float,
    ) -> None:
        self.plan = plan
        self.bench = bench
        self.scratch = scratch
        self.database_url = database_url
        self.timeout_s = timeout_s
        self.progress = _Progress()
        self.limit_runs: dict[str, list[float]] = {}
        self.costpipe_runs: list[IngestRun] = []
        self.baseline_runs: list[dict[str, Any]] = []
        self.resummaries: dict[str, list[tuple[float, int]]] = {"day": [], "month": []}
        days = sorted(plan.month.daily_totals)
        self.day = days[len(days) // 2]
        self.first, self.last = days[0], days[-1]

    @property
    def label(self) -> str:
        return f"{self.plan.month.rows:,} rows"

    async def run(self, kind: str) -> None:
        count = len(self.progress.durations[kind]) + 1
        log.info("%s, %s run %d", self.label, kind, count)
        started = time.monotonic()
        month = self.plan.month
        if kind == "limit":
            for reader, gzip in LIMIT_CASES:
                name = f"{reader} {'gzip' if gzip else 'plain'}"
                self.limit_runs.setdefault(name, []).append(
                    limit.time_reader(reader, month, gzip)
                )
        elif kind == "costpipe":
            ingested = await self.bench.ingest(month)
            self.costpipe_runs.append(ingested)
            log.info(
                "%s, costpipe run %d took %.1f s", self.label, count, ingested.seconds
            )
        elif kind == "baseline":
            baseline = await measure_baseline(
                month, self.scratch, self.database_url, self.timeout_s
            )
            self.baseline_runs.append(baseline)
            log.info(
                "%s, baseline run %d took %.1f s",
                self.label,
                count,
                baseline["seconds"],
            )
        else:
            tenant = self.costpipe_runs[-1].tenant
            first, last = (
                (self.day, self.day) if kind == "day" else (self.first, self.last)
            )
            self.resummaries[kind].append(
                await self.bench.resummarise(tenant, month, first, last)
            )
        self.progress.durations[kind].append(time.monotonic() - started)

    def fits(self, kind: str) -> bool:
        estimate = self.progress.estimate(kind, self.plan.month.rows, self.plan.rates)
        if estimate is None:
            return True
        return time.monotonic() + estimate <= self.plan.deadline

    async def measure(self) -> dict[str, Any]:
        plan = self.plan
        for kind in KINDS:
            if (
                kind == "baseline"
                and not plan.baseline_required
                and not self.fits(kind)
            ):
                self._skip(kind)
                continue
            await self.run(kind)
        for _ in range(1, plan.repeats):
            for kind in KINDS:
                if kind == "baseline" and not self.baseline_runs:
                    continue
                if self.fits(kind):
                    await self.run(kind)
                else:
                    self._skip(kind)
        return self.results()

    def _skip(self, kind: str) -> None:
        self.progress.skipped[kind] = self.progress.skipped.get(kind, 0) + 1
        log.info(
            "%s, %s run skipped: it would not finish within the time budget",
            self.label,
            kind,
        )

    def rates(self) -> dict[str, float]:
        """Return the seconds per row of each kind's last run at this size."""
        rows = self.plan.month.rows
        return {
            kind: runs[-1] / rows
            for kind, runs in self.progress.durations.items()
            if runs
        }

    def results(self) -> dict[str, Any]:
        runs = self.costpipe_runs
        result: dict[str, Any] = {
            "limit": {
                name: Stats.of(values).as_dict()
                for name, values in self.limit_runs.items()
            },
            "costpipe": {
                "seconds": Stats.of([r.seconds for r in runs]).as_dict(),
                "runs": [r.seconds for r in runs],
                "summary_rows": runs[-1].summary_rows,
                "stages": {
                    name: Stats.of([r.stages[name] for r in runs]).as_dict()
                    for name in runs[0].stages
                },
                "file_seconds": [r.file_seconds for r in runs],
                "summary_task_seconds": [r.summary_task_seconds for r in runs],
            },
            "resummarise": {
                "day": self.day.isoformat(),
                "day_seconds": Stats.of(
                    [s for s, _ in self.resummaries["day"]]
                ).as_dict(),
                "day_rows": self.resummaries["day"][-1][1],
                "month_seconds": Stats.of(
                    [s for s, _ in self.resummaries["month"]]
                ).as_dict(),
                "month_rows": self.resummaries["month"][-1][1],
            },
            "skipped": dict(self.progress.skipped),
        }
        if self.baseline_runs:
            baseline = self.baseline_runs
            result["baseline"] = {
                "seconds": Stats.of([b["seconds"] for b in baseline]).as_dict(),
                "runs": [b["seconds"] for b in baseline],
                "stages": {
                    name: Stats.of([b["stages"][name] for b in baseline]).as_dict()
                    for name in baseline[0]["stages"]
                },
                "peak_rss_bytes": max(b["peak_rss_bytes"] for b in baseline),
                "processes": baseline[0]["processes"],
                "summary_rows": baseline[-1]["summary_rows"],
            }
        return result


async def measure_size(
    plan: SizePlan,
    bench: CostpipeBench,
    scratch: Path,
    database_url: str,
    timeout_s: float,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Measure one size on freshly started services; return its results and per-row rates."""
    month = plan.month
    result: dict[str, Any] = {
        "rows": month.rows,
        "files": len(month.files),
        "csv_bytes": month.csv_bytes,
        "gz_bytes": month.gz_bytes,
        "days": len(month.daily_totals),
        "total_unblended_cost": str(cents(month.total)),
        "load_start": load_average(),
    }
    sized = _SizeRun(plan, bench, scratch, database_url, timeout_s)
    bench.start_services(str(month.rows))
    try:
        result |= await sized.measure()
        result["service_peak_rss"] = bench.service_peaks()
    finally:
        bench.stop_services()
    if plan.probe:
        log.info("%s, single-run probes of costpipe's steps", sized.label)
        result["probes"] = await probes.run_probes(
            month, scratch / "probes", database_url
        )
    result["load_end"] = load_average()
    return result, sized.rates()
