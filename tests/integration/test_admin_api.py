"""The admin side of a service: health, metrics, auth, triggers, queue items, replay."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from services import launcher
from shared.objectstore import S3ObjectStore
from shared.settings import Settings
from tests.integration.conftest import Tenant, admin_of
from tests.integration.support import read_topic, summary_snapshot, wait_for
from tests.integration.test_bad_input import ingest_good_month

pytestmark = pytest.mark.integration


def test_health_and_metrics_need_no_token(services: launcher.ServiceGroup) -> None:
    base = services.url("downloader")
    assert httpx.get(f"{base}/healthz").status_code == 200
    assert httpx.get(f"{base}/readyz").status_code == 200
    metrics = httpx.get(f"{base}/metrics").text
    assert "costpipe_events_handled_total" in metrics


def test_admin_call_without_token_rejected(services: launcher.ServiceGroup) -> None:
    response = httpx.get(f"{services.url('downloader')}/tasks")
    assert response.status_code == 401


def test_trigger_unknown_task_not_found(
    services: launcher.ServiceGroup, settings: Settings
) -> None:
    response = admin_of(services, settings, "downloader").post(
        "/tasks/masu.no_such_task", {}
    )
    assert response.status_code == 404


def test_trigger_invalid_payload_names_field(
    services: launcher.ServiceGroup, settings: Settings
) -> None:
    response = admin_of(services, settings, "summarizer").post(
        "/tasks/masu.processor.tasks.update_summary_tables",
        {
            "schema": "org1",
            "provider_type": "AWS",
            "provider_uuid": "not-a-uuid",
            "start_date": "2026-11-01",
        },
    )
    assert response.status_code == 422
    assert "provider_uuid" in response.text


def test_queue_metrics_list_topics(
    services: launcher.ServiceGroup, settings: Settings
) -> None:
    admin = admin_of(services, settings, "downloader")
    response = httpx.get(
        f"{admin.url}/queues",
        headers={"Authorization": f"Bearer {admin.token}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert f"{settings.COSTPIPE_TOPIC_PREFIX}.download" in response.json()


def test_queue_items_list_is_json(
    services: launcher.ServiceGroup, settings: Settings
) -> None:
    admin = admin_of(services, settings, "downloader")
    response = httpx.get(
        f"{admin.url}/queues/items",
        headers={"Authorization": f"Bearer {admin.token}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert isinstance(response.json(), list)


async def test_replay_resummarises_with_new_ids(
    store: S3ObjectStore,
    services: launcher.ServiceGroup,
    settings: Settings,
    pool: asyncpg.Pool,
    tenant: Tenant,
    tmp_path: Path,
) -> None:
    before = await ingest_good_month(store, services, settings, pool, tenant, tmp_path)
    topic = f"{settings.COSTPIPE_TOPIC_PREFIX}.summary"
    events = [
        e
        for e in await read_topic(settings.KAFKA_BOOTSTRAP_SERVERS, topic)
        if e.get("provider_uuid") == str(tenant.provider_uuid)
        and e["task"].endswith("update_summary_tables")
    ]
    assert events
    response = admin_of(services, settings, "summarizer").post(
        "/replay",
        {
            "topic": topic,
            "partition": 0,
            "start_offset": 0,
            "end_offset": 10_000,
            "task": "masu.processor.tasks.update_summary_tables",
            "provider_uuid": str(tenant.provider_uuid),
        },
    )
    assert response.status_code == 202, response.text
    replayed = response.json()["event_ids"]
    if not replayed:
        # The tenant's events hashed to another partition; replay every partition.
        for partition in range(1, settings.COSTPIPE_TOPIC_PARTITIONS):
            body = {
                "topic": topic,
                "partition": partition,
                "start_offset": 0,
                "end_offset": 10_000,
                "provider_uuid": str(tenant.provider_uuid),
                "task": "masu.processor.tasks.update_summary_tables",
            }
            replayed += (
                admin_of(services, settings, "summarizer")
                .post("/replay", body)
                .json()["event_ids"]
            )
    assert len(replayed) == len(events)
    ids = [uuid.UUID(i) for i in replayed]

    async def all_processed() -> bool:
        count = await pool.fetchval(
            "SELECT count(*) FROM costpipe.processed_events WHERE event_id = ANY($1::uuid[])",
            ids,
        )
        return bool(count == len(ids))

    assert await wait_for(all_processed, 60, "the replayed events")
    assert await summary_snapshot(pool, tenant.schema, tenant.provider_uuid) == before
