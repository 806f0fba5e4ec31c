"""A koku-nise CUR month through the real broker, PostgreSQL and S3 server."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services import launcher
from services.reports import find_cur_deliveries, report_daily_totals
from shared.objectstore import S3ObjectStore
from shared.settings import Settings
from tests.integration.conftest import REPORT_BUCKET, Tenant, admin_of, register_tenant
from tests.integration.support import (
    daily_totals,
    read_topic,
    summary_snapshot,
    wait_for,
    wait_manifest,
)

pytestmark = pytest.mark.integration

CHECK = "masu.celery.tasks.check_report_updates"
UPDATE = "masu.processor.tasks.update_summary_tables"
CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def column_totals(root: Path, column: str) -> Decimal:
    """Sum one CUR column over every report file under ``root``, skipping empty values."""
    total = Decimal(0)
    for path in root.rglob("*.csv.gz"):
        with io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                value = row.get(column, "").strip()
                if value and value != "None":
                    total += Decimal(value)
    return total


def line_count(root: Path) -> int:
    count = 0
    for path in root.rglob("*.csv.gz"):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            count += sum(1 for _ in csv.DictReader(handle))
    return count


async def upload_tree(
    store: S3ObjectStore, root: Path, prefix_from: str, prefix_to: str
) -> None:
    """Upload a CUR folder, moving it from ``prefix_from`` to ``prefix_to``."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        key = path.relative_to(root).as_posix()
        key = prefix_to + key[len(prefix_from) :]
        if path.name.endswith("-Manifest.json"):
            manifest = json.loads(path.read_text())
            manifest["reportKeys"] = [
                prefix_to + k[len(prefix_from) :] for k in manifest["reportKeys"]
            ]
            await store.put_bytes(REPORT_BUCKET, key, json.dumps(manifest).encode())
        else:
            await store.put_file(REPORT_BUCKET, key, path)


def assembly_of(root: Path) -> str:
    manifest = next(
        p for p in root.rglob("*-Manifest.json") if len(p.relative_to(root).parts) == 4
    )
    return str(json.loads(manifest.read_text())["assemblyId"])


@dataclass(frozen=True)
class Ingested:
    tenant: Tenant
    root: Path
    assembly_id: str


@pytest.fixture(scope="module")
async def ingested(
    nise_month: Path,
    services: launcher.ServiceGroup,
    settings: Settings,
    store: S3ObjectStore,
    pool: asyncpg.Pool,
) -> Ingested:
    tenant = register_tenant(services, settings)
    await upload_tree(store, nise_month, "nise", tenant.prefix)
    admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )
    assembly = assembly_of(nise_month)
    manifest = await wait_manifest(pool, tenant.provider_uuid, assembly, timeout_s=300)
    assert manifest["status"] == "complete", manifest["error"]
    return Ingested(tenant, nise_month, assembly)


async def test_month_daily_unblended_matches_report(
    ingested: Ingested, pool: asyncpg.Pool
) -> None:
    delivery = find_cur_deliveries(ingested.root)[0]
    expected = report_daily_totals(delivery)
    got = await daily_totals(
        pool, ingested.tenant.schema, ingested.tenant.provider_uuid
    )
    assert sorted(got) == sorted(expected)
    for day, total in expected.items():
        assert cents(got[day]) == cents(total), day


async def test_month_cost_measures_match_report(
    ingested: Ingested, pool: asyncpg.Pool
) -> None:
    row = await pool.fetchrow(
        "SELECT sum(unblended_cost) AS unblended, sum(blended_cost) AS blended,"
        " sum(savingsplan_effective_cost) AS sp, sum(line_item_count) AS lines"
        f' FROM "{ingested.tenant.schema}".reporting_awscostentrylineitem_daily_summary WHERE source_uuid = $1',
        ingested.tenant.provider_uuid,
    )
    assert abs(
        row["unblended"] - column_totals(ingested.root, "lineItem/UnblendedCost")
    ) < Decimal("1e-9")
    assert abs(
        row["blended"] - column_totals(ingested.root, "lineItem/BlendedCost")
    ) < Decimal("1e-9")
    assert abs(
        row["sp"] - column_totals(ingested.root, "savingsPlan/SavingsPlanEffectiveCost")
    ) < Decimal("1e-9")
    assert row["lines"] == line_count(ingested.root)


async def test_account_ids_keep_leading_zeros(
    ingested: Ingested, pool: asyncpg.Pool
) -> None:
    accounts = set()
    for path in ingested.root.rglob("*.csv.gz"):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            accounts |= {
                row["lineItem/UsageAccountId"] for row in csv.DictReader(handle)
            }
    stored = await pool.fetch(
        f'SELECT DISTINCT usage_account_id FROM "{ingested.tenant.schema}".reporting_awscostentrylineitem_daily_summary'
        " WHERE source_uuid = $1",
        ingested.tenant.provider_uuid,
    )
    assert {row["usage_account_id"] for row in stored} == accounts


async def processed(pool: asyncpg.Pool, event_id: str) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT count(*) FROM costpipe.processed_events WHERE event_id = $1",
            uuid.UUID(event_id),
        )
    )


async def test_redelivered_events_leave_summary_identical(
    ingested: Ingested,
    pool: asyncpg.Pool,
    producer: Any,
    settings: Settings,
    services: launcher.ServiceGroup,
) -> None:
    tenant = ingested.tenant
    before = await summary_snapshot(pool, tenant.schema, tenant.provider_uuid)
    prefix = settings.COSTPIPE_TOPIC_PREFIX
    replayed = 0
    for topic in (f"{prefix}.download", f"{prefix}.summary", f"{prefix}.priority"):
        for event in await read_topic(settings.KAFKA_BOOTSTRAP_SERVERS, topic):
            if event.get("provider_uuid") == str(tenant.provider_uuid):
                key = f"{tenant.schema}:{tenant.provider_uuid}".encode()
                await producer.send_and_wait(topic, json.dumps(event).encode(), key=key)
                replayed += 1
    assert replayed >= 4
    month = min(before)[0]
    marker = admin_of(services, settings, "summarizer").trigger(
        UPDATE,
        {
            "schema": tenant.schema,
            "provider_type": "AWS",
            "provider_uuid": str(tenant.provider_uuid),
            "start_date": month.isoformat(),
        },
    )
    await wait_for(lambda: processed(pool, marker["event_id"]), 120, "the marker event")
    after = await summary_snapshot(pool, tenant.schema, tenant.provider_uuid)
    manifests = await pool.fetchval(
        "SELECT count(*) FROM costpipe.manifests WHERE provider_uuid = $1",
        tenant.provider_uuid,
    )
    assert manifests == 1
    assert after == before


async def test_second_report_check_adds_no_manifest(
    ingested: Ingested,
    pool: asyncpg.Pool,
    settings: Settings,
    services: launcher.ServiceGroup,
) -> None:
    tenant = ingested.tenant
    before = await summary_snapshot(pool, tenant.schema, tenant.provider_uuid)
    check = admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )
    await wait_for(
        lambda: processed(pool, check["event_id"]), 60, "the second report check"
    )
    manifests = await pool.fetchval(
        "SELECT count(*) FROM costpipe.manifests WHERE provider_uuid = $1",
        tenant.provider_uuid,
    )
    assert manifests == 1
    assert await summary_snapshot(pool, tenant.schema, tenant.provider_uuid) == before


def restate(root: Path, target: Path, assembly: str) -> Path:
    """Copy a delivery under a new assembly id, keeping two rows in three at 1.5 times the cost."""
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        relative = (
            path.relative_to(root).as_posix().replace(assembly_of(root), "RESTATED")
        )
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.name.endswith(".csv.gz"):
            with gzip.open(path, "rt", encoding="utf-8", newline="") as source:
                reader = csv.reader(source)
                header = next(reader)
                cost = header.index("lineItem/UnblendedCost")
                buffer = io.StringIO()
                writer = csv.writer(buffer, lineterminator="\n")
                writer.writerow(header)
                for index, row in enumerate(reader):
                    if index % 3:
                        row[cost] = str(Decimal(row[cost]) * Decimal("1.5"))
                        writer.writerow(row)
            out.write_bytes(gzip.compress(buffer.getvalue().encode()))
        else:
            out.write_text(path.read_text().replace(assembly_of(root), "RESTATED"))
    new_assembly = str(uuid.uuid4())
    for path in list(target.rglob("*")):
        if path.is_file() and path.name.endswith("-Manifest.json"):
            path.write_text(path.read_text().replace("RESTATED", new_assembly))
    for path in sorted(target.rglob("RESTATED"), reverse=True):
        path.rename(path.with_name(new_assembly))
    return target


async def test_restated_month_replaces_first_delivery(
    ingested: Ingested,
    pool: asyncpg.Pool,
    store: S3ObjectStore,
    settings: Settings,
    services: launcher.ServiceGroup,
    tmp_path: Path,
) -> None:
    tenant = ingested.tenant
    restated = restate(ingested.root, tmp_path / "restated", ingested.assembly_id)
    await upload_tree(store, restated, "nise", tenant.prefix)
    admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )
    new_assembly = assembly_of(restated)
    manifest = await wait_manifest(
        pool, tenant.provider_uuid, new_assembly, timeout_s=300
    )
    assert manifest["status"] == "complete", manifest["error"]
    expected = report_daily_totals(find_cur_deliveries(restated)[0])
    got = await daily_totals(pool, tenant.schema, tenant.provider_uuid)
    assert {day: cents(v) for day, v in got.items()} == {
        day: cents(v) for day, v in expected.items()
    }

    async def old_parquet_gone() -> bool:
        keys = await store.list_keys(
            settings.COSTPIPE_DATA_BUCKET,
            f"data/parquet/daily/{tenant.schema}/AWS/source={tenant.provider_uuid}/",
        )
        return bool(keys) and not any(ingested.assembly_id in key for key in keys)

    assert await wait_for(
        old_parquet_gone, 60, "superseded Parquet files to be deleted"
    )
