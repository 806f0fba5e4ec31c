"""Time costpipe itself: report files in the S3 server to the daily summary in PostgreSQL.

Each run gets a fresh tenant schema, provider and report prefix, registered through
the sources service. The delivery is uploaded before the clock starts. The clock runs
from the admin call ``POST /tasks/masu.celery.tasks.check_report_updates`` on the
downloader until the manifest is ``complete`` in ``costpipe.manifests``, polled every
0.2 s. Every run is then checked against the Decimal totals of the report files.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.data import ScaledMonth, delivery_objects
from bench.measure import peak_rss_bytes
from services import launcher
from shared.objectstore import S3ObjectStore
from shared.settings import Settings

__all__ = ["CostpipeBench", "IngestRun", "MismatchError", "Tenant"]

log = logging.getLogger(__name__)

REPORT_BUCKET = "bench-reports"
DATA_BUCKET = "bench-data"
POLL_INTERVAL_S = 0.2
# Polls of the summarizer log for a processed summary's line (5 s in all).
LOG_WAIT_TRIES = 25
CHECK_REPORT_UPDATES = "masu.celery.tasks.check_report_updates"
UPDATE_SUMMARY_TABLES = "masu.processor.tasks.update_summary_tables"
SUMMARY_TABLE = "reporting_awscostentrylineitem_daily_summary"
CENT = Decimal("0.01")


class MismatchError(RuntimeError):
    """The daily summary disagrees with the report files."""


@dataclass(frozen=True)
class Tenant:
    """One run's tenant schema, provider and report prefix."""

    schema: str
    provider_uuid: uuid.UUID
    prefix: str


@dataclass
class IngestRun:
    """One timed ingestion and where its time went, from the manifest's timestamps."""

    tenant: Tenant
    seconds: float
    summary_rows: int
    stages: dict[str, float] = field(default_factory=dict)
    file_seconds: list[float] = field(default_factory=list)
    # The summarizer's own elapsed_s of update_summary_tables, from its log.
    summary_task_seconds: float | None = None


def cents(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(CENT, rounding=ROUND_HALF_EVEN)


class CostpipeBench:
    """The local stack's database and S3 server, and the service processes of one size."""

    def __init__(
        self, stack_env: dict[str, str], scratch: Path, timeout_s: float
    ) -> None:
        self.stack_env = stack_env
        self.scratch = scratch
        self.timeout_s = timeout_s
        self.token = uuid.uuid4().hex
        self.pool: asyncpg.Pool | None = None
        self.store = S3ObjectStore(self._settings())
        self.services: launcher.ServiceGroup | None = None

    def _settings(self) -> Settings:
        known = {k: v for k, v in self.stack_env.items() if k in Settings.model_fields}
        return Settings(**known)  # type: ignore[arg-type]

    async def open(self) -> None:
        self.pool = await asyncpg.create_pool(
            self.stack_env["DATABASE_URL"], min_size=1, max_size=2
        )
        await self.store.ensure_bucket(REPORT_BUCKET)
        await self.store.ensure_bucket(DATA_BUCKET)

    async def close(self) -> None:
        self.stop_services()
        if self.pool is not None:
            await self.pool.close()
        await self.store.close()

    def _db(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("CostpipeBench.open() was not called")
        return self.pool

    def _group(self) -> launcher.ServiceGroup:
        if self.services is None:
            raise RuntimeError("no services are running; call start_services() first")
        return self.services

    def start_services(self, label: str) -> None:
        """Start every service as ``make run`` does, on a topic prefix of their own.

        Fresh processes make each service's peak RSS belong to this size alone. The
        scheduler runs without its hourly report check, because the benchmark sends that
        event itself and a second poll during a run would add noise.
        """
        self.stop_services()
        env = {
            **self.stack_env,
            "COSTPIPE_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
            "COSTPIPE_ADMIN_TOKEN": self.token,
            "COSTPIPE_WORK_DIR": str(self.scratch / "work" / label),
            "COSTPIPE_DATA_BUCKET": DATA_BUCKET,
            # The nise month is whatever month bench/data/ was generated in.
            "INITIAL_INGEST_NUM_MONTHS": "1200",
        }
        group = launcher.ServiceGroup(env=env, log_dir=self.scratch / "logs" / label)
        log.info("starting the services for %s (logs in %s)", label, group.log_dir)
        group.start(extra={"scheduler": {"SCHEDULE_REPORT_CHECKS": "false"}})
        self.services = group
        group.wait_ready(timeout_s=180)

    def stop_services(self) -> None:
        if self.services is not None:
            self.services.stop()
            self.services = None

    def service_peaks(self) -> dict[str, int]:
        """Return each running service's peak RSS since it started, in bytes."""
        group = self._group()
        peaks = {}
        for name, process in group.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"service {name} exited with {process.returncode}; see {group.log_dir / (name + '.log')}"
                )
            peaks[name] = peak_rss_bytes(process.pid)
        return peaks

    def _post(self, service: str, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{self._group().url(service)}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def register_tenant(self) -> Tenant:
        """Register a fresh AWS source through the sources service."""
        tenant = Tenant(
            schema=f"org{random.randrange(10**9, 10**10)}",
            provider_uuid=uuid.uuid4(),
            prefix=f"bench-{uuid.uuid4().hex[:8]}",
        )
        response = self._post(
            "sources",
            "/sources",
            {
                "schema_name": tenant.schema,
                "provider_uuid": str(tenant.provider_uuid),
                "name": f"benchmark {tenant.prefix}",
                "billing_source": {
                    "bucket": REPORT_BUCKET,
                    "report_prefix": tenant.prefix,
                    "report_name": "cur",
                },
            },
        )
        if response.status_code != 201:
            raise RuntimeError(
                f"POST /sources failed with {response.status_code}: {response.text}"
            )
        return tenant

    async def upload(self, month: ScaledMonth, tenant: Tenant) -> str:
        """Upload one delivery of ``month`` under the tenant's prefix; return its assembly id."""
        assembly_id = str(uuid.uuid4())
        files, manifests = delivery_objects(month, tenant.prefix, assembly_id)
        await asyncio.gather(
            *(self.store.put_file(REPORT_BUCKET, key, path) for key, path in files)
        )
        # The manifest goes last, so a report check never finds a delivery with files missing.
        for key, body in manifests:
            await self.store.put_bytes(REPORT_BUCKET, key, body)
        return assembly_id

    async def ingest(self, month: ScaledMonth) -> IngestRun:
        """Time one month from the report check to a complete manifest, then check it."""
        tenant = self.register_tenant()
        assembly_id = await self.upload(month, tenant)
        db = self._db()
        started_at: datetime = await db.fetchval("SELECT clock_timestamp()")
        started = time.perf_counter()
        response = self._post(
            "downloader",
            f"/tasks/{CHECK_REPORT_UPDATES}",
            {"provider_uuid": str(tenant.provider_uuid)},
        )
        if response.status_code != 202:
            raise RuntimeError(
                f"POST /tasks/{CHECK_REPORT_UPDATES} failed with {response.status_code}: {response.text}"
            )
        manifest = await self._wait_manifest(tenant, assembly_id, started)
        seconds = time.perf_counter() - started
        summary_rows = await self.check_summary(tenant, month)
        run = IngestRun(tenant=tenant, seconds=seconds, summary_rows=summary_rows)
        await self._add_stages(run, manifest, started_at)
        run.summary_task_seconds = self._summary_task_logged(tenant)
        return run

    async def _wait_manifest(
        self, tenant: Tenant, assembly_id: str, started: float
    ) -> asyncpg.Record:
        db = self._db()
        while time.perf_counter() - started < self.timeout_s:
            row = await db.fetchrow(
                "SELECT * FROM costpipe.manifests WHERE provider_uuid = $1 AND assembly_id = $2",
                tenant.provider_uuid,
                assembly_id,
            )
            if row is not None and row["status"] == "failed":
                raise RuntimeError(
                    f"manifest {row['id']} of {tenant.schema} failed: {row['error']}"
                )
            if row is not None and row["status"] == "complete":
                return row
            await asyncio.sleep(POLL_INTERVAL_S)
        raise TimeoutError(
            f"manifest {assembly_id} of {tenant.schema} not complete after {self.timeout_s:.0f} s;"
            f" see the service logs in {self._group().log_dir}"
        )

    async def _add_stages(
        self, run: IngestRun, manifest: asyncpg.Record, started_at: datetime
    ) -> None:
        files = await self._db().fetch(
            "SELECT started_at, completed_at FROM costpipe.report_files WHERE manifest_id = $1",
            manifest["id"],
        )
        state = json.loads(manifest["state"])
        downloaded = datetime.fromisoformat(state["download"]["end"])
        # mark_manifest_complete stamps the summary's end again, so the summary and
        # the manifest's close are one stage here.
        run.stages = {
            "report check": (manifest["created_at"] - started_at).total_seconds(),
            "files to Parquet": (downloaded - manifest["created_at"]).total_seconds(),
            "summary and close": (
                manifest["completed_at"] - downloaded
            ).total_seconds(),
        }
        run.file_seconds = sorted(
            (f["completed_at"] - f["started_at"]).total_seconds() for f in files
        )

    async def check_summary(
        self, tenant: Tenant, month: ScaledMonth, days: tuple[date, date] | None = None
    ) -> int:
        """Compare the summary's unblended cost per usage day with the files' to the cent.

        Returns the number of summary rows in the range. Raises ``MismatchError`` naming
        the first days that differ, or when the line-item count is not the month's rows.
        """
        low, high = days or (min(month.daily_totals), max(month.daily_totals))
        rows = await self._db().fetch(
            f"SELECT usage_start, sum(unblended_cost) AS cost, sum(line_item_count) AS items, count(*) AS n"
            f' FROM "{tenant.schema}".{SUMMARY_TABLE}'
            " WHERE source_uuid = $1 AND usage_start BETWEEN $2 AND $3 GROUP BY usage_start",
            tenant.provider_uuid,
            low,
            high,
        )
        found = {row["usage_start"]: row["cost"] for row in rows}
        expected = {
            day: cost for day, cost in month.daily_totals.items() if low <= day <= high
        }
        wrong = [
            f"{day}: summary {cents(found.get(day))}, files {cents(expected.get(day))}"
            for day in sorted(set(found) | set(expected))
            if cents(found.get(day)) != cents(expected.get(day))
        ]
        if wrong:
            raise MismatchError(
                f"{tenant.schema}: the daily summary differs from the report files on {len(wrong)} day(s): {'; '.join(wrong[:5])}"
            )
        items = sum(int(row["items"]) for row in rows)
        if days is None and items != month.rows:
            raise MismatchError(
                f"{tenant.schema}: the summary counts {items} line items, the files have {month.rows}"
            )
        return sum(int(row["n"]) for row in rows)

    async def resummarise(
        self, tenant: Tenant, month: ScaledMonth, first: date, last: date
    ) -> tuple[float, int]:
        """Time update_summary_tables for ``first`` to ``last`` until its event is processed.

        Returns the seconds and the summary rows it wrote. Raises ``RuntimeError`` when
        the event was dead-lettered or skipped because the range was locked.
        """
        db = self._db()
        payload = {
            "schema": tenant.schema,
            "provider_type": "AWS",
            "provider_uuid": str(tenant.provider_uuid),
            "start_date": first.isoformat(),
            "end_date": last.isoformat(),
        }
        started = time.perf_counter()
        response = self._post("summarizer", f"/tasks/{UPDATE_SUMMARY_TABLES}", payload)
        if response.status_code != 202:
            raise RuntimeError(
                f"POST /tasks/{UPDATE_SUMMARY_TABLES} failed with {response.status_code}: {response.text}"
            )
        event_id = uuid.UUID(response.json()["event_id"])
        while time.perf_counter() - started < self.timeout_s:
            if await db.fetchval(
                "SELECT 1 FROM costpipe.processed_events WHERE event_id = $1", event_id
            ):
                break
            letter = await db.fetchval(
                "SELECT error FROM costpipe.dead_letters WHERE event_id = $1", event_id
            )
            if letter is not None:
                raise RuntimeError(
                    f"update_summary_tables {event_id} was dead-lettered: {letter}"
                )
            await asyncio.sleep(POLL_INTERVAL_S)
        else:
            raise TimeoutError(
                f"update_summary_tables {event_id} not processed after {self.timeout_s:.0f} s"
            )
        seconds = time.perf_counter() - started
        # The summarizer logs the rows just after its transaction commits, so the
        # line can trail the processed-event row by a moment.
        for _ in range(LOG_WAIT_TRIES):
            written = self._summary_rows_logged(event_id)
            if written is not None:
                break
            await asyncio.sleep(POLL_INTERVAL_S)
        else:
            path = self._group().log_dir / "summarizer.log"
            raise RuntimeError(
                f"update_summary_tables {event_id} wrote no summary; see {path}"
            )
        await self.check_summary(tenant, month, (first, last))
        return seconds, written

    def _summary_task_logged(self, tenant: Tenant) -> float | None:
        """Return the elapsed seconds the summarizer logged for the tenant's summary task."""
        path = self._group().log_dir / "summarizer.log"
        elapsed = None
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if tenant.schema not in line or UPDATE_SUMMARY_TABLES not in line:
                    continue
                entry = json.loads(line)
                if (
                    entry.get("message") == "task finished"
                    and entry.get("schema") == tenant.schema
                ):
                    elapsed = float(entry["elapsed_s"])
        return elapsed

    def _summary_rows_logged(self, event_id: uuid.UUID) -> int | None:
        """Return the rows that the summarizer logged for ``event_id``'s summary.

        None means it logged none (yet): a task skipped for its lock never does, and
        its time is not a summary's.
        """
        path = self._group().log_dir / "summarizer.log"
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if str(event_id) not in line or "daily summary replaced" not in line:
                    continue
                entry = json.loads(line)
                if entry.get("event_id") == str(event_id):
                    return int(entry["rows"])
        return None
