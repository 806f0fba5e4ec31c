"""The OpenShift part of the benchmark: summary and cost-model runs of a cluster month.

``bench.ocp_data`` prepares the payload of each size. The services start fresh for
each size, as ``make run`` starts them. Each summary run registers a fresh tenant
with its own OpenShift source, which gets the cost model of ``COST_MODEL_RATES``
(with markup and distribution of platform, worker and storage overhead) after
its summary. Two things are timed:

- summary: from the announcement on the upload topic until the payload's manifest
  is ``complete`` in ``costpipe.manifests`` (polled every 0.2 s). The summarizer
  completes it once the month's rows of ``reporting_ocpusagelineitem_daily_summary``
  are written. Then the summary is checked against the files, and the run waits
  for the ``update_cost_model_costs`` that the summary requests.
- cost model: ``update_cost_model_costs`` for the whole month through the costmodel
  service's ``POST /tasks``, timed until its event id is in
  ``costpipe.processed_events``, then the costs are checked.

A failed check raises ``MismatchError``. The first summary and cost-model run of a
size always run. Repeats run while their last duration fits the size's share of
the budget.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.ocp_data import (
    CLUSTER_ID,
    COST_MODEL_RATES,
    MARKUP_PERCENT,
    MismatchError,
    ScaledCluster,
    cost_differences,
    summary_differences,
)

if TYPE_CHECKING:
    from bench.pipeline import CostpipeBench

__all__ = ["OpenShiftBench", "cost_model_body", "measure_openshift", "size_deadline"]

log = logging.getLogger(__name__)

UPLOAD_BUCKET = "bench-ocp-uploads"
POLL_INTERVAL_S = 0.2
UPDATE_SUMMARY_TABLES = "masu.processor.tasks.update_summary_tables"
UPDATE_COST_MODEL_COSTS = "masu.processor.tasks.update_cost_model_costs"
SUMMARY_TABLE = "reporting_ocpusagelineitem_daily_summary"
COST_TABLE = "reporting_ocp_cost_daily"
# Each size's share of the budget counts this many pod rows on top of its own, for
# service start, uploads, polling and the summary's fixed steps, which do not scale
# with rows. On 2 cores, 92,160 pod rows took 17 s to summarise and 391,680 took 23 s.
FIXED_SHARE_ROWS = 500_000


# --- one run through the services -------------------------------------------------


@dataclass(frozen=True)
class OcpTenant:
    """One run's tenant schema, operator org id and OpenShift source."""

    schema: str
    org_id: str
    provider_uuid: uuid.UUID


@dataclass
class SummaryRun:
    tenant: OcpTenant
    seconds: float
    summary_rows: int
    stages: dict[str, float] = field(default_factory=dict)
    # From the manifest's completion until the cost-model run that the summary
    # requested (with no cost model yet) was processed, the summary check included.
    automatic_cost_seconds: float | None = None


@dataclass
class CostRun:
    seconds: float
    cost_rows: int
    usage_rows: int


class OpenShiftBench:
    """Uploads, cost models and checks of one size against a running service group."""

    def __init__(
        self, bench: CostpipeBench, cluster: ScaledCluster, topic: str
    ) -> None:
        self.bench = bench
        self.cluster = cluster
        self.topic = topic
        self.url = ""

    def _db(self) -> Any:
        if self.bench.pool is None:
            raise RuntimeError("CostpipeBench.open() was not called")
        return self.bench.pool

    async def _post(self, service: str, path: str, body: dict[str, Any]) -> Any:
        import httpx

        group = self.bench.services
        if group is None:
            raise RuntimeError("no services are running; start them first")
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(
                f"{group.url(service)}{path}",
                json=body,
                headers={"Authorization": f"Bearer {self.bench.token}"},
            )

    async def upload_payload(self) -> None:
        """Put the payload into the S3 server once and keep a presigned URL for the runs."""
        import boto3
        from botocore.config import Config

        key = f"{self.cluster.manifest_uuid}.tar.gz"
        await self.bench.store.ensure_bucket(UPLOAD_BUCKET)
        await self.bench.store.put_file(UPLOAD_BUCKET, key, self.cluster.archive)
        env = self.bench.stack_env
        s3 = boto3.client(
            "s3",
            endpoint_url=env["S3_ENDPOINT_URL"],
            aws_access_key_id=env["S3_ACCESS_KEY_ID"],
            aws_secret_access_key=env["S3_SECRET_ACCESS_KEY"],
            region_name=env.get("S3_REGION", "us-east-1"),
            config=Config(s3={"addressing_style": "path"}),
        )
        self.url = s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": UPLOAD_BUCKET, "Key": key},
            ExpiresIn=6 * 3600,
        )

    async def new_tenant(self) -> OcpTenant:
        """Register a fresh OpenShift source, without a cost model yet."""
        org_id = str(random.randrange(10**9, 10**10))  # noqa: S311 - a name, not a secret
        tenant = OcpTenant(f"org{org_id}", org_id, uuid.uuid4())
        response = await self._post(
            "sources",
            "/sources",
            {
                "schema_name": tenant.schema,
                "provider_uuid": str(tenant.provider_uuid),
                "name": f"benchmark cluster {org_id}",
                "type": "OCP",
                "cluster_id": CLUSTER_ID,
            },
        )
        if response.status_code != 201:
            raise RuntimeError(
                f"POST /sources failed with {response.status_code}: {response.text}"
            )
        return tenant

    async def assign_cost_model(self, tenant: OcpTenant) -> None:
        """Create the benchmark's cost model for ``tenant`` and wait for its recompute.

        Creating a cost model requests update_cost_model_costs for the current month,
        which has no usage here, so it is quick. Its event id is not returned, so the
        wait counts the costmodel service's processed cost-model runs, which only
        this benchmark requests on its own service group.
        """
        group = self.bench.services
        if group is None:
            raise RuntimeError("no services are running; start them first")
        consumer = f"{group.env['COSTPIPE_TOPIC_PREFIX']}-costmodel"
        count = "SELECT count(*) FROM costpipe.processed_events WHERE consumer = $1 AND task = $2"
        db = self._db()
        before = await db.fetchval(count, consumer, UPDATE_COST_MODEL_COSTS)
        response = await self._post(
            "costmodel", "/cost-models", cost_model_body(tenant)
        )
        if response.status_code != 201:
            raise RuntimeError(
                f"POST /cost-models failed with {response.status_code}: {response.text}"
            )
        deadline = time.perf_counter() + self.bench.timeout_s
        while await db.fetchval(count, consumer, UPDATE_COST_MODEL_COSTS) <= before:
            if time.perf_counter() > deadline:
                raise TimeoutError(
                    f"the cost-model run after creating the cost model of {tenant.schema}"
                    f" was not processed within {self.bench.timeout_s:.0f} s"
                )
            await asyncio.sleep(POLL_INTERVAL_S)

    async def summarise(self) -> SummaryRun:
        """Time one upload until its manifest is complete, then check the summary.

        The tenant gets its cost model only after the cost-model run that the summary
        requests, so that run prices nothing and the timed runs start on an idle
        costmodel service.
        """
        from aiokafka import AIOKafkaProducer

        tenant = await self.new_tenant()
        db = self._db()
        request_id = uuid.uuid4().hex
        message = {"request_id": request_id, "org_id": tenant.org_id, "url": self.url}
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bench.stack_env["KAFKA_BOOTSTRAP_SERVERS"],
            acks="all",
        )
        await producer.start()
        try:
            started_at: datetime = await db.fetchval("SELECT clock_timestamp()")
            started = time.perf_counter()
            await producer.send_and_wait(
                self.topic,
                json.dumps(message).encode(),
                key=request_id.encode(),
                headers=[("service", b"hccm")],
            )
        finally:
            await producer.stop()
        manifest = await self._wait_manifest(tenant, request_id, started)
        seconds = time.perf_counter() - started
        rows = await self.check_summary(tenant)
        run = SummaryRun(tenant, seconds, rows)
        run.stages = {
            "download and convert": (
                manifest["created_at"] - started_at
            ).total_seconds(),
            "summary and close": (
                manifest["completed_at"] - manifest["created_at"]
            ).total_seconds(),
        }
        await self._wait_automatic_cost_run(tenant)
        run.automatic_cost_seconds = time.perf_counter() - started - seconds
        await self.assign_cost_model(tenant)
        return run

    async def _wait_manifest(
        self, tenant: OcpTenant, request_id: str, started: float
    ) -> Any:
        db = self._db()
        while time.perf_counter() - started < self.bench.timeout_s:
            row = await db.fetchrow(
                "SELECT * FROM costpipe.manifests WHERE provider_uuid = $1 AND assembly_id = $2",
                tenant.provider_uuid,
                self.cluster.manifest_uuid,
            )
            if row is not None and row["status"] == "failed":
                raise RuntimeError(
                    f"manifest {row['id']} of {tenant.schema} failed: {row['error']}"
                )
            if row is not None and row["status"] == "complete":
                return row
            rejected = await db.fetchval(
                "SELECT error FROM costpipe.dead_letters WHERE topic = $1 AND event LIKE $2",
                self.topic,
                f"%{request_id}%",
            )
            if rejected is not None:
                raise RuntimeError(
                    f"upload {request_id} of {tenant.schema} was rejected: {rejected}"
                )
            await asyncio.sleep(POLL_INTERVAL_S)
        raise TimeoutError(
            f"the OpenShift manifest of {tenant.schema} is not complete after"
            f" {self.bench.timeout_s:.0f} s; see the service logs in {self._log_dir()}"
        )

    def _log_dir(self) -> Path | None:
        group = self.bench.services
        return group.log_dir if group is not None else None

    async def _wait_automatic_cost_run(self, tenant: OcpTenant) -> None:
        """Wait until the update_cost_model_costs that the summary requested is processed."""
        db = self._db()
        deadline = time.perf_counter() + self.bench.timeout_s
        event_id: uuid.UUID | None = None
        while time.perf_counter() < deadline:
            if event_id is None:
                event_id = await self._automatic_event_id(tenant)
            # processed_at is the transaction's start, so the row's visibility (its
            # commit) marks the end of the run.
            if event_id is not None:
                if await db.fetchval(
                    "SELECT 1 FROM costpipe.processed_events WHERE event_id = $1",
                    event_id,
                ):
                    return
                await self._raise_if_dead_lettered(event_id)
            await asyncio.sleep(POLL_INTERVAL_S)
        raise TimeoutError(
            f"the cost-model run after the summary of {tenant.schema} was not processed"
            f" within {self.bench.timeout_s:.0f} s"
        )

    async def _automatic_event_id(self, tenant: OcpTenant) -> uuid.UUID | None:
        values = await self._db().fetch(
            "SELECT f ->> 'value' AS value FROM costpipe.processed_events p,"
            " jsonb_array_elements(p.followups) AS f"
            " WHERE p.task = $1 AND f ->> 'value' LIKE $2",
            UPDATE_SUMMARY_TABLES,
            f"%{tenant.provider_uuid}%",
        )
        for row in values:
            envelope = json.loads(row["value"])
            if envelope.get("task") == UPDATE_COST_MODEL_COSTS:
                return uuid.UUID(envelope["event_id"])
        return None

    async def _raise_if_dead_lettered(self, event_id: uuid.UUID) -> None:
        letter = await self._db().fetchval(
            "SELECT error FROM costpipe.dead_letters WHERE event_id = $1", event_id
        )
        if letter is not None:
            raise RuntimeError(
                f"update_cost_model_costs {event_id} was dead-lettered: {letter}"
            )

    async def price(self, tenant: OcpTenant) -> CostRun:
        """Time update_cost_model_costs for the whole month, then check the costs."""
        db = self._db()
        payload = {
            "schema_name": tenant.schema,
            "provider_uuid": str(tenant.provider_uuid),
            "start_date": self.cluster.month_start.isoformat(),
            "end_date": self.cluster.month_end.isoformat(),
        }

        started = time.perf_counter()
        response = await self._post(
            "costmodel", f"/tasks/{UPDATE_COST_MODEL_COSTS}", payload
        )
        if response.status_code != 202:
            raise RuntimeError(
                f"POST /tasks/{UPDATE_COST_MODEL_COSTS} failed with {response.status_code}: {response.text}"
            )
        event_id = uuid.UUID(response.json()["event_id"])

        while time.perf_counter() - started < self.bench.timeout_s:
            if await db.fetchval(
                "SELECT 1 FROM costpipe.processed_events WHERE event_id = $1", event_id
            ):
                break
            await self._raise_if_dead_lettered(event_id)
            await asyncio.sleep(POLL_INTERVAL_S)
        else:
            raise TimeoutError(
                f"update_cost_model_costs {event_id} not processed after {self.bench.timeout_s:.0f} s"
            )
        seconds = time.perf_counter() - started

        cost_rows = await self.check_costs(tenant)
        usage_rows = await db.fetchval(
            f'SELECT count(*) FROM "{tenant.schema}".{SUMMARY_TABLE} WHERE source_uuid = $1',
            tenant.provider_uuid,
        )
        return CostRun(seconds, cost_rows, int(usage_rows))

    async def check_summary(self, tenant: OcpTenant) -> int:
        """Compare the summary per day with the files; return its row count.

        Raises ``MismatchError`` naming the first differences.
        """
        rows = await self._db().fetch(
            "SELECT usage_start, data_source, count(*) AS n,"
            " sum(line_item_count) AS items,"
            " sum(pod_usage_cpu_core_hours) AS cpu,"
            " sum(pod_usage_memory_gigabyte_hours) AS memory,"
            " sum(persistentvolumeclaim_usage_gigabyte_months) AS claim_usage"
            f' FROM "{tenant.schema}".{SUMMARY_TABLE} WHERE source_uuid = $1'
            " GROUP BY usage_start, data_source",
            tenant.provider_uuid,
        )
        found = {(row["usage_start"], row["data_source"]): dict(row) for row in rows}
        _raise_if_wrong(
            f"{tenant.schema}: the OpenShift summary differs from the report files",
            summary_differences(found, self.cluster.days),
        )
        return sum(int(row["n"]) for row in rows)

    async def check_costs(self, tenant: OcpTenant) -> int:
        """Compare each day's cost per kind with the rates, to the cent; return the cost rows.

        Raises ``MismatchError`` naming the first differences, among them a day whose
        distributed rows do not net to zero.
        """
        rows = await self._db().fetch(
            "SELECT usage_start, cost_kind, sum(cost) AS cost, count(*) AS n"
            f' FROM "{tenant.schema}".{COST_TABLE} WHERE source_uuid = $1'
            " GROUP BY usage_start, cost_kind",
            tenant.provider_uuid,
        )
        found: dict[date, dict[str, Decimal]] = defaultdict(dict)
        for row in rows:
            found[row["usage_start"]][row["cost_kind"]] = row["cost"]
        _raise_if_wrong(
            f"{tenant.schema}: the OpenShift costs differ from the rates applied to"
            " the report files",
            cost_differences(found, self.cluster.days),
        )
        return sum(int(row["n"]) for row in rows)


def _raise_if_wrong(check: str, wrong: list[str]) -> None:
    if wrong:
        raise MismatchError(f"{check} in {len(wrong)} figure(s): {'; '.join(wrong[:5])}")


def cost_model_body(tenant: OcpTenant) -> dict[str, Any]:
    """Return the ``POST /cost-models`` body of the benchmark's cost model for ``tenant``."""
    return {
        "name": f"benchmark {tenant.schema}",
        "source_type": "OCP",
        "source_uuids": [str(tenant.provider_uuid)],
        "rates": [
            {
                "metric": {"name": metric},
                "cost_type": cost_type,
                "tiered_rates": [{"value": value, "unit": "USD"}],
            }
            for metric, _, cost_type, value in COST_MODEL_RATES
        ],
        "markup": {"value": str(MARKUP_PERCENT), "unit": "percent"},
        "distribution_info": {
            "distribution_type": "cpu",
            "platform_cost": True,
            "worker_cost": True,
            "storage_unattributed": True,
        },
        "currency": "USD",
    }


# --- sizes and the time budget ------------------------------------------------------

KINDS = ("summary", "cost model")


@dataclass
class _SizeRun:
    ocp: OpenShiftBench
    repeats: int
    deadline: float
    summaries: list[SummaryRun] = field(default_factory=list)
    costs: list[CostRun] = field(default_factory=list)
    # Wall seconds of each kind's runs, with tenant set-up and checks, to budget repeats.
    durations: dict[str, list[float]] = field(
        default_factory=lambda: {kind: [] for kind in KINDS}
    )
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"OpenShift {self.ocp.cluster.pod_rows:,} pod rows"

    async def run(self, kind: str) -> None:
        log.info("%s, %s run %d", self.label, kind, len(self.durations[kind]) + 1)
        started = time.monotonic()
        if kind == "summary":
            summary = await self.ocp.summarise()
            self.summaries.append(summary)
            log.info("%s, summary took %.1f s", self.label, summary.seconds)
        else:
            cost = await self.ocp.price(self.summaries[-1].tenant)
            self.costs.append(cost)
            log.info("%s, cost-model run took %.1f s", self.label, cost.seconds)
        self.durations[kind].append(time.monotonic() - started)

    def fits(self, kind: str) -> bool:
        return time.monotonic() + self.durations[kind][-1] <= self.deadline

    async def measure(self) -> None:
        for kind in KINDS:
            await self.run(kind)
        for _ in range(1, self.repeats):
            for kind in KINDS:
                if self.fits(kind):
                    await self.run(kind)
                else:
                    self.skipped[kind] = self.skipped.get(kind, 0) + 1
                    log.info(
                        "%s, %s run skipped: it would not finish within the time budget",
                        self.label,
                        kind,
                    )

    def results(self) -> dict[str, Any]:
        from bench.measure import Stats

        summaries = self.summaries
        return {
            "summary": {
                "seconds": Stats.of([s.seconds for s in summaries]).as_dict(),
                "runs": [s.seconds for s in summaries],
                "stages": {
                    name: Stats.of([s.stages[name] for s in summaries]).as_dict()
                    for name in summaries[0].stages
                },
                "automatic_cost_seconds": [s.automatic_cost_seconds for s in summaries],
            },
            "summary_rows": summaries[-1].summary_rows,
            "cost_model": {
                "seconds": Stats.of([c.seconds for c in self.costs]).as_dict(),
                "runs": [c.seconds for c in self.costs],
            },
            "cost_rows": self.costs[-1].cost_rows,
            "skipped": dict(self.skipped),
        }


def size_deadline(
    budget_end: float, rows: int, rows_left: list[int], now: float
) -> float:
    """Return when optional repeats of this size must stop, from its share of the budget."""
    weights = [r + FIXED_SHARE_ROWS for r in rows_left]
    remaining = max(0.0, budget_end - now)
    return now + remaining * (rows + FIXED_SHARE_ROWS) / sum(weights)


async def measure_cluster(
    cluster: ScaledCluster,
    stack_env: dict[str, str],
    scratch: Path,
    timeout_s: float,
    repeats: int,
    deadline: float,
) -> dict[str, Any]:
    """Measure one size on freshly started services and return its results."""
    from bench.measure import load_average
    from bench.pipeline import CostpipeBench

    # A topic of its own keeps the announcements of earlier sizes away from the
    # fresh consumer group, which reads the topic from its start.
    topic = f"bench.upload.announce.{uuid.uuid4().hex[:8]}"
    bench = CostpipeBench(
        {**stack_env, "UPLOAD_ANNOUNCE_TOPIC": topic}, scratch, timeout_s
    )
    result: dict[str, Any] = {
        "copies": cluster.copies,
        "pod_rows": cluster.pod_rows,
        "storage_rows": cluster.storage_rows,
        "csv_bytes": cluster.csv_bytes,
        "archive_bytes": cluster.archive_bytes,
        "days": len(cluster.days),
        "nodes": cluster.nodes,
        "load_start": load_average(),
    }
    await bench.open()
    try:
        bench.start_services(f"ocp-{cluster.pod_rows}")
        ocp = OpenShiftBench(bench, cluster, topic)
        await ocp.upload_payload()
        sized = _SizeRun(ocp, repeats, deadline)
        await sized.measure()
        result |= sized.results()
        result["service_peak_rss"] = bench.service_peaks()
    finally:
        await bench.close()
    result["load_end"] = load_average()
    return result


async def measure_openshift(
    clusters: list[ScaledCluster],
    stack_env: dict[str, str],
    scratch: Path,
    *,
    timeout_s: float,
    repeats: int,
    budget_end: float,
    on_size: Callable[[list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure every size in order; ``on_size(results so far)`` is called after each."""
    measured: list[dict[str, Any]] = []
    for index, cluster in enumerate(clusters):
        deadline = size_deadline(
            budget_end,
            cluster.pod_rows,
            [c.pod_rows for c in clusters[index:]],
            time.monotonic(),
        )
        measured.append(
            await measure_cluster(
                cluster, stack_env, scratch, timeout_s, repeats, deadline
            )
        )
        if on_size is not None:
            on_size(measured)
    return measured
