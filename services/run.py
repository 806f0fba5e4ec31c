"""``costpipe run``: the local stack, reports in, daily totals out, stack stopped.

With no ``--reports`` it generates last month's AWS, Azure and GCP reports and an
OpenShift cluster's first days with ``koku-nise`` and ingests them all. Each cloud
summary is printed day by day beside the same sum read straight from the report
files by an independent reader; the run exits with 1 when any day differs by a cent
or any manifest fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, TextIO

import asyncpg

from services import launcher
from services.reports import find_cur_deliveries, report_daily_totals
from services.reports_azure import azure_daily_totals, find_azure_deliveries
from services.reports_gcp import find_gcp_deliveries, gcp_daily_totals
from services.run_ocp import (
    OcpPlan,
    generate_cluster,
    print_project_costs,
    start_cluster,
    wait_for_costs,
)
from services.sources.records import BillingSource, SourceRequest
from shared.db import apply_global_schema_on
from shared.objectstore import S3ObjectStore
from shared.providers import upsert_provider
from shared.settings import Settings

__all__ = ["CloudPlan", "ProviderMismatchError", "detect_plans", "run"]

# Seconds without any manifest before the run points at the downloader log.
_QUIET_WARNING_S = 120.0

CENT = Decimal("0.01")
RUN_SCHEMA = "org1234567"


@dataclass
class CloudPlan:
    """One cloud provider's reports: where they go, their sources and expected totals."""

    provider_type: str
    bucket: str
    root: Path
    key_prefix: str
    table: str
    cost_column: str
    # Each source with its expected daily totals; None when the independent reader
    # could not read the files (the pipeline still ingests them and reports why).
    sources: list[tuple[SourceRequest, dict[date, Decimal] | None]] = field(
        default_factory=list
    )


def _read_independently(
    read: Callable[[Any], dict[date, Decimal]], delivery: Any, label: str
) -> dict[date, Decimal] | None:
    """Return ``read(delivery)``, or None with a warning when the files are unreadable."""
    try:
        return read(delivery)
    except Exception as error:  # noqa: BLE001 - any fault is reported, the run goes on
        print(
            f"warning: the {label} files cannot be read independently ({type(error).__name__}: "
            f"{error}); the pipeline's own verdict follows",
            file=sys.stderr,
        )
        return None


def _aws_plan(root: Path) -> CloudPlan | None:
    plan = CloudPlan(
        "AWS",
        "aws-reports",
        root,
        "",
        "reporting_awscostentrylineitem_daily_summary",
        "unblended_cost",
    )
    for index, delivery in enumerate(find_cur_deliveries(root)):
        source = BillingSource(
            bucket=plan.bucket,
            report_prefix=delivery.prefix,
            report_name=delivery.report_name,
        )
        plan.sources.append(
            (
                _request("AWS", f"aws-{delivery.report_name}-{index + 1}", source),
                _read_independently(report_daily_totals, delivery, "AWS"),
            )
        )
    return plan if plan.sources else None


def _azure_plan(root: Path) -> CloudPlan | None:
    plan = CloudPlan(
        "Azure",
        "azure-exports",
        root,
        "",
        "reporting_azurecostentrylineitem_daily_summary",
        "pretax_cost",
    )
    for index, delivery in enumerate(find_azure_deliveries(root)):
        source = BillingSource(
            bucket=plan.bucket,
            report_prefix=delivery.prefix,
            report_name=delivery.export_name,
        )
        plan.sources.append(
            (
                _request("Azure", f"azure-{delivery.export_name}-{index + 1}", source),
                _read_independently(azure_daily_totals, delivery, "Azure"),
            )
        )
    return plan if plan.sources else None


def _gcp_plan(root: Path) -> CloudPlan | None:
    plan = CloudPlan(
        "GCP",
        "gcp-exports",
        root,
        "gcp",
        "reporting_gcpcostentrylineitem_daily_summary",
        "unblended_cost",
    )
    deliveries = find_gcp_deliveries(root)
    if not deliveries:
        return None
    expected: dict[date, Decimal] | None = {}
    for delivery in deliveries:
        totals = _read_independently(gcp_daily_totals, delivery, "GCP")
        if totals is None or expected is None:
            expected = None
            continue
        for day, total in totals.items():
            expected[day] = expected.get(day, Decimal(0)) + total
    plan.sources.append(
        (
            _request(
                "GCP",
                "gcp-export-1",
                BillingSource(bucket=plan.bucket, report_prefix="gcp"),
            ),
            expected,
        )
    )
    return plan


def _request(provider_type: str, name: str, source: BillingSource) -> SourceRequest:
    return SourceRequest(
        schema_name=RUN_SCHEMA,
        provider_uuid=uuid.uuid4(),
        name=name,
        type=provider_type,
        billing_source=source,
    )


_DETECTORS: dict[str, Callable[[Path], CloudPlan | None]] = {
    "AWS": _aws_plan,
    "Azure": _azure_plan,
    "GCP": _gcp_plan,
}


class ProviderMismatchError(ValueError):
    """Error raised when a folder has another provider's layout than the one requested."""


def detect_plans(root: Path, provider: str | None) -> list[CloudPlan]:
    """Return the plan for ``provider``, or the first provider whose layout ``root`` has.

    The layouts are tried in a fixed order, AWS first, because an AWS CUR folder also
    has the shape of an Azure export (``<export>/<YYYYMMDD-YYYYMMDD>/``). A
    ``provider`` that differs from the first layout found raises
    :class:`ProviderMismatchError`.
    """
    found = None
    for name, detect in _DETECTORS.items():
        plan = detect(root)
        if plan is not None:
            found = (name, plan)
            break
    if found is None:
        return []
    if provider is not None and found[0] != provider:
        raise ProviderMismatchError(
            f"--provider {provider} was given, but the reports under {root} are laid out"
            f" as {found[0]}'s; pass --provider {found[0]} or leave --provider out"
        )
    return [found[1]]


def _last_month() -> tuple[date, date]:
    end = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def _nise(arguments: list[str], cwd: Path) -> None:
    nise = Path(sys.executable).with_name("nise")
    subprocess.run(  # noqa: S603 - the report generator of the venv
        [str(nise), "report", *arguments],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=cwd,
    )


def generate_reports(scratch: Path, log: TextIO) -> list[CloudPlan]:
    """Generate last month's AWS, Azure and GCP reports with koku-nise."""
    start, end = _last_month()
    window = ["--start-date", start.isoformat(), "--end-date", end.isoformat()]
    plans = []
    for provider, arguments in (
        (
            "AWS",
            [
                "aws",
                *window,
                "--aws-s3-report-name",
                "cur",
                "--aws-s3-report-prefix",
                "reports",
                "--aws-s3-bucket-name",
            ],
        ),
        (
            "Azure",
            [
                "azure",
                *window,
                "--azure-report-name",
                "costs",
                "--azure-report-prefix",
                "exports",
                "--azure-container-name",
            ],
        ),
        ("GCP", ["gcp", *window, "--gcp-bucket-name"]),
    ):
        root = scratch / provider.lower()
        root.mkdir(parents=True)
        print(
            f"generating {provider} reports for {start:%Y-%m} with koku-nise ...",
            file=log,
            flush=True,
        )
        _nise([*arguments, str(root)], scratch)
        plan = _DETECTORS[provider](root)
        if plan is None:
            raise RuntimeError(f"koku-nise wrote no {provider} delivery under {root}")
        plans.append(plan)
    return plans


def months_to_ingest(plans: list[CloudPlan]) -> int:
    today = datetime.now(UTC).date()
    days = [
        day for plan in plans for _, expected in plan.sources for day in expected or {}
    ]
    oldest = min(days, default=today)
    return (today.year - oldest.year) * 12 + today.month - oldest.month + 2


async def _upload(plan: CloudPlan, store: S3ObjectStore) -> None:
    await store.ensure_bucket(plan.bucket)
    for path in sorted(p for p in plan.root.rglob("*") if p.is_file()):
        key = path.relative_to(plan.root).as_posix()
        await store.put_file(
            plan.bucket, f"{plan.key_prefix}/{key}" if plan.key_prefix else key, path
        )


async def _register(database_url: str, requests: list[SourceRequest]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await apply_global_schema_on(conn)
        async with conn.transaction():
            for request in requests:
                await upsert_provider(conn, request.to_provider())
    finally:
        await conn.close()


def run(
    reports: str | None,
    provider: str | None,
    output: str,
    timeout_s: float,
    keep_stack: bool,
) -> int:
    """Run the whole pipeline on ``reports`` (or generated ones); return the exit code.

    Exit codes: 0 when every day matches, 1 when a manifest fails or a day differs,
    2 when ``reports`` contains no delivery of a known layout.
    """
    os.environ.setdefault(
        "COSTPIPE_STACK_DIR", str(launcher.REPO_ROOT / ".stack" / "run")
    )
    log = sys.stderr if output == "csv" else sys.stdout
    if reports and not Path(reports).is_dir():
        print(f"error: --reports {reports} is not a folder", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="costpipe-run-") as scratch_name:
        scratch = Path(scratch_name)
        try:
            plans = (
                detect_plans(Path(reports), provider)
                if reports
                else generate_reports(scratch, log)
            )
        except ProviderMismatchError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        cluster = None if reports else generate_cluster(scratch, RUN_SCHEMA, log)
        if not plans:
            print(
                f"error: no AWS, Azure or GCP delivery found under {reports}; "
                "see the README for the layouts",
                file=sys.stderr,
            )
            return 2
        return _run_on_stack(
            plans, cluster, scratch, output, timeout_s, keep_stack, log
        )


def _run_on_stack(
    plans: list[CloudPlan],
    cluster: OcpPlan | None,
    scratch: Path,
    output: str,
    timeout_s: float,
    keep_stack: bool,
    log: TextIO,
) -> int:
    env = launcher.start_stack()
    os.environ.update(env)
    services: launcher.ServiceGroup | None = None
    code = 1
    try:
        services = launcher.ServiceGroup(
            env={
                **env,
                "COSTPIPE_ADMIN_TOKEN": uuid.uuid4().hex,
                "INITIAL_INGEST_NUM_MONTHS": str(months_to_ingest(plans)),
                "COSTPIPE_WORK_DIR": str(scratch / "work"),
            },
            log_dir=launcher.stack_dir() / "logs",
        )
        code = asyncio.run(_run(plans, cluster, env, services, output, timeout_s, log))
        return code
    finally:
        # A second Ctrl-C or SIGTERM must not cut the cleanup short and leave
        # servers behind.
        with _interrupts_ignored():
            _clean_up(services, keep_stack, code)


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    previous = {
        number: signal.signal(number, signal.SIG_IGN)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _clean_up(
    services: launcher.ServiceGroup | None, keep_stack: bool, code: int
) -> None:
    if services is not None:
        services.stop()
    if keep_stack:
        return
    if code == 0:
        # The run's stack is its own, so the next run starts from empty servers.
        launcher.stop_stack(purge=True)
    else:
        launcher.stop_stack()
        print(
            f"logs of the servers and services: {launcher.stack_dir() / 'logs'}",
            file=sys.stderr,
        )


async def _run(
    plans: list[CloudPlan],
    cluster: OcpPlan | None,
    env: dict[str, str],
    services: launcher.ServiceGroup,
    output: str,
    timeout_s: float,
    log: TextIO,
) -> int:
    settings = Settings(**{k: v for k, v in env.items() if k in Settings.model_fields})  # type: ignore[arg-type]
    store = S3ObjectStore(settings)
    try:
        for plan in plans:
            await _upload(plan, store)
    finally:
        await store.close()
    requests = [request for plan in plans for request, _ in plan.sources]
    if cluster is not None:
        requests.append(cluster.request)
    await _register(env["DATABASE_URL"], requests)
    print("starting services ...", file=log, flush=True)
    services.start(
        extra={
            "scheduler": {
                "COSTPIPE_SCHEDULER_TICK_ON_START": "true",
                "SCHEDULE_REPORT_CHECKS": "true",
            }
        }
    )
    services.wait_ready()
    print(
        "services ready; the scheduler has emitted check_report_updates",
        file=log,
        flush=True,
    )
    if cluster is not None:
        token = services.env["COSTPIPE_ADMIN_TOKEN"]
        await start_cluster(cluster, settings, services.url("costmodel"), token, log)
    ok = await follow_manifests(
        env["DATABASE_URL"], [r.provider_uuid for r in requests], timeout_s, log
    )
    mismatches = 0
    conn = await asyncpg.connect(env["DATABASE_URL"])
    try:
        if output == "csv":
            print("source,provider,usage_date,unblended_cost")
        for plan in plans:
            for request, expected in plan.sources:
                rows = await conn.fetch(
                    f'SELECT usage_start, sum({plan.cost_column}) AS cost FROM "{RUN_SCHEMA}".{plan.table}'
                    " WHERE source_uuid = $1 GROUP BY usage_start ORDER BY usage_start",
                    request.provider_uuid,
                )
                pipeline = {row["usage_start"]: row["cost"] for row in rows}
                if output == "csv":
                    for day, cost in pipeline.items():
                        print(
                            f"{request.provider_uuid},{plan.provider_type},{day.isoformat()},{format(cost.normalize(), 'f')}"
                        )
                elif expected is None:
                    print(
                        f"\n{plan.provider_type} source {request.name}: not verified, because "
                        "the report files could not be read (see the warning above)"
                    )
                else:
                    print_table(request, plan, pipeline, expected)
                if expected is None:
                    # Unverified totals never pass.
                    mismatches += 1
                    continue
                days = set(expected) | set(pipeline)
                mismatches += sum(
                    1
                    for day in days
                    if cents(pipeline.get(day)) != cents(expected.get(day))
                )
        if cluster is not None:
            if await wait_for_costs(conn, cluster, timeout_s=180):
                if output != "csv":
                    mismatches += await print_project_costs(conn, cluster)
            else:
                print("timed out waiting for the OpenShift cost-model run", file=log)
                mismatches += 1
    finally:
        await conn.close()
    return 0 if ok and mismatches == 0 else 1


async def follow_manifests(
    database_url: str, providers: list[uuid.UUID], timeout_s: float, log: TextIO
) -> bool:
    """Print manifest progress until every manifest is complete or failed."""
    conn = await asyncpg.connect(database_url)
    seen: dict[int, str] = {}
    last_letter = await conn.fetchval(
        "SELECT coalesce(max(id), 0) FROM costpipe.dead_letters"
    )
    deadline = time.monotonic() + timeout_s
    quiet_until = time.monotonic() + _QUIET_WARNING_S
    warned = False
    try:
        while time.monotonic() < deadline:
            rows = await conn.fetch(
                "SELECT m.id, p.type, m.assembly_id, m.billing_period_start, m.num_total_files, m.status, m.error,"
                " count(f.*) FILTER (WHERE f.status = 'done') AS done"
                " FROM costpipe.manifests m JOIN costpipe.providers p ON p.uuid = m.provider_uuid"
                " JOIN costpipe.report_files f ON f.manifest_id = m.id"
                " WHERE m.provider_uuid = ANY($1::uuid[]) GROUP BY m.id, p.type ORDER BY m.id",
                providers,
            )
            for row in rows:
                line = (
                    f"{row['type']} manifest {row['id']} ({row['billing_period_start']:%Y-%m}, "
                    f"{row['assembly_id'][:8]}): files {row['done']}/{row['num_total_files']}, {row['status']}"
                )
                if seen.get(row["id"]) != line:
                    print(line, file=log, flush=True)
                    if row["error"]:
                        print(f"  error: {row['error']}", file=log, flush=True)
                    seen[row["id"]] = line
            letters = await conn.fetch(
                "SELECT id, task, reason, error FROM costpipe.dead_letters WHERE id > $1 ORDER BY id",
                last_letter,
            )
            for letter in letters:
                last_letter = letter["id"]
                if letter["reason"] != "not implemented":
                    print(
                        f"dead letter: {letter['task']}: {letter['reason']}: {letter['error'].splitlines()[-1]}",
                        file=log,
                        flush=True,
                    )
            reported = {row["type"] for row in rows}
            if (
                rows
                and len(reported) >= 1
                and all(row["status"] in {"complete", "failed"} for row in rows)
            ):
                if await _all_providers_seen(conn, providers):
                    return all(row["status"] == "complete" for row in rows)
            if not rows and not warned and time.monotonic() > quiet_until:
                warned = True
                print(
                    f"warning: no manifest after {_QUIET_WARNING_S:.0f} s; the downloader"
                    " found no report it can read, so check its log (downloader.log)",
                    file=log,
                    flush=True,
                )
            await asyncio.sleep(1.0)
        print(f"timed out after {timeout_s:.0f} s waiting for manifests", file=log)
        return False
    finally:
        await conn.close()


async def _all_providers_seen(
    conn: asyncpg.Connection, providers: list[uuid.UUID]
) -> bool:
    count = await conn.fetchval(
        "SELECT count(DISTINCT provider_uuid) FROM costpipe.manifests WHERE provider_uuid = ANY($1::uuid[])",
        providers,
    )
    return bool(count == len(providers))


def cents(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def print_table(
    request: SourceRequest,
    plan: CloudPlan,
    pipeline: dict[date, Decimal],
    expected: dict[date, Decimal],
) -> None:
    measure = plan.cost_column.replace("_", " ")
    print(
        f"\n{plan.provider_type} source {request.name} ({request.provider_uuid}), {measure} per usage day:"
    )
    print(f"{'usage day':<12} {'daily summary':>16} {'report files':>16}  match")
    for day in sorted(set(pipeline) | set(expected)):
        got, want = cents(pipeline.get(day)), cents(expected.get(day))
        print(
            f"{day.isoformat():<12} {got:>16} {want:>16}  {'ok' if got == want else 'DIFFERENT'}"
        )
    total_got = cents(sum(pipeline.values(), Decimal(0)))
    total_want = cents(sum(expected.values(), Decimal(0)))
    print(
        f"{'total':<12} {total_got:>16} {total_want:>16}  {'ok' if total_got == total_want else 'DIFFERENT'}"
    )
