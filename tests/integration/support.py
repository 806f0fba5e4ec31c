"""Helpers of the integration tests: CUR deliveries on disk, uploads and waits."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import time
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

LEGACY_HEADER = [
    "identity/TimeInterval",
    "bill/PayerAccountId",
    "lineItem/UsageAccountId",
    "lineItem/LineItemType",
    "lineItem/UsageStartDate",
    "lineItem/ProductCode",
    "lineItem/ResourceId",
    "lineItem/UsageAmount",
    "lineItem/UnblendedCost",
    "lineItem/BlendedCost",
    "savingsPlan/SavingsPlanEffectiveCost",
    "lineItem/CurrencyCode",
    "product/region",
    "resourceTags/user:team",
]


@dataclass(frozen=True)
class Delivery:
    """A CUR delivery written under ``root`` as AWS lays it out."""

    root: Path
    prefix: str
    report: str
    month: date
    assembly_id: str
    keys: tuple[str, ...]

    @property
    def manifest_key(self) -> str:
        return f"{self.prefix}/{self.report}/{month_range(self.month)}/{self.report}-Manifest.json"


def month_range(month: date) -> str:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return f"{month:%Y%m%d}-{following:%Y%m%d}"


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def write_delivery(
    root: Path,
    prefix: str,
    report: str,
    month: date,
    files: dict[str, bytes],
    *,
    assembly_id: str | None = None,
    gzip_files: bool = True,
    extra_keys: tuple[str, ...] = (),
) -> Delivery:
    """Write a manifest and report files; ``files`` maps file names to CSV bytes."""
    assembly = assembly_id or str(uuid.uuid4())
    base = f"{prefix}/{report}/{month_range(month)}"
    keys = []
    for name, body in files.items():
        key = f"{base}/{assembly}/{name}"
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(body) if gzip_files else body)
        keys.append(key)
    manifest = {
        "assemblyId": assembly,
        "reportName": report,
        "billingPeriod": {"start": f"{month:%Y%m%d}T000000.000Z"},
        "reportKeys": keys + list(extra_keys),
    }
    for manifest_path in (
        root / base / f"{report}-Manifest.json",
        root / base / assembly / f"{report}-Manifest.json",
    ):
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps(manifest))
    return Delivery(root, prefix, report, month, assembly, tuple(keys) + extra_keys)


async def wait_for(
    check: Any, timeout_s: float, what: str, interval_s: float = 0.5
) -> Any:
    """Poll the coroutine function ``check`` until it returns a truthy value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


async def wait_manifest(
    pool: asyncpg.Pool,
    provider_uuid: uuid.UUID,
    assembly_id: str,
    timeout_s: float = 180.0,
) -> asyncpg.Record:
    """Wait until the delivery's manifest is complete or failed; return its row."""

    async def finished() -> asyncpg.Record | None:
        return await pool.fetchrow(
            "SELECT * FROM costpipe.manifests WHERE provider_uuid = $1 AND assembly_id = $2"
            " AND status IN ('complete', 'failed')",
            provider_uuid,
            assembly_id,
        )

    return await wait_for(finished, timeout_s, f"manifest {assembly_id}")


async def daily_totals(
    pool: asyncpg.Pool,
    schema: str,
    provider_uuid: uuid.UUID,
    column: str = "unblended_cost",
) -> dict[date, Decimal]:
    rows = await pool.fetch(
        f'SELECT usage_start, sum({column}) AS total FROM "{schema}".reporting_awscostentrylineitem_daily_summary'
        " WHERE source_uuid = $1 GROUP BY usage_start ORDER BY usage_start",
        provider_uuid,
    )
    return {row["usage_start"]: row["total"] for row in rows}


async def summary_snapshot(
    pool: asyncpg.Pool, schema: str, provider_uuid: uuid.UUID
) -> list[tuple[Any, ...]]:
    """Every summary row without its random uuid, sorted, for equality checks."""
    rows = await pool.fetch(
        "SELECT usage_start, usage_account_id, product_code, product_family, region, availability_zone,"
        " resource_ids, resource_count, line_item_type, unit, currency_code, tags::text, usage_amount, unblended_cost,"
        " blended_cost, savingsplan_effective_cost, line_item_count, instance_type, charge_category,"
        " usage_date_missing, cost_category::text, calculated_amortized_cost, net_unblended_cost,"
        " public_on_demand_cost"
        f' FROM "{schema}".reporting_awscostentrylineitem_daily_summary WHERE source_uuid = $1',
        provider_uuid,
    )
    return sorted((tuple(row) for row in rows), key=repr)


@dataclass
class Admin:
    """Calls to one service's admin API."""

    url: str
    token: str

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def trigger(self, task: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.post(f"/tasks/{task}", payload)
        assert response.status_code == 202, response.text
        result: dict[str, Any] = response.json()
        return result


async def read_topic(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Read every message of ``topic`` from the beginning, as JSON objects."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer.force_metadata_update() if hasattr(
                consumer, "force_metadata_update"
            ) else None
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        messages: list[dict[str, Any]] = []
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    messages.append(json.loads(record.value))
        return messages
    finally:
        await consumer.stop()
