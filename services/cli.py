"""The ``costpipe`` command: list tasks, register sources, serve, and run end to end."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import uuid
from decimal import Decimal

import asyncpg

from services import launcher
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
    rows += [
        (
            spec.name,
            topic_name(prefix, spec.queue, Size.DEFAULT),
            spec.service,
            "yes" if spec.name in built else "no",
        )
        for spec in CATALOGUE.values()
    ]
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


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def command_run(args: argparse.Namespace) -> int:
    from services.run import run

    # SIGTERM (from timeout, kill or a CI runner) takes the same way out as Ctrl-C,
    # so the services and the stack are stopped rather than left running.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(
            args.reports, args.provider, args.format, args.timeout, args.keep_stack
        )
    except KeyboardInterrupt:
        print("interrupted: the services and the stack were stopped", file=sys.stderr)
        return 130


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
        help="folder of AWS, Azure or GCP reports as the cloud writes them to its"
        " bucket (default: generate last month of AWS, Azure and GCP and three days of an OpenShift cluster with koku-nise)",
    )
    run.add_argument(
        "--provider",
        choices=("AWS", "Azure", "GCP"),
        help="provider of --reports (default: detected from the folder's layout)",
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
    try:
        result: int = args.func(args)
    except BrokenPipeError:
        # The reader of our output went away (``costpipe tasks | head``): stop quietly,
        # and keep Python from failing again as it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result


if __name__ == "__main__":
    raise SystemExit(main())
