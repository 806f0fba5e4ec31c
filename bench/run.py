"""Benchmark costpipe against the CSV read-speed limit and a Koku-style pandas baseline.

``make bench`` runs this file. For each size it prepares a month of AWS CUR (a
koku-nise month scaled up), then measures on the same files in the same run:

- limit: pyarrow and DuckDB parsing the plain and the gzip CSV, and nothing else;
- costpipe: the services as ``make run`` starts them, from the report check until the
  manifest is complete, then re-summarising one day and the whole month;
- baseline: bench/baseline.py, pandas in 200,000-row chunks as Koku processes CUR.

It writes the results page (``--out``) with a plot beside it, and the raw figures as
JSON under the data folder. ``--from-results FILE`` rewrites the page from such a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import data, report
from bench.measure import load_average, machine_facts
from bench.pipeline import CostpipeBench
from bench.suite import SizePlan, measure_size
from services import launcher

log = logging.getLogger("bench")

STACK_DIR = REPO_ROOT / ".stack" / "bench"
DEFAULT_SIZES = "250000,1000000,2000000"
SPEEDUP_SIZE = 1_000_000
# Each size's share of the budget counts this many rows on top of its own, for the
# fixed costs (service start, uploads, polling) that do not scale with rows.
FIXED_SHARE_ROWS = 250_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help=f"comma-separated CUR row counts (default {DEFAULT_SIZES})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of each measurement per size (default 3)",
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=25.0,
        help="soft limit of the whole run; repeats that would not fit are skipped (default 25)",
    )
    parser.add_argument(
        "--probe-rows",
        type=int,
        help="size at which to run the probes (default: 1000000 if measured, else the smallest)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "docs" / "benchmarks.md",
        help="results page to write",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=REPO_ROOT / "bench" / "data",
        help="cache of generated reports and scratch space",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1200.0,
        help="seconds one ingestion or summary may take (default 1200)",
    )
    parser.add_argument(
        "--no-probes",
        action="store_true",
        help="skip the single-run timings of costpipe's steps",
    )
    parser.add_argument(
        "--keep-stack",
        action="store_true",
        help="leave the local stack and its data running afterwards",
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        help="rewrite the page from this results JSON without measuring",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [
            int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()
        ]
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes needs at least one positive row count")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.probe_rows is not None and args.probe_rows not in args.sizes:
        parser.error(f"--probe-rows must be one of --sizes, got {args.probe_rows}")
    return args


def command_line(argv: list[str] | None) -> str:
    given = sys.argv[1:] if argv is None else argv
    return " ".join(["bench/run.py", *given]).strip()


def _git(*args: str) -> str:
    """Return the output of a git command in the repository, with trailing blanks removed."""
    completed = subprocess.run(
        ["git", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # Porcelain lines start with a status column that may be a space, so keep leading blanks.
    return completed.stdout.rstrip()


def run_facts(argv: list[str] | None) -> dict[str, Any]:
    """Return the machine, code version and library versions of this run."""
    versions = {}
    for package in ("duckdb", "pyarrow", "pandas", "asyncpg", "koku-nise"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    dirty = [
        line[3:]
        for line in _git("status", "--porcelain", "--untracked-files=no").splitlines()
    ]
    return {
        **machine_facts(),
        "command": command_line(argv),
        "commit": _git("rev-parse", "--short=12", "HEAD"),
        "modified_files": [
            path for path in dirty if not path.startswith(("bench/", "docs/benchmarks"))
        ],
        "versions": versions,
        "load_start": load_average(),
    }


def stop_stack(purge: bool) -> None:
    command = [
        sys.executable,
        str(launcher.STACK_SCRIPT),
        "stop",
        *(["--purge"] if purge else []),
    ]
    subprocess.run(
        command, check=False, env={**os.environ, "COSTPIPE_STACK_DIR": str(STACK_DIR)}
    )


def _size_deadline(budget_end: float, rows: int, rows_left: list[int]) -> float:
    """Return when optional repeats of this size must stop, from its share of the budget."""
    weights = [r + FIXED_SHARE_ROWS for r in rows_left]
    remaining = max(0.0, budget_end - time.monotonic())
    return time.monotonic() + remaining * (rows + FIXED_SHARE_ROWS) / sum(weights)


async def measure(
    args: argparse.Namespace, facts: dict[str, Any], results_path: Path
) -> dict[str, Any]:
    """Prepare the report files, start the stack and measure every size in order.

    The results so far are written to ``results_path`` after each size, so a failed
    run keeps what it measured.
    """
    started = time.monotonic()
    budget_end = started + args.budget_minutes * 60
    results: dict[str, Any] = {
        "facts": facts,
        "sizes": [],
        "repeats": args.repeats,
        "budget_minutes": args.budget_minutes,
    }

    nise = data.nise_month(args.data_dir)
    months = {size: data.scaled_month(nise, size, args.data_dir) for size in args.sizes}
    results["nise_month"] = nise.billing_period_start.isoformat()
    results["data_seconds"] = time.monotonic() - started
    log.info("report files ready after %.0f s", results["data_seconds"])

    os.environ["COSTPIPE_STACK_DIR"] = str(STACK_DIR)
    stop_stack(purge=True)
    env = launcher.start_stack()
    bench = CostpipeBench(env, args.data_dir / "run", args.timeout)
    baseline_rows = SPEEDUP_SIZE if SPEEDUP_SIZE in args.sizes else min(args.sizes)
    probe_rows = args.probe_rows or baseline_rows
    rates: dict[str, float] = {}

    try:
        await bench.open()
        for index, size in enumerate(args.sizes):
            plan = SizePlan(
                month=months[size],
                repeats=args.repeats,
                deadline=_size_deadline(budget_end, size, args.sizes[index:]),
                baseline_required=size == baseline_rows,
                probe=not args.no_probes and size == probe_rows,
                rates=rates,
            )
            measured, size_rates = await measure_size(
                plan, bench, args.data_dir / "run", env["DATABASE_URL"], args.timeout
            )
            rates = {**rates, **size_rates}
            results["sizes"].append(measured)
            results_path.write_text(
                json.dumps(results, indent=1, default=str), encoding="utf-8"
            )
    finally:
        await bench.close()
        if not args.keep_stack:
            stop_stack(purge=True)

    results["facts"]["load_end"] = load_average()
    results["wall_seconds"] = time.monotonic() - started
    return results


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    if args.from_results:
        results = json.loads(args.from_results.read_text(encoding="utf-8"))
    else:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        results_path = args.data_dir / f"results-{stamp}.json"
        results = asyncio.run(measure(args, run_facts(argv), results_path))
        results_path.write_text(
            json.dumps(results, indent=1, default=str), encoding="utf-8"
        )
        log.info("raw results in %s", results_path)
    report.write_page(results, args.out)
    log.info(
        "results page written to %s after %s",
        args.out,
        timedelta(seconds=round(results.get("wall_seconds", 0))),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
