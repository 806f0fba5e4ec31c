"""The ``costpipe`` command: list tasks, register sources, serve, and run end to end."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import asyncpg

from services import launcher
from services.reports import CurDelivery, find_cur_deliveries, report_daily_totals
from services.sources.records import BillingSource, SourceRequest
from shared.catalogue import CATALOGUE
from shared.providers import upsert_provider
from shared.settings import Settings
from shared.topics import Size, topic_name

__all__ = ["main"]

CENT = Decimal("0.01")
RUN_SCHEMA = "org1234567"
RUN_BUCKET = "cur-reports"


def built_tasks() -> dict[str, str]:
    """Return each built task with its owning service, read from the service modules."""
    from services.costmodel.app import HANDLERS as costmodel
    from services.downloader.handlers import TASKS as downloader
    from services.hcs.app import HANDLERS as hcs
    from services.scheduler.app import HANDLERS as scheduler
    from services.sources.app import HANDLERS as sources
    from services.subs.app import HANDLERS as subs
    from services.summarizer.handlers import TASKS as summarizer

    built = {task: "downloader" for task in downloader} | {
        task: "summarizer" for task in summarizer
    }
    for service, handlers in (
        ("costmodel", costmodel),
        ("hcs", hcs),
        ("scheduler", scheduler),
        ("sources", sources),
        ("subs", subs),
    ):
        built |= {task: service for task in handlers}
    # Every service's admin API serves these: GET /queues and GET /queues/items.
    built |= {
        "masu.celery.tasks.collect_queue_metrics": "admin",
        "masu.celery.tasks.get_celery_queue_items": "admin",
    }
    return built


def command_tasks(_args: argparse.Namespace) -> int:
    prefix = Settings().COSTPIPE_TOPIC_PREFIX
    built = built_tasks()
    rows = [("KOKU TASK", "TOPIC", "SERVICE", "BUILT")]
    for spec in CATALOGUE.values():
        rows.append(
            (
                spec.name,
                topic_name(prefix, spec.queue, Size.DEFAULT),
                spec.service,
                "yes" if spec.name in built else "no",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print(
            f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}"
        )
    return 0


async def _add_source(database_url: str, request: SourceRequest) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        from shared.db import apply_global_schema_on

        await apply_global_schema_on(conn)
        async with conn.transaction():
            await upsert_provider(conn, request.to_provider())
    finally:
        await conn.close()


def command_source_add(args: argparse.Namespace) -> int:
    request = SourceRequest(
        schema_name=args.schema,
        provider_uuid=args.provider_uuid or uuid.uuid4(),
        name=args.name,
        type="AWS",
        billing_source=BillingSource(
            bucket=args.bucket,
            report_prefix=args.report_prefix,
            report_name=args.report_name,
        ),
    )
    asyncio.run(_add_source(Settings().DATABASE_URL.get_secret_value(), request))
    print(f"source added: {request.provider_uuid} in {request.schema_name}")
    return 0


def command_serve(args: argparse.Namespace) -> int:
    os.execv(sys.executable, [sys.executable, "-m", f"services.{args.service}"])  # noqa: S606 - our own module


def command_run(args: argparse.Namespace) -> int:
    os.environ.setdefault(
        "COSTPIPE_STACK_DIR", str(launcher.REPO_ROOT / ".stack" / "run")
    )
    env = launcher.start_stack()
    os.environ.update(env)
    services: launcher.ServiceGroup | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="costpipe-run-") as scratch:
            reports = (
                Path(args.reports) if args.reports else _generate_month(Path(scratch))
            )
            deliveries = find_cur_deliveries(reports)
            if not deliveries:
                print(
                    f"error: no CUR delivery under {reports}: expected <prefix>/<report>/<YYYYMMDD-YYYYMMDD>/<report>-Manifest.json",
                    file=sys.stderr,
                )
                return 2
            months = _months_to_ingest(deliveries)
            services = launcher.ServiceGroup(
                env={
                    **env,
                    "COSTPIPE_ADMIN_TOKEN": uuid.uuid4().hex,
                    "INITIAL_INGEST_NUM_MONTHS": str(months),
                    "COSTPIPE_WORK_DIR": str(Path(scratch) / "work"),
                },
                log_dir=launcher.stack_dir() / "logs",
            )
            return asyncio.run(_run(args, env, reports, deliveries, services))
    finally:
        if services is not None:
            services.stop()
        if not args.keep_stack:
            launcher.stop_stack()


def _generate_month(scratch: Path) -> Path:
    """Generate last month's AWS CUR with koku-nise into ``scratch``."""
    today = datetime.now(UTC).date()
    end = today.replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    bucket = scratch / "aws-bucket"
    bucket.mkdir(parents=True)
    nise = Path(sys.executable).with_name("nise")
    print(f"generating AWS CUR for {start:%Y-%m} with koku-nise ...", flush=True)
    subprocess.run(  # noqa: S603 - the report generator installed beside us
        [
            str(nise),
            "report",
            "aws",
            "--start-date",
            start.isoformat(),
            "--end-date",
            end.isoformat(),
            "--aws-s3-bucket-name",
            str(bucket),
            "--aws-s3-report-name",
            "cur",
            "--aws-s3-report-prefix",
            "reports",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=scratch,
    )
    return bucket


def _months_to_ingest(deliveries: list[CurDelivery]) -> int:
    today = datetime.now(UTC).date()
    oldest = today
    for delivery in deliveries:
        for manifest in delivery.manifest_paths:
            oldest = min(
                oldest, datetime.strptime(manifest.parent.name[:8], "%Y%m%d").date()
            )
    return (today.year - oldest.year) * 12 + today.month - oldest.month + 1


async def _upload(reports: Path, env: dict[str, str]) -> None:
    settings = Settings(**{k: v for k, v in env.items() if k in Settings.model_fields})  # type: ignore[arg-type]
    from shared.objectstore import S3ObjectStore

    store = S3ObjectStore(settings)
    await store.ensure_bucket(RUN_BUCKET)
    for path in sorted(p for p in reports.rglob("*") if p.is_file()):
        await store.put_file(RUN_BUCKET, path.relative_to(reports).as_posix(), path)


async def _run(
    args: argparse.Namespace,
    env: dict[str, str],
    reports: Path,
    deliveries: list[CurDelivery],
    services: launcher.ServiceGroup,
) -> int:
    await _upload(reports, env)
    database_url = env["DATABASE_URL"]
    sources = []
    for index, delivery in enumerate(deliveries):
        request = SourceRequest(
            schema_name=RUN_SCHEMA,
            provider_uuid=uuid.uuid4(),
            name=f"aws-{delivery.report_name}-{index + 1}",
            billing_source=BillingSource(
                bucket=RUN_BUCKET,
                report_prefix=delivery.prefix,
                report_name=delivery.report_name,
            ),
        )
        await _add_source(database_url, request)
        sources.append((request, delivery))
    log = sys.stderr if args.format == "csv" else sys.stdout
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
    ok = await _follow(
        database_url, [s[0].provider_uuid for s in sources], args.timeout, log
    )
    conn = await asyncpg.connect(database_url)
    try:
        mismatches = 0
        for request, delivery in sources:
            rows = await conn.fetch(
                f'SELECT usage_start, sum(unblended_cost) AS cost FROM "{RUN_SCHEMA}".reporting_awscostentrylineitem_daily_summary'
                " WHERE source_uuid = $1 GROUP BY usage_start ORDER BY usage_start",
                request.provider_uuid,
            )
            pipeline = {row["usage_start"]: row["cost"] for row in rows}
            expected = report_daily_totals(delivery)
            if args.format == "csv":
                _print_csv(request, pipeline)
            else:
                mismatches += _print_table(request, pipeline, expected)
            mismatches += sum(
                1
                for day in expected
                if _cents(pipeline.get(day)) != _cents(expected[day])
            )
    finally:
        await conn.close()
    return 0 if ok and mismatches == 0 else 1


async def _follow(
    database_url: str, providers: list[uuid.UUID], timeout_s: float, log: Any
) -> bool:
    """Print manifest progress until every manifest is complete or failed."""
    conn = await asyncpg.connect(database_url)
    seen: dict[int, str] = {}
    last_letter = await conn.fetchval(
        "SELECT coalesce(max(id), 0) FROM costpipe.dead_letters"
    )
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            rows = await conn.fetch(
                "SELECT m.id, m.assembly_id, m.billing_period_start, m.num_total_files, m.status, m.error,"
                " count(f.*) FILTER (WHERE f.status = 'done') AS done"
                " FROM costpipe.manifests m JOIN costpipe.report_files f ON f.manifest_id = m.id"
                " WHERE m.provider_uuid = ANY($1::uuid[]) GROUP BY m.id ORDER BY m.id",
                providers,
            )
            for row in rows:
                line = (
                    f"manifest {row['id']} ({row['billing_period_start']:%Y-%m}, assembly {row['assembly_id'][:8]}): "
                    f"files {row['done']}/{row['num_total_files']}, {row['status']}"
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
                    if (
                        letter["task"] == "masu.celery.tasks.check_report_updates"
                        and not rows
                    ):
                        return False
            if rows and all(row["status"] in {"complete", "failed"} for row in rows):
                return all(row["status"] == "complete" for row in rows)
            await asyncio.sleep(1.0)
        print(f"timed out after {timeout_s:.0f} s waiting for manifests", file=log)
        return False
    finally:
        await conn.close()


def _cents(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def _print_csv(request: SourceRequest, pipeline: dict[date, Decimal]) -> None:
    print("source,provider,usage_date,unblended_cost")
    for day, cost in pipeline.items():
        print(
            f"{request.provider_uuid},{request.type},{day.isoformat()},{format(cost.normalize(), 'f')}"
        )


def _print_table(
    request: SourceRequest, pipeline: dict[date, Decimal], expected: dict[date, Decimal]
) -> int:
    print(
        f"\nsource {request.name} ({request.provider_uuid}), unblended cost per usage day:"
    )
    print(f"{'usage day':<12} {'daily summary':>16} {'report files':>16}  match")
    mismatches = 0
    for day in sorted(set(pipeline) | set(expected)):
        got, want = _cents(pipeline.get(day)), _cents(expected.get(day))
        mismatches += got != want
        print(
            f"{day.isoformat():<12} {got:>16} {want:>16}  {'ok' if got == want else 'DIFFERENT'}"
        )
    total_got = _cents(sum(pipeline.values(), Decimal(0)))
    total_want = _cents(sum(expected.values(), Decimal(0)))
    print(
        f"{'total':<12} {total_got:>16} {total_want:>16}  {'ok' if total_got == total_want else 'DIFFERENT'}"
    )
    return mismatches


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="costpipe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "tasks",
        help="list every Koku task with its topic, service and whether it is built",
    ).set_defaults(func=command_tasks)
    add = (
        commands.add_parser("source", help="manage sources")
        .add_subparsers(dest="action", required=True)
        .add_parser("add", help="register an AWS source")
    )
    add.add_argument(
        "--schema", required=True, help="tenant schema, such as org1234567"
    )
    add.add_argument(
        "--provider-uuid", type=uuid.UUID, help="provider id (default: a new one)"
    )
    add.add_argument("--name", required=True, help="display name of the source")
    add.add_argument("--bucket", required=True, help="bucket that receives the CUR")
    add.add_argument(
        "--report-prefix", default="", help="report path prefix in the bucket"
    )
    add.add_argument("--report-name", help="report name (default: any)")
    add.set_defaults(func=command_source_add)
    serve = commands.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service", choices=launcher.ALL_SERVICES)
    serve.set_defaults(func=command_serve)
    run = commands.add_parser(
        "run", help="start the local stack, ingest reports, print daily totals, stop"
    )
    run.add_argument(
        "--reports",
        help="folder laid out as a CUR delivery (default: generate last month with koku-nise)",
    )
    run.add_argument(
        "--format",
        choices=("table", "csv"),
        default="table",
        help="table beside the report's totals, or CSV rows",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds to wait for all manifests (default 900)",
    )
    run.add_argument(
        "--keep-stack",
        action="store_true",
        help="leave the local stack running afterwards",
    )
    run.set_defaults(func=command_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
