"""Benchmark costpipe against the CSV read-speed limit and a Koku-style pandas baseline.

``make bench`` runs this file. For each size it prepares a month of AWS CUR (a
koku-nise month scaled up), then measures on the same files in the same run:

- limit: pyarrow and DuckDB parsing the plain and the gzip CSV, and nothing else;
- costpipe: the services as ``make run`` starts them, from the report check until the
  manifest is complete, then re-summarising one day and the whole month;
- baseline: bench/baseline.py, pandas in 200,000-row chunks as Koku processes CUR.

Then, for each OpenShift size (bench/ocp_data.py: a koku-nise cluster month scaled up),
it times an operator upload until the usage summary is complete and the cost-model run
on its own (bench/ocp.py). ``--sizes ''`` measures only OpenShift, ``--openshift-sizes ''``
only AWS.

It writes the results page (``--out``) with a plot beside it, and the raw figures as
JSON under the data folder. ``--from-results FILE`` rewrites the page from such a file.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# These imports need the repository root on sys.path when run as a script.
from bench import data, ocp, ocp_data, report  # noqa: E402
from bench.measure import load_average, machine_facts  # noqa: E402
from bench.pipeline import CostpipeBench  # noqa: E402
from bench.suite import SizePlan, measure_size  # noqa: E402
from services import launcher  # noqa: E402
from shared.settings import Settings  # noqa: E402

log = logging.getLogger("bench")

DEFAULT_STACK_DIR = REPO_ROOT / ".stack" / "bench"
DEFAULT_SIZES = "250000,1000000,2000000"
DEFAULT_OPENSHIFT_SIZES = "100000,400000"
DEFAULT_OUT = REPO_ROOT / "docs" / "benchmarks.md"
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
        "--openshift-sizes",
        default=DEFAULT_OPENSHIFT_SIZES,
        help="comma-separated OpenShift pod-row counts, each rounded to whole copies of"
        f" the nise cluster month; empty for none (default {DEFAULT_OPENSHIFT_SIZES})",
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
        default=26.0,
        help="soft limit of the whole run in minutes, from preparing the reports to the"
        " last measurement; repeats that would not fit are skipped (default 26, which"
        " leaves room for the install and the page within 30 minutes)",
    )
    parser.add_argument(
        "--openshift-minutes",
        type=float,
        default=4.0,
        help="minutes of --budget-minutes kept for the OpenShift sizes, which use no"
        " more than that. The AWS sizes share the rest (default 4)",
    )
    parser.add_argument(
        "--probe-rows",
        type=int,
        help="size at which to run the probes (default: 1000000 if measured, else the smallest)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="results page to write (default docs/benchmarks.md). A run without AWS"
        " sizes writes no page unless this is given.",
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
        "--stack-dir",
        type=Path,
        default=DEFAULT_STACK_DIR,
        help="state folder of the local stack the run starts and purges"
        " (default .stack/bench)",
    )
    parser.add_argument(
        "--keep-stack",
        action="store_true",
        help="leave the local stack and its data running afterwards",
    )
    parser.add_argument(
        "--from-results",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="rewrite the page from results JSON without measuring; with several"
        " files, the AWS part comes from the last one that has AWS sizes and the"
        " OpenShift part from the last one that has OpenShift sizes",
    )
    args = parser.parse_args(argv)
    for option in ("sizes", "openshift_sizes"):
        text = getattr(args, option)
        flag = "--" + option.replace("_", "-")
        try:
            counts = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
        except ValueError:
            parser.error(f"{flag} must be comma-separated integers, got {text!r}")
        if counts and min(counts) < 1:
            parser.error(f"{flag} must be positive row counts, got {text!r}")
        setattr(args, option, counts)
    if not args.sizes and not args.openshift_sizes and not args.from_results:
        parser.error(
            "--sizes and --openshift-sizes are both empty; give at least one size"
        )
    if args.openshift_sizes and not 0 < args.openshift_minutes < args.budget_minutes:
        parser.error(
            "--openshift-minutes must be above 0 and below --budget-minutes,"
            f" got {args.openshift_minutes} of {args.budget_minutes}"
        )
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
    completed = subprocess.run(  # noqa: S603 - git with the benchmark's own arguments
        ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
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
        "duckdb_memory_limit": os.environ.get(
            "DUCKDB_MEMORY_LIMIT",
            str(Settings.model_fields["DUCKDB_MEMORY_LIMIT"].default),
        ),
    }


def stop_stack(stack_dir: Path, purge: bool) -> None:
    command = [
        sys.executable,
        str(launcher.STACK_SCRIPT),
        "stop",
        *(["--purge"] if purge else []),
    ]
    subprocess.run(  # noqa: S603 - the repository's stack script
        command, check=False, env={**os.environ, "COSTPIPE_STACK_DIR": str(stack_dir)}
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

    The AWS sizes come first and share the budget less ``--openshift-minutes``. The
    OpenShift sizes follow with what is left, but no more than that. The results so
    far are written to ``results_path`` after each size, so a failed run keeps what
    it measured.
    """
    started = time.monotonic()
    budget_end = started + args.budget_minutes * 60
    reserve_s = args.openshift_minutes * 60 if args.openshift_sizes else 0.0
    results: dict[str, Any] = {
        "facts": facts,
        "sizes": [],
        "repeats": args.repeats,
        "budget_minutes": args.budget_minutes,
    }

    months = {}
    if args.sizes:
        nise = data.nise_month(args.data_dir)
        months = {
            size: data.scaled_month(nise, size, args.data_dir) for size in args.sizes
        }
        results["nise_month"] = nise.billing_period_start.isoformat()
    clusters = ocp_data.prepare_clusters(args.data_dir, args.openshift_sizes)
    results["data_seconds"] = time.monotonic() - started
    log.info("report files ready after %.0f s", results["data_seconds"])

    def save() -> None:
        results_path.write_text(
            json.dumps(results, indent=1, default=str), encoding="utf-8"
        )

    os.environ["COSTPIPE_STACK_DIR"] = str(args.stack_dir)
    stop_stack(args.stack_dir, purge=True)
    env = launcher.start_stack()
    try:
        if args.sizes:
            await measure_aws(args, months, env, budget_end - reserve_s, results, save)
        if clusters:
            results["openshift"] = {
                "budget_minutes": args.openshift_minutes,
                "repeats": args.repeats,
                **ocp_data.describe_benchmark(),
                "sizes": [],
            }
            ocp_end = min(budget_end, time.monotonic() + reserve_s)

            def save_openshift(measured: list[dict[str, Any]]) -> None:
                results["openshift"]["sizes"] = measured
                save()

            await ocp.measure_openshift(
                [clusters[size] for size in args.openshift_sizes],
                env,
                args.data_dir / "run",
                timeout_s=args.timeout,
                repeats=args.repeats,
                budget_end=ocp_end,
                on_size=save_openshift,
            )
    finally:
        if not args.keep_stack:
            stop_stack(args.stack_dir, purge=True)

    results["facts"]["load_end"] = load_average()
    results["wall_seconds"] = time.monotonic() - started
    return results


async def measure_aws(
    args: argparse.Namespace,
    months: dict[int, data.ScaledMonth],
    env: dict[str, str],
    budget_end: float,
    results: dict[str, Any],
    save: Callable[[], None],
) -> None:
    """Measure every AWS size in order on the running stack, saving after each."""
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
            save()
    finally:
        await bench.close()


def merge_results(files: list[Path]) -> dict[str, Any]:
    """Return one results dict from several results JSON files.

    The AWS part (facts and sizes) is the last file's that has AWS sizes, the
    OpenShift part the last file's that has OpenShift sizes.
    """
    loaded = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    with_aws = [r for r in loaded if r.get("sizes")] or loaded
    merged = dict(with_aws[-1])
    with_openshift = [r for r in loaded if r.get("openshift", {}).get("sizes")]
    if with_openshift and with_openshift[-1] is not with_aws[-1]:
        merged["openshift"] = with_openshift[-1]["openshift"]
        merged["openshift_facts"] = with_openshift[-1]["facts"]
    return merged


# Modules of the bench extra: the baseline needs pandas, the plot matplotlib.
_BENCH_EXTRA = ("pandas", "matplotlib")


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    missing = [name for name in _BENCH_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        log.error(
            "the benchmark needs %s from the bench extra: run"
            " `.venv/bin/pip install -e '.[bench]'`, or use `make bench`, which installs it",
            " and ".join(missing),
        )
        return 2
    # SIGTERM takes Ctrl-C's way out, so the services and the stack are stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    if args.from_results:
        results = merge_results(args.from_results)
        source = " ".join(str(path) for path in args.from_results)
    else:
        args.data_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        results_path = args.data_dir / f"results-{stamp}.json"
        results = asyncio.run(measure(args, run_facts(argv), results_path))
        results_path.write_text(
            json.dumps(results, indent=1, default=str), encoding="utf-8"
        )
        log.info("raw results in %s", results_path)
        source = str(results_path)
    if args.out is None and not results.get("sizes"):
        log.info(
            "the results have no AWS sizes, so no page is written; pass --out FILE,"
            " or merge them with AWS results: --from-results AWS_RESULTS.json %s",
            source,
        )
        return 0
    out = args.out or DEFAULT_OUT
    report.write_page(results, out)
    log.info(
        "results page written to %s after %s",
        out,
        timedelta(seconds=round(results.get("wall_seconds", 0))),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
