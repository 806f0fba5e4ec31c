"""Write the results page (Markdown) and its plot (PNG) from the benchmark's results."""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from bench.probes import CONVERT, COPY, INFLATE, QUERY, REFRESH, SUMMARY_ROWS

__all__ = ["evaluate_targets", "write_page"]

GIB = 1024**3
MIB = 1024**2
LIMIT_SHOWN = ("pyarrow plain", "pyarrow gzip", "duckdb plain", "duckdb gzip")
RATIO_LIMIT = "duckdb plain"
SPEED_TARGET = 1 / 3
SPEEDUP_TARGET = 20.0
SPEEDUP_SIZE = 1_000_000
RSS_TARGET_BYTES = GIB
# Peak RSS may differ by this share between sizes and still count as not growing.
# The share is a judgement that allows for allocator noise, not a measured bound.
RSS_GROWTH_TOLERANCE = 0.10
RESUMMARY_TARGET = 0.10
# Preparing the files takes minutes when nise runs, and seconds when they are cached.
CACHED_DATA_S = 10.0


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _rows(value: float) -> str:
    return f"{value:,.0f}"


def _rate(rows: float, seconds: float) -> str:
    per_second = rows / seconds
    return (
        f"{per_second / 1e6:.2f} M"
        if per_second >= 1e6
        else f"{per_second / 1e3:.0f} k"
    )


def _bytes(value: float) -> str:
    return f"{value / GIB:.2f} GiB" if value >= GIB else f"{value / MIB:.0f} MiB"


def _spread(stats: dict[str, Any]) -> str:
    return f"{_seconds(stats['median'])} | {_seconds(stats['minimum'])} | {_seconds(stats['maximum'])} | {stats['count']}"


def _size_by_rows(results: dict[str, Any], rows: int) -> dict[str, Any] | None:
    return next((size for size in results["sizes"] if size["rows"] == rows), None)


def _summary_task_median(size: dict[str, Any]) -> float | None:
    logged = [
        s for s in size["costpipe"].get("summary_task_seconds", []) if s is not None
    ]
    return statistics.median(logged) if logged else None


def _speed_ratio(size: dict[str, Any]) -> float:
    """Return costpipe's rows per second divided by DuckDB's plain-CSV rows per second."""
    return float(
        size["limit"][RATIO_LIMIT]["median"] / size["costpipe"]["seconds"]["median"]
    )


def _speedup(size: dict[str, Any]) -> float | None:
    if "baseline" not in size:
        return None
    return float(
        size["baseline"]["seconds"]["median"] / size["costpipe"]["seconds"]["median"]
    )


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Return each target with the measured value, whether it was met and the gap."""
    sizes = results["sizes"]
    targets = []

    ratios = {size["rows"]: _speed_ratio(size) for size in sizes}
    worst_rows = min(ratios, key=lambda rows: ratios[rows])
    worst = ratios[worst_rows]
    targets.append(
        {
            "key": "speed",
            "target": "costpipe end to end runs at ≥ 1/3 of DuckDB's plain-CSV read speed, at every size",
            "measured": ", ".join(
                f"{_rows(rows)} rows: {ratio:.3f}" for rows, ratio in ratios.items()
            ),
            "met": worst >= SPEED_TARGET,
            "gap": f"{SPEED_TARGET / worst:.1f}× too slow at {_rows(worst_rows)} rows"
            if worst < SPEED_TARGET
            else "",
        }
    )

    size = _size_by_rows(results, SPEEDUP_SIZE)
    speedup = _speedup(size) if size else None
    targets.append(
        {
            "key": "speedup",
            "target": f"costpipe ≥ {SPEEDUP_TARGET:.0f}× faster than the baseline at {_rows(SPEEDUP_SIZE)} rows",
            "measured": f"{speedup:.1f}×" if speedup is not None else "not measured",
            "met": speedup is not None and speedup >= SPEEDUP_TARGET,
            "gap": (
                f"{SPEEDUP_TARGET / speedup:.1f}× short"
                if speedup is not None and speedup < SPEEDUP_TARGET
                else ("the run had no baseline at this size" if speedup is None else "")
            ),
        }
    )

    peaks = {size["rows"]: size["service_peak_rss"] for size in sizes}
    highest = max(
        (
            (rows, name, peak)
            for rows, services in peaks.items()
            for name, peak in services.items()
        ),
        key=lambda item: item[2],
    )
    over = [
        (rows, name, peak)
        for rows, services in peaks.items()
        for name, peak in services.items()
        if peak >= RSS_TARGET_BYTES
    ]
    targets.append(
        {
            "key": "rss",
            "target": "peak RSS of every costpipe service < 1 GiB",
            "measured": f"highest: {highest[1]} {_bytes(highest[2])} at {_rows(highest[0])} rows",
            "met": not over,
            "gap": f"{highest[1]} is {highest[2] / RSS_TARGET_BYTES:.1f}× the limit"
            if over
            else "",
        }
    )

    smaller, larger = (
        _size_by_rows(results, 1_000_000),
        _size_by_rows(results, 2_000_000),
    )
    if smaller and larger:
        growth = {
            name: larger["service_peak_rss"][name] / smaller["service_peak_rss"][name]
            - 1
            for name in larger["service_peak_rss"]
            if name in smaller["service_peak_rss"]
        }
        grower = max(growth, key=lambda name: growth[name])
        targets.append(
            {
                "key": "rss_growth",
                "target": f"peak RSS of no service grows from 1M to 2M rows (by more than {RSS_GROWTH_TOLERANCE:.0%})",
                "measured": f"largest growth: {grower} {growth[grower]:+.0%}"
                f" ({_bytes(smaller['service_peak_rss'][grower])} to {_bytes(larger['service_peak_rss'][grower])})",
                "met": growth[grower] <= RSS_GROWTH_TOLERANCE,
                "gap": f"{grower} grows {growth[grower]:+.0%}"
                if growth[grower] > RSS_GROWTH_TOLERANCE
                else "",
            }
        )

    shares = {
        size["rows"]: size["resummarise"]["day_seconds"]["median"]
        / size["resummarise"]["month_seconds"]["median"]
        for size in sizes
    }
    worst_rows = max(shares, key=lambda rows: shares[rows])
    targets.append(
        {
            "key": "resummary",
            "target": "re-summarising one day takes < 1/10 of re-summarising the month, at every size",
            "measured": ", ".join(
                f"{_rows(rows)} rows: {share:.2f}" for rows, share in shares.items()
            ),
            "met": shares[worst_rows] < RESUMMARY_TARGET,
            "gap": (
                f"{shares[worst_rows] / RESUMMARY_TARGET:.1f}× the allowed share at {_rows(worst_rows)} rows"
                if shares[worst_rows] >= RESUMMARY_TARGET
                else ""
            ),
        }
    )
    return targets


def _machine_section(results: dict[str, Any]) -> list[str]:
    facts = results["facts"]
    versions = ", ".join(
        f"{name} {version}" for name, version in facts["versions"].items()
    )
    load_start = " / ".join(f"{v:.2f}" for v in facts["load_start"])
    load_end = " / ".join(
        f"{v:.2f}" for v in facts.get("load_end", facts["load_start"])
    )
    modified = ", ".join(facts.get("modified_files") or []) or "none"
    data_s = results.get("data_seconds", 0)
    wall = (
        f"{results.get('wall_seconds', 0) / 60:.1f} min, of which {data_s / 60:.1f} min"
        " preparing the report files"
    )
    if data_s < CACHED_DATA_S:
        wall = f"{results.get('wall_seconds', 0) / 60:.1f} min; the report files were already in `bench/data/`"
    wall += " (the install before the run is not counted)"
    command = f"`.venv/bin/python {facts['command']}`"
    if facts["command"] == "bench/run.py":
        command = f"`make bench`, which runs {command}"
    skipped = "; ".join(
        f"{_rows(size['rows'])} rows: "
        + ", ".join(f"{count} {kind}" for kind, count in size["skipped"].items())
        for size in results["sizes"]
        if size.get("skipped")
    )
    runs = (
        f"target {results['repeats']} of each measurement per size, within a budget of"
        f" {results['budget_minutes']:.0f} min. Runs left out because they would not fit:"
        f" {skipped or 'none'}. The tables give each figure's run count."
    )
    return [
        "| | |",
        "|---|---|",
        f"| machine | {facts['cores']} cores, {facts['cpu_model']}, {_bytes(facts['memory_bytes'])} memory (MemTotal), Linux {facts['kernel']} |",
        f"| date | {facts['date']} |",
        f"| command | {command} |",
        f"| code | commit {facts['commit']}; files modified but not committed: {modified} |",
        f"| software | Python {facts['python']}, {versions} |",
        f"| wall time | {wall} |",
        f"| runs | {runs} |",
        f"| load average (1 / 5 / 15 min) | start {load_start}, end {load_end} |",
    ]


def _one_row_table(cells: dict[str, str]) -> list[str]:
    return [
        "| " + " | ".join(cells) + " |",
        "|" + "---|" * len(cells),
        "| " + " | ".join(cells.values()) + " |",
    ]


def _measurement_table(size: dict[str, Any]) -> list[str]:
    rows = size["rows"]
    csv_mb = size["csv_bytes"] / 1e6
    duckdb = size["limit"][RATIO_LIMIT]["median"]
    lines = [
        "| measurement | median s | min s | max s | runs | rows/s | CSV MB/s"
        " | ÷ DuckDB plain time | baseline ÷ this |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in LIMIT_SHOWN:
        stats = size["limit"][name]
        lines.append(
            f"| limit: {name} CSV read | {_spread(stats)} | {_rate(rows, stats['median'])} |"
            f" {csv_mb / stats['median']:,.0f} | {stats['median'] / duckdb:.2f} | |"
        )

    costpipe = size["costpipe"]["seconds"]
    speedup = _speedup(size)
    lines.append(
        f"| **costpipe** end to end | {_spread(costpipe)} | {_rate(rows, costpipe['median'])} |"
        f" {csv_mb / costpipe['median']:,.0f} | {costpipe['median'] / duckdb:.1f} |"
        f" {f'{speedup:.1f}' if speedup else ''} |"
    )
    if "baseline" in size:
        baseline = size["baseline"]["seconds"]
        lines.append(
            f"| baseline (pandas, Koku's approach) | {_spread(baseline)} |"
            f" {_rate(rows, baseline['median'])} | {csv_mb / baseline['median']:,.0f} |"
            f" {baseline['median'] / duckdb:.1f} | 1.0 |"
        )
    return lines


def _stage_tables(size: dict[str, Any]) -> list[str]:
    cells = {
        name: _seconds(stats["median"])
        for name, stats in size["costpipe"]["stages"].items()
    }
    task = _summary_task_median(size)
    if task is not None:
        cells["of which the update_summary_tables task (summarizer log)"] = _seconds(
            task
        )
    lines = [
        "",
        "costpipe's stages (median seconds over the runs, from the manifest's timestamps):",
        "",
        *_one_row_table(cells),
    ]
    if "baseline" in size:
        stages = size["baseline"]["stages"]
        lines += [
            "",
            "Baseline stages (median seconds; a sum over workers adds up the time of"
            " parallel processes):",
            "",
            *_one_row_table(
                {name: _seconds(stats["median"]) for name, stats in stages.items()}
            ),
        ]
    return lines


def _probe_table(size: dict[str, Any]) -> list[str]:
    probes = {k: v for k, v in size.get("probes", {}).items() if k != SUMMARY_ROWS}
    if not probes:
        return []
    duckdb = size["limit"][RATIO_LIMIT]["median"]
    return [
        "",
        "Probes: costpipe's own steps called once each, outside the services, on the local"
        " files (seconds). The probes take the files one after another; the services fetch"
        " and unpack two at a time and convert them one at a time.",
        "",
        "| step | seconds | ÷ DuckDB plain time |",
        "|---|---|---|",
        *(
            f"| {name} | {_seconds(value)} | {value / duckdb:.1f} |"
            for name, value in probes.items()
        ),
    ]


def _size_section(size: dict[str, Any]) -> list[str]:
    csv_mb = size["csv_bytes"] / 1e6
    facts = (
        f"{size['files']} report file(s), {csv_mb:,.0f} MB of CSV"
        f" ({size['gz_bytes'] / 1e6:,.0f} MB gzip), {size['days']} usage days, total"
        f" unblended cost {size['total_unblended_cost']} USD. The daily summary has"
        f" {_rows(size['costpipe']['summary_rows'])} rows. The load average was"
        f" {size['load_start'][0]:.2f} when this size started and {size['load_end'][0]:.2f}"
        " when it ended."
    )
    return [
        f"### {_rows(size['rows'])} rows",
        "",
        facts,
        "",
        *_measurement_table(size),
        *_stage_tables(size),
        *_probe_table(size),
        "",
    ]


def _memory_section(results: dict[str, Any]) -> list[str]:
    sizes = results["sizes"]
    names = sorted({name for size in sizes for name in size["service_peak_rss"]})
    lines = [
        "Peak RSS (VmHWM) of each costpipe service process, started fresh for each size, and of the"
        " largest baseline process:",
        "",
        "| rows | " + " | ".join(names) + " | baseline |",
        "|---|" + "---|" * (len(names) + 1),
    ]
    for size in sizes:
        cells = [_bytes(size["service_peak_rss"].get(name, 0)) for name in names]
        baseline = (
            _bytes(size["baseline"]["peak_rss_bytes"])
            if "baseline" in size
            else "not run"
        )
        lines.append(
            f"| {_rows(size['rows'])} | " + " | ".join(cells) + f" | {baseline} |"
        )
    return [*lines, ""]


def _resummary_section(results: dict[str, Any]) -> list[str]:
    lines = [
        "`update_summary_tables` through the summarizer's admin API on the last ingested month, timed"
        " until its event id is in `costpipe.processed_events` (seconds: median, min, max, runs):",
        "",
        "| rows | one day | summary rows | whole month | summary rows | day ÷ month |",
        "|---|---|---|---|---|---|",
    ]
    for size in results["sizes"]:
        again = size["resummarise"]
        day, month = again["day_seconds"], again["month_seconds"]
        lines.append(
            f"| {_rows(size['rows'])} | {_seconds(day['median'])} ({_seconds(day['minimum'])}–{_seconds(day['maximum'])}, {day['count']})"
            f" | {_rows(again['day_rows'])} | {_seconds(month['median'])} ({_seconds(month['minimum'])}–{_seconds(month['maximum'])}, {month['count']})"
            f" | {_rows(again['month_rows'])} | {day['median'] / month['median']:.2f} |"
        )
    return [*lines, ""]


def _stage_shares(size: dict[str, Any]) -> str:
    stages = size["costpipe"]["stages"]
    total = size["costpipe"]["seconds"]["median"]
    return ", ".join(
        f"{name} {_seconds(s['median'])} s ({s['median'] / total:.0%})"
        for name, s in stages.items()
    )


def _speed_analysis(size: dict[str, Any], commit: str) -> list[str]:
    """Explain costpipe's time at ``size`` from its stages and, if run there, the probes."""
    rows = size["rows"]
    duckdb = size["limit"][RATIO_LIMIT]["median"]
    lines = [
        f"**Speed.** At {_rows(rows)} rows costpipe's median run splits into"
        f" {_stage_shares(size)}, against {_seconds(duckdb)} s for DuckDB to read the"
        " same plain CSV. The downloader fetches and unpacks two files at a time and"
        " converts one at a time with both cores.",
    ]
    probes = size.get("probes", {})
    convert, inflate = probes.get(CONVERT), probes.get(INFLATE)
    query, copy = probes.get(QUERY), probes.get(COPY)
    summary_rows = probes.get(SUMMARY_ROWS, size["costpipe"]["summary_rows"])
    if convert is not None:
        lines.append(
            f"- Conversion: the AWS `convert` step alone takes {_seconds(convert)} s on"
            f" these files, {convert / duckdb:.1f}× DuckDB's plain read. At commit {commit}"
            " it reads each file once, but that one pass does far more than a read. It"
            " casts the canonical columns to text, `DECIMAL(38, 18)` and timestamps and"
            " checks every value. It also folds the tag and cost-category columns into"
            " JSON, computes the amortised cost and writes compressed Parquet, one file"
            " per usage day."
        )
    if inflate is not None:
        lines.append(
            f"- Inflating the gzip files in Python (`write_plain_csv`) takes"
            f" {_seconds(inflate)} s, before DuckDB starts on a file. DuckDB could read"
            " the `.gz` files itself, but a corrupt or truncated file would then fail"
            " with DuckDB's error instead of one naming the byte where the stream broke."
        )
    refresh = probes.get(REFRESH)
    task = _summary_task_median(size)
    if query is not None and copy is not None:
        measured = ""
        if task is not None:
            rest = task - query - copy - (refresh or 0.0)
            measured = (
                f" The summarizer logs {_seconds(task)} s for the `update_summary_tables` task."
                + (
                    f" Rebuilding the UI tables in the same transaction takes {_seconds(refresh)} s."
                    if refresh is not None
                    else ""
                )
                + (
                    f" By difference, about {_seconds(rest)} s remain for downloading the"
                    " day Parquet files from the S3 server and deleting the old rows; the"
                    " probes ran separately, so this is an estimate."
                    if rest > 0
                    else ""
                )
            )
        lines.append(
            f"- Summary: {_rows(summary_rows)} summary rows for {_rows(rows)} line items,"
            " because nise draws the tag values and several dimensions of each line item"
            " at random, so few line items share a row. DuckDB writes the summary to a"
            f" CSV file in {_seconds(query)} s and the asyncpg COPY of that file takes"
            f" {_seconds(copy)} s.{measured} Most of what remains is PostgreSQL storing"
            " rows: the COPY, and the UI tables, whose tag table has about as many rows as"
            " the summary. Grouping the UI tables in DuckDB and copying them in, or"
            " PostgreSQL's binary COPY format, would cut that part. The rest is the fixed"
            " cost of each event: broker hops, and one object per usage day and file to"
            " upload and download."
        )
    return [*lines, ""]


def _memory_analysis(size: dict[str, Any], limit: str) -> list[str]:
    peaks = size["service_peak_rss"]
    over = sorted(
        (name for name, peak in peaks.items() if peak >= RSS_TARGET_BYTES),
        key=lambda n: -peaks[n],
    )
    summary_rows = size["costpipe"]["summary_rows"]
    lines = [
        f"**Memory.** At {_rows(size['rows'])} rows: "
        + ", ".join(
            f"{name} {_bytes(peaks[name])}"
            for name in over or [max(peaks, key=lambda n: peaks[n])]
        )
        + "."
    ]
    if "summarizer" in over:
        lines.append(
            "- The summarizer's DuckDB writes the summary straight to a CSV file, capped"
            f" at `DUCKDB_MEMORY_LIMIT` ({limit} per query); no summary row passes through"
            " Python. What it holds above that cap is outside DuckDB's accounting."
        )
    if "downloader" in over:
        lines.append(
            "- The downloader runs one DuckDB conversion at a time (`DUCKDB_JOBS`),"
            f" capped at {limit} (`DUCKDB_MEMORY_LIMIT`); what it holds above that cap"
            " is outside DuckDB's accounting."
        )
    return [*lines, ""]


def _analysis_section(
    results: dict[str, Any], targets: list[dict[str, Any]]
) -> list[str]:
    """Explain the missed targets from the stage timings and probes."""
    sizes = results["sizes"]
    largest = max(sizes, key=lambda size: size["rows"])
    probed = next((size for size in sizes if size.get("probes")), largest)
    missed = {t["key"] for t in targets if not t["met"]}
    lines: list[str] = []
    if missed & {"speed", "speedup"}:
        lines += _speed_analysis(probed, results["facts"]["commit"])
    if missed & {"rss", "rss_growth"}:
        limit = results["facts"].get("duckdb_memory_limit", "512MB")
        lines += _memory_analysis(largest, limit)
    if "resummary" in missed:
        again = largest["resummarise"]
        lines += [
            f"**Re-summarising.** One day takes {_seconds(again['day_seconds']['median'])} s"
            f" against {_seconds(again['month_seconds']['median'])} s for the month. The"
            " fixed part of a summary (the broker hop, listing the month's Parquet keys,"
            " the task lock and the transaction) does not shrink with the range.",
            "",
        ]
    if not lines:
        lines = ["Every target was met in this run.", ""]
    return lines


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results["sizes"], key=lambda size: size["rows"])
    rows = [size["rows"] / 1e6 for size in sizes]
    figure, (speed, memory) = plt.subplots(1, 2, figsize=(11, 4.2))

    def series(
        axis: Any, label: str, values: list[dict[str, Any] | None], style: str
    ) -> None:
        points = [(x, v) for x, v in zip(rows, values, strict=True) if v is not None]
        if not points:
            return
        xs = [x for x, _ in points]
        medians = [v["median"] for _, v in points]
        errors = [
            [v["median"] - v["minimum"] for _, v in points],
            [v["maximum"] - v["median"] for _, v in points],
        ]
        axis.errorbar(xs, medians, yerr=errors, fmt=style, capsize=3, label=label)

    series(
        speed, "costpipe end to end", [s["costpipe"]["seconds"] for s in sizes], "o-"
    )
    series(
        speed,
        "baseline (pandas)",
        [s.get("baseline", {}).get("seconds") for s in sizes],
        "s-",
    )
    series(
        speed,
        "limit: DuckDB plain CSV",
        [s["limit"]["duckdb plain"] for s in sizes],
        "^--",
    )
    series(
        speed,
        "limit: pyarrow plain CSV",
        [s["limit"]["pyarrow plain"] for s in sizes],
        "v--",
    )
    speed.set_xlabel("CUR rows (millions)")
    speed.set_ylabel("seconds (median, bars: min to max)")
    speed.set_title("Time against rows")
    speed.grid(alpha=0.3)
    speed.legend(fontsize=8)

    names = sorted({name for size in sizes for name in size["service_peak_rss"]})
    for name in names:
        memory.plot(
            rows,
            [s["service_peak_rss"].get(name, 0) / MIB for s in sizes],
            "o-",
            label=name,
        )
    baseline = [
        (x, s["baseline"]["peak_rss_bytes"] / MIB)
        for x, s in zip(rows, sizes, strict=True)
        if "baseline" in s
    ]
    if baseline:
        memory.plot(
            [x for x, _ in baseline],
            [y for _, y in baseline],
            "s--",
            color="black",
            label="baseline (largest process)",
        )
    memory.axhline(
        RSS_TARGET_BYTES / MIB, color="red", linestyle=":", label="1 GiB target"
    )
    memory.set_xlabel("CUR rows (millions)")
    memory.set_ylabel("peak RSS (MiB)")
    memory.set_title("Peak memory against rows")
    memory.grid(alpha=0.3)
    memory.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


INTRO = """\
# Benchmarks

The latest results of `make bench` (`bench/run.py`), which rewrites this page and the plot
beside it. In one run, on the same report files, it measures three things at each size of
an AWS CUR month:

- **limit**: pyarrow and DuckDB parse the CSV with every column as text and do nothing
  else. This is about as fast as this machine can read the month at all.
- **costpipe**: the files are already in the S3 server and the services run as `make run`
  starts them. The clock runs from `POST /tasks/masu.celery.tasks.check_report_updates` on
  the downloader until the manifest is `complete` in `costpipe.manifests` (polled every
  0.2 s). Each run is then checked: the daily summary's unblended cost per usage day must
  equal the Decimal sum of the CSV files to the cent, and its line-item count the rows.
- **baseline**: `bench/baseline.py`, a small re-creation of Koku's approach written for
  this benchmark. pandas reads 200,000-row chunks, splits them into one CSV per usage day,
  writes Parquet per chunk and builds the daily summary with a pandas group-by, with one
  worker process per core. Its summary is checked the same way.

A run whose check fails stops the benchmark with the mismatch, so every figure on this
page comes from a run that passed its checks.

After the AWS sizes it times an OpenShift cluster month at each OpenShift size: from the
operator upload to the usage summary, and the cost-model run on its own. See
[OpenShift](#openshift).

`bench/run.py --help` lists the options (sizes, repeats, time budget, probe size); the
raw figures of each run are kept as JSON in `bench/data/` (not committed).
"""

NOISE_NOTE = (
    "The machine is shared with other work, so the figures are noisy. The load averages"
    " above and per size below show how busy it was. Limit, costpipe and baseline runs are"
    " interleaved at each size, so all three see about the same load."
)

OPENSHIFT_NOTE = (
    "`bench/ocp.py` runs an OpenShift cluster month through the services as `make run`"
    " starts them, started fresh for each size, with a fresh tenant, source and cost model"
    " per run. It measures two things at each size:"
)

OPENSHIFT_MEASUREMENTS = """\
- **upload to summary**: the payload is already in the S3 server. The clock runs from the
  announcement on the upload topic until the payload's manifest is `complete` in
  `costpipe.manifests` (polled every 0.2 s). The summarizer completes it after writing the
  month's rows of `reporting_ocpusagelineitem_daily_summary`. Each run is then checked per
  usage day. The summary's pod and storage line items must equal the report rows. Its CPU
  core-hours, memory GiB-hours and claim usage GiB-months must equal the Decimal sums of
  the CSV files within a relative 1e-9, because the summary sums float64 values.
- **cost-model run**: `masu.processor.tasks.update_cost_model_costs` for the whole month
  through the costmodel service's `POST /tasks`, timed until its event id is in
  `costpipe.processed_events`. The tenant gets its cost model only once the cost-model run
  that the summary requests has finished, so that run prices nothing and the timed runs
  start on an idle service. Each run is then checked to the cent. Per day, each cost kind
  of `reporting_ocp_cost_daily` must equal the rates applied to the Decimal sums. Usage
  rates apply to the larger of each node's capacity and its pods' usage, because idle
  capacity is charged to `Worker unallocated`. The distributed rows must net to zero, so
  the cluster's total is the same before and after distribution."""

OPENSHIFT_LIMIT_NOTE = (
    "OpenShift on cloud is not built (`costpipe tasks` lists `update_openshift_on_cloud` as"
    " not built), so these figures cover the OpenShift-only path: upload, usage summary and"
    " cost model."
)

OPENSHIFT_DATA_NOTE = (
    "`bench/ocp_data.py` has `koku-nise` write one month of a fixed cluster from a static"
    " report file, so every pod and claim has a row in every hour, into `bench/data/` once."
    " A size repeats that month `copies` times (the requested pod rows over the month's,"
    " rounded): copy c appends `-c<c>` to every node, namespace, pod, claim, volume and"
    " resource id, so copies are new nodes and projects of the same cluster. The pod,"
    " storage, node-label and namespace-label files are packed as one operator payload"
    " (a tar.gz with `manifest.json`). The Decimal sums come from reading the CSV files"
    " with Python's `csv`, which shares no code with the pipeline."
)

DATA_NOTE = (
    "`bench/data.py` generates one month with `koku-nise` into `bench/data/` once, then"
    " scales it. Copy c of the month repeats its rows with a new `identity/LineItemId` and"
    " `lineItem/ResourceId`, so copies are new resources rather than duplicates, and keeps"
    " the month's dates. The rows are cut into files of at most 500,000 rows, as a CUR with"
    " several report keys, and gzipped. Every run uploads them with a fresh assembly id and"
    " manifest under its own report prefix before the clock starts. The Decimal totals come"
    " from reading the plain CSV with Python's `csv`, which shares no code with the pipeline."
)

RATIO_NOTE = (
    "Rows/s and MB/s count the rows and the uncompressed CSV bytes of the month."
    " \"÷ DuckDB plain time\" is a measurement's time over DuckDB's plain-CSV read, so the"
    ' speed target needs costpipe at 3.0 or less. "baseline ÷ this" is the speed-up over'
    " the baseline."
)


def _openshift_setup(part: dict[str, Any]) -> str:
    cluster, model = part["cluster"], part["cost_model"]
    rates = ", ".join(
        f"`{metric}` {value} USD ({cost_type.lower()})"
        for metric, cost_type, value in model["rates"]
    )
    return (
        f"The nise cluster month has {cluster['nodes']} nodes ({cluster['cores']} cores),"
        f" {cluster['pods']} pods in {cluster['namespaces']} namespaces and"
        f" {cluster['claims']} claims. The cost model has the rates {rates}."
        f" It adds a {model['markup_percent']}% markup and distributes platform,"
        " worker-unallocated and storage-unattributed cost to user projects by CPU usage."
    )


def _openshift_runs(results: dict[str, Any], part: dict[str, Any]) -> str:
    skipped = "; ".join(
        f"{_rows(size['pod_rows'])} pod rows: "
        + ", ".join(f"{count} {kind}" for kind, count in size["skipped"].items())
        for size in part["sizes"]
        if size.get("skipped")
    )
    text = (
        f"Target {part['repeats']} runs of each measurement per size, within"
        f" {part['budget_minutes']:g} min of the run's budget. Runs left out because they"
        f" would not fit: {skipped or 'none'}."
    )
    facts = results.get("openshift_facts")
    if facts:
        load = " / ".join(f"{v:.2f}" for v in facts["load_start"])
        text += (
            f" These figures come from a separate run: {facts['date']}, commit"
            f" {facts['commit']}, `.venv/bin/python {facts['command']}`, load average"
            f" {load} at its start."
        )
    return text


def _openshift_table(part: dict[str, Any]) -> list[str]:
    lines = [
        "| pod rows | storage rows | copies | nodes | summary rows | cost rows | measurement"
        " | median s | min s | max s | runs | rows/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in part["sizes"]:
        summary, cost = size["summary"]["seconds"], size["cost_model"]["seconds"]
        report_rows = size["pod_rows"] + size["storage_rows"]
        lines += [
            f"| {_rows(size['pod_rows'])} | {_rows(size['storage_rows'])} | {size['copies']}"
            f" | {size['nodes']} | {_rows(size['summary_rows'])} | {_rows(size['cost_rows'])}"
            f" | upload to summary | {_spread(summary)} | {_rate(report_rows, summary['median'])} |",
            f"| | | | | | | cost-model run | {_spread(cost)}"
            f" | {_rate(size['summary_rows'], cost['median'])} |",
        ]
    return lines


def _openshift_stages(part: dict[str, Any]) -> list[str]:
    names = list(part["sizes"][0]["summary"]["stages"])
    lines = [
        "| pod rows | "
        + " | ".join(names)
        + " | cost-model run after the summary, without a cost model"
        " | load average (1 min) at start, end |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    for size in part["sizes"]:
        stages = size["summary"]["stages"]
        after = [s for s in size["summary"]["automatic_cost_seconds"] if s is not None]
        cells = [_seconds(stages[name]["median"]) for name in names]
        cells.append(_seconds(statistics.median(after)) if after else "")
        cells.append(f"{size['load_start'][0]:.2f}, {size['load_end'][0]:.2f}")
        lines.append(f"| {_rows(size['pod_rows'])} | " + " | ".join(cells) + " |")
    return lines


def _openshift_memory(part: dict[str, Any]) -> list[str]:
    sizes = part["sizes"]
    names = sorted({name for size in sizes for name in size["service_peak_rss"]})
    lines = [
        "| pod rows | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for size in sizes:
        cells = [_bytes(size["service_peak_rss"].get(name, 0)) for name in names]
        lines.append(f"| {_rows(size['pod_rows'])} | " + " | ".join(cells) + " |")
    return lines


def _openshift_section(results: dict[str, Any]) -> list[str]:
    """Render the OpenShift part, or a note that this run did not measure it."""
    part = results.get("openshift") or {}
    if not part.get("sizes"):
        return ["Not measured in this run.", "", OPENSHIFT_LIMIT_NOTE, ""]
    return [
        OPENSHIFT_NOTE,
        "",
        OPENSHIFT_MEASUREMENTS,
        "",
        OPENSHIFT_LIMIT_NOTE,
        "",
        _openshift_setup(part),
        "",
        _openshift_runs(results, part),
        "",
        "Rows/s counts the pod and storage report rows for the summary, and the summary"
        " rows that the cost-model run reads and prices.",
        "",
        *_openshift_table(part),
        "",
        "Where the upload-to-summary time goes (median seconds, from the manifest's"
        " timestamps), and how long the cost-model run that the summary requests took"
        " after the summary was complete, its check included:",
        "",
        *_openshift_stages(part),
        "",
        "Peak RSS (VmHWM) of each costpipe service process, started fresh for each size:",
        "",
        *_openshift_memory(part),
        "",
        "### How the OpenShift data is made",
        "",
        OPENSHIFT_DATA_NOTE,
        "",
    ]


def _targets_table(targets: list[dict[str, Any]]) -> list[str]:
    lines = ["| target | measured | result |", "|---|---|---|"]
    for target in targets:
        if target["met"]:
            verdict = "met"
        elif target["measured"] == "not measured":
            verdict = "not measured"
        else:
            verdict = f"**missed**: {target['gap']}"
        lines.append(f"| {target['target']} | {target['measured']} | {verdict} |")
    return lines


def write_page(results: dict[str, Any], out: Path) -> None:
    """Write the Markdown page to ``out`` and, with AWS sizes, its plot as ``<stem>.png``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        INTRO,
        "## Run",
        "",
        *_machine_section(results),
        "",
        NOISE_NOTE,
        "",
    ]
    if results.get("sizes"):
        lines += _aws_sections(results, out)
    else:
        lines += ["## AWS", "", "Not measured in this run.", ""]
    lines += [
        "## OpenShift",
        "",
        *_openshift_section(results),
    ]
    if results.get("sizes"):
        lines += ["## How the data is made", "", DATA_NOTE, ""]
    out.write_text("\n".join(lines), encoding="utf-8")


def _aws_sections(results: dict[str, Any], out: Path) -> list[str]:
    plot_path = out.with_suffix(".png")
    _plot(results, plot_path)
    targets = evaluate_targets(results)
    lines = [
        "## Targets",
        "",
        *_targets_table(targets),
        "",
        "## Why targets are missed and what would close them",
        "",
        *_analysis_section(results, targets),
        "## Results per size",
        "",
        RATIO_NOTE,
        "",
    ]
    for size in results["sizes"]:
        lines += _size_section(size)
    return [
        *lines,
        "## Memory",
        "",
        *_memory_section(results),
        "## Re-summarising",
        "",
        *_resummary_section(results),
        "## Plot",
        "",
        f"![Time and peak memory against rows]({os.path.relpath(plot_path, out.parent)})",
        "",
    ]
