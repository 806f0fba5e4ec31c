"""OpenShift benchmark input: a koku-nise cluster month, scaled, with Decimal figures.

koku-nise writes one month of a fixed cluster (``cluster_spec``: four nodes, two
platform namespaces and nine user namespaces with claims) from a static report
file, so every pod and claim has a row in every hour. The month is generated once
into ``bench/data/``. A size of N pod rows is the nise month repeated ``copies``
times (N divided by the month's pod rows, rounded): copy c > 0 repeats every row
with ``-c<c>`` appended to node, namespace, pod, resource id, claim, volume and
volume handle, so each copy is another set of nodes and projects of the same
cluster. Platform namespaces keep their ``openshift-``/``kube-`` prefix.

Each scaled month is packed once as an operator payload (a tar.gz with
``manifest.json``). A JSON sidecar caches its figures per usage day, which
``read_figures`` sums from the CSV files with ``csv`` and ``Decimal`` and no
pipeline code. ``summary_differences`` and ``cost_differences`` compare the
pipeline's results with them.
"""

from __future__ import annotations

import calendar
import csv
import gzip
import io
import json
import logging
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = [
    "CLUSTER_ID",
    "COST_MODEL_RATES",
    "MARKUP_PERCENT",
    "DayFigures",
    "MismatchError",
    "NiseCluster",
    "ScaledCluster",
    "cluster_spec",
    "copies_for",
    "cost_differences",
    "describe_benchmark",
    "expected_costs",
    "prepare_clusters",
    "read_figures",
    "scale_rows",
    "summary_differences",
]

log = logging.getLogger(__name__)

CLUSTER_ID = "costpipe-bench-cluster"
CENT = Decimal("0.01")
HOUR_S = Decimal(3600)
GIB = Decimal(2**30)
# The summary sums float64 values, so its quantities may differ from the exact
# Decimal sums in the last digits. A relative difference up to this counts as equal.
RELATIVE_TOLERANCE = Decimal("1e-9")
_GZIP_LEVEL = 6

# The report files of a payload, by the suffix of nise's file names.
REPORT_FILES = {
    "ocp_pod_usage": "pod_usage.csv",
    "ocp_storage_usage": "storage_usage.csv",
    "ocp_node_label": "node_labels.csv",
    "ocp_namespace_label": "namespace_labels.csv",
}
POD_FILE = "pod_usage.csv"
STORAGE_FILE = "storage_usage.csv"
# Columns that name a resource, per report file. Copies append -c<copy> to them.
RENAMED_COLUMNS = {
    "pod_usage.csv": ("node", "namespace", "pod", "resource_id"),
    "storage_usage.csv": (
        "namespace",
        "pod",
        "node",
        "persistentvolumeclaim",
        "persistentvolume",
        "csi_volume_handle",
    ),
    "node_labels.csv": ("node",),
    "namespace_labels.csv": ("namespace",),
}

# The benchmark's cost model: (metric, cost kind in reporting_ocp_cost_daily,
# cost type, USD). Usage rates price core-hours, GiB-hours and GiB-months. The
# monthly rates are per node, per cluster and per claim for a whole month.
COST_MODEL_RATES = (
    ("cpu_core_usage_per_hour", "cpu", "Supplementary", "0.05"),
    ("memory_gb_usage_per_hour", "memory", "Supplementary", "0.009"),
    ("storage_gb_usage_per_month", "storage", "Supplementary", "0.10"),
    ("node_cost_per_month", "node", "Infrastructure", "200"),
    ("cluster_cost_per_month", "cluster", "Infrastructure", "1000"),
    ("pvc_cost_per_month", "pvc", "Infrastructure", "5"),
)
MARKUP_PERCENT = Decimal(10)


class MismatchError(RuntimeError):
    """The OpenShift summary or costs disagree with the report files."""


# --- the nise month -------------------------------------------------------------


def _pod(name: str, cpu_limit: float, memory_limit_gib: int) -> dict[str, Any]:
    return {
        "pod_name": name,
        "cpu_request": cpu_limit / 2,
        "cpu_limit": cpu_limit,
        "mem_request_gig": memory_limit_gib / 2,
        "mem_limit_gig": memory_limit_gib,
        "pod_seconds": 3600,
        "labels": f"label_app:{name.rsplit('-', 1)[0]}|label_environment:prod",
    }


def cluster_spec(start: date, end: date) -> dict[str, Any]:
    """Return nise's static OCP report of the benchmark cluster for ``[start, end)``.

    nise draws each hour's usage at random below the pod's limit. With
    ``pod_seconds`` and named pods every pod has a row in every hour, so the month
    has 32 pods x hours pod rows and 19 claims x hours storage rows.
    """
    nodes: list[dict[str, Any]] = [
        {
            "node_name": "master-0",
            "cpu_cores": 8,
            "memory_gig": 32,
            "resource_id": "master0",
            "node_labels": "label_node-role.kubernetes.io/master:",
            "namespaces": {
                "openshift-monitoring": {
                    "namespace_labels": "label_cost_center:platform",
                    "pods": [
                        _pod("prometheus-0", 2, 8),
                        _pod("alertmanager-0", 0.5, 2),
                        _pod("grafana-0", 0.5, 2),
                    ],
                    "volumes": [
                        {
                            "volume_name": "pv-prometheus",
                            "storage_class": "gp3",
                            "volume_request_gig": 100,
                            "volume_claims": [
                                {
                                    "volume_claim_name": "prometheus-data",
                                    "pod_name": "prometheus-0",
                                    "capacity_gig": 80,
                                }
                            ],
                        }
                    ],
                },
                "kube-system": {
                    "pods": [_pod("etcd-0", 1, 4), _pod("apiserver-0", 1, 4)],
                },
            },
        }
    ]
    for worker in range(3):
        namespaces: dict[str, Any] = {}
        for team in ("shop", "billing", "search"):
            project = f"{team}-{worker}"
            pods = [_pod(f"{project}-api-{index}", 1.5, 6) for index in range(3)]
            claims = [
                {
                    "volume_claim_name": f"{project}-data-{index}",
                    "pod_name": f"{project}-api-{index}",
                    "capacity_gig": 40,
                }
                for index in range(2)
            ]
            namespaces[project] = {
                "namespace_labels": f"label_team:{team}",
                "pods": pods,
                "volumes": [
                    {
                        "volume_name": f"pv-{project}",
                        "storage_class": "gp3",
                        "volume_request_gig": 100,
                        "volume_claims": claims,
                    }
                ],
            }
        nodes.append(
            {
                "node_name": f"worker-{worker}",
                "cpu_cores": 16,
                "memory_gig": 64,
                "resource_id": f"worker{worker}",
                "node_labels": "label_node-role.kubernetes.io/worker:",
                "namespaces": namespaces,
            }
        )
    return {
        "generators": [
            {
                "OCPGenerator": {
                    "start_date": start.isoformat(),
                    "end_date": end.isoformat(),
                    "nodes": nodes,
                }
            }
        ]
    }


@dataclass(frozen=True)
class NiseCluster:
    """The nise month of the benchmark cluster, one CSV file per report type."""

    folder: Path
    month_start: date
    files: dict[str, Path]


def last_month() -> date:
    first = datetime.now(UTC).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def nise_cluster(data_dir: Path) -> NiseCluster:
    """Return the cached nise month under ``data_dir``, generating last month's if there is none."""
    for marker in sorted(data_dir.glob("ocp-nise-*/complete")):
        folder = marker.parent
        month = date.fromisoformat(marker.read_text(encoding="utf-8").strip())
        return NiseCluster(
            folder, month, {n: folder / n for n in REPORT_FILES.values()}
        )
    return _generate_nise_cluster(data_dir, last_month())


def _generate_nise_cluster(data_dir: Path, month: date) -> NiseCluster:
    folder = data_dir / f"ocp-nise-{month:%Y-%m}"
    shutil.rmtree(folder, ignore_errors=True)
    work = folder / "nise"
    work.mkdir(parents=True)

    # YAML is a superset of JSON, so nise reads the spec written as JSON.
    spec = work / "cluster.yml"
    spec.write_text(
        json.dumps(cluster_spec(month, next_month(month)), indent=1), encoding="utf-8"
    )
    nise = Path(sys.executable).with_name("nise")
    command = [
        str(nise), "report", "ocp", "--static-report-file", str(spec),
        "--ocp-cluster-id", CLUSTER_ID, "-w",
    ]  # fmt: skip
    log.info(
        "generating the OpenShift cluster month %s with koku-nise", f"{month:%Y-%m}"
    )
    # koku-nise installed beside this interpreter, with fixed arguments.
    subprocess.run(command, check=True, cwd=work, stdout=subprocess.DEVNULL)  # noqa: S603

    month_name = f"{calendar.month_name[month.month]}-{month.year}"
    files = {}
    for marker, name in REPORT_FILES.items():
        # nise splits a report into -1, -2, ... files above its row limit.
        parts = sorted(work.glob(f"{month_name}-{CLUSTER_ID}-{marker}*.csv"))
        if not parts:
            raise RuntimeError(f"koku-nise wrote no {marker} file in {work}")
        files[name] = folder / name
        _concatenate(parts, files[name])

    shutil.rmtree(work)
    (folder / "complete").write_text(month.isoformat(), encoding="utf-8")
    return NiseCluster(folder, month, files)


def _concatenate(parts: list[Path], target: Path) -> None:
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        header: list[str] | None = None
        for part in parts:
            with part.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                part_header = next(reader)
                if header is None:
                    header = part_header
                    writer.writerow(header)
                elif part_header != header:
                    raise RuntimeError(f"{part} has another header than {parts[0]}")
                writer.writerows(reader)


# --- scaling ----------------------------------------------------------------------


def copies_for(pod_rows: int, base_pod_rows: int) -> int:
    """Return how many copies of the base month come closest to ``pod_rows``, at least 1."""
    if base_pod_rows < 1:
        raise ValueError(f"the base month needs pod rows, got {base_pod_rows}")
    return max(1, round(pod_rows / base_pod_rows))


def renamed(value: str, copy: int) -> str:
    """Return the name of ``value`` in copy ``copy``; copy 0 and empty names stay."""
    return f"{value}-c{copy}" if copy and value else value


def scale_rows(
    header: list[str], rows: Iterable[list[str]], columns: Iterable[str], copies: int
) -> Iterator[list[str]]:
    """Yield ``rows`` ``copies`` times, with the named columns renamed in each copy.

    ``rows`` is read once per copy, so pass a sequence or a reopened reader for
    more than one copy.
    """
    indexes = [header.index(column) for column in columns if column in header]
    materialised = rows if isinstance(rows, list) else list(rows)
    for copy in range(copies):
        for row in materialised:
            if copy == 0:
                yield row
                continue
            changed = list(row)
            for index in indexes:
                changed[index] = renamed(changed[index], copy)
            yield changed


# --- the independent figures ------------------------------------------------------


@dataclass
class DayFigures:
    """One usage day of the report files, summed with Decimal.

    ``billable_*`` are what usage rates price once idle capacity is charged too:
    per node the larger of its capacity and its pods' usage, and per claim row the
    larger of its capacity and its usage.
    """

    pod_rows: int = 0
    storage_rows: int = 0
    cpu_core_hours: Decimal = Decimal(0)
    memory_gigabyte_hours: Decimal = Decimal(0)
    claim_usage_gigabyte_months: Decimal = Decimal(0)
    billable_cpu_core_hours: Decimal = Decimal(0)
    billable_memory_gigabyte_hours: Decimal = Decimal(0)
    billable_storage_gigabyte_months: Decimal = Decimal(0)
    nodes: int = 0
    claims: int = 0
    # Storage rows whose usage exceeds their capacity; the storage cost check
    # assumes none (nise caps usage at the capacity).
    storage_rows_over_capacity: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            name: str(value) if isinstance(value, Decimal) else value
            for name, value in self.__dict__.items()
        }

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> DayFigures:
        figures = cls()
        for name, value in values.items():
            current = getattr(figures, name)
            setattr(
                figures,
                name,
                Decimal(value) if isinstance(current, Decimal) else int(value),
            )
        return figures


def usage_day(interval_start: str) -> date:
    """Return the UTC day of an operator timestamp such as ``2026-11-01 00:00:00 +0000 UTC``."""
    text = interval_start.strip()
    if text.endswith(" +0000 UTC"):
        return date.fromisoformat(text[:10])
    text = text.removesuffix(" UTC")
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z").astimezone(UTC).date()


def _number(text: str) -> Decimal:
    return Decimal(text) if text.strip() else Decimal(0)


def read_figures(pod_csv: Path, storage_csv: Path) -> dict[date, DayFigures]:
    """Sum the pod and storage report files per usage day with ``csv`` and Decimal."""
    days: dict[date, DayFigures] = defaultdict(DayFigures)
    # (day, node) -> pod usage, and (day, node, interval) -> the node's capacity.
    node_cpu: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    node_memory: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    capacity: dict[tuple[date, str, str], tuple[Decimal, Decimal]] = {}
    with pod_csv.open(newline="", encoding="utf-8-sig") as handle:
        for record in csv.DictReader(handle):
            day = usage_day(record["interval_start"])
            cpu = _number(record["pod_usage_cpu_core_seconds"]) / HOUR_S
            memory = _number(record["pod_usage_memory_byte_seconds"]) / HOUR_S / GIB
            figures = days[day]
            figures.pod_rows += 1
            figures.cpu_core_hours += cpu
            figures.memory_gigabyte_hours += memory
            node = record["node"].strip()
            if not node:
                # A pod without a node adds usage but no node capacity.
                figures.billable_cpu_core_hours += cpu
                figures.billable_memory_gigabyte_hours += memory
                continue
            node_cpu[(day, node)] += cpu
            node_memory[(day, node)] += memory
            key = (day, node, record["interval_start"])
            seen = capacity.get(key, (Decimal(0), Decimal(0)))
            capacity[key] = (
                max(seen[0], _number(record["node_capacity_cpu_core_seconds"])),
                max(seen[1], _number(record["node_capacity_memory_byte_seconds"])),
            )
    node_capacity: dict[tuple[date, str], tuple[Decimal, Decimal]] = defaultdict(
        lambda: (Decimal(0), Decimal(0))
    )
    for (day, node, _interval), (cpu_s, memory_bs) in capacity.items():
        cpu_hours, memory_hours = node_capacity[(day, node)]
        node_capacity[(day, node)] = (
            cpu_hours + cpu_s / HOUR_S,
            memory_hours + memory_bs / HOUR_S / GIB,
        )
    for (day, node), used_cpu in node_cpu.items():
        cpu_hours, memory_hours = node_capacity[(day, node)]
        figures = days[day]
        if cpu_hours > 0 or memory_hours > 0:
            figures.nodes += 1
        figures.billable_cpu_core_hours += max(cpu_hours, used_cpu)
        figures.billable_memory_gigabyte_hours += max(
            memory_hours, node_memory[(day, node)]
        )

    claims: dict[date, set[tuple[str, str]]] = defaultdict(set)
    with storage_csv.open(newline="", encoding="utf-8-sig") as handle:
        for record in csv.DictReader(handle):
            day = usage_day(record["interval_start"])
            month_seconds = HOUR_S * 24 * calendar.monthrange(day.year, day.month)[1]
            per_gigabyte_month = month_seconds * GIB
            capacity_gm = (
                _number(record["persistentvolumeclaim_capacity_byte_seconds"])
                / per_gigabyte_month
            )
            usage_gm = (
                _number(record["persistentvolumeclaim_usage_byte_seconds"])
                / per_gigabyte_month
            )
            figures = days[day]
            figures.storage_rows += 1
            figures.claim_usage_gigabyte_months += usage_gm
            figures.billable_storage_gigabyte_months += max(capacity_gm, usage_gm)
            figures.storage_rows_over_capacity += usage_gm > capacity_gm
            if record["persistentvolumeclaim"].strip():
                claims[day].add(
                    (
                        record["namespace"].strip(),
                        record["persistentvolumeclaim"].strip(),
                    )
                )
    for day, names in claims.items():
        days[day].claims = len(names)
    return dict(sorted(days.items()))


def expected_costs(day: date, figures: DayFigures) -> dict[str, Decimal]:
    """Return the cost of each kind that ``COST_MODEL_RATES`` gives ``day``, before markup, and the markup.

    Monthly rates are amortised per day (rate / days in the month). Node and
    cluster rates apply to nodes with capacity, the claim rate to each claim.
    """
    days_in_month = Decimal(calendar.monthrange(day.year, day.month)[1])
    quantity = {
        "cpu": figures.billable_cpu_core_hours,
        "memory": figures.billable_memory_gigabyte_hours,
        "storage": figures.billable_storage_gigabyte_months,
        "node": Decimal(figures.nodes) / days_in_month,
        "cluster": Decimal(1 if figures.nodes else 0) / days_in_month,
        "pvc": Decimal(figures.claims) / days_in_month,
    }
    costs = {
        kind: quantity[kind] * Decimal(value) for _, kind, _, value in COST_MODEL_RATES
    }
    costs["markup"] = sum(costs.values(), Decimal(0)) * MARKUP_PERCENT / 100
    return costs


def cents(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(CENT)


def close_enough(found: Decimal | None, expected: Decimal) -> bool:
    """Return whether a summary quantity equals the exact sum within ``RELATIVE_TOLERANCE``."""
    if found is None:
        return expected == 0
    return abs(found - expected) <= RELATIVE_TOLERANCE * max(abs(expected), Decimal(1))


SUMMARY_FIGURES = (
    # (what, summary data source, summary column alias, DayFigures field)
    ("pod line items", "Pod", "items", "pod_rows"),
    ("storage line items", "Storage", "items", "storage_rows"),
    ("CPU core-hours", "Pod", "cpu", "cpu_core_hours"),
    ("memory GiB-hours", "Pod", "memory", "memory_gigabyte_hours"),
    ("claim usage GiB-months", "Storage", "claim_usage", "claim_usage_gigabyte_months"),
)


def summary_differences(
    found: Mapping[tuple[date, str], Mapping[str, Any]],
    days: Mapping[date, DayFigures],
) -> list[str]:
    """List where the summary's sums per (day, data source) differ from the files.

    ``found`` holds, per usage day and data source, the summed columns ``items``,
    ``cpu``, ``memory`` and ``claim_usage``. Line items must be equal, quantities
    within ``RELATIVE_TOLERANCE``.
    """
    wrong = []
    for day, figures in days.items():
        for name, source, column, attribute in SUMMARY_FIGURES:
            value = found.get((day, source), {}).get(column)
            summary = Decimal(value) if value is not None else None
            expected = Decimal(getattr(figures, attribute))
            if not close_enough(summary, expected):
                wrong.append(f"{day} {name}: summary {summary}, files {expected}")
    extra = sorted({day for day, _ in found} - set(days))
    wrong += [f"{day}: summary rows on a day the files do not have" for day in extra]
    return wrong


def cost_differences(
    found: Mapping[date, Mapping[str, Decimal]], days: Mapping[date, DayFigures]
) -> list[str]:
    """List where the cost rows per (day, cost kind) differ from the rates, to the cent.

    The ``*_distributed`` kinds must net to zero per day, so that the cluster's
    total before distribution equals the total after it.
    """
    wrong = []
    for day, figures in days.items():
        costs = found.get(day, {})
        before = sum(
            (c for kind, c in costs.items() if not kind.endswith("_distributed")),
            Decimal(0),
        )
        after = sum(costs.values(), Decimal(0))
        if cents(after) != cents(before):
            wrong.append(
                f"{day}: cluster total {cents(before)} before distribution,"
                f" {cents(after)} after"
            )
        for kind, expected in expected_costs(day, figures).items():
            if kind == "storage" and figures.storage_rows_over_capacity:
                # NOTE: with usage above capacity the summary's per-claim sums, not
                # the rows, decide the unused capacity, so this check does not apply.
                continue
            if cents(costs.get(kind)) != cents(expected):
                wrong.append(
                    f"{day} {kind}: cost rows {cents(costs.get(kind))}, files {cents(expected)}"
                )
    wrong += [
        f"{day}: cost rows on a day the files do not have"
        for day in sorted(set(found) - set(days))
    ]
    return wrong


def describe_benchmark() -> dict[str, Any]:
    """Return the base cluster's shape and the cost model, for the results JSON."""
    nodes = cluster_spec(date(2000, 1, 1), date(2000, 2, 1))["generators"][0][
        "OCPGenerator"
    ]["nodes"]
    namespaces = [ns for node in nodes for ns in node["namespaces"].values()]
    return {
        "cluster": {
            "nodes": len(nodes),
            "cores": sum(node["cpu_cores"] for node in nodes),
            "namespaces": len(namespaces),
            "pods": sum(len(ns["pods"]) for ns in namespaces),
            "claims": sum(
                len(volume["volume_claims"])
                for ns in namespaces
                for volume in ns.get("volumes", [])
            ),
        },
        "cost_model": {
            "rates": [
                [metric, cost_type, value]
                for metric, _, cost_type, value in COST_MODEL_RATES
            ],
            "markup_percent": str(MARKUP_PERCENT),
        },
    }


# --- the scaled month ---------------------------------------------------------------


@dataclass(frozen=True)
class ScaledCluster:
    """``copies`` copies of the nise month packed as one operator payload."""

    copies: int
    month_start: date
    archive: Path
    manifest_uuid: str
    pod_rows: int
    storage_rows: int
    csv_bytes: int
    archive_bytes: int
    days: dict[date, DayFigures]

    @property
    def month_end(self) -> date:
        return next_month(self.month_start) - timedelta(days=1)

    @property
    def nodes(self) -> int:
        return max((f.nodes for f in self.days.values()), default=0)


def prepare_clusters(data_dir: Path, pod_rows: list[int]) -> dict[int, ScaledCluster]:
    """Return the scaled cluster of each requested pod-row count, writing the missing ones."""
    if not pod_rows:
        return {}
    nise = nise_cluster(data_dir)
    base_rows = _count_rows(nise.files[POD_FILE])
    return {
        rows: scaled_cluster(nise, copies_for(rows, base_rows), data_dir)
        for rows in pod_rows
    }


def _count_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def scaled_cluster(nise: NiseCluster, copies: int, data_dir: Path) -> ScaledCluster:
    """Return ``copies`` copies of the nise month, from the cache or written now."""
    folder = data_dir / f"{nise.folder.name}-scaled" / f"x{copies}"
    sidecar = folder / "cluster.json"
    cached = _read_sidecar(sidecar, copies)
    if cached is not None:
        return cached

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    log.info("writing %d copies of the OpenShift cluster month into %s", copies, folder)
    rows: dict[str, int] = {}
    for name, source in nise.files.items():
        rows[name] = _write_scaled_file(source, folder / name, name, copies)

    figures = read_figures(folder / POD_FILE, folder / STORAGE_FILE)
    manifest_uuid = str(uuid.uuid4())
    archive = folder / "payload.tar.gz"
    _write_payload(folder, archive, manifest_uuid, nise.month_start)
    facts = {
        "copies": copies,
        "month_start": nise.month_start.isoformat(),
        "manifest_uuid": manifest_uuid,
        "pod_rows": rows[POD_FILE],
        "storage_rows": rows[STORAGE_FILE],
        "csv_bytes": sum((folder / name).stat().st_size for name in nise.files),
        "archive_bytes": archive.stat().st_size,
        "days": {day.isoformat(): f.as_json() for day, f in figures.items()},
    }

    # The payload has the CSV files inside, so the loose copies can go.
    for name in nise.files:
        (folder / name).unlink()
    sidecar.write_text(json.dumps(facts, indent=1), encoding="utf-8")
    result = _read_sidecar(sidecar, copies)
    if result is None:
        raise RuntimeError(f"{sidecar} cannot be read back after writing it")
    return result


def _read_sidecar(sidecar: Path, copies: int) -> ScaledCluster | None:
    if not sidecar.is_file():
        return None
    facts = json.loads(sidecar.read_text(encoding="utf-8"))
    archive = sidecar.parent / "payload.tar.gz"
    if facts["copies"] != copies or not archive.is_file():
        return None
    if archive.stat().st_size != facts["archive_bytes"]:
        return None
    return ScaledCluster(
        copies=copies,
        month_start=date.fromisoformat(facts["month_start"]),
        archive=archive,
        manifest_uuid=facts["manifest_uuid"],
        pod_rows=facts["pod_rows"],
        storage_rows=facts["storage_rows"],
        csv_bytes=facts["csv_bytes"],
        archive_bytes=facts["archive_bytes"],
        days={
            date.fromisoformat(day): DayFigures.from_json(values)
            for day, values in facts["days"].items()
        },
    )


def _write_scaled_file(source: Path, target: Path, name: str, copies: int) -> int:
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    count = 0
    with target.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for row in scale_rows(header, rows, RENAMED_COLUMNS[name], copies):
            writer.writerow(row)
            count += 1
    return count


def _write_payload(
    folder: Path, archive: Path, manifest_uuid: str, month: date
) -> None:
    """Pack the report files as the koku-metrics-operator does: a tar.gz with manifest.json."""
    names = sorted(REPORT_FILES.values())
    manifest = {
        "uuid": manifest_uuid,
        "cluster_id": CLUSTER_ID,
        "version": "costpipe-bench",
        "date": datetime.now(UTC).isoformat(),
        "files": names,
        "start": f"{month}T00:00:00Z",
        "end": f"{next_month(month)}T00:00:00Z",
        "daily_reports": False,
    }
    body = json.dumps(manifest).encode()
    partial = archive.with_suffix(".partial")
    with (
        gzip.GzipFile(partial, "wb", compresslevel=_GZIP_LEVEL, mtime=0) as packed,
        tarfile.open(fileobj=packed, mode="w") as bundle,
    ):
        info = tarfile.TarInfo("manifest.json")
        info.size = len(body)
        bundle.addfile(info, io.BytesIO(body))
        for name in names:
            bundle.add(folder / name, arcname=name)
    partial.replace(archive)
