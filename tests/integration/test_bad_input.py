"""Bad input ends with the manifest or request failed, a dead letter, and old rows intact."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services import launcher
from shared.objectstore import S3ObjectStore
from shared.settings import Settings
from tests.integration.conftest import REPORT_BUCKET, Tenant, admin_of
from tests.integration.support import (
    LEGACY_HEADER,
    Delivery,
    csv_bytes,
    daily_totals,
    read_topic,
    summary_snapshot,
    wait_for,
    wait_manifest,
    write_delivery,
)

pytestmark = pytest.mark.integration

CHECK = "masu.celery.tasks.check_report_updates"
MONTH = date(2026, 11, 1)
GOOD_ROWS = [
    # interval, payer, account, type, start, product, resource, usage, unblended, blended, sp, currency, region, team
    [
        "",
        "000123456789",
        "012345678901",
        "Usage",
        "2026-11-01T00:00:00Z",
        "AmazonEC2",
        "i-1",
        "1",
        "1.10",
        "1.00",
        "",
        "USD",
        "us-east-1",
        "platform",
    ],
    [
        "",
        "000123456789",
        "012345678901",
        "Usage",
        "2026-11-01T05:00:00Z",
        "AmazonEC2",
        "i-1",
        "1",
        "2.20",
        "2.00",
        "",
        "USD",
        "us-east-1",
        "platform",
    ],
    [
        "",
        "000123456789",
        "012345678901",
        "Usage",
        "2026-11-02T00:00:00Z",
        "AmazonS3",
        "b-1",
        "3",
        "0.005",
        "0.004",
        "",
        "USD",
        "us-east-1",
        "",
    ],
    [
        "",
        "000123456789",
        "012345678901",
        "Usage",
        "2026-11-02T23:00:00Z",
        "AmazonS3",
        "b-1",
        "3",
        "0.005",
        "0.004",
        "",
        "USD",
        "us-east-1",
        "",
    ],
]


async def upload(store: S3ObjectStore, delivery: Delivery) -> None:
    for path in sorted(p for p in delivery.root.rglob("*") if p.is_file()):
        await store.put_file(
            REPORT_BUCKET, path.relative_to(delivery.root).as_posix(), path
        )


async def deliver(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    delivery: Delivery,
) -> asyncpg.Record:
    await upload(store, delivery)
    admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )
    return await wait_manifest(
        pool, tenant.provider_uuid, delivery.assembly_id, timeout_s=120
    )


async def ingest_good_month(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    root: Path,
) -> list[tuple[Any, ...]]:
    good = write_delivery(
        root / "good",
        tenant.prefix,
        tenant.report,
        MONTH,
        {"good-1.csv.gz": csv_bytes(LEGACY_HEADER, GOOD_ROWS)},
    )
    manifest = await deliver(store, services, settings, pool, tenant, good)
    assert manifest["status"] == "complete", manifest["error"]
    totals = await daily_totals(pool, tenant.schema, tenant.provider_uuid)
    assert totals == {
        date(2026, 11, 1): Decimal("3.30"),
        date(2026, 11, 2): Decimal("0.01"),
    }
    return await summary_snapshot(pool, tenant.schema, tenant.provider_uuid)


async def dead_letters_of(settings: Settings, predicate: Any) -> list[dict[str, Any]]:
    letters = await read_topic(
        settings.KAFKA_BOOTSTRAP_SERVERS,
        f"{settings.COSTPIPE_TOPIC_PREFIX}.dead-letter",
    )
    return [letter for letter in letters if predicate(letter)]


async def assert_failed_delivery(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    bad: Delivery,
    before: list[tuple[Any, ...]],
    expected_words: tuple[str, ...],
) -> None:
    manifest = await deliver(store, services, settings, pool, tenant, bad)
    assert manifest["status"] == "failed"
    for word in expected_words:
        assert word in manifest["error"], manifest["error"]
    letters = await wait_for(
        lambda: dead_letters_of(
            settings,
            lambda d: bad.assembly_id in d["event"] and d["reason"] == "bad input",
        ),
        30,
        "the dead letter",
    )
    assert letters[0]["task"] == "masu.processor.tasks.get_report_files"
    assert await summary_snapshot(pool, tenant.schema, tenant.provider_uuid) == before


async def test_corrupt_gzip_fails_manifest(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    before = await ingest_good_month(store, services, settings, pool, tenant, tmp_path)
    body = bytearray(gzip.compress(csv_bytes(LEGACY_HEADER, GOOD_ROWS * 50)))
    body[40:60] = b"\x00" * 20
    bad = write_delivery(
        tmp_path / "bad",
        tenant.prefix,
        tenant.report,
        MONTH,
        {"broken-1.csv.gz": bytes(body)},
        gzip_files=False,
    )
    await assert_failed_delivery(
        store,
        services,
        settings,
        pool,
        tenant,
        bad,
        before,
        ("broken-1.csv.gz", "gzip"),
    )


async def test_missing_required_column_fails_manifest(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    before = await ingest_good_month(store, services, settings, pool, tenant, tmp_path)
    column = LEGACY_HEADER.index("lineItem/UnblendedCost")
    header = LEGACY_HEADER[:column] + LEGACY_HEADER[column + 1 :]
    rows = [row[:column] + row[column + 1 :] for row in GOOD_ROWS]
    bad = write_delivery(
        tmp_path / "bad",
        tenant.prefix,
        tenant.report,
        MONTH,
        {"nocost-1.csv.gz": csv_bytes(header, rows)},
    )
    await assert_failed_delivery(
        store,
        services,
        settings,
        pool,
        tenant,
        bad,
        before,
        ("nocost-1.csv.gz", "lineItem/UnblendedCost"),
    )


async def test_manifest_naming_missing_file_fails(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    before = await ingest_good_month(store, services, settings, pool, tenant, tmp_path)
    missing = f"{tenant.prefix}/{tenant.report}/20261101-20261201/gone/absent-2.csv.gz"
    bad = write_delivery(
        tmp_path / "bad",
        tenant.prefix,
        tenant.report,
        MONTH,
        {"present-1.csv.gz": csv_bytes(LEGACY_HEADER, GOOD_ROWS)},
        extra_keys=(missing,),
    )
    await assert_failed_delivery(
        store,
        services,
        settings,
        pool,
        tenant,
        bad,
        before,
        ("absent-2.csv.gz", "not found"),
    )


async def test_unreadable_cost_names_row(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    before = await ingest_good_month(store, services, settings, pool, tenant, tmp_path)
    rows = [list(row) for row in GOOD_ROWS]
    rows[2][LEGACY_HEADER.index("lineItem/UnblendedCost")] = "twelve"
    bad = write_delivery(
        tmp_path / "bad",
        tenant.prefix,
        tenant.report,
        MONTH,
        {"typo-1.csv.gz": csv_bytes(LEGACY_HEADER, rows)},
    )
    await assert_failed_delivery(
        store,
        services,
        settings,
        pool,
        tenant,
        bad,
        before,
        ("typo-1.csv.gz", "row 4", "'twelve'"),
    )


def test_source_with_invalid_schema_rejected(
    services: launcher.ServiceGroup, settings: Settings
) -> None:
    response = admin_of(services, settings, "sources").post(
        "/sources",
        {
            "schema_name": "org1'; DROP SCHEMA public; --",
            "provider_uuid": str(uuid.uuid4()),
            "name": "bad",
            "billing_source": {"bucket": REPORT_BUCKET},
        },
    )
    assert response.status_code == 422
    assert "schema_name" in response.text
    assert "invalid tenant schema name" in response.text


def envelope(
    task: str, payload: dict[str, Any], schema: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "task": task,
        "tracing_id": "test",
        "schema_name": schema,
        "created_at": datetime.now(UTC).isoformat(),
        "payload": payload,
    }


async def test_event_with_invalid_schema_dead_lettered(
    settings: Settings, producer: Any, services: launcher.ServiceGroup
) -> None:
    event = envelope(CHECK, {}, schema="Robert'); DROP TABLE students;--")
    await producer.send_and_wait(
        f"{settings.COSTPIPE_TOPIC_PREFIX}.default",
        json.dumps(event).encode(),
        key=b"global",
    )
    letters = await wait_for(
        lambda: dead_letters_of(settings, lambda d: event["event_id"] in d["event"]),
        60,
        "the dead letter",
    )
    assert letters[0]["reason"] == "invalid event"
    assert "schema_name" in letters[0]["error"]


async def test_unbuilt_task_dead_lettered_as_not_implemented(
    settings: Settings, services: launcher.ServiceGroup
) -> None:
    payload = {"provider_uuid": str(uuid.uuid4())}
    sent = admin_of(services, settings, "downloader").trigger(
        "masu.celery.tasks.check_for_stale_ocp_source", payload
    )
    letters = await wait_for(
        lambda: dead_letters_of(settings, lambda d: d["event_id"] == sent["event_id"]),
        60,
        "the dead letter",
    )
    assert letters[0]["reason"] == "not implemented"
    assert letters[0]["service"] == "sources"


async def test_garbage_event_does_not_stop_consumer(
    settings: Settings,
    producer: Any,
    services: launcher.ServiceGroup,
    pool: asyncpg.Pool,
    tenant: Tenant,
) -> None:
    topic = f"{settings.COSTPIPE_TOPIC_PREFIX}.default"
    await producer.send_and_wait(topic, b"\xff not json", key=b"global")
    await producer.send_and_wait(
        topic, json.dumps(envelope("no.such.task", {})).encode(), key=b"global"
    )
    check = admin_of(services, settings, "downloader").trigger(
        CHECK, {"provider_uuid": str(tenant.provider_uuid)}
    )

    async def handled() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT count(*) FROM costpipe.processed_events WHERE event_id = $1",
                uuid.UUID(check["event_id"]),
            )
        )

    assert await wait_for(handled, 60, "the report check after the garbage")
    reasons = {
        d["reason"]
        for d in await dead_letters_of(
            settings, lambda d: "not json" in d["event"] or "no.such.task" in d["event"]
        )
    }
    assert reasons == {"invalid event", "unknown task"}


async def test_concurrent_duplicate_summary_skipped(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    tmp_path: Path,
    producer: Any,
) -> None:
    before = await ingest_good_month(store, services, settings, pool, tenant, tmp_path)
    payload = {
        "schema": tenant.schema,
        "provider_type": "AWS",
        "provider_uuid": str(tenant.provider_uuid),
        "start_date": "2026-11-01",
        "end_date": "2026-11-30",
    }
    events = [
        envelope("masu.processor.tasks.update_summary_tables", payload, tenant.schema)
        for _ in range(2)
    ]
    key = f"{tenant.schema}:{tenant.provider_uuid}".encode()
    for event in events:
        event["provider_uuid"] = str(tenant.provider_uuid)
        await producer.send(
            f"{settings.COSTPIPE_TOPIC_PREFIX}.summary",
            json.dumps(event).encode(),
            key=key,
        )
    await producer.flush()

    async def both_handled() -> bool:
        ids = [uuid.UUID(e["event_id"]) for e in events]
        return (
            await pool.fetchval(
                "SELECT count(*) FROM costpipe.processed_events WHERE event_id = ANY($1::uuid[])",
                ids,
            )
            == 2
        )

    await wait_for(both_handled, 60, "both summary requests")
    log = (services.log_dir / "summarizer.log").read_text()
    skipped = [
        line
        for line in log.splitlines()
        if "update_summary_tables skipped" in line
        and any(e["event_id"] in line for e in events)
    ]
    assert len(skipped) == 1
    assert await summary_snapshot(pool, tenant.schema, tenant.provider_uuid) == before
